"""Issue 12 item 2 against the real gateway process, its real database and the archive stream: an
intruder with write access to the gateway's MongoDB (pymongo here) but neither the gateway's keys nor
the broker, attack by attack. Each test undoes its damage (as an operator restoring from the
evidence would) and leaves the gateway serving, so the next starts from an intact log."""

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from egov.procedures.v1 import procedures_pb2 as pp
from gateway.message_log import SEAL, chain_record, record_hash
from gateway.message_log_admin import read_anchors
from tests.integration.test_gateway_agencies import (
    DESK,
    GET_PROCEDURE,
    KNOWN_PROCEDURE,
    AgencyPlatform,
    file_name,
    start_agency_platform,
)
from tests.support import eventually

CHAIN = "gateway"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyPlatform]:
    running = start_agency_platform(tmp_path_factory.mktemp("message-log-forgery"), archive=True,
                                    EGOV_GATEWAY_SEAL_EVERY_SECONDS="3600", EGOV_GATEWAY_LOG_ANCHOR_SECONDS="0.2")
    try:
        running.admin("members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp tỉnh Thừa Thiên Huế")
        running.admin("subsystems", "add", DESK, "--channel", "counter")
        running.admin("certs", "register", DESK, str(running.certs / "agencies" / f"{file_name(DESK)}.pem"))
        running.admin("grants", "add", GET_PROCEDURE, "--subsystem", DESK)
        calls(running, 4)
        yield running
    finally:
        running.mongo.close()
        running.stack.stop()


def call(platform: AgencyPlatform) -> None:
    platform.procedures(DESK).GetProcedure(pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE), timeout=10)


def calls(platform: AgencyPlatform, count: int) -> None:
    for _ in range(count):
        call(platform)


def refused(platform: AgencyPlatform) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(platform)
    return caught.value


def answer(platform: AgencyPlatform) -> str:
    """What a call gets: "OK" or its status and message."""
    try:
        call(platform)
    except grpc.RpcError as exc:
        return f"{exc.code().name}: {exc.details()}"
    return "OK"


def log_of(platform: AgencyPlatform) -> Collection[dict[str, Any]]:
    return platform.mongo["egov_gateway"]["message_log"]


def records(platform: AgencyPlatform) -> list[dict[str, Any]]:
    return list(log_of(platform).find({"chain": CHAIN}, {"_id": False}).sort("seq", ASCENDING))


def head(platform: AgencyPlatform) -> dict[str, Any]:
    last = log_of(platform).find_one({"chain": CHAIN}, sort=[("seq", DESCENDING)])
    assert last is not None
    return last


def verify(platform: AgencyPlatform, *args: str, expect: int = 0) -> str:
    return platform.admin("log", "verify", *args, expect=expect)


def restore(platform: AgencyPlatform, snapshot: list[dict[str, Any]]) -> None:
    log_of(platform).delete_many({"chain": CHAIN})
    log_of(platform).insert_many([dict(r) for r in snapshot])


def gateway_log(platform: AgencyPlatform) -> str:
    return (platform.stack.logs / "gateway.log").read_text(errors="replace")


def anchored_through(platform: AgencyPlatform, seq: int) -> bool:
    """The archive has indexed an anchor of the chain at `seq` or later."""
    head_anchor = read_anchors(platform.stack.amqp_uri, [CHAIN]).get(CHAIN)
    return head_anchor is not None and head_anchor.head is not None and head_anchor.head.seq >= seq


def test_the_reviewers_forgery_halts_the_gateway_and_verify_names_it(platform: AgencyPlatform) -> None:
    """Edit unsealed records, rehash, insert head+1, let the writer re-sync, seal."""
    calls(platform, 3)
    snapshot = records(platform)
    last = head(platform)
    edited = int(last["seq"]) - 1
    log = log_of(platform)
    prev = None
    for record in log.find({"chain": CHAIN, "seq": {"$gte": edited}}).sort("seq", ASCENDING):
        if record["seq"] == edited:
            record["status"], record["client"] = "PERMISSION_DENIED", "VN/GOV/999/intruder"
        record["prev_hash"] = prev or record["prev_hash"]
        record["hash"] = record_hash(record)
        log.replace_one({"_id": record["_id"]}, record)
        prev = record["hash"]
    forged = chain_record({k: v for k, v in last.items() if k not in ("_id", "seq", "prev_hash", "hash", "mac")}
                          | {"request_id": uuid.uuid4().hex}, CHAIN, int(last["seq"]) + 1, str(prev))
    log.insert_one(forged)

    first = refused(platform)                          # its record collides with the forged one
    assert first.code() == grpc.StatusCode.UNAVAILABLE and "message log is halted" in str(first.details())
    again = refused(platform)                          # no re-sync: halted until an operator acts
    assert again.code() == grpc.StatusCode.UNAVAILABLE and "halted" in str(again.details())
    assert "message log HALTED" in gateway_log(platform)
    assert "answered within" in platform.admin("log", "seal", "--timeout", "2", expect=1)
    assert log.count_documents({"chain": CHAIN, "kind": SEAL, "seq": {"$gt": last["seq"]}}) == 0
    output = verify(platform, expect=1)
    assert f"first broken record {edited}: record {edited} was not written by the gateway: its MAC" in output

    assert "still halted" in platform.admin("log", "resume", expect=1)   # the forgery is still there
    restore(platform, snapshot)                        # the operator keeps the evidence elsewhere
    assert "resumed" in platform.admin("log", "resume")
    call(platform)
    assert "intact" in verify(platform)


def test_a_tail_cut_before_a_restart_halts_the_restarted_gateway_and_fails_verify(platform: AgencyPlatform) -> None:
    calls(platform, 2)
    platform.stack.kill("gateway", signal.SIGTERM)     # a clean stop: seals, anchors the seal
    final = head(platform)
    assert final["kind"] == SEAL
    eventually(lambda: anchored_through(platform, int(final["seq"])), "the final seal anchored in the archive")
    snapshot = records(platform)
    cut = int(final["seq"]) - 2
    log_of(platform).delete_many({"chain": CHAIN, "seq": {"$gt": cut}})
    platform.start_gateway()

    eventually(lambda: answer(platform).startswith("UNAVAILABLE: message log: the message log is halted"),
               "the restarted gateway to halt")
    assert f"the database ends at record {cut}" in gateway_log(platform)
    output = verify(platform, expect=1)
    assert f"first broken record {cut + 1}:" in output and "were deleted, or the chain was rolled back" in output
    assert "intact" in verify(platform, "--skip-anchors")          # what the database alone would say

    restore(platform, snapshot)
    assert "resumed" in platform.admin("log", "resume")
    call(platform)
    assert "intact" in verify(platform)


def test_a_finished_gateways_whole_chain_deleted_is_found(platform: AgencyPlatform) -> None:
    platform.stack.kill("gateway", signal.SIGTERM)     # the replica is gone...
    final = head(platform)
    eventually(lambda: anchored_through(platform, int(final["seq"])), "the final seal anchored in the archive")
    snapshot = records(platform)
    log_of(platform).delete_many({"chain": CHAIN})     # ...and so is its chain
    output = verify(platform, "--all", expect=1)
    assert f"chain '{CHAIN}' was anchored outside the database through record {final['seq']}" in output
    assert "holds none of it: deleted" in output
    restore(platform, snapshot)
    platform.start_gateway()
    eventually(lambda: answer(platform) == "OK", "the gateway to serve again")
    assert "intact" in verify(platform, "--all")


def test_moving_the_anchor_to_hide_archived_away_records_is_found(platform: AgencyPlatform, tmp_path: Path) -> None:
    calls(platform, 2)
    assert "sealed" in platform.admin("log", "seal")
    assert "archived records" in platform.admin("log", "archive", "--out", str(tmp_path))
    calls(platform, 3)
    seal_output = platform.admin("log", "seal")
    assert "sealed" in seal_output
    assert "intact" in verify(platform)
    anchors = platform.mongo["egov_gateway"]["log_anchors"]
    before = anchors.find_one({"_id": CHAIN})
    assert before is not None
    moved_to = head(platform)                          # the last seal: hide every record since the archive
    snapshot = records(platform)
    anchors.update_one({"_id": CHAIN}, {"$set": {"seq": moved_to["seq"], "hash": moved_to["hash"]}})
    log_of(platform).delete_many({"chain": CHAIN, "seq": {"$lte": moved_to["seq"]}})
    output = verify(platform, expect=1)
    assert f"first broken record {before['seq'] + 1}:" in output
    assert "the database's anchor was moved past the last archive" in output
    anchors.replace_one({"_id": CHAIN}, before)
    restore(platform, snapshot)
    assert "intact" in verify(platform)
