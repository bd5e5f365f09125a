"""Every marked example of README.md and docs/ (tests/docs_examples.py), run against a platform
brought up as `make run` does it (its demo included), its output checked.

`EGOV_DOCS_RECORD=<dir>` writes each command's real output there instead of failing, to paste
into the docs (replacing what varies with `...`).
"""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.run import local_settings, run_demo
from deploy.local.stack import ROOT, Ports, Stack
from services.common.cli import write_env_file
from tests import docs_examples

# Every document a marked example may be in (tests/unit/test_docs_examples.py checks the marks), README first
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DEMO_DOSSIER = re.compile(r"000\.00\.15\.H57-\d{6}-0001")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path, str]]:
    home = tmp_path_factory.mktemp("docs")
    stack = Stack(home / "var" / "run", ports=Ports())
    try:
        stack.start()
        write_env_file(stack.workdir / "env", local_settings(stack))
        demo = run_demo(stack)
        yield stack, home, demo.facts["dossier_code"]
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stack.stop()


def run(command: str, stack: Stack, home: Path, dossier: str) -> tuple[int, str]:
    command = (command.replace("127.0.0.1:50051", f"127.0.0.1:{stack.ports.gateway}")
               .replace("127.0.0.1:50052", f"127.0.0.1:{stack.ports.agency}"))
    command = DEMO_DOSSIER.sub(dossier, command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGOV_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120",
               LANG="C.UTF-8", TERM="dumb")
    done = subprocess.run(["bash", "-c", command], cwd=home, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_every_example_in_the_docs_runs_as_written(platform: tuple[Stack, Path, str]) -> None:
    stack, home, dossier = platform
    record = os.environ.get("EGOV_DOCS_RECORD")
    failures = []
    for doc in DOCS:
        for example in docs_examples.commands(doc):
            status, output = run(example.command, stack, home, dossier)
            output = output.replace(dossier, "000.00.15.H57-261207-0001")
            if record:
                out = Path(record) / f"{doc.name}.txt"
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("a", encoding="utf-8") as file:
                    file.write(f"## {example.source}\n$ {example.command}\n{output}[exit {status}]\n\n")
                continue
            if status != example.exit_code or not docs_examples.matches(example.expected, output):
                failures.append(f"{example.source}: $ {example.command}\n-- expected (exit {example.exit_code}):\n"
                                f"{example.expected}\n-- got (exit {status}):\n{output}")
    assert not failures, "\n\n".join(failures)
    shutil.rmtree(home / "var" / "run" / "logs", ignore_errors=True)
