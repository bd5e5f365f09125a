"""`buf breaking` against the last released protos (protos/released/, run by `make lint` and so by CI)
passes for today's protos, and would catch a change that breaks an agency's client."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
RELEASED = sorted((ROOT / "protos" / "released").glob("egov-*.binpb"))


def _breaking(protos: Path) -> subprocess.CompletedProcess[str]:
    if not BUF.exists():
        pytest.fail("buf is not installed: run `make lint` (it installs it under .tools/)")
    return subprocess.run([str(BUF), "breaking", str(protos), "--against", str(RELEASED[-1])], capture_output=True,
                          text=True, timeout=120)


def test_the_last_release_is_kept_and_named_in_the_makefile() -> None:
    assert RELEASED, "protos/released/ must hold the last release's protos (make release-protos)"
    assert f"RELEASED_PROTOS := protos/released/{RELEASED[-1].name}" in (ROOT / "Makefile").read_text()


def test_today_s_protos_break_no_released_client() -> None:
    done = _breaking(ROOT / "protos")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_removed_field_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", copy, ignore=shutil.ignore_patterns("*.py", "*.pyi", "released", "__pycache__"))
    proto = copy / "egov" / "procedures" / "v1" / "procedures.proto"
    text = proto.read_text()
    field = "  string procedure_code = 1"
    assert field in text, "the sample field moved: pick another one for this test"
    proto.write_text(text.replace(field, "  reserved 1;\n  string procedure_code_renamed = 99", 1))
    done = _breaking(copy)
    assert done.returncode != 0 and "procedure_code" in done.stdout, done.stdout + done.stderr
