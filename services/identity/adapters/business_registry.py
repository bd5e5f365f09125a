"""The national business registration database, reached over gRPC through the gateway's outbound
exchange (a port, so tests can use a fake)."""

import abc
import copy
import logging

import grpc
from eventlet import tpool

from egov.businessregistry.v1 import business_registry_pb2 as pb
from egov.businessregistry.v1 import business_registry_pb2_grpc as pb_grpc
from services.identity.adapters.exchange import ONE_CALL_AT_A_TIME, Endpoint, refused
from services.identity.domain.business import BusinessVerification

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 2.0
_VERIFICATIONS = {
    pb.BUSINESS_VERIFICATION_RESULT_MATCH: BusinessVerification.MATCH,
    pb.BUSINESS_VERIFICATION_RESULT_MISMATCH: BusinessVerification.MISMATCH,
    pb.BUSINESS_VERIFICATION_RESULT_NOT_FOUND: BusinessVerification.NOT_FOUND,
    pb.BUSINESS_VERIFICATION_RESULT_DISSOLVED: BusinessVerification.DISSOLVED,
}


class BusinessRegistry(abc.ABC):
    @abc.abstractmethod
    def verify(self, tax_code: str, name: str) -> BusinessVerification:
        """What the registry says about this tax code and name; UNREACHABLE or REFUSED rather than an
        exception."""

    def close(self) -> None:  # noqa: B027 - most registries hold nothing to release
        """Release connections."""


class GrpcBusinessRegistry(BusinessRegistry):
    def __init__(self, endpoint: Endpoint, deadline_seconds: float = DEADLINE_SECONDS) -> None:
        self._endpoint = endpoint
        self._channel = endpoint.channel()
        self._traceparent = ""
        self._stub = pb_grpc.BusinessRegistryStub(self._channel)
        self._deadline = deadline_seconds

    def verify(self, tax_code: str, name: str) -> BusinessVerification:
        request = pb.VerifyBusinessRequest(tax_code=tax_code, name=name)
        try:
            with ONE_CALL_AT_A_TIME:   # concurrent grpcio calls from tpool threads deadlocked (bench/)
                response: pb.VerifyBusinessResponse = tpool.execute(
                    self._stub.VerifyBusiness, request, timeout=self._deadline,
                    metadata=self._endpoint.metadata(self._traceparent))
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            log.warning("business registry call failed: %s %s", code, details)
            return BusinessVerification.REFUSED if refused(code) else BusinessVerification.UNREACHABLE
        verification = _VERIFICATIONS.get(response.result)
        if verification is None:
            log.warning("business registry answered %s", response.result)
            return BusinessVerification.UNREACHABLE
        return verification

    def joined(self, traceparent: str) -> "GrpcBusinessRegistry":
        """This client (same channel) for one worker, whose calls carry the trace it serves."""
        view = copy.copy(self)
        view._traceparent = traceparent
        return view

    def close(self) -> None:
        self._channel.close()


class FakeBusinessRegistry(BusinessRegistry):
    """In memory: businesses by tax code as (registered name, dissolved)."""

    def __init__(self, businesses: dict[str, tuple[str, bool]] | None = None, reachable: bool = True) -> None:
        self.businesses = dict(businesses or {})
        self.reachable = reachable
        self.asked: list[str] = []

    def verify(self, tax_code: str, name: str) -> BusinessVerification:
        self.asked.append(tax_code)
        if not self.reachable:
            return BusinessVerification.UNREACHABLE
        if tax_code not in self.businesses:
            return BusinessVerification.NOT_FOUND
        registered, dissolved = self.businesses[tax_code]
        if " ".join(registered.casefold().split()) != " ".join(name.casefold().split()):
            return BusinessVerification.MISMATCH
        return BusinessVerification.DISSOLVED if dissolved else BusinessVerification.MATCH
