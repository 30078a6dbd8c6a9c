"""A strict reader of the Renode monitor lines our scripts use, for tests without Renode.

It knows what the real monitor does where it matters to us (checked on Renode 1.15.3):
comments start with ``#`` (a ``//`` line is an error); ``@path`` resolves against Renode's
working directory, ``$ORIGIN`` is the folder of the script being run; ``$x?=v`` sets x only
when it is unset; ``include``/``i`` runs another script. Anything outside the small set of
commands the priot scripts need is rejected, so a new command in a script must be added
here on purpose (after checking it on Renode).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PATH = r"(?:@\S+|\$ORIGIN/\S+|\$\w+)"
NUMBER = r"(?:0x[0-9A-Fa-f]+|\d+)"
VALUE = rf'(?:"[^"]*"|{PATH}|{NUMBER}|true|false|`[^`]+`)'
COMMANDS = [
    rf"using sysbus",
    rf"mach create (?:\$\w+|\"[^\"]+\")",
    rf"machine LoadPlatformDescription {PATH}",
    rf"sysbus LoadELF {PATH}",
    rf"sysbus LoadBinary {PATH} {NUMBER}",
    rf"cpu (?:VectorTableOffset {NUMBER}|SP {VALUE}|PC {VALUE})",
    r'cpu InstallOpcodeCounterPattern "\w+" "[01x]{16}"',
    r"cpu EnableOpcodesCounting (?:true|false)",
    rf"cpu SaveAllOpcodesCounters {PATH}",
    r"cpu ExecutedInstructions",
    rf"uart0 CreateFileBackend {PATH} (?:true|false)",
    r"showAnalyzer uart0",
    r"numbersMode (?:Hexadecimal|Decimal|Both)",
    r"start|pause|quit",
]
_COMMAND = re.compile("|".join(f"(?:{c})" for c in COMMANDS))
_ASSIGN = re.compile(rf"\$(\w+)(\?)?=({VALUE})")
_INCLUDE = re.compile(rf"(?:include|i) ({PATH})")


class MonitorError(ValueError):
    """A line the Renode monitor would reject."""


@dataclass
class Session:
    """What running a script did: variables, commands (with paths resolved), errors."""
    cwd: Path
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)   # every path a command referenced


def check_line(line: str) -> None:
    """Raise MonitorError if the monitor would reject this line."""
    text = line.strip()
    if not text or text.startswith("#") or re.match(r":(name|description):", text):
        return
    if text.startswith("//"):
        raise MonitorError(f"{line!r}: the Renode monitor's comments start with '#', "
                           "not '//'")
    if not (_ASSIGN.fullmatch(text) or _INCLUDE.fullmatch(text) or _COMMAND.fullmatch(text)):
        raise MonitorError(f"{line!r}: not a monitor command this project uses")


def resolve_path(token: str, session: Session, origin: Path) -> Path:
    if token.startswith("$ORIGIN/"):
        return (origin / token[len("$ORIGIN/"):]).resolve()
    if token.startswith("$"):
        value = session.variables.get(token[1:])
        if value is None:
            raise MonitorError(f"No such variable: {token}")
        return Path(value)
    return (session.cwd / token[1:]).resolve()   # @path: against the working directory


def run_script(path: Path, session: Session) -> Session:
    """Execute a .resc the way the monitor would, as far as paths and variables go."""
    origin = path.resolve().parent
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            check_line(line)
            run_line(line, session, origin)
        except MonitorError as exc:
            raise MonitorError(f"{path}:{number}: {exc}") from None
    return session


def run_line(line: str, session: Session, origin: Path) -> None:
    text = line.strip()
    if not text or text.startswith(("#", ":")):
        return
    check_line(text)
    if m := _ASSIGN.fullmatch(text):
        name, conditional, value = m.groups()
        if conditional and name in session.variables:
            return
        is_path = value.startswith(("@", "$"))
        session.variables[name] = str(resolve_path(value, session, origin)) if is_path \
            else value.strip('"')
        return
    if m := _INCLUDE.fullmatch(text):
        run_script(resolve_path(m.group(1), session, origin), session)
        return
    words = shlex.split(text.replace("`", "'"), posix=True)
    if words[1:2] and words[1] in FILE_ARGUMENT:
        session.files.append(resolve_path(words[2], session, origin))
    session.commands.append(text)


# commands whose first argument is a file
FILE_ARGUMENT = {"LoadPlatformDescription", "LoadELF", "LoadBinary", "CreateFileBackend",
                 "SaveAllOpcodesCounters"}
