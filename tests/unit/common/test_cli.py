"""The conventions every egov-* command shares: settings found from the checkout, output formats."""

import json
import os
from pathlib import Path

import pytest
import typer

from services.common import cli
from services.common.errors import InvalidArgument


def test_a_command_run_inside_the_checkout_finds_make_runs_settings(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cli.write_env_file(tmp_path / "var" / "run" / "env", {"EGOV_MONGO_URI": "mongodb://127.0.0.1:41000/",
                                                          "EGOV_AMQP_URI": "amqp://guest:guest@127.0.0.1/egov-local"})
    deep = tmp_path / "docs" / "sub"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv("EGOV_MONGO_URI", raising=False)
    monkeypatch.setenv("EGOV_AMQP_URI", "amqp://from-the-environment/")
    cli.apply_connection_settings()
    assert os.environ["EGOV_MONGO_URI"] == "mongodb://127.0.0.1:41000/"
    assert os.environ["EGOV_AMQP_URI"] == "amqp://from-the-environment/"    # the environment wins over the file
    cli.apply_connection_settings(mongo_uri="mongodb://given/")
    assert os.environ["EGOV_MONGO_URI"] == "mongodb://given/"                # and a flag over both


def test_outside_a_checkout_nothing_is_found(tmp_path: Path) -> None:
    assert cli.run_env_file(tmp_path) is None


def test_json_and_ndjson_carry_plain_values(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    rows = [{"id": "a", "at": datetime(2026, 12, 6, tzinfo=UTC), "tags": ("x", "y")}]
    cli.emit(rows, cli.Output.JSON, key="events")
    assert json.loads(capsys.readouterr().out) == {"events": [{"id": "a", "at": "2026-12-06T00:00:00+00:00",
                                                               "tags": ["x", "y"]}]}
    cli.emit(rows * 2, cli.Output.NDJSON)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "a"]


def test_a_refusal_names_the_field_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        cli.refuse(InvalidArgument("channel", "must be one of none, counter"))
    assert exited.value.exit_code == cli.REFUSED
    assert "refused: channel: must be one of none, counter" in capsys.readouterr().err
