"""Every failure of a call becomes one gRPC status, here and nowhere else.

Domain errors (local validation or raised by a service) keep their class's status
(services.common.errors.STATUS_BY_ERROR_NAME) and their "field: message" text. Bus failures become
DEADLINE_EXCEEDED or UNAVAILABLE. Anything else is INTERNAL with a generic message that names the
request id; the detail goes to the log only. No call ends in UNKNOWN.
"""

import logging
from dataclasses import dataclass

import grpc

from gateway.rpc_client import RemoteError, RpcTimeout, ServiceUnavailable
from services.common.errors import STATUS_BY_ERROR_NAME, DomainError

log = logging.getLogger(__name__)

# The service is up but does not have the method (e.g. an older version during a rollout).
METHOD_NOT_FOUND = "MethodNotFound"


@dataclass(frozen=True)
class Status:
    code: grpc.StatusCode
    message: str


class GatewayError(Exception):
    """A call refused or failed with a known status; raised anywhere in the chain."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = Status(code, message)


def internal(request_id: str) -> Status:
    return Status(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")


def status_of(exc: BaseException, request_id: str) -> Status:
    if isinstance(exc, GatewayError):
        return exc.status
    if isinstance(exc, DomainError):
        return _domain_status(type(exc).__name__, str(exc), request_id)
    if isinstance(exc, RemoteError):
        if exc.exc_type == METHOD_NOT_FOUND:
            return Status(grpc.StatusCode.UNIMPLEMENTED, f"the service has no method {exc.value}")
        return _domain_status(exc.exc_type, exc.value, request_id)
    if isinstance(exc, RpcTimeout):
        return Status(grpc.StatusCode.DEADLINE_EXCEEDED, "the service did not answer before the deadline")
    if isinstance(exc, ServiceUnavailable):
        return Status(grpc.StatusCode.UNAVAILABLE, str(exc))
    log.error("internal error in request %s", request_id, exc_info=exc)
    return internal(request_id)


def _domain_status(error_name: str, message: str, request_id: str) -> Status:
    code_name = STATUS_BY_ERROR_NAME.get(error_name)
    if code_name is None:
        log.error("request %s: the service raised %s: %s", request_id, error_name, message)
        return internal(request_id)
    return Status(grpc.StatusCode[code_name], message)
