"""A real nameko service registered under a platform name, used only by the gateway tests.

It speaks the service contract of docs/ADDING_A_SERVICE.md (request and caller dicts in, the
response dict out, DomainErrors naming the field) and records every call it receives, so a test
can prove that a request the gateway refused never reached it.
"""

from typing import Any

import eventlet

from egov.procedures.v1 import procedures_pb2 as pb
from services.common import protowire
from services.common.caller import Caller
from services.common.errors import DomainError, InvalidArgument, NotFound
from services.common.runtime.rpc import rpc

KNOWN_PROCEDURE = "1.001612"
_calls: list[dict[str, Any]] = []


class FakeProcedures:
    name = "procedures"

    @rpc
    def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @rpc
    def recorded_calls(self) -> list[dict[str, Any]]:
        return list(_calls)

    @rpc(expected_exceptions=DomainError)
    def get_procedure(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        req = self._record("get_procedure", pb.GetProcedureRequest, request, caller)
        if req.procedure_code != KNOWN_PROCEDURE:
            raise NotFound("procedure_code", f"no procedure {req.procedure_code}")
        procedure = pb.Procedure(code=KNOWN_PROCEDURE, name="Đăng ký khai sinh", service_level=4,
                                 fee_vnd=50_000, legal_deadline_working_days=3)
        return protowire.dump(pb.GetProcedureResponse(procedure=procedure))

    @rpc(expected_exceptions=DomainError)
    def submit_dossier(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        req = self._record("submit_dossier", pb.SubmitDossierRequest, request, caller)
        who = Caller.from_wire(caller)
        if req.procedure_code != KNOWN_PROCEDURE:
            raise InvalidArgument("procedure_code", "this procedure is not offered online")
        dossier = pb.Dossier(code=f"000.00.15.H57-260101-{len(_calls):04d}",
                             procedure_code=req.procedure_code,
                             applicant_citizen_id=req.applicant_citizen_id or who.subject,
                             status=pb.DOSSIER_STATUS_SUBMITTED, payment_method=req.payment_method,
                             delivery=req.delivery, documents=req.documents)
        return protowire.dump(pb.SubmitDossierResponse(dossier=dossier))

    @rpc(expected_exceptions=DomainError)
    def record_step(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        """Answers later than any reasonable deadline: the gateway must give up first."""
        self._record("record_step", pb.RecordStepRequest, request, caller)
        eventlet.sleep(3)
        return protowire.dump(pb.RecordStepResponse())

    @rpc
    def approve_dossier(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        """A bug in a service: an unexpected exception the gateway must not leak."""
        self._record("approve_dossier", pb.ApproveDossierRequest, request, caller)
        raise RuntimeError("database password is hunter2")

    @staticmethod
    def _record(method: str, cls: Any, request: dict[str, Any], caller: dict[str, Any]) -> Any:
        _calls.append({"method": method, "request": request, "caller": caller})
        return protowire.parse(cls, request)
