"""The dashboard reaches the gateway over TLS as it does in compose and Kubernetes: it trusts only the
CA it is given and checks the certificate names the server it asked for (EGOV_DASHBOARD_GATEWAY_CA_FILE,
EGOV_DASHBOARD_GATEWAY_SERVER_NAME), before any password leaves it. A stand-in for identity behind a
TLS listener made with deploy/certs.py's test CA, as compose's init-secrets makes the gateway's."""

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from deploy.certs import make_all
from egov.identity.v1 import identity_pb2, identity_pb2_grpc
from services.supervision.dashboard.gateway_client import GatewayClient, Refused


class SignsIn(identity_pb2_grpc.IdentityServiceServicer):
    def SignInCivilServant(self, request: identity_pb2.SignInCivilServantRequest,
                           context: grpc.ServicerContext) -> identity_pb2.SignInResponse:
        return identity_pb2.SignInResponse(access_token=f"token-of-{request.civil_servant_id}")


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """The address of a TLS listener whose certificate names 127.0.0.1, localhost and gateway, and its CA."""
    make_all(tmp_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(SignsIn(), server)
    credentials = grpc.ssl_server_credentials([((tmp_path / "gateway.key").read_bytes(),
                                                (tmp_path / "gateway.pem").read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield f"127.0.0.1:{port}", (tmp_path / "ca.pem").read_bytes()
    finally:
        server.stop(grace=None)


def test_the_dashboard_signs_in_over_tls_to_the_name_the_certificate_carries(tls_gateway: tuple[str, bytes]) -> None:
    address, ca = tls_gateway
    client = GatewayClient(address, ca, "gateway")      # compose's and the dev cluster's name
    try:
        assert client.sign_in("gs-thanh-pho-hue", "secret", "123456") == "token-of-gs-thanh-pho-hue"
    finally:
        client.close()


@pytest.mark.parametrize("how", ["another name", "plaintext"])
def test_the_dashboard_sends_nothing_to_a_server_it_cannot_verify(tls_gateway: tuple[str, bytes], how: str) -> None:
    address, ca = tls_gateway
    client = (GatewayClient(address, ca, "api.egov.example.invalid") if how == "another name"
              else GatewayClient(address))
    try:
        with pytest.raises(Refused) as refused:
            client.sign_in("gs-thanh-pho-hue", "secret", "123456")
        assert refused.value.status is grpc.StatusCode.UNAVAILABLE
    finally:
        client.close()
