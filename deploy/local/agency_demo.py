"""An agency system on the platform `make run` brings up: the province's one-stop desk registered as
a member subsystem with a grant of GetDossier (as `egov-gateway` would), then calling through the
agency front with its client certificate, and a call without one refused."""

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import grpc
from cryptography import x509

from deploy.certs import file_name
from deploy.local.stack import Stack, certificate_of
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.members import Channel, Grant, Member, Subsystem, SubsystemId
from gateway.registry_store import RegistryStore

DESK = SubsystemId.parse("VN/GOV/000.00.15.H57/one-stop-desk")
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"


@dataclass(frozen=True)
class AgencyRead:
    dossier: pp.Dossier
    refused: grpc.StatusCode
    refusal: str


def register_desk(stack: Stack) -> None:
    certificate = x509.load_pem_x509_certificate(_desk_files(stack)[0].read_bytes())
    stack.change_registry([
        partial(RegistryStore.add_member, member=Member(DESK.member, "Sở Tư pháp tỉnh Thừa Thiên Huế")),
        partial(RegistryStore.add_subsystem, subsystem=Subsystem(DESK, Channel.COUNTER)),
        partial(RegistryStore.register_certificate, certificate=certificate_of(DESK, certificate)),
        partial(RegistryStore.add_grant, grant=Grant.for_subsystem(DESK, GET_DOSSIER)),
    ])


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
    return directory / f"{file_name(str(DESK))}.pem", directory / f"{file_name(str(DESK))}.key"
