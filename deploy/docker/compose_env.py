"""Write or complete deploy/compose.env from deploy/compose.env.example (`make up` runs it).

    python3 -m deploy.docker.compose_env deploy/compose.env.example deploy/compose.env

Every variable of the example missing from the env file is added with a fresh random value in place
of CHANGE-ME (48 hex digits); variables already there keep their values, so it runs before each
`make up` and a new secret in the example never breaks an older checkout's file. Mode 0600.
Standard library only.
"""

import os
import re
import secrets
import sys
from pathlib import Path

ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def complete(example: str, existing: str) -> tuple[str, list[str]]:
    have = {m.group(1) for line in existing.splitlines() if (m := ASSIGNMENT.match(line))}
    added, lines = [], []
    for line in example.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match.group(1) not in have:
            added.append(match.group(1))
            lines.append(f"{match.group(1)}={match.group(2).replace('CHANGE-ME', secrets.token_hex(24))}")
    text = existing if not existing or existing.endswith("\n") else existing + "\n"
    return text + "".join(f"{line}\n" for line in lines), added


def main(argv: list[str]) -> int:
    example, target = Path(argv[0]), Path(argv[1])
    existing = target.read_text() if target.exists() else ""
    text, added = complete(example.read_text(), existing)
    if added:
        target.touch(mode=0o600)
        target.write_text(text)
        print(f"{target}: {'made with' if not existing else 'added'} random values for {len(added)} variable(s)")
    os.chmod(target, 0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
