"""Print the image builder's own tools, pinned in pyproject's dev extra, one requirement a line:
the code generators (the Makefile's `proto` command) and the CycloneDX generator (the image's SBOM).

`make lock` compiles them, with hashes, into requirements/build.txt; the builder stage installs
exactly that file and nothing else from the dev extra, so the pins live in one place: pyproject.toml.
"""

import sys
import tomllib
from typing import Any

BUILD_TOOLS = ("grpcio-tools", "mypy-protobuf", "cyclonedx-bom")


def build_requirements(pyproject: dict[str, Any]) -> list[str]:
    dev: list[str] = pyproject["project"]["optional-dependencies"]["dev"]
    pinned = {req.split("==")[0].strip(): req.split("#")[0].strip() for req in dev if "==" in req}
    missing = [name for name in BUILD_TOOLS if name not in pinned]
    if missing:
        raise SystemExit(f"pyproject's dev extra must pin {', '.join(missing)} with ==")
    return [pinned[name] for name in BUILD_TOOLS]


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml", "rb") as f:
        print("\n".join(build_requirements(tomllib.load(f))))
