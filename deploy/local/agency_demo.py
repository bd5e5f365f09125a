"""An agency system on the platform `make run` brings up: the province's one-stop desk registered as
a member subsystem with a grant of GetDossier (deploy/registrations.py, as `egov-gateway apply`
would), then calling through the agency front with its client certificate, and a call without one
refused."""

from dataclasses import dataclass
from pathlib import Path

import grpc

from deploy.certs import file_name
from deploy.local.stack import Stack
from deploy.registrations import DESK, one_stop_desk
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc

__all__ = ["DESK", "AgencyRead", "read_as_desk", "register_desk"]


@dataclass(frozen=True)
class AgencyRead:
    dossier: pp.Dossier
    refused: grpc.StatusCode
    refusal: str


def register_desk(stack: Stack) -> None:
    stack.register(one_stop_desk())


def read_as_desk(stack: Stack, dossier_code: str) -> AgencyRead:
    """The desk reads a dossier over mutual TLS; then the same call without a certificate."""
    certificate, key = _desk_files(stack)
    ca = (stack.workdir / "certs" / "ca.pem").read_bytes()
    address = f"127.0.0.1:{stack.ports.agency}"
    request = pp.GetDossierRequest(code=dossier_code)
    with grpc.secure_channel(address, grpc.ssl_channel_credentials(
            ca, key.read_bytes(), certificate.read_bytes())) as channel:
        dossier = procedures_pb2_grpc.ProcedureServiceStub(channel).GetDossier(request, timeout=10).dossier
    with grpc.secure_channel(address, grpc.ssl_channel_credentials(ca)) as channel:
        try:
            procedures_pb2_grpc.ProcedureServiceStub(channel).GetDossier(request, timeout=10)
        except grpc.RpcError as refused:
            return AgencyRead(dossier, refused.code(), refused.details() or "")
    raise RuntimeError("the gateway answered a call without a client certificate")


def _desk_files(stack: Stack) -> tuple[Path, Path]:
    directory = stack.workdir / "certs" / "agencies"
    return directory / f"{file_name(DESK)}.pem", directory / f"{file_name(DESK)}.key"
