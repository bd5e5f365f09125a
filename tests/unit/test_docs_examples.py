"""The docs' example marker: how blocks are read, matched, and that no runnable block is unmarked."""

from pathlib import Path

import pytest

from tests import docs_examples

ROOT = Path(__file__).resolve().parents[2]
DOC = """Intro

<!-- example -->
```console
$ egov-gateway members add GOV 1 \\
    --name "x"
member VN/GOV/1 added (registry version ...)
...
$ egov-events dlq purge postal
refused: yes: add --yes to confirm
[exit 1]
```

```console
$ not run
```
"""


def test_marked_blocks_become_commands_with_expected_output_and_status() -> None:
    found = docs_examples.commands(Path("X.md"), DOC)
    assert [c.command for c in found] == ['egov-gateway members add GOV 1 \\\n    --name "x"',
                                          "egov-events dlq purge postal"]
    assert found[0].expected == "member VN/GOV/1 added (registry version ...)\n..."
    assert (found[1].exit_code, found[1].source) == (1, "X.md:9")


@pytest.mark.parametrize(("expected", "actual", "ok"), [
    ("a ... c", "a b c\n", True),
    ("a\n...\nz", "a\nb\nc\nz\n", True),
    ("a\n...\nz", "a\nz\n", True),
    ("a b", "a c\n", False),
    ("a", "a\nextra\n", False),
    ("", "", True),
])
def test_ellipsis_matching(expected: str, actual: str, ok: bool) -> None:
    assert docs_examples.matches(expected, actual) is ok


def test_every_runnable_block_in_the_docs_is_marked() -> None:
    unmarked = {path.name: lines for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
                if (lines := docs_examples.unmarked_runnable(path))}
    assert unmarked == {}, f"mark these blocks `{docs_examples.MARKER}` (tests/docs_examples.py): {unmarked}"


def test_a_here_document_belongs_to_its_command() -> None:
    text = ("<!-- example -->\n```console\n$ cat > m.yaml <<'EOF'\nmembers: []\nEOF\n"
            "$ egov-gateway apply -f m.yaml\nok\n```\n")
    first, second = docs_examples.commands(Path("X.md"), text)
    assert first.command == "cat > m.yaml <<'EOF'\nmembers: []\nEOF" and first.expected == ""
    assert (second.command, second.expected) == ("egov-gateway apply -f m.yaml", "ok")
