"""Issue 12 item 2: a database writer against the message log, attack by attack, without a database.

The attacker can read and write every record, anchor and setting of the gateway's database, but
holds neither the log key (record MACs) nor the seal key, and cannot reach the anchors outside the
database (here an in-memory anchor log)."""

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import log_archive
from gateway.message_log import Anchor, Record, Sealer, chain_record, record_hash
from gateway.message_log_anchors import ARCHIVED, HEAD, InMemoryAnchors, signed_anchor
from gateway.message_log_store import InMemoryLogStore
from gateway.message_log_verify import ChainReport, verify, verify_chains
from gateway.message_log_writer import LogUnavailable, MessageLog
from tests.unit.gateway.metrics import gauge_value
from tests.unit.gateway.test_message_log import RECORD_KEY, SEALER, TRUSTED, chain_of, exchange


@pytest.fixture
def store() -> InMemoryLogStore:
    return InMemoryLogStore()


@pytest.fixture
def anchors() -> InMemoryAnchors:
    return InMemoryAnchors()


def writer_of(store: InMemoryLogStore, anchors: InMemoryAnchors | None = None, **options: Any) -> MessageLog:
    options = {"seal_every_records": 100, "seal_every_seconds": 3600, "anchor_every_seconds": 0.0, **options}
    log = MessageLog(store, "gw", SEALER, record_key=RECORD_KEY, holder="gw-pod", anchors=anchors, **options)
    log.start()
    return log


@pytest.fixture
def writer(store: InMemoryLogStore, anchors: InMemoryAnchors) -> Iterator[MessageLog]:
    log = writer_of(store, anchors)
    yield log
    log.stop(timeout=2)


def written(log: MessageLog, n: int) -> int:
    return log.submit(exchange(n)).result(timeout=5)


def rewrite(store: InMemoryLogStore, seq: int, **changes: Any) -> None:
    """Edit record `seq` and rehash it and every record after it, as an intruder who knows the format."""
    rows = sorted((r for r in store.rows if r["chain"] == "gw"), key=lambda r: r["seq"])
    prev = next((r["hash"] for r in rows if r["seq"] == seq - 1), "0" * 64)
    for record in rows:
        if record["seq"] < seq:
            continue
        record.update(changes if record["seq"] == seq else {})
        record["prev_hash"] = prev
        record["hash"] = record_hash(record)
        prev = record["hash"]


def forge_next(store: InMemoryLogStore) -> Record:
    """Insert a well-formed record after the chain's last one (no MAC: the intruder has no key)."""
    last = max((r for r in store.rows if r["chain"] == "gw"), key=lambda r: r["seq"])
    forged = chain_record({**exchange(99).fields(), "client": "VN/GOV/999/intruder", "status": "OK"}, "gw",
                          last["seq"] + 1, last["hash"])
    store.rows.append(forged)
    return forged


def broken(reports: list[ChainReport]) -> tuple[int, str]:
    [report] = [r for r in reports if not r.verdict.intact]
    assert report.verdict.problem is not None
    return report.verdict.problem.seq, report.verdict.problem.reason


def test_an_unsealed_record_edited_and_rehashed_is_named_by_its_mac() -> None:
    records = chain_of(6)
    at3 = next(r for r in records if r["seq"] == 3)
    at3["status"] = "NOT_FOUND"
    prev = at3["prev_hash"]
    for record in records[2:]:
        record["prev_hash"], record["hash"] = prev, record_hash({**record, "prev_hash": prev})
        prev = record["hash"]
    assert verify(records, TRUSTED).intact            # without the key, the rewrite is invisible...
    verdict = verify(records, TRUSTED, key=RECORD_KEY)
    assert verdict.problem is not None and verdict.problem.seq == 3
    assert "not written by the gateway: its MAC does not match" in verdict.problem.reason


def test_the_reviewers_forgery_halts_the_writer_and_no_seal_signs_it(writer: MessageLog, store: InMemoryLogStore,
                                                                      anchors: InMemoryAnchors) -> None:
    """Edit unsealed records, rehash, insert head+1, let the writer re-sync, seal: reproduced."""
    assert [written(writer, n) for n in range(1, 4)] == [1, 2, 3]
    genuine_head = next(r["hash"] for r in store.rows if r["seq"] == 3)
    rewrite(store, 2, status="PERMISSION_DENIED", client="VN/GOV/999/intruder")
    forge_next(store)                                                  # record 4
    with pytest.raises(LogUnavailable, match="halted"):
        written(writer, 4)                                             # its insert of record 4 collides
    assert writer.halted is not None and "record 4 in the database was not written by this gateway" in writer.halted
    assert gauge_value("egov.gateway.message_log.halted", chain="gw") == 1
    with pytest.raises(LogUnavailable, match="halted"):                # and it stays halted: no re-sync
        writer.submit(exchange(5))
    writer.request_seal()
    time.sleep(0.3)        # give the writer the chance to do what it must not (nothing to wait on)
    assert store.seals("gw") == []
    assert all(r["prev_hash"] != genuine_head for r in store.rows if r["seq"] == 4)
    seq, reason = broken(verify_chains(store, ["gw"], trusted_keys=TRUSTED, key=RECORD_KEY,
                                       outside=anchors.latest()))
    assert seq == 2 and "MAC does not match" in reason


def test_a_halted_writer_in_hold_mode_keeps_the_call_and_resumes_from_its_own_head(store: InMemoryLogStore) -> None:
    log = writer_of(store, hold_on_halt=True)
    try:
        assert [written(log, n) for n in range(1, 4)] == [1, 2, 3]
        genuine_head = next(r["hash"] for r in store.rows if r["seq"] == 3)
        forged = forge_next(store)
        held: Future[int] = log.submit(exchange(4))
        deadline = time.monotonic() + 5
        while log.halted is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not held.done()                                         # held, not refused
        store.request("gw", "resume")                                  # evidence not set aside yet: still halted
        while store.requests("gw", "resume")[1] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert store.outcome("gw", "resume").startswith("still halted")
        store.rows.remove(forged)                                      # the operator keeps it elsewhere
        store.request("gw", "resume")
        assert held.result(timeout=5) == 4
        assert store.outcome("gw", "resume") == "resumed"
        assert next(r for r in store.rows if r["seq"] == 4)["prev_hash"] == genuine_head
    finally:
        log.stop(timeout=2)
    assert verify(store.records("gw"), TRUSTED, key=RECORD_KEY).intact


def test_a_restarted_writer_does_not_adopt_an_edited_unsealed_tail(store: InMemoryLogStore) -> None:
    store.append(chain_of(6, seal_every=4))        # 1-4, seal 5, 6, 7: left by a gateway that stopped
    rewrite(store, 7, status="NOT_FOUND")
    log = writer_of(store)
    try:
        with pytest.raises(LogUnavailable, match="halted"):
            written(log, 1)
        assert log.halted is not None and "record 7 was not written by a gateway" in log.halted
    finally:
        log.stop(timeout=2)
    assert max(r["seq"] for r in store.rows) == 7


def test_a_restarted_writer_does_not_adopt_a_record_appended_after_the_last_one(store: InMemoryLogStore) -> None:
    store.append(chain_of(6, seal_every=4))
    forge_next(store)
    log = writer_of(store)
    try:
        with pytest.raises(LogUnavailable, match="halted"):
            written(log, 1)
        assert log.halted is not None and "record 8" in log.halted
    finally:
        log.stop(timeout=2)


def test_a_tail_cut_before_a_restart_is_found_by_the_writer_and_by_verify(store: InMemoryLogStore,
                                                                         anchors: InMemoryAnchors) -> None:
    first = writer_of(store, anchors)
    for n in range(1, 6):
        written(first, n)
    first.stop()                                                      # seals 1..5 as record 6 and anchors it
    store.rows = [r for r in store.rows if r["seq"] <= 3]             # the intruder cuts 4..6
    second = writer_of(store, anchors)
    try:
        with pytest.raises(LogUnavailable, match="halted"):
            written(second, 6)
        assert second.halted is not None
        assert "anchored outside the database through record 6" in second.halted
        assert "the database ends at record 3" in second.halted
    finally:
        second.stop(timeout=2)
    seq, reason = broken(verify_chains(store, [], trusted_keys=TRUSTED, key=RECORD_KEY, outside=anchors.latest()))
    assert seq == 4 and "records 4..6 were deleted" in reason
    assert verify_chains(store, [], trusted_keys=TRUSTED, key=RECORD_KEY)[0].verdict.intact   # the DB alone: fooled


def test_a_finished_replicas_whole_chain_deleted_is_found(store: InMemoryLogStore, anchors: InMemoryAnchors) -> None:
    finished = writer_of(store, anchors)
    for n in range(1, 4):
        written(finished, n)
    finished.stop()
    store.rows = []                                                   # the pod is gone; so is its chain
    assert verify_chains(store, [], key=RECORD_KEY) == []             # the database alone knows nothing of it
    seq, reason = broken(verify_chains(store, [], trusted_keys=TRUSTED, key=RECORD_KEY, outside=anchors.latest()))
    assert seq == 1 and "chain 'gw' was anchored outside the database through record 4" in reason
    assert "holds none of it: deleted" in reason


def test_a_chain_rolled_back_to_an_older_copy_and_continued_is_found(store: InMemoryLogStore,
                                                                     anchors: InMemoryAnchors) -> None:
    first = writer_of(store, anchors)
    for n in range(1, 4):
        written(first, n)
    first.stop()                                                      # 1..3, seal 4
    backup = [dict(r) for r in store.rows]
    second = writer_of(store, anchors)
    for n in range(4, 7):
        written(second, n)
    second.stop()                                                     # 5..7, seal 8: anchored
    store.rows = [*backup, chain_record(exchange(9).fields(), "gw", 5, backup[-1]["hash"], RECORD_KEY)]
    # (a record MACed with the key: the worst case, an older genuine record replayed into the gap)
    seq, reason = broken(verify_chains(store, ["gw"], trusted_keys=TRUSTED, key=RECORD_KEY,
                                       outside=anchors.latest()))
    assert seq == 6 and "records 6..8 were deleted, or the chain was rolled back" in reason


def test_moving_the_database_anchor_is_found(store: InMemoryLogStore, anchors: InMemoryAnchors,
                                             tmp_path: Path) -> None:
    first = writer_of(store, anchors)
    for n in range(1, 4):
        written(first, n)
    first.stop()                                                      # 1..3, seal 4
    archived = log_archive.archive(store, "gw", tmp_path, RECORD_KEY, SEALER, anchors, TRUSTED)
    assert archived.last_seq == 4 and anchors.latest()["gw"].archived is not None
    second = writer_of(store, anchors)
    for n in range(4, 8):
        written(second, n)
    second.stop()                                                     # 5..8, seal 9
    reports = verify_chains(store, ["gw"], trusted_keys=TRUSTED, key=RECORD_KEY, outside=anchors.latest())
    assert reports[0].verdict.intact
    seal = next(r for r in store.rows if r["seq"] == 9)
    store.anchors["gw"] = Anchor(9, seal["hash"], "0" * 64)         # hide 5..9 behind a moved anchor
    store.delete_through("gw", 9)
    assert verify(store.records("gw"), TRUSTED, store.anchor("gw"), RECORD_KEY).intact   # what is left is fine
    seq, reason = broken(verify_chains(store, ["gw"], trusted_keys=TRUSTED, key=RECORD_KEY))
    assert seq == 10 and "anchor in the database (after record 9) was not set by `egov-gateway log archive`" in reason
    seq, reason = broken(verify_chains(store, ["gw"], trusted_keys=TRUSTED, outside=anchors.latest()))
    assert seq == 5 and "records 5..9 are gone: the database's anchor was moved past the last archive" in reason


def test_an_anchor_outside_not_signed_by_the_seal_key_is_refused(store: InMemoryLogStore,
                                                               anchors: InMemoryAnchors) -> None:
    log = writer_of(store, anchors)
    written(log, 1)
    log.stop()
    impostor = Sealer(Ed25519PrivateKey.generate())
    anchors.publish(signed_anchor(impostor, "gw", 2, "f" * 64, HEAD))
    seq, reason = broken(verify_chains(store, ["gw"], trusted_keys=TRUSTED, key=RECORD_KEY,
                                       outside=anchors.latest()))
    assert seq == 2 and "not a trusted seal key" in reason
    # ...and a restarted writer ignores it rather than halt on an impostor's word.
    again = writer_of(store, anchors)
    try:
        assert written(again, 2) == 3
    finally:
        again.stop()


def test_an_insert_cut_short_continues_from_exactly_what_was_written(store: InMemoryLogStore) -> None:
    log = writer_of(store)
    try:
        written(log, 1)
        store.fail_after = 1            # the next insert (record 2 and a seal) breaks after record 2
        log.request_seal()
        assert written(log, 2) == 2     # its record is in the database: the call is answered
        assert store.seals("gw") == [] and log.halted is None
        assert written(log, 3) == 3     # continues after record 2; the seal still due follows
    finally:
        log.stop()
    verdict = verify(store.records("gw"), TRUSTED, key=RECORD_KEY)
    assert verdict.intact and verdict.seals == 1 and verdict.unsealed == 0


def test_anchors_are_signed_and_published_at_seals_and_heads(writer: MessageLog, anchors: InMemoryAnchors) -> None:
    written(writer, 1)
    deadline = time.monotonic() + 5
    while not anchors.anchors:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    writer.request_seal()
    written(writer, 2)
    while not any(a.kind == "seal" for a in anchors.anchors):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert {a.kind for a in anchors.anchors} >= {HEAD, "seal"} and ARCHIVED not in {a.kind for a in anchors.anchors}
    assert all(a.key_id == SEALER.key_id for a in anchors.anchors)
