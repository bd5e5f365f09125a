"""Builders for the payments handler tests: the dossier events payments consumes, a citizen's bill
paid through the intermediary simulator, and our callback endpoint as the intermediary sees it."""

import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.procedures.v1 import events_pb2 as procedures_events
from egov.procedures.v1 import procedures_pb2
from services.common.caller import Caller, CallerKind
from services.common.events.envelope import new_event
from services.common.memory_store import InMemoryStore
from services.payments import handlers
from services.payments.adapters.bill_repository import BillRepository
from services.payments.adapters.paygate import PaygateClient
from services.payments.domain import commands
from services.payments.domain.bill import bill_id_for
from services.payments.domain.notice import SignedCallback
from simulators.paygate_books import Paygate

SECRET = "merchant-secret-for-tests"
CITIZEN = "046090001234"
OWNER = Caller(CallerKind.CITIZEN, subject=CITIZEN)
CODE = "000.00.01.H57-260302-0001"


class Notices(ThreadingHTTPServer):
    """Our callback endpoint as the intermediary sees it: keeps each signed notice it is sent."""

    def __init__(self) -> None:
        self.received: queue.Queue[SignedCallback] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # `self` is the server
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.put(SignedCallback(body, handler.headers["X-Paygate-Timestamp"],
                                                 handler.headers["X-Paygate-Nonce"],
                                                 handler.headers["X-Paygate-Signature"]))
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def event(payload: Any) -> CloudEvent:
    return new_event(payload, source="/egov/procedures", subject=CODE, correlation_id=CODE)


def submitted(fee: int = 50_000, method: int = procedures_pb2.PAYMENT_METHOD_ONLINE) -> CloudEvent:
    return event(procedures_events.DossierSubmitted(
        dossier=procedures_events.DossierRef(code=CODE, applicant_citizen_id=CITIZEN), fee_vnd=fee,
        payment_method=method))  # type: ignore[arg-type]


def rejected() -> CloudEvent:
    return event(procedures_events.DossierRejected(
        dossier=procedures_events.DossierRef(code=CODE, applicant_citizen_id=CITIZEN), reason="thiếu giấy tờ",
        payment_method=procedures_pb2.PAYMENT_METHOD_ONLINE))


def bill_of(store: InMemoryStore) -> Any:
    return store.repository(BillRepository).get(bill_id_for(CODE))


def paid_bill(store: InMemoryStore, intermediary: tuple[PaygateClient, Paygate, Notices]) -> str:
    """A bill paid through the simulator; its transaction id."""
    paygate, books, notices = intermediary
    handlers.handle_event(store, paygate, submitted())
    started = handlers.start_payment(store, paygate, commands.StartPayment(CODE), OWNER)
    books.pay(started.transaction_id)
    assert handlers.receive_payment_notice(store, paygate, notices.received.get(timeout=30)).outcome == "settled"
    return started.transaction_id
