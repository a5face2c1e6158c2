"""What a netlist from someone else may hold: ngspice's deck rules, read the way ngspice 39 reads them.

``wavetrain simulate net.cir`` runs a user's netlist in ``ngspice -b``, and an ngspice deck can run shell commands and
read or write files. A denylist of words is never right (ngspice matches dot-cards by prefix, runs ``*#`` comment lines
as commands, deletes every carriage return before it looks at a line), so :func:`check_netlist` reads the file as
ngspice's front end does (``src/frontend/inpcom.c`` and ``inp.c`` of ngspice 39.3) and accepts only cards it knows to
be inert; anything else is refused, naming the file and line.

What ngspice does with a raw line, and the rule here:

  ngspice 39.3                                             this reader
  deletes every ``\\r`` anywhere in a line                  the same, before any rule
  NUL ends the C string (the rest is hidden)                refused
  strips leading space and tab only                         the same; any other control character is refused
  line 1 of the main file is the title, but ``.inc*`` and   line 1 is a title unless it starts with ``.``, ``*``,
  ``.lib`` on it are read, ``@`` stops reading, and a line  ``@`` or ``+`` (then the card rules apply); >= 4999
  of 4999+ bytes is split (``fgets``)                       bytes refused
  ``*ng_script`` starting line 1, or ``.title *ng_script``  refused (any title naming ng_script)
  anywhere, makes the file a command script
  ``*#`` lines run as commands (after ``.end`` too, in      refused
  included files and library sections)
  ``.control*`` ... ``.endc*`` (prefix) run commands        refused (every ``.con``... prefix is an unknown card)
  ``.inc*`` (prefix) includes; ``.lib*`` reads a library    exactly ``.include`` / ``.inc`` / ``.lib file section``:
  file; cwd, then the including file's folder, then         a relative path without ``..`` or ``~`` that resolves
  ``sourcepath``; a leading ``~/`` is expanded               (symlinks followed) inside the netlist's folder; the
                                                            included file is checked the same way
  ``\\\\`` at the end of a line continues it                  refused (except in ``*`` comments, as ngspice)
  ``+`` continues the previous card, joined with a space    the same (continuation lines are part of the card)
  inline comments: ``;`` anywhere, ``//`` anywhere, ``$``   the same, before a card is read
  after space, tab or comma
  ``.end`` does not stop reading                            every line is checked
  ``.options measoutfile=PATH`` writes PATH                 option names from an allowlist (no measoutfile)
  XSPICE filesource, d_source, d_state, table2d, table3d    allowed only with a literal file name held to the
  read files (default names too, the path lowercased)       include rule; CIDER models (numd, nbjt, numos ...)
                                                            refused (they read and write files)

Cards accepted: element lines of the SPICE letters (R C L K T O U W V I E F G H B D Q J M Z S X A P Y), and the dot
cards of :data:`INERT_CARDS`. ``.model`` types come from :data:`MODEL_TYPES` (built-in devices and XSPICE code models
that open no file) or :data:`FILE_MODELS`. The check is one pass over the bytes (linear in the file's size).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from wavetrain.errors import UntrustedNetlist

MAX_INCLUDES = 64
TITLE_LIMIT = 4999  # ngspice reads the first line with fgets(buffer, 5000): a longer one is split into two lines
ELEMENT_LETTERS = frozenset(b"rclktouwvie fghbdqjmzsxapy".replace(b" ", b""))
INERT_CARDS = frozenset(
    {
        ".op",
        ".dc",
        ".ac",
        ".tran",
        ".tf",
        ".noise",
        ".disto",
        ".pz",
        ".sens",
        ".pss",
        ".sp",  # analyses
        ".ic",
        ".nodeset",
        ".model",
        ".subckt",
        ".ends",
        ".global",
        ".param",
        ".func",
        ".csparam",  # description
        ".meas",
        ".measure",
        ".save",
        ".print",
        ".plot",
        ".width",
        ".four",
        ".fourier",
        ".probe",  # outputs
        ".temp",
        ".options",
        ".option",
        ".opt",
        ".if",
        ".elseif",
        ".else",
        ".endif",
        ".end",
        ".title",
    }
)
INCLUDE_CARDS = frozenset({".include", ".inc"})
LIBRARY_CARDS = frozenset({".lib", ".endl"})  # .lib name / .endl delimit a section inside a library file
# NOTE: ngspice's simulator options (manual chapter 11, ngspice 39); keys become front-end variables, and one of them
# (measoutfile) names a file ngspice opens for writing, so the names are an allowlist
OPTIONS = frozenset(
    """
    abstol acct autostop badmos3 chgtol convabsstep convstep cshunt defad defas defl defw gmin gminfactor gminsteps
    interp itl1 itl2 itl3 itl4 itl5 itl6 keepopinfo klu list maxord maxwarns method minbreak node noacct noinit
    nomod noopac noopiter nopage norefvalue opts pivrel pivtol ramptime reltol rseries rshunt savecurrents scale
    seed seedinfo sparse srcsteps temp tnom trtol trytocompact vntol warn xmu post
""".split()
)
MODEL_TYPES = frozenset(
    """
    r c l sw csw urc ltra d npn pnp njf pjf nmos pmos nmf pmf vdmos txl cpl
    spice2poly climit divide d_dt gain hyst ilimit int limit mult multi_input_pwl oneshot pwl sine slew square summer
    s_xfer triangle delay pwlts adc_bridge dac_bridge bidi_bridge d_and d_buffer d_dff d_dlatch d_fdiv d_genlut
    d_inverter d_jkff d_lut d_nand d_nor d_open_c d_open_e d_or d_osc d_pulldown d_pullup d_pwm d_ram d_srff
    d_srlatch d_tff d_tristate d_xnor d_xor aswitch capacitoric cmeter core inductoric lcouple lmeter potentiometer
    zener memristor sidiode pswitch d_to_real real_delay real_gain real_to_v
""".split()
)
FILE_MODELS = {
    "filesource": "file",
    "d_source": "input_file",
    "d_state": "state_file",
    "table2d": "file",
    "table3d": "file",
}  # XSPICE code models that read the file their parameter names
COMMAND_WORDS = frozenset(
    {
        "shell",
        "source",
        "run",
        "set",
        "let",
        "write",
        "wrdata",
        "echo",
        "load",
        "cd",
        "codemodel",
        "osdi",
        "setcs",
        "unset",
        "alias",
        "bg_run",
        "quit",
        "exit",
    }
)
_PRINTABLE = re.compile(rb"[\t\x20-\x7e]*")
_PRINTABLE_BYTES = bytes([9, *range(32, 127)])
_LETTERS = ELEMENT_LETTERS | frozenset(bytes(sorted(ELEMENT_LETTERS)).upper())
_FIRST = frozenset(b"+.@") | _LETTERS
_COMMAND = re.compile(rb"(?i)(%s|pre_\w*)(?![\w.])" % b"|".join(sorted(w.encode() for w in COMMAND_WORDS)))
_WORD = re.compile(r"[^\s(]+")
_ASSIGN = re.compile(r"([A-Za-z_][\w.]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s()=,]+)")
_FILE_PARAM = re.compile(r"\bfile\w*\s*=|\w+\.file\s*=|\w*file\s*=", re.IGNORECASE)
# NOTE: the fast path of _check_file (a netlist is mostly element cards): while no dot-card is open, the lines up to
# the first one that a _Suspects scan finds are element cards with no command word and nothing file-like, '*'
# comments that are not '*#' or '*ng_script', '+' continuations of element cards or blank lines, and are skipped;
# each scan runs in C and is stricter than the line-by-line rules, which read every line a scan finds
_PLAIN = bytes([9, 10, *range(32, 127)])  # printable ASCII, tab and newline
_NOT_PLAIN = re.compile(rb"[^\t\n\x20-\x7e]")  # NUL, CR, UTF-8, ...
# the start of a line, after its newline (a dot-card, '@', '$', ';', '//' or any other first byte than an element
# letter, '*' or '+'; '*#' or '*ng_script'; a command word)
_LINE_START = re.compile(
    rb"\n[ \t]*(?:(?![ \t\n*+%s])|\*(?:#|(?i:ng_script))|(?i:%s|pre_\w*)(?![\w.]))"
    % (re.escape(bytes(sorted(_LETTERS))), b"|".join(sorted(w.encode() for w in COMMAND_WORDS)))
)
_CHUNK = 8 * 2**20  # bytes read at a time


@dataclass
class _State:
    """Where the reading of one file stands: the dot-card being assembled, whether a card was seen."""

    card: _Card | None = None  # the dot-card being read (its continuation lines join it); None after an element
    seen_card: bool = False


class _Suspects:
    """Where, from a line start on, the next line the fast path must not skip begins or lies (``end``: nowhere) in
    one chunk: each scan's next hit is kept, so a chunk is scanned once per kind of suspect."""

    def __init__(self, data: bytes, end: int) -> None:
        self.data, self.end = data, end
        self.lowered = data.lower()  # NOTE: only A-Z change, so offsets are the same
        self.plain = not data.translate(None, _PLAIN)
        self.hits = [-1] * 4

    def _scan(self, kind: int, start: int) -> int:
        data, end = self.data, self.end
        if kind == 0:  # a byte that is not printable ASCII
            match = None if self.plain else _NOT_PLAIN.search(data, start, end)
            return end if match is None else match.start()
        if kind == 1:  # file=, ic.file=, input_file=, ... in any case
            found = self.lowered.find(b"ile", start, end)
            return end if found < 0 else found
        if kind == 2:  # a line ending in a blank or a backslash
            hits = [data.find(tail, start, end) for tail in (b" \n", b"\t\n", b"\\\n")]
            return min((hit for hit in hits if hit >= 0), default=end)
        match = _LINE_START.search(data, start - 1, end)  # NOTE: from the newline before start: its line too
        return end if match is None else max(start, match.start() + 1)

    def next(self, start: int) -> int:
        for kind, hit in enumerate(self.hits):
            if hit < start:
                self.hits[kind] = self._scan(kind, start)
        return min(self.hits)


def _lines(handle: Any, state: _State) -> Iterator[tuple[int, bytes]]:
    """(line number, line with its newline) of the lines _check_file must read one by one: while no dot-card is
    open and a card was seen, the lines before the next one :class:`_Suspects` finds are skipped (a 300 MB netlist
    of element cards is scanned in C instead of one Python iteration per line)."""
    number, rest = 0, b""
    while True:
        chunk = handle.read(_CHUNK)
        if not chunk:
            if rest:
                yield number + 1, rest
            return
        data = rest + chunk
        end = data.rfind(b"\n") + 1
        if end == 0:
            rest = data  # NOTE: one line longer than a chunk: keep reading it
            continue
        rest, position, suspects = data[end:], 0, _Suspects(data, end)
        while position < end:
            if state.card is None and state.seen_card and position:  # NOTE: a chunk's first line: one by one
                stop = data.rfind(b"\n", position, suspects.next(position)) + 1  # NOTE: the suspect's line start
                if stop > position:
                    number += data.count(b"\n", position, stop)
                    position = stop
                    continue
            newline = data.index(b"\n", position) + 1
            number += 1
            yield number, data[position:newline]
            position = newline


@dataclass
class _Card:
    """A card being assembled from its first line and its ``+`` continuation lines."""

    name: str  # the dot-card or element name, lowercase
    text: str  # the card after inline comments were stripped, continuation lines joined with a space
    where: str  # file and line of its first line


def check_netlist(path: str | os.PathLike[str]) -> None:
    """Refuse (UntrustedNetlist, naming the file and line) a netlist that could act outside a simulation.

    See the module docstring for the rules. The netlist and every file it includes must be regular files (a FIFO or
    a device would hang the read); included files and data files of XSPICE sources must lie inside the netlist's
    folder. ``wavetrain simulate --trust-netlist`` skips this check.
    """
    main = Path(path)
    root = _regular(main, str(main)).resolve().parent
    pending: list[tuple[Path, bool]] = [(main.resolve(), True)]
    seen: set[Path] = set()
    while pending:
        current, is_main = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if len(seen) > MAX_INCLUDES:
            raise UntrustedNetlist(f"{main}: includes more than {MAX_INCLUDES} files, expected at most {MAX_INCLUDES}")
        label = str(main) if current == main.resolve() else str(current)
        for included in _check_file(current, label, root, is_main):
            pending.append((included, False))


def _regular(path: Path, what: str) -> Path:
    """``path`` if it is a regular file (after symlinks); a FIFO, device, folder or missing file is refused."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise UntrustedNetlist(f"{what}: cannot read it: {err.strerror}") from err
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "not a regular file"
        )
        raise UntrustedNetlist(f"{what}: expected a regular file, got {kind}")
    return path


def _check_file(path: Path, label: str, root: Path, is_main: bool) -> list[Path]:
    """Check one file line by line; return the files it includes (already checked to lie inside ``root``)."""
    includes: list[Path] = []
    state = _State()
    try:
        # NOTE: O_NONBLOCK: a FIFO swapped in after the stat must not hang the open; fstat checks the opened file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UntrustedNetlist(f"{label}: cannot read it: {err.strerror}") from err
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UntrustedNetlist(f"{label}: expected a regular file, got another kind of file")
        for number, raw in _lines(handle, state):
            line = raw.rstrip(b"\n")
            if b"\r" in line:
                line = line.replace(b"\r", b"")  # NOTE: ngspice deletes every \r, wherever it is
            if b"\0" in line:
                raise _untrusted(_at(label, number), "a NUL byte hides the rest of the line from this check")
            if number == 1 and is_main:
                if len(raw) >= TITLE_LIMIT:
                    raise _untrusted(
                        _at(label, number),
                        f"the title line has {len(raw)} bytes, expected fewer "
                        f"than {TITLE_LIMIT} (ngspice would split it into two lines)",
                    )
                if _title_line(line, _at(label, number)):
                    continue
            body = line.lstrip(b" \t")
            if not body:
                continue
            first = body[0]
            if first in _LETTERS and state.card is None:
                # NOTE: the fast path, an element card (most of a netlist): printable, no command word, no file
                # ('ile' in any case: ngspice reads IC.FILE= as ic.file=)
                if (
                    body.translate(None, _PRINTABLE_BYTES)
                    or body.endswith((b"\\\\", b" ", b"\t"))
                    or _COMMAND.match(body)
                    or (b"ile" in body.lower() and _FILE_PARAM.search(body.decode()))
                ):
                    _element_line(body, _at(label, number))
                state.seen_card = True
                continue
            where = _at(label, number)
            if first == ord("*"):
                if body.startswith(b"*#"):
                    raise _untrusted(where, "ngspice runs a line starting '*#' as a command")
                if body[:10].lower() == b"*ng_script":
                    raise _untrusted(where, "'*ng_script' makes the file an ngspice command script")
                continue  # NOTE: a comment may hold any text; it is not read, and '\\\\' does not continue it
            if first == ord("$"):
                continue  # NOTE: a comment line (ngspice turns a leading $ into *; '\\\\' does not continue it)
            if body.rstrip(b" \t").endswith(b"\\\\"):
                # NOTE: also on a ';' or '//' comment line: ngspice would glue the next line onto the card before it
                raise _untrusted(where, "a line ending in '\\\\' continues into the next one in ngspice")
            if body.startswith((b";", b"//")):
                continue  # NOTE: a comment line (ngspice turns a leading ; or // into *)
            if first not in _FIRST:
                raise _untrusted(where, f"a line starting with {chr(first)!r} is not a circuit card")
            _printable(body, where)
            if first == ord("@"):
                raise _untrusted(where, "ngspice stops reading the file at a line starting '@'")
            if first == ord("+"):
                if state.card is None:
                    if not state.seen_card:
                        raise _untrusted(where, "a '+' continuation line has no card before it")
                    _element_line(body, where)  # NOTE: continues an element card: the element rules apply
                    continue
                state.card.text += " " + _strip_comments(body.decode("ascii"))[1:]
                continue
            state.seen_card = True
            includes += _finish(state.card, root, is_main, path.parent)
            state.card = None
            if first == ord("."):
                text = _strip_comments(body.decode("ascii"))
                state.card = _Card(text.split(None, 1)[0].split("(", 1)[0].lower(), text, where)
                _check_dot(state.card, is_main)
            else:
                _element_line(body, where)
    includes += _finish(state.card, root, is_main, path.parent)
    return includes


def _title_line(line: bytes, where: str) -> bool:
    """True when the first line of the main file is a title (free text), checked for what ngspice reads on it."""
    body = line.lstrip(b" \t")
    if body[:1] in (b".", b"*", b"@", b"+") or not body:
        return not body  # NOTE: a card-like first line goes through the card rules (an empty one is the title)
    if b"ng_script" in line.lower():
        raise _untrusted(where, "a title naming 'ng_script' can make the file an ngspice command script")
    if _PRINTABLE.fullmatch(line) is None:
        raise _untrusted(where, "the title holds a byte that is not printable ASCII")
    return True


def _strip_comments(text: str) -> str:
    """The card as ngspice reads it: ``;`` and ``//`` start a comment anywhere, ``$`` after a space, tab or comma."""
    cut = len(text)
    for marker in (";", "//"):
        found = text.find(marker, 1)
        if found != -1:
            cut = min(cut, found)
    for match in re.finditer(r"[ \t,]\$", text):
        cut = min(cut, match.start() + 1)
        break
    return text[:cut].rstrip()


def _at(label: str, number: int) -> str:
    return f"{label} line {number}"


def _printable(body: bytes, where: str) -> None:
    bad = body.translate(None, _PRINTABLE_BYTES)
    if bad:
        raise _untrusted(where, f"byte 0x{bad[0]:02x} is not printable ASCII (only comments may hold it)")


def _element_line(body: bytes, where: str) -> None:
    """An element card's line (or a continuation of one): printable, no command word, no file parameter."""
    _printable(body, where)
    if body.rstrip(b" \t").endswith(b"\\\\"):
        raise _untrusted(where, "a line ending in '\\\\' continues into the next one in ngspice")
    command = _COMMAND.match(body)
    if command:
        word = command.group(1).decode()
        raise _untrusted(where, f"{word!r} is an ngspice command, not a circuit element")
    if _FILE_PARAM.search(_strip_comments(body.decode("ascii"))):
        raise _untrusted(where, "an element parameter naming a file (CIDER's ic.file) reads that file")


def _check_dot(card: _Card, is_main: bool) -> None:
    name = card.name
    if name in INERT_CARDS or name in INCLUDE_CARDS:
        if name == ".title" and "ng_script" in card.text.lower():
            raise _untrusted(card.where, "'.title *ng_script' makes the file an ngspice command script")
        return
    if name in LIBRARY_CARDS:
        return
    if name.startswith((".con", ".endc")):
        reason = "a .control block runs ngspice commands (shell, file writes)"
    elif name.startswith((".inc", ".lib")):
        reason = f"ngspice reads {name!r} as an include or library card (it matches the prefix)"
    else:
        reason = "not a card wavetrain knows to be inert"
    raise _untrusted(card.where, f"{name!r}: {reason}")


def _finish(card: _Card | None, root: Path, is_main: bool, base: Path) -> list[Path]:
    """The checks that need the whole card (its continuation lines): includes, libraries, models, options."""
    if card is None:
        return []
    name, text = card.name, card.text
    if name in INCLUDE_CARDS:
        return [_inside(_include_name(text, card.where), root, card.where, name, base)]
    if name == ".lib":
        words = text.split()[1:]
        if len(words) == 1:
            if is_main:
                raise _untrusted(card.where, "'.lib name' (one word) belongs in a library file, not the netlist")
            return []  # NOTE: a section definition inside a library file, closed by .endl
        if len(words) < 2:
            raise _untrusted(card.where, "'.lib' expects a file and a section name")
        return [_inside(words[0].strip("\"'"), root, card.where, ".lib", base)]
    if name == ".endl" and is_main:
        raise _untrusted(card.where, "'.endl' belongs in a library file, not the netlist")
    if name == ".model":
        _check_model(card, root)
    elif name in (".options", ".option", ".opt"):
        for word in re.sub(r"\s*=\s*", "=", text).split()[1:]:
            key = word.split("=", 1)[0].lower()
            if key not in OPTIONS:
                raise _untrusted(
                    card.where,
                    f"option {key!r} is not an ngspice option wavetrain knows to be inert "
                    f"(measoutfile, for one, writes a file)",
                )
    return []


def _include_name(text: str, where: str) -> str:
    rest = text.split(None, 1)[1].strip() if len(text.split(None, 1)) > 1 else ""
    if not rest:
        raise _untrusted(where, "an include card without a file name")
    if rest[0] in "\"'":
        end = rest.find(rest[0], 1)
        if end == -1:
            raise _untrusted(where, "an include file name with an unterminated quote")
        return rest[1:end]
    return rest.split()[0]


def _inside(name: str, root: Path, where: str, card: str, base: Path | None = None) -> Path:
    """The file ``name`` resolved in ``base`` (the folder of the file naming it; default the netlist's, ``root``),
    if it is a relative path that stays inside ``root``. ngspice looks in its working folder first (an empty one
    for a user's netlist), then in the including file's folder."""
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or name.startswith("~") or ".." in parts:
        raise _untrusted(
            where,
            f"{card} of {name!r} reads a file outside the netlist's folder {root} (expected a "
            f"relative path inside it, without '..' or '~')",
        )
    target = (root if base is None else base) / name
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        raise _untrusted(where, f"{card} of {name!r} leads to {resolved}, outside the netlist's folder {root}")
    _regular(target, f"{where}: {card} of {name!r}")
    # NOTE: the path as ngspice opens it, not its realpath: ngspice resolves the file's own includes from its folder
    return target


def _check_model(card: _Card, root: Path) -> None:
    words = _WORD.findall(card.text)
    if len(words) < 3:
        raise _untrusted(card.where, "'.model' expects a name and a type")
    kind = words[2].lower()
    if kind in FILE_MODELS:
        param = FILE_MODELS[kind]
        given = {key.lower(): value for key, value in _ASSIGN.findall(card.text)}
        value = given.get(param)
        if value is None or value[:1] not in "\"'" or "{" in value:
            raise _untrusted(
                card.where,
                f"a {kind} model reads the file its {param} names (a default name if none "
                f'is given); expected {param}="NAME" with a literal file name',
            )
        # NOTE: ngspice lowercases the card before the code model opens the file
        _inside(value[1:-1].lower(), root, card.where, f"{kind} {param}")
        return
    if kind not in MODEL_TYPES:
        raise _untrusted(
            card.where,
            f"model type {kind!r} is not one wavetrain knows to be inert (CIDER models read and write files)",
        )


def _untrusted(where: str, what: str) -> UntrustedNetlist:
    return UntrustedNetlist(
        f"{where}: {what}; refused for a netlist from a user. Pass --trust-netlist to run it "
        f"as written (only for netlists you trust)"
    )
