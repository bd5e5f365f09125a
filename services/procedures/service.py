"""The procedures nameko service: the catalogue and the dossiers. Entrypoints translate and delegate."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nameko.rpc import rpc
from pymongo.errors import DuplicateKeyError

from egov.procedures.v1 import procedures_pb2 as pb
from services.common.caller import Caller
from services.common.errors import DomainError
from services.common.events.envelope import decode
from services.common.mongo_store import Transaction
from services.common.protowire import dump, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.store import Store, WorkerStore
from services.procedures import handlers
from services.procedures.dependencies import DossierIndexes, ProcedureCatalogue
from services.procedures.domain.catalogue import Catalogue
from services.procedures.domain.dossier import Dossier
from services.procedures.messages import dossier_message, procedure_message

Wire = dict[str, Any]   # a proto message through services.common.protowire


def _now() -> datetime:
    return datetime.now(UTC)


class ProceduresService:
    name = "procedures"
    store: WorkerStore = Store()
    catalogue: Catalogue = ProcedureCatalogue()
    indexes = DossierIndexes()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    # -- catalogue -------------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_procedures(self, request: Wire, caller: Wire | None = None) -> Wire:
        found = handlers.list_procedures(self.catalogue, parse(pb.ListProceduresRequest, request))
        return dump(pb.ListProceduresResponse(procedures=[procedure_message(p) for p in found]))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_procedure(self, request: Wire, caller: Wire | None = None) -> Wire:
        code = parse(pb.GetProcedureRequest, request).procedure_code
        procedure = handlers.get_procedure(self.catalogue, code)
        return dump(pb.GetProcedureResponse(procedure=procedure_message(procedure)))

    # -- dossiers --------------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def submit_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.SubmitDossierRequest, request)

        def submit(tx: Transaction, who: Caller, now: datetime) -> Dossier:
            return handlers.submit_dossier(tx, self.catalogue, command, who, now)

        try:
            dossier = self._run(submit, caller)
        except DuplicateKeyError:
            # A concurrent retry with the same client_request_id committed first: run again to
            # return the dossier it made.
            dossier = self._run(submit, caller)
        return dump(pb.SubmitDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        code = parse(pb.GetDossierRequest, request).code
        dossier = handlers.get_dossier(self.store.db, code, Caller.from_wire(caller))
        return dump(pb.GetDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def accept_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        code = parse(pb.AcceptDossierRequest, request).code
        dossier = self._run(lambda tx, who, now: handlers.accept_dossier(tx, code, who, now), caller)
        return dump(pb.AcceptDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def record_step(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.RecordStepRequest, request)
        dossier = self._run(lambda tx, who, now: handlers.record_step(tx, command, who, now), caller)
        return dump(pb.RecordStepResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def request_supplement(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.RequestSupplementRequest, request)
        dossier = self._run(
            lambda tx, who, now: handlers.request_supplement(tx, self.catalogue, command, who, now), caller)
        return dump(pb.RequestSupplementResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def provide_supplement(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.ProvideSupplementRequest, request)
        dossier = self._run(
            lambda tx, who, now: handlers.provide_supplement(tx, self.catalogue, command, who, now), caller)
        return dump(pb.ProvideSupplementResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def approve_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.ApproveDossierRequest, request)
        dossier = self._run(lambda tx, who, now: handlers.approve_dossier(tx, command, who, now), caller)
        return dump(pb.ApproveDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def reject_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.RejectDossierRequest, request)
        dossier = self._run(lambda tx, who, now: handlers.reject_dossier(tx, command, who, now), caller)
        return dump(pb.RejectDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def issue_result(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = parse(pb.IssueResultRequest, request)
        dossier = self._run(lambda tx, who, now: handlers.issue_result(tx, command, who, now), caller)
        return dump(pb.IssueResultResponse(dossier=dossier_message(dossier)))

    # -- events ----------------------------------------------------------------------------------
    @consume_events("procedures")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        self.store.handle_event(decode(body), handlers.EVENT_HANDLERS)

    def _run(self, command: Callable[[Transaction, Caller, datetime], Dossier],
             caller: Wire | None) -> Dossier:
        who, now = Caller.from_wire(caller), _now()
        return self.store.transaction(lambda tx: command(tx, who, now))
