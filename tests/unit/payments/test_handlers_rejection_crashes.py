"""A rejected dossier's bill, with the worker killed at each point of its handling: before or after
the refund at the intermediary, inside the transaction, before or after the void. The event is then
delivered again, as the quorum queue does after a crash. Whatever the point, nothing is left half
written and no effect happens twice: one refund at the intermediary, one PaymentRefunded, the open
transaction voided once the bill is closed.

The handlers run on the in-memory store (services/payments/fakes.py), whose transaction keeps all of
its changes or none, against the intermediary simulator served in-process."""

from collections.abc import Callable
from typing import Any

import pytest

from egov.payments.v1 import events_pb2
from services.common.memory_store import InMemoryStore
from services.payments import handlers
from services.payments.adapters.paygate import PaygateClient
from services.payments.adapters.payment_ledger import PaymentLedger
from services.payments.domain import commands
from services.payments.domain.bill import BillStatus, bill_id_for
from simulators.paygate_books import Paygate
from tests.unit.payments.factories import CODE, OWNER, Notices, bill_of, paid_bill, rejected, submitted


class Crash(BaseException):
    """The worker killed: nothing in the service catches it."""


def crashing_once(call: Callable[..., Any], *, after_the_call: bool) -> Callable[..., Any]:
    """`call`, killed the first time it is made: before it reaches its target, or once it has (its
    effect made, its answer lost)."""
    crashed: list[bool] = []      # shared with the copies the in-memory store takes for its rollback

    def once(*args: Any, **kwargs: Any) -> Any:
        if crashed:
            return call(*args, **kwargs)
        crashed.append(True)
        if after_the_call:
            call(*args, **kwargs)
        raise Crash(getattr(call, "__name__", "call"))

    return once


def assert_refunded_once(store: InMemoryStore, books: Paygate, transaction_id: str) -> None:
    bill = bill_of(store)
    assert bill.status is BillStatus.REFUNDED and bill.refund_id
    assert [r["refund_id"] for r in books.refunds(bill_id_for(CODE))] == [bill.refund_id]
    [refunded] = store.events(events_pb2.PaymentRefunded)
    assert (refunded.refund_id, refunded.intermediary_transaction_id) == (bill.refund_id, transaction_id)
    assert store.repository(PaymentLedger).get(transaction_id)["refund_id"] == bill.refund_id  # type: ignore[index]


@pytest.mark.parametrize("after_the_call", [False, True], ids=["before-the-refund", "after-the-refund"])
def test_killed_around_the_refund_a_paid_bill_is_refunded_once(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices],
        monkeypatch: pytest.MonkeyPatch, after_the_call: bool) -> None:
    paygate, books, _ = intermediary
    transaction_id = paid_bill(store, intermediary)
    monkeypatch.setattr(paygate, "refund", crashing_once(paygate.refund, after_the_call=after_the_call))
    event = rejected()
    with pytest.raises(Crash):
        handlers.handle_event(store, paygate, event)
    assert bill_of(store).status is BillStatus.PAID and store.events(events_pb2.PaymentRefunded) == []
    assert len(books.refunds(bill_id_for(CODE))) == (1 if after_the_call else 0)
    assert handlers.handle_event(store, paygate, event)      # the same event id, delivered again
    assert_refunded_once(store, books, transaction_id)


def test_killed_inside_the_transaction_nothing_is_half_written_and_the_refund_is_not_repeated(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices],
        monkeypatch: pytest.MonkeyPatch) -> None:
    paygate, books, _ = intermediary
    transaction_id = paid_bill(store, intermediary)
    ledger = store.repository(PaymentLedger)
    # The bill is saved REFUNDED first in the transaction; the ledger's mark comes after it.
    monkeypatch.setattr(ledger, "mark_refunded", crashing_once(ledger.mark_refunded, after_the_call=True))
    event = rejected()
    with pytest.raises(Crash):
        handlers.handle_event(store, paygate, event)
    assert bill_of(store).status is BillStatus.PAID and not bill_of(store).refund_id
    assert ledger.get(transaction_id)["refund_id"] == ""  # type: ignore[index]
    assert store.events(events_pb2.PaymentRefunded) == [] and f"payments:{event.id}" not in store.inbox
    assert len(books.refunds(bill_id_for(CODE))) == 1       # made before the transaction: its answer kept nowhere
    assert handlers.handle_event(store, paygate, event)
    assert_refunded_once(store, books, transaction_id)


@pytest.mark.parametrize("after_the_call", [False, True], ids=["before-the-void", "after-the-void"])
def test_killed_around_the_void_the_closed_bill_s_transaction_is_voided_when_the_event_comes_again(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices],
        monkeypatch: pytest.MonkeyPatch, after_the_call: bool) -> None:
    paygate, books, _ = intermediary
    handlers.handle_event(store, paygate, submitted())
    started = handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    monkeypatch.setattr(paygate, "void", crashing_once(paygate.void, after_the_call=after_the_call))
    event = rejected()
    with pytest.raises(Crash):
        handlers.handle_event(store, paygate, event)
    closed = bill_of(store)                                 # committed before the void was tried
    assert closed.status is BillStatus.CANCELLED and closed.voided_at is None
    assert books.transaction(started.transaction_id)["status"] == ("VOIDED" if after_the_call else "PENDING")
    assert not handlers.handle_event(store, paygate, event)  # a duplicate now; the void is made all the same
    assert bill_of(store).voided_at is not None
    assert books.transaction(started.transaction_id)["status"] == "VOIDED"
    assert store.events(events_pb2.PaymentRefunded) == [] and store.events(events_pb2.PaymentSettled) == []


def test_paid_between_the_close_and_the_void_and_killed_after_its_refund_the_payment_is_refunded_once(
        store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices],
        monkeypatch: pytest.MonkeyPatch) -> None:
    paygate, books, _ = intermediary
    handlers.handle_event(store, paygate, submitted())
    started = handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    void = paygate.void

    def paid_just_before(merchant_ref: str) -> Any:
        if books.transaction(started.transaction_id)["status"] == "PENDING":
            books.pay(started.transaction_id)               # the citizen's page was still open
        return void(merchant_ref)

    monkeypatch.setattr(paygate, "void", paid_just_before)
    monkeypatch.setattr(paygate, "refund", crashing_once(paygate.refund, after_the_call=True))
    event = rejected()
    with pytest.raises(Crash):
        handlers.handle_event(store, paygate, event)
    assert bill_of(store).status is BillStatus.CANCELLED and store.events(events_pb2.PaymentRefunded) == []
    assert not handlers.handle_event(store, paygate, event)
    bill = bill_of(store)
    assert bill.status is BillStatus.REFUNDED
    [refunded] = store.events(events_pb2.PaymentRefunded)
    assert refunded.reason == events_pb2.REFUND_REASON_BILL_CLOSED
    assert [r["refund_id"] for r in books.refunds(bill_id_for(CODE))] == [refunded.refund_id]
