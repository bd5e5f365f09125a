from datetime import UTC, datetime

from egov.postal.v1.events_pb2 import ShipmentCreated
from services.common.events.dlq import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    REDRIVEN_AT_HEADER,
    describe,
    parked_headers,
    redriven_headers,
)
from services.common.events.envelope import encode, new_event
from services.common.runtime.entrypoints import MAX_ATTEMPTS, error_text, retry_delay
from services.common.topology import DELIVERY_LIMIT


def shipment_event() -> bytes:
    return encode(new_event(ShipmentCreated(shipment_id="S-1", tracking_number="EB1VN"),
                            source="/egov/postal", subject="EB1VN"))


def test_the_delay_doubles_before_each_retry_and_the_last_attempt_comes_before_the_broker_limit() -> None:
    assert [retry_delay(n, 0.2) for n in range(1, MAX_ATTEMPTS)] == [0.2, 0.4, 0.8, 1.6]
    assert MAX_ATTEMPTS <= DELIVERY_LIMIT


def test_the_error_text_is_the_exception_type_and_message() -> None:
    try:
        raise ValueError("dossier code 'X' is malformed")
    except ValueError as exc:
        assert error_text((ValueError, exc, exc.__traceback__)) == "ValueError: dossier code 'X' is malformed"


def test_a_parked_message_shows_its_event_error_and_attempts() -> None:
    headers = parked_headers({"ce_type": "x", "x-delivery-count": 4}, service="postal",
                             error="RuntimeError: operator down", attempts=5)
    assert "x-delivery-count" not in headers and headers["ce_type"] == "x"
    body = shipment_event()
    parked = describe(headers, "ignored", body)
    assert parked.type == "egov.postal.v1.ShipmentCreated" and parked.subject == "EB1VN"
    assert (parked.error, parked.attempts) == ("RuntimeError: operator down", 5)
    assert parked.event_id and parked.event_id != "ignored"
    assert datetime.fromisoformat(parked.failed_at).tzinfo is not None


def test_a_very_long_error_is_cut() -> None:
    headers = parked_headers({}, service="postal", error="x" * 10_000, attempts=5)
    assert len(headers[ERROR_HEADER]) == 2000


def test_a_message_the_broker_dead_lettered_says_so() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    parked = describe({"x-death": [{"reason": "delivery_limit", "count": 1, "time": when}]}, "m-1", shipment_event())
    assert "delivery_limit" in parked.error and "crashed" in parked.error
    assert parked.attempts == DELIVERY_LIMIT + 1
    assert parked.failed_at == when.isoformat()


def test_a_body_that_is_not_an_envelope_is_shown_by_its_headers() -> None:
    parked = describe({"ce_type": "egov.x.v1.Y", ERROR_HEADER: b"boom", ATTEMPTS_HEADER: 5}, "m-2", b"\xff")
    assert (parked.event_id, parked.type, parked.error) == ("m-2", "egov.x.v1.Y", "boom")


def test_a_redriven_message_forgets_its_failure_and_keeps_the_rest() -> None:
    headers = parked_headers({"traceparent": "00-a-b-01", "x-delivery-count": 4}, service="postal",
                             error="boom", attempts=5)
    headers["x-death"] = [{"reason": "rejected"}]
    fresh = redriven_headers(headers)
    assert set(fresh) == {"traceparent", REDRIVEN_AT_HEADER}
