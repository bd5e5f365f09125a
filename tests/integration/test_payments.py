"""payments as a real process on the real broker and SecantusDB, with the intermediary simulator:
bills from submitted dossiers, payment through the intermediary, signed callbacks (forged, stale,
replayed), refunds on rejection, each effect exactly once however often a message arrives.

Over 300 lines: every money path of one service (bills, callbacks, refunds) against the same simulator."""

import json
import random
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.protobuf.message import Message
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError

from deploy.local.stack import Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1 import events_pb2 as payments_events
from egov.procedures.v1 import events_pb2 as procedures_events
from egov.procedures.v1 import procedures_pb2
from services.common.callback_signature import sign
from services.common.caller import Caller, CallerKind
from services.common.events.broker import EventPublisher
from services.common.events.envelope import decode, new_event, unpack
from services.common.merchant_signature import sign_request
from services.common.topology import EVENTS_EXCHANGE, subscription
from tests.support import SignedRpcClient

DEADLINE = 30.0
FEE = 50_000


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class EventWatch:
    """Every payments event published in the stack's vhost, read from a private exclusive queue."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = Connection(amqp_uri)
        self._queue = Queue(f"test-payments-{uuid.uuid4().hex[:8]}", exclusive=True,
                            exchange=Exchange(EVENTS_EXCHANGE, type="topic", durable=True, passive=True),
                            routing_key="egov.payments.v1.#")(self._connection.default_channel)
        self._queue.declare()
        self.seen: list[CloudEvent] = []

    def _drain(self) -> None:
        while (message := self._queue.get(no_ack=True)) is not None:
            self.seen.append(decode(message.body))

    def of(self, payload_class: type[Message], subject: str) -> list[CloudEvent]:
        self._drain()
        name = payload_class.DESCRIPTOR.full_name
        return [e for e in self.seen if e.type == name and e.subject == subject]

    def wait_for(self, payload_class: type[Message], subject: str) -> Any:
        events = wait_until(lambda: self.of(payload_class, subject),
                            f"{payload_class.DESCRIPTOR.name} for {subject}")
        return unpack(events[0])

    def close(self) -> None:
        self._connection.release()


class Payments:
    """The service over nameko RPC, the intermediary over HTTP, events in through the broker."""

    def __init__(self, stack: Stack, rpc: Any) -> None:
        self.stack = stack
        self.rpc = rpc
        self.publisher = EventPublisher(stack.amqp_uri)

    def publish(self, payload: Message, subject: str) -> CloudEvent:
        event = new_event(payload, source="/egov/procedures", subject=subject)
        self.publisher.publish(event)
        return event

    def get_bill(self, code: str, caller: Caller) -> dict[str, Any]:
        reply = self.rpc.payments.get_bill(request={"dossier_code": code}, caller=caller.to_wire())
        return dict(reply["bill"])

    def start_payment(self, code: str, caller: Caller) -> dict[str, Any]:
        return dict(self.rpc.payments.start_payment(request={"dossier_code": code}, caller=caller.to_wire()))

    def paygate(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return http(method, f"http://127.0.0.1:{self.stack.ports.paygate}{path}", body)

    def callback(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.stack.ports.payments_http}/callbacks/paygate"
        return http("POST", url, body, headers)

    def queue_length(self, queue: str) -> int:
        """Messages in the queue, delivered or not (a quorum queue counts unacknowledged ones too)."""
        argv = ["rabbitmqctl", "-q", "list_queues", "-p", self.stack.vhost, "name", "messages"]
        listing = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
        counts = dict(line.split("\t") for line in listing.splitlines() if "\t" in line)
        return int(counts[queue])

    def wait_until_consumed(self) -> None:
        """Until every message published to the service was handled and acknowledged."""
        queue = subscription("payments").queue
        wait_until(lambda: self.queue_length(queue) == 0, f"{queue} to be consumed")


def http(method: str, url: str, body: bytes | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def citizen() -> Caller:
    return Caller(CallerKind.CITIZEN, subject=f"046{random.randrange(10**9):09d}")


def submitted(code: str, applicant: Caller,
              method: procedures_pb2.PaymentMethod.ValueType = procedures_pb2.PAYMENT_METHOD_ONLINE,
              fee: int = FEE) -> procedures_events.DossierSubmitted:
    return procedures_events.DossierSubmitted(
        dossier=procedures_events.DossierRef(code=code, procedure_code="1.001612", agency_code="H57",
                                             applicant_citizen_id=applicant.subject),
        payment_method=method, fee_vnd=fee, status=procedures_pb2.DOSSIER_STATUS_SUBMITTED)


def rejected(code: str, applicant: Caller) -> procedures_events.DossierRejected:
    return procedures_events.DossierRejected(
        dossier=procedures_events.DossierRef(code=code, procedure_code="1.001612", agency_code="H57",
                                             applicant_citizen_id=applicant.subject),
        reason="Hồ sơ không hợp lệ", payment_method=procedures_pb2.PAYMENT_METHOD_ONLINE)


def new_code() -> str:
    return f"000.00.15.H57-260302-{uuid.uuid4().hex[:6].upper()}"


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    nonce = uuid.uuid4().hex
    return {"X-Paygate-Timestamp": str(timestamp), "X-Paygate-Nonce": nonce,
            "X-Paygate-Signature": sign(secret, body, str(timestamp), nonce)}


@pytest.fixture
def payments(make_stack: Callable[..., Stack]) -> Iterator[tuple[Payments, EventWatch]]:
    stack = make_stack(services=("payments",), gateway=False)
    watch = EventWatch(stack.amqp_uri)
    with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=DEADLINE) as rpc:
        service = Payments(stack, rpc)
        yield service, watch
        service.publisher.close()
    watch.close()


def test_a_fee_is_billed_paid_once_and_refunded_once_when_the_dossier_is_rejected(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owner, code = citizen(), new_code()

    # The submission arrives twice, under two event ids (as if procedures had re-sent it): one bill.
    service.publish(submitted(code, owner), code)
    service.publish(submitted(code, owner), code)
    issued = events.wait_for(payments_events.BillIssued, code)
    assert (issued.dossier_code, issued.citizen_id, issued.amount_vnd) == (code, owner.subject, FEE)
    assert service.get_bill(code, owner)["status"] == "BILL_STATUS_ISSUED"

    started = service.start_payment(code, owner)
    assert service.start_payment(code, owner)["transaction_id"] == started["transaction_id"]
    assert int(started["amount_vnd"]) == FEE

    # The citizen's bank app pays; the intermediary calls back, signed.
    status, _ = http("POST", started["payment_url"])
    assert status == 200
    settled = events.wait_for(payments_events.PaymentSettled, code)
    assert (settled.bill_id, settled.amount_vnd) == (issued.bill_id, FEE)
    assert settled.intermediary_transaction_id == started["transaction_id"]
    bill = service.get_bill(code, owner)
    assert bill["status"] == "BILL_STATUS_PAID"
    assert bill["intermediary_transaction_id"] == started["transaction_id"]

    # The exact callback the service acknowledged, delivered again: acknowledged, nothing changes.
    def acknowledged_callback() -> tuple[str, dict[str, Any]] | None:
        _, txn = service.paygate("GET", f"/transactions/{started['transaction_id']}")
        ok = [a for a in txn["callback_attempts"] if a["status"] == 200]
        return (txn["callback_body"], ok[0]) if ok else None

    body, attempt = wait_until(acknowledged_callback, "the intermediary to record its callback")
    status, reply = service.callback(body.encode(), {"X-Paygate-Timestamp": attempt["timestamp"],
                                                     "X-Paygate-Nonce": attempt["nonce"],
                                                     "X-Paygate-Signature": attempt["signature"]})
    assert (status, reply) == (200, {"result": "duplicate"})
    # ... and as the intermediary's own retry would send it, signed afresh.
    resent = signed_headers(service.stack.paygate_secret, body.encode(), int(time.time()))
    assert service.callback(body.encode(), resent) == (200, {"result": "duplicate"})

    # Rejected, and the rejection delivered twice: one refund at the intermediary, one event.
    rejection = service.publish(rejected(code, owner), code)
    service.publisher.publish(rejection)
    refunded = events.wait_for(payments_events.PaymentRefunded, code)
    service.wait_until_consumed()
    _, listing = service.paygate("GET", f"/refunds?merchant_ref={issued.bill_id}")
    assert [r["refund_id"] for r in listing["refunds"]] == [refunded.refund_id]
    assert listing["refunds"][0]["amount_vnd"] == FEE
    assert len(events.of(payments_events.PaymentRefunded, code)) == 1
    assert len(events.of(payments_events.PaymentSettled, code)) == 1
    assert len(events.of(payments_events.BillIssued, code)) == 1
    assert service.get_bill(code, owner)["status"] == "BILL_STATUS_REFUNDED"
    assert service.queue_length(subscription("payments").dead_letter_queue) == 0


def test_forged_stale_and_mismatched_callbacks_are_refused_and_change_nothing(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owner, code = citizen(), new_code()
    service.publish(submitted(code, owner), code)
    issued = events.wait_for(payments_events.BillIssued, code)
    with pytest.raises(RemoteError) as err:
        service.start_payment(code, citizen())
    assert err.value.exc_type == "PermissionDenied"
    started = service.start_payment(code, owner)

    def notice(amount: int = FEE, transaction_id: str = started["transaction_id"]) -> bytes:
        return json.dumps({"transaction_id": transaction_id, "merchant_ref": issued.bill_id,
                           "amount_vnd": amount, "status": "SUCCESS",
                           "paid_at": "2026-03-02T09:31:00+00:00"}).encode()

    secret, now = service.stack.paygate_secret, int(time.time())
    forged = service.callback(notice(), signed_headers("guessed-secret", notice(), now))
    stale = service.callback(notice(), signed_headers(secret, notice(), now - 600))
    underpaid = service.callback(notice(FEE - 1), signed_headers(secret, notice(FEE - 1), now))
    elsewhere = service.callback(notice(transaction_id="PG-NOT-OURS"),
                                 signed_headers(secret, notice(transaction_id="PG-NOT-OURS"), now))
    unsigned = service.callback(notice(), {})
    assert [forged[0], stale[0], underpaid[0], elsewhere[0], unsigned[0]] == [401, 400, 409, 409, 401]
    assert "stale" in stale[1]["error"]
    # Signed, but for money the intermediary never took: there is nothing to refund, nothing is recorded.
    assert "no paid transaction" in underpaid[1]["error"]
    assert service.get_bill(code, owner)["status"] == "BILL_STATUS_ISSUED"

    # Unpaid and rejected: the bill is cancelled, nothing is refunded, it can no longer be paid.
    service.publish(rejected(code, owner), code)
    wait_until(lambda: service.get_bill(code, owner)["status"] == "BILL_STATUS_CANCELLED",
               "the bill to be cancelled")
    with pytest.raises(RemoteError) as err:
        service.start_payment(code, owner)
    assert err.value.exc_type == "FailedPrecondition"

    # A dossier paid at the counter gets no online bill.
    counter = new_code()
    service.publish(submitted(counter, owner, method=procedures_pb2.PAYMENT_METHOD_AT_COUNTER), counter)
    service.wait_until_consumed()
    with pytest.raises(RemoteError) as err:
        service.get_bill(counter, owner)
    assert err.value.exc_type == "NotFound"
    _, listing = service.paygate("GET", f"/refunds?merchant_ref={issued.bill_id}")
    assert listing["refunds"] == []
    assert events.of(payments_events.PaymentSettled, code) == []
    assert events.of(payments_events.PaymentRefunded, code) == []


def test_a_closed_bill_s_transaction_is_voided_so_the_citizen_can_no_longer_pay(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owner, code = citizen(), new_code()
    service.publish(submitted(code, owner), code)
    events.wait_for(payments_events.BillIssued, code)
    started = service.start_payment(code, owner)

    service.publish(rejected(code, owner), code)
    wait_until(lambda: service.get_bill(code, owner)["status"] == "BILL_STATUS_CANCELLED", "the bill to close")
    wait_until(lambda: service.paygate("GET", f"/transactions/{started['transaction_id']}")[1]["status"] == "VOIDED",
               "the transaction to be voided")
    # The payment page the citizen still has no longer takes money.
    status, reply = http("POST", started["payment_url"])
    assert status == 409 and "VOIDED" in reply["error"]
    assert events.of(payments_events.PaymentSettled, code) == []


def test_money_paid_while_payments_was_down_for_a_dossier_rejected_meanwhile_is_refunded_once(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owner, code = citizen(), new_code()
    service.publish(submitted(code, owner), code)
    issued = events.wait_for(payments_events.BillIssued, code)
    started = service.start_payment(code, owner)

    service.stack.kill("payments")
    try:
        status, _ = http("POST", started["payment_url"])      # paid; the notice finds nobody home
        assert status == 200
        service.publish(rejected(code, owner), code)            # rejected meanwhile
    finally:
        service.stack.start_service("payments")

    # On restart the queued rejection and the intermediary's retried notice race, as they would in
    # production: either the bill closes first and the late payment is refunded as BILL_CLOSED, or the
    # payment settles first and the rejection refunds it. Either way the money goes back exactly once.
    refunded = events.wait_for(payments_events.PaymentRefunded, code)
    assert refunded.amount_vnd == FEE
    assert refunded.intermediary_transaction_id == started["transaction_id"]
    bill = service.get_bill(code, owner)
    assert (bill["status"], bill["refunded_at"] != "") == ("BILL_STATUS_REFUNDED", True)

    # The intermediary's retried notice is acknowledged: the money is accounted for, not refused.
    def acknowledged() -> bool:
        _, txn = service.paygate("GET", f"/transactions/{started['transaction_id']}")
        return any(a["status"] == 200 for a in txn["callback_attempts"])

    wait_until(acknowledged, "the intermediary's notice to be acknowledged", timeout=60)
    service.wait_until_consumed()
    _, listing = service.paygate("GET", f"/refunds?merchant_ref={issued.bill_id}")
    assert [r["refund_id"] for r in listing["refunds"]] == [refunded.refund_id]
    assert len(events.of(payments_events.PaymentRefunded, code)) == 1
    settled = events.of(payments_events.PaymentSettled, code)
    if refunded.reason == payments_events.REFUND_REASON_BILL_CLOSED:
        assert settled == []
    else:
        assert refunded.reason == payments_events.REFUND_REASON_DOSSIER_REJECTED
        assert len(settled) == 1


def test_a_rejection_handled_before_the_submission_leaves_no_bill_to_pay(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owner, code = citizen(), new_code()
    service.publish(rejected(code, owner), code)
    service.wait_until_consumed()
    service.publish(submitted(code, owner), code)     # late: a re-driven dead letter, a replay
    service.wait_until_consumed()
    with pytest.raises(RemoteError) as err:
        service.get_bill(code, owner)
    assert err.value.exc_type == "NotFound"
    assert events.of(payments_events.BillIssued, code) == []


def test_the_intermediary_refuses_calls_the_merchant_did_not_sign(payments: tuple[Payments, EventWatch]) -> None:
    service, _ = payments
    body = {"merchant_ref": f"BILL-{uuid.uuid4().hex[:8]}", "amount_vnd": FEE, "description": "fee",
            "callback_url": "http://127.0.0.1:9/cb"}
    raw = json.dumps(body).encode()
    assert service.paygate("POST", "/transactions", body)[0] == 401
    guessed = sign_request("guessed-secret", "POST", "/transactions", "HUEGOV", str(int(time.time())),
                           uuid.uuid4().hex, raw)
    status, reply = http("POST", f"http://127.0.0.1:{service.stack.ports.paygate}/transactions", raw,
                         guessed.headers())
    assert (status, "signature" in reply["error"]) == (401, True)
    for path in ("/refunds", "/transactions/void", "/transactions/query"):
        assert service.paygate("POST", path, {"merchant_ref": body["merchant_ref"]})[0] == 401, path
    # The platform's own calls, signed with the merchant's secret, go through.
    owner, code = citizen(), new_code()
    service.publish(submitted(code, owner), code)
    wait_until(lambda: service.start_payment(code, owner) if _billed(service, code, owner) else None,
               "a payment to start")


def _billed(service: Payments, code: str, owner: Caller) -> bool:
    try:
        return bool(service.get_bill(code, owner))
    except RemoteError:
        return False
