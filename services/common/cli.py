"""What every `egov-*` command line shares, so an integration team can script any of them the same way.

- Exit codes: 0 done; 1 refused (the platform said no, named the field or rule, and changed nothing;
  or a change was made but not confirmed in time); 2 usage (bad arguments, as typer reports them);
  130 interrupted (Ctrl-C during a long run, such as a replay: rerun to resume).
- Connection settings: `--amqp-uri` / `--mongo-uri` on the command line, else `EGOV_AMQP_URI` /
  `EGOV_MONGO_URI`, else the file `make run` writes (`var/run/env`, found by walking up from the
  working directory, so a command run anywhere in the checkout reaches the local platform; its other
  settings, such as the seal key, fill in what the environment leaves unset), else the local default
  of services.common.config.
- Output: `--output table` (for people, the default), `json` (one document) or `ndjson` (one JSON
  object per line, for streams and long listings). Field names in JSON are stable and documented with
  each command; table columns may change.

A command parses its arguments, calls one operator function (which raises DomainError to refuse) and
prints what it returns through `emit`. Nothing else belongs in a command.
"""

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from services.common.config import ConfigError
from services.common.errors import DomainError

DONE, REFUSED, USAGE = 0, 1, 2
RUN_ENV = Path("var") / "run" / "env"

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table, json or ndjson")]
AmqpUriOption = Annotated[str, typer.Option("--amqp-uri", help="the broker (default: EGOV_AMQP_URI, "
                                                               "then var/run/env of `make run`)")]
MongoUriOption = Annotated[str, typer.Option("--mongo-uri", help="the database server (default: EGOV_MONGO_URI, "
                                                                 "then var/run/env of `make run`)")]


def run_env_file(start: Path | None = None) -> Path | None:
    """`var/run/env` in the working directory or the nearest parent that has one."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / RUN_ENV
        if candidate.is_file():
            return candidate
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """What a local command needs to reach a running platform; written by `make run`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# written by `make run`: the local platform's connection settings, read by the egov-* commands\n"
    path.write_text(text + "".join(f"{key}={value}\n" for key, value in sorted(values.items())), encoding="utf-8")


def apply_connection_settings(amqp_uri: str = "", mongo_uri: str = "") -> None:
    """Make the settings given on the command line, or found in var/run/env, the ones every
    `services.common.config` reader sees for the rest of this command. Every setting of the file
    (the seal key, the certificates...) fills in what the environment does not set."""
    found = run_env_file()
    local = read_env_file(found) if found else {}
    for name, value in local.items():
        if not os.environ.get(name):
            os.environ[name] = value
    for name, given in (("EGOV_AMQP_URI", amqp_uri), ("EGOV_MONGO_URI", mongo_uri)):
        if given:
            os.environ[name] = given


def refuse(exc: DomainError | ConfigError | str) -> NoReturn:
    """Print the refusal (the field or rule and why) and exit 1; a setting the command lacks (e.g. the
    operators' key) is a usage error: exit 2."""
    if isinstance(exc, ConfigError):
        err_console.print(f"not done: {exc}", markup=False, highlight=False)
        raise typer.Exit(code=USAGE)
    err_console.print(f"refused: {exc}", markup=False, highlight=False)
    raise typer.Exit(code=REFUSED)


def plain(value: Any) -> Any:
    """A value as JSON carries it: times in ISO 8601, enums by value, sets and tuples as lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def emit(rows: Iterable[Mapping[str, Any]], output: Output, columns: Sequence[tuple[str, str]] = (),
         title: str = "", key: str = "items") -> None:
    """Print rows: a table of `columns` ((field, header) pairs; all fields when empty), a JSON
    document `{key: [rows]}`, or one JSON object per line."""
    if output is Output.NDJSON:
        for row in rows:
            sys.stdout.write(json.dumps(plain(row), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    listed = [plain(row) for row in rows]
    if output is Output.JSON:
        sys.stdout.write(json.dumps({key: listed}, ensure_ascii=False, indent=2) + "\n")
        return
    fields = list(columns) or [(name, name) for name in (listed[0] if listed else {})]
    table = Table(*(header for _, header in fields), title=title or None)
    for row in listed:
        table.add_row(*(_cell(row.get(name)) for name, _ in fields))
    console.print(table)


def emit_one(document: Mapping[str, Any], output: Output, title: str = "") -> None:
    """One result: a two-column table for people, the document itself in JSON (and NDJSON)."""
    if output is not Output.TABLE:
        sys.stdout.write(json.dumps(plain(document), ensure_ascii=False,
                                    indent=2 if output is Output.JSON else None) + "\n")
        return
    table = Table(show_header=False, title=title or None)
    for name, value in plain(document).items():
        table.add_row(name, _cell(value))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        return "\n".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
