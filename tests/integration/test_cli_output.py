"""The egov-* commands as a script sees them, on a real database and broker: JSON and NDJSON with the
documented field names, and exit codes 0 done, 1 refused (nothing changed), 2 usage."""

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.certs import issue, make_ca
from gateway.cli import app as gateway_app
from services.archive.cli import app as events_app
from services.common.events.broker import declare_topology
from services.identity.cli import app as admin_app

DESK = "VN/GOV/000.00.15.H57/one-stop-desk"


@pytest.fixture(autouse=True)
def own_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Outside any checkout (no var/run/env), and the settings a command applies are undone."""
    saved = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def gateway(mongo_uri: str) -> Iterator[tuple[CliRunner, list[str]]]:
    yield CliRunner(), ["--mongo-uri", mongo_uri, "--db", f"cli_{uuid.uuid4().hex[:8]}"]


def test_egov_gateway_changes_and_listings_in_json(gateway: tuple[CliRunner, list[str]], tmp_path: Path) -> None:
    cli, base = gateway
    added = cli.invoke(gateway_app, [*base, "members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp",
                                     "--rate", "5", "--output", "json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"change": "member VN/GOV/000.00.15.H57 added", "version": 1,
                                        "in_force_on": [], "not_yet_on": [], "confirmed": True}
    cli.invoke(gateway_app, [*base, "subsystems", "add", DESK, "--channel", "counter"])
    pem = tmp_path / "desk.pem"
    pem.write_bytes(issue(make_ca(), DESK).certificate_pem)
    assert cli.invoke(gateway_app, [*base, "certs", "register", DESK, str(pem)]).exit_code == 0
    listed = json.loads(cli.invoke(gateway_app, [*base, "members", "list", "--output", "json"]).stdout)
    assert listed == {"members": [{"member": "VN/GOV/000.00.15.H57", "name": "Sở Tư pháp",
                                   "subsystems": [{"subsystem": DESK, "channel": "counter"}],
                                   "rate_per_second": 5.0, "burst": None, "concurrency": None}]}
    certificates = cli.invoke(gateway_app, [*base, "certs", "list", "--output", "ndjson"]).stdout.splitlines()
    assert len(certificates) == 1 and set(json.loads(certificates[0])) == {
        "fingerprint", "subsystem", "subject", "not_after", "registered_at", "revoked_at"}
    subsystems = json.loads(cli.invoke(gateway_app, [*base, "subsystems", "list", "--output", "json"]).stdout)
    assert subsystems["subsystems"][0]["certificates_in_force"] == 1
    grantable = json.loads(cli.invoke(gateway_app, [*base, "grants", "methods", "--output", "json"]).stdout)
    assert {"name": "/egov.procedures.v1.ProcedureService/GetDossier"} in grantable["grantable"]


def test_egov_gateway_refuses_with_1_and_rejects_bad_usage_with_2(gateway: tuple[CliRunner, list[str]],
                                                                  tmp_path: Path) -> None:
    cli, base = gateway
    cli.invoke(gateway_app, [*base, "members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp"])
    again = cli.invoke(gateway_app, [*base, "members", "add", "GOV", "000.00.15.H57", "--name", "x"])
    assert again.exit_code == 1 and "refused: member: member VN/GOV/000.00.15.H57 already exists" in again.output
    not_grantable = cli.invoke(gateway_app, [*base, "grants", "add", "--subsystem", DESK,
                                             "/egov.procedures.v1.ProcedureService/AcceptDossier"])
    assert not_grantable.exit_code == 1 and "refused: method:" in not_grantable.output
    assert cli.invoke(gateway_app, [*base, "members", "add", "GOV"]).exit_code == 2
    assert cli.invoke(gateway_app, [*base, "members", "list", "--output", "xml"]).exit_code == 2
    members = tmp_path / "members.yaml"
    members.write_text("members:\n  - member: VN/GOV/000.00.15.H57\n    name: Sở Tư pháp\n"
                       "    limits: {concurrency: 4}\n", encoding="utf-8")
    dry = cli.invoke(gateway_app, [*base, "apply", "-f", str(members), "--dry-run", "--output", "json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["steps"] == [{"action": "change", "kind": "member", "target": "VN/GOV/000.00.15.H57",
                                                "detail": "concurrency default -> 4"}]
    members.write_text("members:\n  - member: VN/NOPE/1\n    name: x\n", encoding="utf-8")
    bad = cli.invoke(gateway_app, [*base, "apply", "-f", str(members)])
    assert bad.exit_code == 1 and "member_class" in bad.output


@pytest.fixture
def events(mongo_uri: str, amqp_uri: str) -> tuple[CliRunner, list[str]]:
    declare_topology(amqp_uri)
    os.environ["EGOV_ARCHIVE_DB"] = f"cli_{uuid.uuid4().hex[:8]}"
    return CliRunner(), ["--mongo-uri", mongo_uri, "--amqp-uri", amqp_uri]


def test_egov_events_json_and_exit_codes(events: tuple[CliRunner, list[str]]) -> None:
    cli, base = events
    found = cli.invoke(events_app, [*base, "search", "--output", "json"])
    assert found.exit_code == 0 and json.loads(found.stdout) == {"events": [], "total": 0}
    status = json.loads(cli.invoke(events_app, [*base, "status", "--output", "json"]).stdout)
    assert set(status) == {"stream_last_offset", "index_position", "index_lag", "services"}
    assert set(status["services"][0]) == {"service", "queue", "waiting", "dead_letter_queue", "parked"}
    dlq = json.loads(cli.invoke(events_app, [*base, "dlq", "list", "--output", "json"]).stdout)
    assert [s["service"] for s in dlq["services"]][:2] == ["identity", "procedures"]
    dry = json.loads(cli.invoke(events_app, [*base, "dlq", "redrive", "postal", "--dry-run", "--output",
                                             "json"]).stdout)
    assert (dry["count"], dry["dry_run"], dry["to_queue"]) == (0, True, "egov.postal.events")
    purge = cli.invoke(events_app, [*base, "dlq", "purge", "postal"])
    assert purge.exit_code == 1 and "add --yes" in purge.output
    both = cli.invoke(events_app, [*base, "replay", "--to-service", "postal", "--to-queue", "q"])
    assert both.exit_code == 1 and "exactly one target" in both.output
    assert cli.invoke(events_app, [*base, "search", "--since", "yesterday"]).exit_code == 2
    assert cli.invoke(events_app, [*base, "export"]).stdout == ""
    assert cli.invoke(events_app, [*base, "show", "nope"]).exit_code == 1


def test_egov_admin_usage() -> None:
    assert CliRunner().invoke(admin_app, ["add-civil-servant", "--id", "x"]).exit_code == 2
