"""The message log of the real gateway in the real database: sealed on request, verified by the admin
command, and tampered with directly in MongoDB as an intruder with database access would."""

import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from egov.procedures.v1 import procedures_pb2 as pp
from gateway.cli import app
from gateway.message_log import SEAL, chain_record, record_hash
from services.common.caller import Caller, CallerKind
from services.common.tokens import issue_token
from tests.integration.test_gateway_agencies import (
    DESK,
    GET_PROCEDURE,
    KNOWN_PROCEDURE,
    AgencyPlatform,
    file_name,
    refused,
    start_agency_platform,
)
from tests.support import eventually

CITIZEN_ID = "046099001234"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyPlatform]:
    running = start_agency_platform(tmp_path_factory.mktemp("message-log"), archive=True,
                                    EGOV_GATEWAY_SEAL_EVERY_SECONDS="3600")
    try:
        running.admin("members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp tỉnh Thừa Thiên Huế")
        running.admin("subsystems", "add", DESK, "--channel", "counter")
        running.admin("certs", "register", DESK, str(running.certs / "agencies" / f"{file_name(DESK)}.pem"))
        running.admin("grants", "add", GET_PROCEDURE, "--subsystem", DESK)
        exchanges(running, 6)
        assert "sealed: chain 'gateway'" in running.admin("log", "seal")
        exchanges(running, 2)
        yield running
    finally:
        running.mongo.close()
        running.stack.stop()


def exchanges(platform: AgencyPlatform, count: int) -> None:
    """Agency calls, citizen calls and refusals, in turn."""
    private_key = Path(platform.stack.env()["EGOV_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    token, _ = issue_token(private_key, Caller(CallerKind.CITIZEN, subject=CITIZEN_ID), timedelta(minutes=5))
    request = pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE)
    for n in range(count):
        if n % 3 == 0:
            platform.procedures(DESK).GetProcedure(request, timeout=10)
        elif n % 3 == 1:
            platform.procedures(None).GetProcedure(request, metadata=(("authorization", f"Bearer {token}"),),
                                                   timeout=10)
        else:
            refused(platform.procedures(DESK).SubmitDossier, pp.SubmitDossierRequest(), timeout=10)


def log_of(platform: AgencyPlatform) -> Collection[dict[str, Any]]:
    return platform.mongo["egov_gateway"]["message_log"]


def sealed_segment(platform: AgencyPlatform) -> tuple[int, int]:
    seal = log_of(platform).find_one({"kind": SEAL}, sort=[("seq", DESCENDING)])
    assert seal is not None
    return int(seal["first_seq"]), int(seal["last_seq"])


def verify(platform: AgencyPlatform, *args: str, expect: int = 0) -> str:
    return platform.admin("log", "verify", *args, expect=expect)


@pytest.fixture
def intact(platform: AgencyPlatform) -> Iterator[AgencyPlatform]:
    """The log verifies before the test, and again after the test has undone its tampering."""
    assert "intact" in verify(platform)
    snapshot = list(log_of(platform).find({}, {"_id": False}).sort("seq", ASCENDING))
    yield platform
    log_of(platform).delete_many({})
    log_of(platform).insert_many(snapshot)
    assert "intact" in verify(platform)


def test_the_log_records_every_exchange_and_no_personal_data(platform: AgencyPlatform) -> None:
    records = list(log_of(platform).find({"kind": "exchange"}))
    clients = {r["client"] for r in records}
    assert DESK in clients and any(c.startswith("citizen:") for c in clients)
    assert {r["status"] for r in records} >= {"OK", "PERMISSION_DENIED"}
    assert CITIZEN_ID not in repr(records)
    output = verify(platform)
    assert "intact" in output and "not sealed yet" in output
    assert "intact: chain 'gateway'" in verify(platform, "--all")


def test_an_edited_record_is_named(intact: AgencyPlatform) -> None:
    first, _ = sealed_segment(intact)
    log_of(intact).update_one({"seq": first + 2}, {"$set": {"status": "OK", "client": "VN/GOV/1/someone-else"}})
    assert f"first broken record {first + 2}: record {first + 2} was altered" in verify(intact, expect=1)


def test_a_deleted_record_is_named(intact: AgencyPlatform) -> None:
    first, _ = sealed_segment(intact)
    log_of(intact).delete_one({"seq": first + 1})
    assert f"first broken record {first + 1}: record {first + 1} is missing" in verify(intact, expect=1)


def test_an_inserted_record_is_named(intact: AgencyPlatform) -> None:
    first, _ = sealed_segment(intact)
    log = log_of(intact)
    at = first + 3
    for record in log.find({"seq": {"$gte": at}}).sort("seq", DESCENDING):   # make room, as an intruder would
        log.update_one({"_id": record["_id"]}, {"$inc": {"seq": 1}})
    before = log.find_one({"seq": at - 1})
    assert before is not None
    forged = {k: v for k, v in before.items() if k not in ("_id", "seq", "prev_hash", "hash")}
    log.insert_one(chain_record({**forged, "request_id": uuid.uuid4().hex}, "gateway", at, before["hash"]))
    assert f"first broken record {at}: " in verify(intact, expect=1)


def test_an_edit_with_the_chain_recomputed_after_it_is_caught_by_the_seal(intact: AgencyPlatform) -> None:
    first, last = sealed_segment(intact)
    log = log_of(intact)
    target = first + 1
    prev = None
    for record in log.find({"seq": {"$gte": target, "$lte": last + 1}}).sort("seq", ASCENDING):
        if record["seq"] == target:
            record["status"] = "NOT_FOUND"
        if prev is not None:
            record["prev_hash"] = prev
        record["hash"] = record_hash(record)
        log.replace_one({"_id": record["_id"]}, record)
        prev = record["hash"]
    output = verify(intact, expect=1)
    assert f"first broken record {target}: record {target} was not written by the gateway: its MAC" in output
    # An auditor with the seal's public key only (no log key) finds it through the seal.
    result = intact.cli.invoke(app, ["log", "verify"], env={**intact.env, "EGOV_GATEWAY_LOG_KEY_FILE": ""})
    assert result.exit_code == 1
    assert f"first broken record {target}: record {target} is not the record seal {last + 1} sealed" in result.output


def test_sealed_records_archive_to_a_file_that_verifies_and_the_live_log_goes_on(platform: AgencyPlatform,
                                                                                tmp_path: Path) -> None:
    _, last = sealed_segment(platform)
    output = platform.admin("log", "archive", "--out", str(tmp_path))
    assert f"..{last + 1} " in output
    [archive] = tmp_path.glob("mlog-gateway-*.jsonl")
    assert log_of(platform).count_documents({"seq": {"$lte": last + 1}}) == 0
    assert "intact" in verify(platform)                       # from the anchor on
    assert "intact" in verify(platform, "--file", str(archive))
    lines = archive.read_text().splitlines()
    lines[3] = lines[3].replace('"status": "OK"', '"status": "NOT_FOUND"').replace(
        '"status": "PERMISSION_DENIED"', '"status": "OK"')
    archive.write_text("\n".join(lines) + "\n")
    assert "first broken record" in verify(platform, "--file", str(archive), expect=1)


def test_after_a_crash_the_restarted_gateway_continues_the_chain(platform: AgencyPlatform) -> None:
    platform.stack.kill("gateway", signal.SIGKILL)
    platform.start_gateway()
    request = pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE)

    def answered() -> bool:
        try:        # UNAVAILABLE until the dead gateway's lease on the chain expires
            platform.procedures(DESK).GetProcedure(request, timeout=10)
        except Exception:
            return False
        return True

    eventually(answered, "the restarted gateway to write the log again")
    assert "sealed" in platform.admin("log", "seal")
    assert "intact" in verify(platform)
