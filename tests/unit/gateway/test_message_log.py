"""The message log's chain, seals and verification, and its single writer, without a database."""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.message_log import (
    SEAL,
    Exchange,
    LogKey,
    Record,
    Sealer,
    chain_record,
    public_key_from_pem,
    record_hash,
)
from gateway.message_log_store import InMemoryLogStore
from gateway.message_log_verify import verify
from gateway.message_log_writer import LogUnavailable, MessageLog
from services.common.caller import Caller, CallerKind

SEAL_KEY = Ed25519PrivateKey.generate()
SEALER = Sealer(SEAL_KEY)
TRUSTED = [SEALER.public_raw]
KEY = LogKey(b"k" * 32)
RECORD_KEY = KEY.record_key()


def exchange(n: int, status: str = "OK") -> Exchange:
    return Exchange(direction="inbound", request_id=f"r{n}", trace_id="t" * 32, client="VN/GOV/000.00.15.H57/desk",
                    client_kind="CALLER_KIND_AGENCY", method="/egov.procedures.v1.ProcedureService/GetDossier",
                    started_at="2026-01-01T00:00:00.000000+00:00", ended_at="2026-01-01T00:00:00.001000+00:00",
                    duration_us=1000, status=status, request_digest=KEY.digest(f"req{n}".encode()), request_bytes=12)


def chain_of(count: int, seal_every: int = 0, sealer: Sealer = SEALER) -> list[Record]:
    """`count` exchange records, with a seal after every `seal_every` of them."""
    records: list[Record] = []
    prev, seq, pending = "0" * 64, 0, []
    for n in range(1, count + 1):
        seq += 1
        record = chain_record(exchange(n).fields(), "gw", seq, prev, RECORD_KEY)
        records.append(record)
        pending.append((seq, record["hash"]))
        prev = record["hash"]
        if seal_every and len(pending) == seal_every:
            seq += 1
            seal = RECORD_KEY.authenticate(sealer.seal("gw", seq, prev, pending))
            records.append(seal)
            prev, pending = seal["hash"], []
    return records


def at(records: list[Record], seq: int) -> Record:
    return next(r for r in records if r["seq"] == seq)


def test_an_untouched_chain_is_intact_and_says_what_is_unsealed() -> None:
    verdict = verify(chain_of(10, seal_every=4), TRUSTED)
    assert verdict.intact
    assert (verdict.records, verdict.seals, verdict.unsealed, verdict.last_seq) == (12, 2, 2, 12)
    assert any("not sealed yet" in note for note in verdict.notes)


def test_an_edited_record_is_named() -> None:
    records = chain_of(10, seal_every=5)
    at(records, 3)["status"] = "PERMISSION_DENIED"
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 3
    assert "altered" in verdict.problem.reason


def test_an_edit_with_the_whole_chain_recomputed_is_caught_by_the_seal() -> None:
    records = chain_of(10, seal_every=5)
    at(records, 8)["client"] = "VN/GOV/999/someone-else"
    prev = at(records, 7)["hash"]
    for record in records[7:]:           # rehash from record 8 on; the seal at 12 cannot be re-signed
        record["prev_hash"] = prev
        if record["kind"] == SEAL:
            break
        record["hash"] = record_hash(record)
        prev = record["hash"]
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 8
    assert "not the record seal 12 sealed" in verdict.problem.reason


def test_a_deleted_record_is_named() -> None:
    records = [r for r in chain_of(10, seal_every=5) if r["seq"] != 4]
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 4
    assert "missing" in verdict.problem.reason


def test_a_record_inserted_with_the_later_ones_renumbered_is_named_not_its_successor() -> None:
    records = chain_of(10, seal_every=10)
    forged = chain_record(exchange(99).fields(), "gw", 5, at(records, 4)["hash"])
    for record in records[4:]:
        record["seq"] += 1
    records.insert(4, forged)
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 5


def test_a_duplicate_sequence_number_is_an_insertion() -> None:
    records = chain_of(6)
    records.insert(3, dict(at(records, 3), request_id="copy"))
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 3
    assert "inserted" in verdict.problem.reason


def test_a_seal_signed_by_another_key_is_refused_when_keys_are_trusted() -> None:
    records = chain_of(4, seal_every=4, sealer=Sealer(Ed25519PrivateKey.generate()))
    assert verify(records).intact        # checked against the key it names: unaltered...
    verdict = verify(records, TRUSTED)   # ...but not sealed by the gateway
    assert verdict.problem is not None and verdict.problem.seq == 5
    assert "not a trusted seal key" in verdict.problem.reason


def test_a_forged_seal_does_not_verify() -> None:
    records = chain_of(4, seal_every=4)
    seal = at(records, 5)
    seal["last_seq"] = 3
    seal["hash"] = record_hash(seal)
    verdict = verify(records, TRUSTED)
    assert verdict.problem is not None and verdict.problem.seq == 5
    assert "does not verify" in verdict.problem.reason


def test_people_are_pseudonymised_and_systems_named() -> None:
    citizen = KEY.client_id(Caller(CallerKind.CITIZEN, subject="046099001234"))
    assert citizen.startswith("citizen:") and "046099001234" not in citizen
    assert citizen == KEY.client_id(Caller(CallerKind.CITIZEN, subject="046099001234"))
    assert citizen != LogKey(b"x" * 32).client_id(Caller(CallerKind.CITIZEN, subject="046099001234"))
    servant = KEY.client_id(Caller(CallerKind.CIVIL_SERVANT, subject="cb-001", agency_code="000.00.15.H57"))
    assert servant.startswith("civil-servant:000.00.15.H57:") and "cb-001" not in servant
    assert KEY.client_id(Caller(CallerKind.AGENCY, subject="VN/GOV/1/a")) == "VN/GOV/1/a"


# -- the writer -----------------------------------------------------------------------------------

@pytest.fixture
def store() -> InMemoryLogStore:
    return InMemoryLogStore()


@pytest.fixture
def writer(store: InMemoryLogStore) -> Iterator[MessageLog]:
    log = MessageLog(store, "gw", SEALER, record_key=RECORD_KEY, holder="test", seal_every_records=5,
                     seal_every_seconds=3600)
    log.start()
    yield log
    log.stop()


def written(log: MessageLog, n: int) -> int:
    return log.submit(exchange(n)).result(timeout=5)


def test_the_writer_numbers_chains_and_seals_every_n_records(writer: MessageLog, store: InMemoryLogStore) -> None:
    seqs = [written(writer, n) for n in range(1, 8)]
    assert seqs == [1, 2, 3, 4, 5, 7, 8]          # 6 is the seal of 1..5
    seal = at(store.rows, 6)
    assert (seal["kind"], seal["first_seq"], seal["last_seq"]) == (SEAL, 1, 5)
    assert verify(store.records("gw"), TRUSTED).intact


def test_stopping_seals_what_is_left(store: InMemoryLogStore) -> None:
    log = MessageLog(store, "gw", SEALER, record_key=RECORD_KEY, holder="test", seal_every_records=100)
    log.start()
    futures = [log.submit(exchange(n)) for n in range(3)]
    log.stop()
    assert [f.result(timeout=1) for f in futures] == [1, 2, 3]
    verdict = verify(store.records("gw"), TRUSTED)
    assert verdict.intact and verdict.seals == 1 and verdict.unsealed == 0


def test_a_restarted_writer_continues_the_chain_and_its_open_segment(store: InMemoryLogStore) -> None:
    store.append(chain_of(6, seal_every=4))        # left by a gateway that crashed: 1-4, seal 5, 6, 7
    second = MessageLog(store, "gw", SEALER, record_key=RECORD_KEY, holder="b", seal_every_records=4)
    second.start()
    assert [written(second, n) for n in range(3)] == [8, 9, 11]   # 10 seals 6, 7, 8, 9
    second.stop()
    verdict = verify(store.records("gw"), TRUSTED)
    assert verdict.intact and verdict.seals == 3


def test_a_failed_write_fails_its_calls_and_the_chain_stays_whole(writer: MessageLog,
                                                                  store: InMemoryLogStore) -> None:
    written(writer, 1)
    store.failing = OSError("disk full")
    with pytest.raises(LogUnavailable, match="disk full"):
        written(writer, 2)
    store.failing = None
    deadline = time.monotonic() + 5
    while True:        # the writer re-reads the head, then takes records again
        try:
            seq = written(writer, 3)
            break
        except LogUnavailable:
            assert time.monotonic() < deadline
    assert seq == 2
    assert verify(store.records("gw"), TRUSTED).intact


def test_a_second_writer_on_the_same_chain_waits_for_the_lease(store: InMemoryLogStore) -> None:
    store.acquire("gw", "other-gateway", timedelta(seconds=60))
    log = MessageLog(store, "gw", SEALER, record_key=RECORD_KEY, holder="me")
    log.start()
    try:
        with pytest.raises(LogUnavailable, match="held by another gateway"):
            written(log, 1)
    finally:
        log.stop(timeout=2)
    assert store.rows == []


def test_a_seal_asked_for_through_the_store_is_made(writer: MessageLog, store: InMemoryLogStore) -> None:
    written(writer, 1)
    store.request("gw", "seal")
    deadline = time.monotonic() + 5
    while store.requests("gw", "seal")[1] < 1:
        written(writer, 2)   # the writer checks for requests between batches
        assert time.monotonic() < deadline
    assert store.seals("gw")


def test_seal_records_verify_with_the_public_key_file() -> None:
    pem = SEAL_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    private_pem = SEAL_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    assert public_key_from_pem(pem) == public_key_from_pem(private_pem) == SEALER.public_raw


def test_a_record_carries_what_x_road_logs_and_nothing_personal(writer: MessageLog, store: InMemoryLogStore) -> None:
    written(writer, 1)
    [record] = store.rows
    assert set(record) >= {"chain", "seq", "kind", "direction", "request_id", "trace_id", "client", "method",
                                 "started_at", "ended_at", "duration_us", "status", "request_digest",
                                 "response_digest", "prev_hash", "hash"}
