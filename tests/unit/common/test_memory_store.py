"""The in-memory store keeps what a transaction did, with its events, or nothing of it; processes an
event once; carries a remembered trace to a later transaction, as services/common/mongo_store.py does."""

from datetime import UTC, datetime

import pytest

from egov.payments.v1.events_pb2 import BillIssued, PaymentSettled
from services.common.events.envelope import event_type, new_event
from services.common.memory_store import InMemoryStore
from services.common.mongo_store import Cause, Transaction
from services.payments.adapters.bill_repository import BillRepository
from services.payments.domain.bill import Bill, bill_id_for
from services.payments.fakes import in_memory_store

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CODE = "000.00.01.H57-260302-0001"


def issue(tx: Transaction, fail: bool = False) -> None:
    bill = Bill.issue(CODE, "046090001234", 50_000, datetime.now(UTC))
    tx.repository(BillRepository).add(bill)
    tx.emit(BillIssued(bill_id=bill.bill_id, dossier_code=CODE), subject=CODE)
    if fail:
        raise RuntimeError("the handler failed after writing")


def test_a_transaction_that_raises_leaves_nothing_behind() -> None:
    store = in_memory_store()
    bills = store.repository(BillRepository)
    with pytest.raises(RuntimeError):
        store.transaction(lambda tx: issue(tx, fail=True))
    assert bills.get(bill_id_for(CODE)) is None and store.published == []
    assert store.repository(BillRepository) is bills              # the test's handle still sees the store
    store.transaction(issue)
    assert [e.dossier_code for e in store.events(BillIssued)] == [CODE]
    assert store.repository(BillRepository).get(store.events(BillIssued)[0].bill_id) is not None


def test_an_event_is_processed_once_and_one_that_fails_can_be_retried() -> None:
    store = in_memory_store()
    attempts: list[str] = []

    def flaky(tx: Transaction, payload: PaymentSettled, event: object) -> None:
        attempts.append(payload.bill_id)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    handlers = {event_type(PaymentSettled): flaky}
    event = new_event(PaymentSettled(bill_id="B-1"), source="/egov/payments", subject=CODE)
    with pytest.raises(RuntimeError):
        store.handle_event(event, handlers)
    assert store.handle_event(event, handlers)
    assert not store.handle_event(event, handlers)
    assert attempts == ["B-1", "B-1"]
    assert not store.handle_event(new_event(BillIssued(), source="/egov/payments", subject=CODE), handlers)


def test_events_carry_the_cause_and_a_remembered_trace() -> None:
    store = InMemoryStore("payments", {})

    def remember(tx: Transaction) -> None:
        tx.remember_trace(CODE)

    def resume(tx: Transaction) -> None:
        tx.resume_trace(CODE)
        tx.emit(BillIssued(dossier_code=CODE), subject=CODE)

    store.transaction(remember, Cause(correlation_id=CODE, traceparent=TRACE))
    store.transaction(resume, Cause(correlation_id="c-2", causation_id="e-2"))
    [event] = store.published
    assert (event.traceparent, event.correlation_id, event.causation_id, event.source) == (
        TRACE, "c-2", "e-2", "/egov/payments")
