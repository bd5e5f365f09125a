"""Examples in the docs that run (tests/e2e/test_docs.py runs them against a stack of its own).

The marker: an HTML comment `<!-- example -->` on the line before a fenced block. In the block,
each line starting with `$ ` is a command (a line ending in `\\` continues it, and so does a
here-document `<<'EOF'` up to its `EOF` line) and the lines after
it, up to the next command, are its expected output (standard output and error together):

    <!-- example -->
    ```console
    $ egov-gateway members list --output json
    {
      "members": [...]
    }
    ```

- `...` in an expected line matches anything on that line; a line that is only `...` matches any
  number of lines (doctest's ELLIPSIS). Trailing spaces are ignored.
- A command is expected to exit 0; `[exit N]` as the last expected line expects status N.
- The commands run in bash, from a directory whose `var/run` is the test stack's (so `var/run/env`
  and `var/run/certs/...` resolve as under `make run`), with `127.0.0.1:50051` and `:50052` replaced
  by the test stack's ports and `000.00.15.H57-YYMMDD-0001` (any date) by its demo dossier's code
  (and that code in the output by `000.00.15.H57-261207-0001`).
  Examples run in document order, README.md first, then docs/*.md by name, so one may use what an
  earlier one made.

Every fenced block of README.md and docs/ with an `egov-gateway|events|admin` or `grpcurl` command must be marked
(tests/unit/test_docs_examples.py checks it), so an example cannot silently stop running.
"""

import re
from dataclasses import dataclass
from pathlib import Path

MARKER = "<!-- example -->"
FENCE = re.compile(r"^(```+|~~~+)")
EXIT = re.compile(r"^\[exit (\d+)\]$")
HEREDOC = re.compile(r"<<-?'?\"?(\w+)'?\"?\s*$")
RUNNABLE = re.compile(r"^(\$ )?(egov-(gateway|events|admin)|grpcurl) ")


@dataclass(frozen=True)
class Command:
    source: str          # file:line
    command: str
    expected: str
    exit_code: int = 0


def blocks(text: str) -> list[tuple[int, bool, list[str]]]:
    """Fenced blocks: (line number of the first content line, marked, lines)."""
    found: list[tuple[int, bool, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        marked = i > 0 and lines[i - 1].strip() == MARKER
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence.group(1)):
            j += 1
        found.append((i + 2, marked, lines[i + 1:j]))
        i = j + 1
    return found


def commands(path: Path, text: str | None = None) -> list[Command]:
    text = path.read_text(encoding="utf-8") if text is None else text
    found: list[Command] = []
    for first, marked, lines in blocks(text):
        if not marked:
            continue
        current: list[str] | None = None
        output: list[str] = []
        start = first
        heredoc = ""
        for number, line in enumerate(lines, start=first):
            if heredoc:
                current.append(line)  # type: ignore[union-attr]
                heredoc = "" if line.strip() == heredoc else heredoc
            elif line.startswith("$ ") and not (current and current[-1].endswith("\\")):
                if current is not None:
                    found.append(_command(f"{path.name}:{start}", current, output))
                current, output, start = [line[2:]], [], number
                heredoc = _heredoc(line)
            elif current and current[-1].endswith("\\") and not output:
                current.append(line)
                heredoc = _heredoc(line)
            else:
                output.append(line)
        if current is not None:
            found.append(_command(f"{path.name}:{start}", current, output))
    return found


def _heredoc(line: str) -> str:
    found = HEREDOC.search(line)
    return found.group(1) if found else ""


def _command(source: str, lines: list[str], output: list[str]) -> Command:
    while output and not output[-1].strip():
        output.pop()
    exit_code = 0
    if output and (status := EXIT.match(output[-1].strip())):
        exit_code = int(status.group(1))
        output.pop()
    return Command(source, "\n".join(lines), "\n".join(output), exit_code)


def unmarked_runnable(path: Path) -> list[int]:
    """Lines of fenced blocks holding a runnable command without the marker."""
    return [first for first, marked, lines in blocks(path.read_text(encoding="utf-8"))
            if not marked and any(RUNNABLE.match(line) for line in lines)]


def matches(expected: str, actual: str) -> bool:
    """doctest-like: `...` within a line matches anything on it; a `...` line, any lines."""
    pattern = []
    for line in expected.splitlines():
        if line.strip() == "...":
            pattern.append(r"(?:.*\n)*?")
            continue
        pattern.append(".*?".join(re.escape(part) for part in line.rstrip().split("...")) + r"[ \t]*\n")
    if not expected.strip():
        return not actual.strip()
    text = "\n".join(line.rstrip() for line in actual.splitlines()) + "\n"
    return re.fullmatch("".join(pattern), text) is not None
