"""`python -m bench.gateway_cpu`: the gateway's own CPU per `GetDossier`, with no broker, service or
database to share the machine with, so that a change to the gateway's path can be measured on a
machine other sessions are loading (where the stack's ratios swing by +-0.3; docs/BENCHMARKS.md).

A real gateway (gateway.server.build_gateway, every interceptor, the in-memory message log) serves
`GetDossier` to client threads of this process; its bus answers the reply body a service sends,
JSON-decoded per call as gateway.rpc_client does, in either form: the dict, or the message already
serialized (services/common/protowire.py `encoded`). The CPU is this process's, gateway and client
together: the client's part is the same in both forms and in every tree.
"""

import argparse
import json
import logging
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import grpc

from egov.common.v1 import caller_pb2
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.config import GatewayConfig
from gateway.server import build_gateway
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.tokens import generate_key_pair, issue_token

CITIZEN_ID = "046090012345"
UNLIMITED = 1_000_000


def dossier(steps: int) -> pp.Dossier:
    """A dossier as procedures answers it, shaped as the bench's own (a level-3 filing), `steps` into its history."""
    history = [pp.HistoryEntry(at=f"2026-12-07T13:{18 + i:02d}:43+07:00", status=pp.DOSSIER_STATUS_IN_PROGRESS,
                               actor="civil_servant:cb-000.00.12.H57", note="Thẩm định hồ sơ")
               for i in range(steps)]
    return pp.Dossier(
        code="000.00.12.H57-261207-0001", procedure_code="1.001061",
        procedure_name="Chấp thuận xây dựng công trình thiết yếu trong phạm vi bảo vệ kết cấu hạ tầng giao thông",
        agency_code="000.00.12.H57", applicant_citizen_id=CITIZEN_ID, status=pp.DOSSIER_STATUS_IN_PROGRESS,
        channel=caller_pb2.CHANNEL_ONLINE, payment_method=pp.PAYMENT_METHOD_NO_FEE,
        delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP, recipient_name="Nguyễn Văn An",
                             recipient_phone="0905123456",
                             address=caller_pb2.Address(street="12 Lê Lợi", commune="Phường Vĩnh Ninh",
                                                district="Thành phố Huế", province="Thừa Thiên Huế")),
        documents=[pp.SubmittedDocument(document_code=code, file_name=f"{code}.pdf", sha256="c1" * 32, size_bytes=1100)
                   for code in ("DDN", "HSTK")],
        submitted_at="2026-12-07T13:18:43+07:00", history=history, receiving_agency_code="000.00.12.H57",
        competent_agency_code="000.00.12.H57", handling_agency_code="000.00.12.H57", unit_code="46",
        applicant=pp.Applicant(kind=pp.APPLICANT_KIND_CITIZEN, id_number=CITIZEN_ID, full_name="Nguyễn Văn An",
                               verified="account"),
        current_step="Thẩm định hồ sơ", deadline="7 ngày làm việc")


class RecordedBus:
    """Answers every call with the same reply body, decoded per call as the RPC client decodes it."""

    def __init__(self, reply: Mapping[str, Any]) -> None:
        self._body = json.dumps({"result": reply, "error": None}).encode()

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        json.dumps({"args": [], "kwargs": dict(kwargs)})        # what the RPC client encodes per call
        return json.loads(self._body)["result"]


def cpu_per_call(reply: Mapping[str, Any], calls: int, threads: int) -> tuple[float, float]:
    """(CPU ms per call, calls/s) of `calls` GetDossier from `threads` client threads."""
    private, public = generate_key_pair()
    config = GatewayConfig(address="127.0.0.1:0", workers=4 * threads, max_message_bytes=64 * 1024,
                           default_deadline=10, max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=public,
                           outbound_address="127.0.0.1:0",
                           account_rate=UNLIMITED, account_burst=UNLIMITED, account_concurrency=UNLIMITED)
    server = build_gateway(config, RecordedBus(reply))
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        stub = procedures_pb2_grpc.ProcedureServiceStub(channel)
        token, _ = issue_token(private, Caller(CallerKind.CITIZEN, subject=CITIZEN_ID), timedelta(minutes=30))
        metadata = (("authorization", f"Bearer {token}"),)
        request = pp.GetDossierRequest(code="000.00.12.H57-261207-0001")

        def run(n: int) -> None:
            for _ in range(n):
                stub.GetDossier(request, metadata=metadata, timeout=10)

        run(200)    # warm-up: connections, the chain's handlers, the token
        each = calls // threads
        cpu, wall = time.process_time(), time.monotonic()
        workers = [threading.Thread(target=run, args=(each,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done = each * threads
        return 1000 * (time.process_time() - cpu) / done, done / (time.monotonic() - wall)
    finally:
        channel.close()
        server.stop(0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_cpu", description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1, help="history entries of the dossier read")
    parser.add_argument("--rounds", type=int, default=3, help="each form this many times, alternately")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)    # the gateway's start-up warnings are about a real deployment
    response = pp.GetDossierResponse(dossier=dossier(args.steps))
    forms = {"dict": protowire.dump(response), "serialized": protowire.encoded(response.SerializeToString())}
    for round_ in range(args.rounds):
        for form, reply in forms.items():
            cpu, rate = cpu_per_call(reply, args.calls, args.threads)
            print(f"round {round_ + 1} reply as {form:<10} {cpu:6.3f} ms CPU per call, {rate:6.0f} calls/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
