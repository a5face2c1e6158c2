"""The repository cites only itself: no README, doc, docstring or comment points at a file outside it.

A fresh clone has no ../shared/ (the project's working notes) and no /work/ tree; docs/physics.md is the one place a
reader learns the model, so every pointer to the physics must land inside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\.\./shared|/work/|shared/(spec|notes|seeds)|spec/algorithms\.md|algorithms\.md|style\.md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # NOTE: markdown links, without their anchors
HERE = Path(__file__).name


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split() if (ROOT / name).is_file()]


def test_no_text_cites_a_file_outside_the_repository():
    hits = []
    for path in _tracked("*.md", "*.py", "*.yaml", "*.toml", "*.txt", "Makefile", "*.sh"):
        if path.name == HERE:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not hits, "cites files outside the repository:\n" + "\n".join(hits)


def test_every_relative_link_of_the_docs_lands_on_a_file_in_the_repository():
    broken = []
    for path in _tracked("*.md"):
        for target in LINK.findall(path.read_text()):
            if re.match(r"[a-z]+:", target):  # NOTE: http:, https:, mailto:
                continue
            resolved = (path.parent / target).resolve()
            if ROOT not in resolved.parents or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, "links that leave the repository or lead nowhere:\n" + "\n".join(broken)


def test_the_readme_sends_readers_to_the_physics_document():
    readme = (ROOT / "README.md").read_text()
    assert "docs/physics.md" in readme and (ROOT / "docs" / "physics.md").stat().st_size > 10_000
