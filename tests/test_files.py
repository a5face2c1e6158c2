"""wavetrain.files: atomic writes leave the old file or the new one, with the mode a plain open() would give."""

from __future__ import annotations

import os
import stat

from wavetrain.files import atomic_write


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "out.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
