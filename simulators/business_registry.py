"""The national business registration database (Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp),
simulated: a gRPC server answering egov.businessregistry.v1.BusinessRegistry/VerifyBusiness from a
JSON file of fictional businesses.

    python -m simulators.business_registry --port 50062 [--data simulators/data/businesses.json]
        [--tls-cert business-registry.pem --tls-key business-registry.key --client-ca ca.pem]

With the TLS options it requires a client certificate from --client-ca (the gateway's) and refuses
any connection without one. The first four businesses of the default data set are fixed (see its
"well_known" line); tests and the demo rely on them.
"""

import argparse
import json
import logging
import signal
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from egov.businessregistry.v1 import business_registry_pb2 as pb
from egov.businessregistry.v1 import business_registry_pb2_grpc as pb_grpc
from simulators.grpc_tls import add_tls_arguments, listen
from simulators.population import comparable_name

log = logging.getLogger("simulators.business_registry")

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "businesses.json"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["BusinessRegistry"].full_name
STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class RegisteredBusiness:
    tax_code: str
    name: str
    dissolved: bool


def load_businesses(path: Path) -> dict[str, RegisteredBusiness]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {row["tax_code"]: RegisteredBusiness(row["tax_code"], row["name"], row.get("status") == "dissolved")
            for row in document["businesses"]}


def verify(businesses: Mapping[str, RegisteredBusiness],
           request: pb.VerifyBusinessRequest) -> "pb.BusinessVerificationResult.ValueType":
    business = businesses.get(request.tax_code.strip())
    if business is None:
        return pb.BUSINESS_VERIFICATION_RESULT_NOT_FOUND
    if comparable_name(request.name) != comparable_name(business.name):
        return pb.BUSINESS_VERIFICATION_RESULT_MISMATCH
    if business.dissolved:
        return pb.BUSINESS_VERIFICATION_RESULT_DISSOLVED
    return pb.BUSINESS_VERIFICATION_RESULT_MATCH


class BusinessRegistry(pb_grpc.BusinessRegistryServicer):
    def __init__(self, businesses: Mapping[str, RegisteredBusiness]) -> None:
        self._businesses = businesses

    def VerifyBusiness(self, request: pb.VerifyBusinessRequest, context: Any) -> pb.VerifyBusinessResponse:
        result = verify(self._businesses, request)
        log.info("VerifyBusiness %s: %s", request.tax_code[:10], pb.BusinessVerificationResult.Name(result))
        return pb.VerifyBusinessResponse(result=result)


def build_server(businesses: Mapping[str, RegisteredBusiness]) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_BusinessRegistryServicer_to_server(BusinessRegistry(businesses), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSON file of businesses")
    add_tls_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    businesses = load_businesses(args.data)
    server = build_server(businesses)
    port, tls = listen(server, f"{args.host}:{args.port}", args)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server.start()
    log.info("business registry with %d businesses listening on %s:%d (%s)", len(businesses), args.host, port,
             "mutual TLS" if tls else "plaintext")
    stopping.wait()
    log.info("stopping")
    server.stop(STOP_GRACE_SECONDS).wait()


if __name__ == "__main__":
    main()
