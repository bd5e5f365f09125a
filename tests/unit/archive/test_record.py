from datetime import UTC, datetime

from egov.payments.v1.events_pb2 import PaymentSettled
from services.archive.domain.record import UNDECODABLE, index_record
from services.common.events.envelope import encode, new_event


def test_an_event_is_indexed_by_its_envelope_attributes_and_keeps_its_bytes() -> None:
    event = new_event(PaymentSettled(bill_id="B-1", dossier_code="D-1", amount_vnd=50_000),
                      source="/egov/payments", subject="B-1", correlation_id="D-1", causation_id="c-1")
    body = encode(event)
    record = index_record(42, body)
    assert record["_id"] == event.id
    assert record["type"] == "egov.payments.v1.PaymentSettled"
    assert (record["source"], record["subject"], record["correlation_id"], record["causation_id"]) == (
        "/egov/payments", "B-1", "D-1", "c-1")
    assert record["offset"] == 42 and record["envelope"] == body
    assert record["time"] == event.time.ToDatetime(tzinfo=UTC)


def test_a_message_that_is_not_an_envelope_is_kept_and_marked() -> None:
    record = index_record(7, b"\xff\x00 not protobuf")
    assert record["_id"] == "offset-7"
    assert record["type"] == UNDECODABLE
    assert record["error"]
    assert isinstance(record["time"], datetime)
