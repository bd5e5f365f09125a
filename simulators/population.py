"""The national population database (Cơ sở dữ liệu quốc gia về dân cư), simulated: a gRPC server
answering egov.population.v1.PopulationRegistry/VerifyCitizen from a JSON file of fictional residents.

    python -m simulators.population --port 50061 [--data simulators/data/population.json]
        [--tls-cert population.pem --tls-key population.key --client-ca ca.pem]
        [--sms-url http://127.0.0.1:8081] [--smtp-host 127.0.0.1 --smtp-port 1025]

With the TLS options it requires a client certificate from --client-ca (the gateway's, on the second
leg of the outbound exchange) and refuses any connection without one.

A request carrying a one-time code is also a proof of possession: on a MATCH the code goes to the
phone the database holds for the person, by the SMS gateway's HTTP protocol (simulators/sms.py), or,
without a phone, to their e-mail address over SMTP (simulators/mailbox.py). The SMS URL and SMTP
server default to EGOV_SMS_URL, EGOV_SMTP_HOST and EGOV_SMTP_PORT. Delivery happens after the
answer, in the background, as real SMS gateways queue: the time to answer says nothing about
whether the person matched.

The first five residents of the default data set are fixed (see its "well_known" line); tests and
the demo rely on them.
"""

import argparse
import json
import logging
import signal
import threading
import unicodedata
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from egov.population.v1 import population_pb2 as pb
from egov.population.v1 import population_pb2_grpc as pb_grpc
from simulators.grpc_tls import add_tls_arguments, listen
from simulators.population_codes import CodeCourier, add_courier_arguments

log = logging.getLogger("simulators.population")

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "population.json"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PopulationRegistry"].full_name
STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Resident:
    citizen_id: str
    full_name: str
    birth_date: str
    deceased: bool
    phone: str = ""     # E.164; where one-time codes go first
    email: str = ""


def comparable_name(name: str) -> str:
    """Names compare equal whatever their case, spacing or Unicode composition."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def load_residents(path: Path) -> dict[str, Resident]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    residents: dict[str, Resident] = {}
    for row in document["residents"]:
        resident = Resident(citizen_id=row["citizen_id"], full_name=row["full_name"],
                            birth_date=row["birth_date"], deceased=bool(row.get("deceased", False)),
                            phone=row.get("phone", ""), email=row.get("email", ""))
        residents[resident.citizen_id] = resident
    return residents


def verify(residents: Mapping[str, Resident],
           request: pb.VerifyCitizenRequest) -> "pb.VerificationResult.ValueType":
    resident = residents.get(request.citizen_id.strip())
    if resident is None:
        return pb.VERIFICATION_RESULT_NOT_FOUND
    if (comparable_name(request.full_name) != comparable_name(resident.full_name)
            or request.birth_date.strip() != resident.birth_date):
        return pb.VERIFICATION_RESULT_MISMATCH
    if resident.deceased:
        return pb.VERIFICATION_RESULT_DECEASED
    return pb.VERIFICATION_RESULT_MATCH


class PopulationRegistry(pb_grpc.PopulationRegistryServicer):
    def __init__(self, residents: Mapping[str, Resident], courier: CodeCourier | None = None) -> None:
        self._residents = residents
        self._courier = courier

    def VerifyCitizen(self, request: pb.VerifyCitizenRequest, context: Any) -> pb.VerifyCitizenResponse:
        code = request.one_time_code.strip()
        if code:
            problem = self._courier.refusal(code) if self._courier else "this registry delivers no codes"
            if problem:   # the same for every person: a refusal here tells nothing about anyone
                context.abort(grpc.StatusCode.FAILED_PRECONDITION if self._courier is None
                              else grpc.StatusCode.INVALID_ARGUMENT, problem)
        result = verify(self._residents, request)
        # The ID is personal data: log only its province prefix.
        log.info("VerifyCitizen %s***: %s", request.citizen_id[:3], pb.VerificationResult.Name(result))
        delivery = pb.CODE_DELIVERY_UNSPECIFIED
        if code and result == pb.VERIFICATION_RESULT_MATCH and self._courier is not None:
            resident = self._residents[request.citizen_id.strip()]
            delivery = self._courier.send(resident.phone, resident.email, code, request.code_purpose)
        return pb.VerifyCitizenResponse(result=result, code_delivery=delivery)


def build_server(residents: Mapping[str, Resident], courier: CodeCourier | None = None) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_PopulationRegistryServicer_to_server(PopulationRegistry(residents, courier), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSON file of residents")
    add_tls_arguments(parser)
    add_courier_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    residents = load_residents(args.data)
    courier = CodeCourier.from_arguments(args)
    if courier is None:
        log.warning("no SMS gateway nor SMTP server configured: requests carrying a one-time code are refused")
    server = build_server(residents, courier)
    port, tls = listen(server, f"{args.host}:{args.port}", args)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server.start()
    log.info("population registry with %d residents listening on %s:%d (%s)", len(residents), args.host, port,
             "mutual TLS" if tls else "plaintext")
    stopping.wait()
    log.info("stopping")
    server.stop(STOP_GRACE_SECONDS).wait()
    if courier is not None:
        courier.close()


if __name__ == "__main__":
    main()
