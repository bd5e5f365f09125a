"""Print the pinned code generators from pyproject's dev extra, one requirement a line.

The image builder installs exactly these (and nothing else from the dev extra) to run the Makefile's
`proto` command, so the pins live in one place: pyproject.toml.
"""

import sys
import tomllib
from typing import Any

CODEGEN = ("grpcio-tools", "mypy-protobuf")


def codegen_requirements(pyproject: dict[str, Any]) -> list[str]:
    dev: list[str] = pyproject["project"]["optional-dependencies"]["dev"]
    pinned = {req.split("==")[0].strip(): req for req in dev if "==" in req}
    missing = [name for name in CODEGEN if name not in pinned]
    if missing:
        raise SystemExit(f"pyproject's dev extra must pin {', '.join(missing)} with ==")
    return [pinned[name] for name in CODEGEN]


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        print("\n".join(codegen_requirements(tomllib.load(f))))
