"""The dashboard's one way into the platform: the gateway's gRPC API, with the supervisor's own
token, so the dashboard has exactly the rights of the supervisor's gRPC calls and no others."""

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from egov.identity.v1 import identity_pb2, identity_pb2_grpc
from egov.supervision.v1 import supervision_pb2 as pb
from egov.supervision.v1 import supervision_pb2_grpc

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Refused(Exception):
    """A call the gateway answered with an error status: the status and its message (which names the
    field) are what the page shows."""

    status: grpc.StatusCode
    message: str


class GatewayClient:
    """`ca_certificates` (PEM): the gateway is reached over TLS and must present a certificate from
    them for `server_name` (its public name; by default the address's host), as it does in compose and
    Kubernetes; None: plaintext, as on `make run`'s loopback."""

    def __init__(self, address: str, ca_certificates: bytes | None = None, server_name: str = "") -> None:
        if ca_certificates is None:
            self.channel = grpc.insecure_channel(address)
        else:
            options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
            self.channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(ca_certificates), options)
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channel)
        self.supervision = supervision_pb2_grpc.SupervisionServiceStub(self.channel)

    def sign_in(self, civil_servant_id: str, password: str, code: str) -> str:
        answer = self._call(self.identity.SignInCivilServant, identity_pb2.SignInCivilServantRequest(
            civil_servant_id=civil_servant_id, password=password, totp_code=code), None)
        return str(answer.access_token)

    def get_index(self, token: str, kind: int, code: str, first: str, last: str) -> dict[str, Any]:
        return _dict(self._call(self.supervision.GetIndex, pb.GetIndexRequest(
            scope=pb.Scope(kind=kind, code=code), from_month=first, to_month=last), token))  # type: ignore[arg-type]

    def overdue(self, token: str, kind: int, code: str) -> dict[str, Any]:
        return _dict(self._call(self.supervision.ListOverdueDossiers, pb.ListOverdueDossiersRequest(
            scope=pb.Scope(kind=kind, code=code), page_size=200), token))  # type: ignore[arg-type]

    def apologies(self, token: str, kind: int, code: str, first: str, last: str) -> dict[str, Any]:
        return _dict(self._call(self.supervision.ListApologies, pb.ListApologiesRequest(
            scope=pb.Scope(kind=kind, code=code), from_month=first, to_month=last, page_size=200),  # type: ignore[arg-type]
            token))

    @staticmethod
    def _call(method: Any, request: Message, token: str | None) -> Any:
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        try:
            return method(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            raise Refused(exc.code(), exc.details() or exc.code().name) from None

    def close(self) -> None:
        self.channel.close()


def _dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
