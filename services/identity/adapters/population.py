"""The national population database, reached over gRPC through the gateway's outbound exchange
(a port, so tests can use a fake)."""

import abc
import copy
import logging

import grpc
from eventlet import tpool

from egov.population.v1 import population_pb2 as pb
from egov.population.v1 import population_pb2_grpc as pb_grpc
from services.identity.adapters.exchange import ONE_CALL_AT_A_TIME, Endpoint, refused
from services.identity.domain.population import CodeOutcome, Verification
from services.identity.domain.verification import Purpose

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 2.0
_PURPOSES = {Purpose.REGISTRATION: pb.CODE_PURPOSE_REGISTRATION,
             Purpose.ACCOUNT_RECOVERY: pb.CODE_PURPOSE_ACCOUNT_RECOVERY}
_VERIFICATIONS = {
    pb.VERIFICATION_RESULT_MATCH: Verification.MATCH,
    pb.VERIFICATION_RESULT_MISMATCH: Verification.MISMATCH,
    pb.VERIFICATION_RESULT_NOT_FOUND: Verification.NOT_FOUND,
    pb.VERIFICATION_RESULT_DECEASED: Verification.DECEASED,
}


class PopulationRegistry(abc.ABC):
    @abc.abstractmethod
    def verify(self, citizen_id: str, full_name: str, birth_date: str) -> Verification:
        """What the registry says about this person; UNREACHABLE or REFUSED rather than an exception."""

    @abc.abstractmethod
    def send_code(self, citizen_id: str, full_name: str, birth_date: str, code: str, purpose: Purpose) -> CodeOutcome:
        """Ask the registry to send `code` to the person's contact on file if, and only if, they match.
        The outcome is SENT or NOT_SENT without a reason (UNREACHABLE or REFUSED when no answer)."""

    def close(self) -> None:  # noqa: B027 - most registries hold nothing to release
        """Release connections."""


class GrpcPopulationRegistry(PopulationRegistry):
    def __init__(self, endpoint: Endpoint, deadline_seconds: float = DEADLINE_SECONDS) -> None:
        self._endpoint = endpoint
        self._channel = endpoint.channel()
        self._traceparent = ""
        self._stub = pb_grpc.PopulationRegistryStub(self._channel)
        self._deadline = deadline_seconds

    def verify(self, citizen_id: str, full_name: str, birth_date: str) -> Verification:
        response = self._call(pb.VerifyCitizenRequest(citizen_id=citizen_id, full_name=full_name,
                                                      birth_date=birth_date))
        if isinstance(response, Verification):
            return response
        verification = _VERIFICATIONS.get(response.result)
        if verification is None:
            log.warning("population registry answered %s", response.result)
            return Verification.UNREACHABLE
        return verification

    def send_code(self, citizen_id: str, full_name: str, birth_date: str, code: str, purpose: Purpose) -> CodeOutcome:
        response = self._call(pb.VerifyCitizenRequest(citizen_id=citizen_id, full_name=full_name,
                                                      birth_date=birth_date, one_time_code=code,
                                                      code_purpose=_PURPOSES[purpose]))
        if response is Verification.REFUSED:
            return CodeOutcome.REFUSED
        if isinstance(response, Verification) or response.result == pb.VERIFICATION_RESULT_UNSPECIFIED:
            return CodeOutcome.UNREACHABLE
        sent = response.result == pb.VERIFICATION_RESULT_MATCH and response.code_delivery in (
            pb.CODE_DELIVERY_SMS, pb.CODE_DELIVERY_EMAIL)
        if response.result == pb.VERIFICATION_RESULT_MATCH and not sent:
            log.info("a person matched but the population registry holds no contact for them")
        return CodeOutcome.SENT if sent else CodeOutcome.NOT_SENT

    def _call(self, request: pb.VerifyCitizenRequest) -> "pb.VerifyCitizenResponse | Verification":
        """The registry's answer, or UNREACHABLE / REFUSED when there is none."""
        try:
            # grpcio blocks in C; in a nameko (eventlet) process that must happen off the hub thread.
            with ONE_CALL_AT_A_TIME:   # concurrent grpcio calls from tpool threads deadlocked (bench/)
                response: pb.VerifyCitizenResponse = tpool.execute(
                    self._stub.VerifyCitizen, request, timeout=self._deadline,
                    metadata=self._endpoint.metadata(self._traceparent))
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            log.warning("population registry call failed: %s %s", code, details)
            return Verification.REFUSED if refused(code) else Verification.UNREACHABLE
        return response

    def joined(self, traceparent: str) -> "GrpcPopulationRegistry":
        """This client (same channel) for one worker, whose calls carry the trace it serves."""
        view = copy.copy(self)
        view._traceparent = traceparent
        return view

    def close(self) -> None:
        self._channel.close()


class FakePopulationRegistry(PopulationRegistry):
    """In memory: residents by citizen ID as (full name, birth date, deceased); `sent` holds the codes
    it would have delivered, as (citizen ID, code, purpose)."""

    def __init__(self, residents: dict[str, tuple[str, str, bool]] | None = None,
                 reachable: bool = True) -> None:
        self.residents = dict(residents or {})
        self.reachable = reachable
        self.asked: list[str] = []
        self.sent: list[tuple[str, str, Purpose]] = []

    def send_code(self, citizen_id: str, full_name: str, birth_date: str, code: str, purpose: Purpose) -> CodeOutcome:
        verification = self.verify(citizen_id, full_name, birth_date)
        if verification is Verification.UNREACHABLE:
            return CodeOutcome.UNREACHABLE
        if verification is not Verification.MATCH:
            return CodeOutcome.NOT_SENT
        self.sent.append((citizen_id, code, purpose))
        return CodeOutcome.SENT

    def verify(self, citizen_id: str, full_name: str, birth_date: str) -> Verification:
        self.asked.append(citizen_id)
        if not self.reachable:
            return Verification.UNREACHABLE
        if citizen_id not in self.residents:
            return Verification.NOT_FOUND
        name, born, deceased = self.residents[citizen_id]
        if name.casefold() != full_name.casefold() or born != birth_date:
            return Verification.MISMATCH
        return Verification.DECEASED if deceased else Verification.MATCH
