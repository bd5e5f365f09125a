"""Translation between payments' contract (protos) and its domain: nothing else.

The entrypoints (service.py) use it once per call, both ways: a request becomes a domain command
(domain/commands.py) for the service layer, and what the service layer returns (a bill, the
transaction opened at the intermediary, a reconciliation report) becomes the response. The events
the service layer emits stay proto messages (the contract `tx.emit` publishes). Nothing here checks
a value: a value the domain does not know is passed on for the rules to refuse.
"""

from egov.payments.v1 import payments_pb2 as pb
from services.common.protowire import parse
from services.payments.adapters.paygate import OpenedTransaction
from services.payments.domain import commands
from services.payments.domain.bill import Bill
from services.payments.reconcile import Report


# -- requests in: one command per RPC ------------------------------------------------------------------
def get_bill_command(message: pb.GetBillRequest) -> commands.GetBill:
    return commands.GetBill(dossier_code=message.dossier_code)


def start_payment_command(message: pb.StartPaymentRequest) -> commands.StartPayment:
    return commands.StartPayment(dossier_code=message.dossier_code)


def reconcile_command(message: pb.ReconcileRequest) -> commands.Reconcile:
    return commands.Reconcile(grace_seconds=message.grace_seconds)


# -- results out: one response per RPC ---------------------------------------------------------------
def bill_message(bill: Bill) -> pb.Bill:
    return pb.Bill(
        bill_id=bill.bill_id, dossier_code=bill.dossier_code, citizen_id=bill.citizen_id,
        amount_vnd=bill.amount_vnd, status=pb.BillStatus.Value(bill.status.value),
        issued_at=bill.issued_at.isoformat(), paid_at=bill.paid_at, intermediary=bill.intermediary,
        intermediary_transaction_id=bill.intermediary_transaction_id,
        refunded_at=bill.refunded_at.isoformat() if bill.refunded_at else "",
    )


def get_bill_response(bill: Bill) -> pb.GetBillResponse:
    return pb.GetBillResponse(bill=bill_message(bill))


def start_payment_response(opened: OpenedTransaction) -> pb.StartPaymentResponse:
    return pb.StartPaymentResponse(transaction_id=opened.transaction_id, payment_url=opened.payment_url,
                                   amount_vnd=opened.amount_vnd)


def reconcile_response(report: Report) -> pb.ReconcileResponse:
    return parse(pb.ReconcileResponse, report.as_dict())
