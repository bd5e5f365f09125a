"""Every failure maps to one gRPC status; internals never reach the caller; never UNKNOWN."""

import grpc
import pytest

from gateway.errors import GatewayError, status_of
from gateway.rpc_client import RemoteError, RpcTimeout, ServiceUnavailable
from services.common.errors import STATUS_BY_ERROR_NAME, InvalidArgument, Unauthenticated


@pytest.mark.parametrize("error_name, code_name", sorted(STATUS_BY_ERROR_NAME.items()))
def test_remote_domain_errors_keep_their_status_and_message(error_name: str, code_name: str) -> None:
    status = status_of(RemoteError(error_name, "dossier_code: no dossier X"), "r1")
    assert status.code == grpc.StatusCode[code_name]
    assert status.message == "dossier_code: no dossier X"


def test_local_domain_errors() -> None:
    assert status_of(InvalidArgument("documents[2].sha256", "must match x"), "r1").code == \
        grpc.StatusCode.INVALID_ARGUMENT
    status = status_of(Unauthenticated("authorization", "invalid access token"), "r1")
    assert (status.code, status.message) == (grpc.StatusCode.UNAUTHENTICATED, "authorization: invalid access token")


def test_bus_failures() -> None:
    assert status_of(RpcTimeout("procedures", "get_dossier", 1.0), "r1").code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert status_of(ServiceUnavailable("service postal is not running"), "r1").code == grpc.StatusCode.UNAVAILABLE
    assert status_of(RemoteError("MethodNotFound", "get_dossier"), "r1").code == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("exc", [
    RemoteError("KeyError", "'mongo password hunter2'"),
    RemoteError("", ""),
    RuntimeError("stack trace with secrets"),
    ValueError("x"),
])
def test_anything_else_is_internal_with_a_generic_message(exc: Exception) -> None:
    status = status_of(exc, "req-42")
    assert status.code == grpc.StatusCode.INTERNAL
    assert status.message == "internal error (request id req-42)"


def test_gateway_errors_pass_through() -> None:
    status = status_of(GatewayError(grpc.StatusCode.PERMISSION_DENIED, "caller: no"), "r1")
    assert (status.code, status.message) == (grpc.StatusCode.PERMISSION_DENIED, "caller: no")


def test_no_mapping_produces_unknown() -> None:
    candidates: list[BaseException] = [RemoteError(name, "x") for name in STATUS_BY_ERROR_NAME]
    candidates += [RemoteError("Weird", "x"), RpcTimeout("a", "b", 0), ServiceUnavailable("x"), Exception()]
    assert grpc.StatusCode.UNKNOWN not in {status_of(exc, "r").code for exc in candidates}
