"""payments' translation at the entrypoint (services/payments/translation.py): a request becomes its
domain command with the values as sent, which the rules refuse naming the field in the words the
service has always used, and a domain answer becomes its response."""

from datetime import UTC, datetime, timedelta

import pytest

from egov.payments.v1 import payments_pb2 as pb
from services.common.caller import OPERATOR
from services.common.errors import InvalidArgument
from services.common.memory_store import InMemoryStore
from services.common.protowire import parse
from services.payments import handlers
from services.payments import translation as tr
from services.payments.adapters.paygate import OpenedTransaction, PaygateClient
from services.payments.domain import commands
from services.payments.domain.bill import Bill
from services.payments.reconcile import Report, Row
from tests.unit.payments.factories import CITIZEN, CODE, OWNER


def test_each_request_becomes_its_command_with_the_values_as_sent() -> None:
    assert tr.get_bill_command(parse(pb.GetBillRequest, {"dossier_code": f" {CODE} "})) == commands.GetBill(
        dossier_code=f" {CODE} ")
    assert tr.start_payment_command(parse(pb.StartPaymentRequest, {"dossier_code": CODE})) == \
        commands.StartPayment(dossier_code=CODE)
    assert tr.reconcile_command(parse(pb.ReconcileRequest, {"grace_seconds": 3600})) == commands.Reconcile(3600)
    assert tr.reconcile_command(pb.ReconcileRequest()) == commands.Reconcile(grace_seconds=0)


@pytest.mark.parametrize("code, words", [("", "is required"), ("X" * 65, "must be at most 64 characters")])
def test_a_dossier_code_the_rules_refuse_is_refused_naming_the_field(
        store: InMemoryStore, paygate: PaygateClient, code: str, words: str) -> None:
    for refused_call in (
            lambda: handlers.get_bill(store, tr.get_bill_command(pb.GetBillRequest(dossier_code=code)), OWNER),
            lambda: handlers.start_payment(store, paygate,
                                           tr.start_payment_command(pb.StartPaymentRequest(dossier_code=code)),
                                           OWNER)):
        with pytest.raises(InvalidArgument) as refused:
            refused_call()
        assert (refused.value.field, refused.value.message) == ("dossier_code", words)


def test_a_bill_becomes_its_response() -> None:
    issued = Bill.issue(CODE, CITIZEN, 50_000, datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    answer = tr.get_bill_response(issued)
    assert (answer.bill.bill_id, answer.bill.dossier_code, answer.bill.citizen_id, answer.bill.amount_vnd) == (
        issued.bill_id, CODE, CITIZEN, 50_000)
    assert answer.bill.status == pb.BILL_STATUS_ISSUED
    assert answer.bill.issued_at == "2026-03-02T09:30:00+00:00" and answer.bill.refunded_at == ""


def test_an_opened_transaction_and_a_report_become_their_responses(store: InMemoryStore,
                                                                    paygate: PaygateClient) -> None:
    assert tr.start_payment_response(OpenedTransaction("PG-1", "https://pay/PG-1", 50_000)) == \
        pb.StartPaymentResponse(transaction_id="PG-1", payment_url="https://pay/PG-1", amount_vnd=50_000)
    report = Report(bills_checked=2, findings=[Row("b-1", CODE, "paid_not_recorded", "settled", True)])
    answer = tr.reconcile_response(report)
    assert answer.bills_checked == 2
    assert [(f.bill_id, f.dossier_code, f.finding, f.action, f.resolved, f.detail) for f in answer.findings] == [
        ("b-1", CODE, "paid_not_recorded", "settled", True, "")]
    nothing = handlers.reconcile_now(store, paygate, commands.Reconcile(grace_seconds=0), OPERATOR, timedelta(0))
    assert tr.reconcile_response(nothing) == pb.ReconcileResponse()
