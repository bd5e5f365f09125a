"""The procedures nameko service: the catalogue (catalogue_service.py) and the dossiers. Entrypoints translate
and delegate: each dossier command's request is parsed into its proto and translated once into a domain
command (domain/commands.py, through translation.py); the service layer (handlers.py) takes the command
and the caller and answers with a Dossier (or a Desk), which messages.py turns into the response.

The dossier reads the gateway serves most (a dossier, the work queue, the applicant's list) answer
with the message already serialized (services/common/protowire.py `encoded`): the gateway then
decodes it in C instead of turning a dict back into the message in Python, most of its per-call
work on a read (docs/BENCHMARKS.md). Callers over nameko read either form with `protowire.parse`.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nameko.rpc import ServiceRpc
from pymongo.errors import DuplicateKeyError

from egov.procedures.v1 import procedures_pb2 as pb
from services.common.caller import Caller
from services.common.errors import DomainError
from services.common.events.envelope import decode
from services.common.mongo_store import Transaction
from services.common.protowire import dump, encoded, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store, WorkerStore
from services.procedures import handlers, queries, watch
from services.procedures import translation as tr
from services.procedures.adapters.identity_verifier import IdentityVerifier
from services.procedures.adapters.lookup_guard import LookupGuard
from services.procedures.adapters.repository import DossierRepository
from services.procedures.catalogue_service import CatalogueEntrypoints
from services.procedures.dependencies import DossierIndexes, FailedLookupsSeen, WatchLead, watch_timer
from services.procedures.domain.application import local_date
from services.procedures.domain.dossier import Dossier
from services.procedures.messages import dossier_message, summary_message

Wire = dict[str, Any]   # a proto message through services.common.protowire


def _now() -> datetime:
    return datetime.now(UTC)


class ProceduresService(CatalogueEntrypoints):
    name = "procedures"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)
    store: WorkerStore = Store()
    indexes = DossierIndexes()
    identity = ServiceRpc("identity")
    lookups: LookupGuard = FailedLookupsSeen()
    watch_lead: int = WatchLead()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    # -- dossiers --------------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def submit_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.submit_dossier_command(parse(pb.SubmitDossierRequest, request))
        verifier = IdentityVerifier(self.identity)

        def submit(tx: Transaction, who: Caller, now: datetime) -> Dossier:
            return handlers.submit_dossier(tx, self.catalogue, verifier, command, who, now)

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
        dossier = queries.get_dossier(self.store, self.catalogue.units, code, Caller.from_wire(caller))
        return encoded(pb.GetDossierResponse(dossier=dossier_message(dossier)).SerializeToString())

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_dossiers(self, request: Wire, caller: Wire | None = None) -> Wire:
        now = _now()
        found, token = queries.list_dossiers(self.store, self.catalogue.units,
                                             parse(pb.ListDossiersRequest, request), Caller.from_wire(caller), now)
        today = local_date(now)
        return encoded(pb.ListDossiersResponse(dossiers=[summary_message(d, today) for d in found],
                                               next_page_token=token).SerializeToString())

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_my_dossiers(self, request: Wire, caller: Wire | None = None) -> Wire:
        found, token = queries.list_my_dossiers(self.store, parse(pb.ListMyDossiersRequest, request),
                                                Caller.from_wire(caller))
        today = local_date(_now())
        return encoded(pb.ListMyDossiersResponse(dossiers=[summary_message(d, today) for d in found],
                                                 next_page_token=token).SerializeToString())

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def lookup_dossier_status(self, request: Wire, caller: Wire | None = None) -> Wire:
        dossier = queries.lookup_status(self.store, self.lookups, parse(pb.LookupDossierStatusRequest, request),
                                        _now())
        return dump(pb.LookupDossierStatusResponse(
            status=pb.DossierStatus.Value(dossier.status.value),
            due_date=dossier.due_date.isoformat() if dossier.due_date else ""))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_slip(self, request: Wire, caller: Wire | None = None) -> Wire:
        name, pdf = queries.get_slip(self.store, self.catalogue, parse(pb.GetSlipRequest, request),
                                     Caller.from_wire(caller))
        return dump(pb.GetSlipResponse(file_name=name, pdf=pdf))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def configure_desk(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.configure_desk_command(parse(pb.ConfigureDeskRequest, request))
        who = Caller.from_wire(caller)
        desk = self.store.transaction(lambda tx: handlers.configure_desk(tx, self.catalogue, command, who))
        return dump(pb.ConfigureDeskResponse(desk=pb.Desk(agency_code=desk.agency_code, name=desk.name,
                                                          unit_code=desk.unit_code, accepts=list(desk.accepts))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def accept_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.accept_dossier_command(parse(pb.AcceptDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.accept_dossier(tx, command, who, now), caller)
        return dump(pb.AcceptDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def return_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.return_dossier_command(parse(pb.ReturnDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.return_dossier(tx, self.catalogue, command, who, now),
                            caller)
        return dump(pb.ReturnDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def assign_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.assign_dossier_command(parse(pb.AssignDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.assign_dossier(tx, command, who, now), caller)
        return dump(pb.AssignDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def transfer_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.transfer_dossier_command(parse(pb.TransferDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.transfer_dossier(tx, self.catalogue, command, who, now),
                            caller)
        return dump(pb.TransferDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def record_step(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.record_step_command(parse(pb.RecordStepRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.record_step(tx, command, who, now), caller)
        return dump(pb.RecordStepResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def request_supplement(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.request_supplement_command(parse(pb.RequestSupplementRequest, request))
        dossier = self._run(
            lambda tx, who, now: handlers.request_supplement(tx, self.catalogue, command, who, now), caller)
        return dump(pb.RequestSupplementResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def provide_supplement(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.provide_supplement_command(parse(pb.ProvideSupplementRequest, request))
        dossier = self._run(
            lambda tx, who, now: handlers.provide_supplement(tx, self.catalogue, command, who, now), caller)
        return dump(pb.ProvideSupplementResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def approve_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.approve_dossier_command(parse(pb.ApproveDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.approve_dossier(tx, command, who, now), caller)
        return dump(pb.ApproveDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def reject_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.reject_dossier_command(parse(pb.RejectDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.reject_dossier(tx, command, who, now), caller)
        return dump(pb.RejectDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def issue_result(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.issue_result_command(parse(pb.IssueResultRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.issue_result(tx, command, who, now), caller)
        return dump(pb.IssueResultResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def issue_apology(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.issue_apology_command(parse(pb.IssueApologyRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.issue_apology(tx, command, who, now), caller)
        return dump(pb.IssueApologyResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def extend_dossier(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.extend_dossier_command(parse(pb.ExtendDossierRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.extend_dossier(tx, self.catalogue, command, who, now),
                            caller)
        return dump(pb.ExtendDossierResponse(dossier=dossier_message(dossier)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def collect_result(self, request: Wire, caller: Wire | None = None) -> Wire:
        command = tr.collect_result_command(parse(pb.CollectResultRequest, request))
        dossier = self._run(lambda tx, who, now: handlers.collect_result(tx, command, who, now), caller)
        return dump(pb.CollectResultResponse(dossier=dossier_message(dossier)))

    # -- the deadline watch (watch.py): every replica sweeps; each alert is emitted once -------------
    @watch_timer  # type: ignore[untyped-decorator]
    def watch_deadlines(self) -> None:
        watch.sweep(self.store.repository(DossierRepository).codes_to_watch, self.store.transaction, _now(),
                    self.watch_lead)

    # -- events ----------------------------------------------------------------------------------
    @consume_events("procedures")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        handlers.handle_event(self.store, decode(body))

    def _run(self, command: Callable[[Transaction, Caller, datetime], Dossier],
             caller: Wire | None) -> Dossier:
        who, now = Caller.from_wire(caller), _now()
        return self.store.transaction(lambda tx: command(tx, who, now))
