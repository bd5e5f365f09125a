"""The service layer: one function per command or event. Each runs inside one transaction (the
caller passes `tx`): the dossier change, the events it causes and, for events, the inbox record
commit together."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from pymongo.database import Database

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentDelivered
from egov.procedures.v1 import events_pb2, procedures_pb2
from services.common import telemetry
from services.common.caller import Caller
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.common.mongo_store import Transaction
from services.procedures import messages
from services.procedures.adapters.repository import CitizenRegistry, DossierRepository
from services.procedures.domain.access import (
    check_can_process,
    check_can_supplement,
    check_can_view,
    filing_for,
)
from services.procedures.domain.catalogue import Catalogue, Procedure
from services.procedures.domain.dossier import Dossier, DossierStatus, procedure_for_submission

log = logging.getLogger(__name__)

PAYMENTS_ACTOR = "service:payments"
POSTAL_ACTOR = "service:postal"


# -- catalogue -------------------------------------------------------------------------------------
def list_procedures(catalogue: Catalogue, request: procedures_pb2.ListProceduresRequest) -> list[Procedure]:
    if not 0 <= request.service_level <= 4:
        raise InvalidArgument("service_level", "must be 0 (any) or 1 to 4")
    if request.page_size < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return catalogue.search(request.agency_code, request.service_level, request.page_size)


def get_procedure(catalogue: Catalogue, code: str) -> Procedure:
    procedure = catalogue.find(code)
    if procedure is None:
        raise NotFound("procedure_code", f"no procedure {code!r} in the catalogue")
    return procedure


# -- commands --------------------------------------------------------------------------------------
def submit_dossier(tx: Transaction, catalogue: Catalogue, request: procedures_pb2.SubmitDossierRequest,
                   caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    request_key = f"{caller.actor}:{request.client_request_id}" if request.client_request_id else ""
    if request_key:
        first = dossiers.find_by_request_key(request_key)
        if first is not None:
            if first.procedure_code != request.procedure_code:
                raise AlreadyExists("client_request_id", f"already used for dossier {first.code}")
            return first
    procedure = procedure_for_submission(catalogue, request.procedure_code)
    filing = filing_for(caller, request.applicant_citizen_id, procedure)
    application = messages.application_from(request, filing)
    if not CitizenRegistry.within(tx).is_registered(filing.applicant_citizen_id):
        raise FailedPrecondition("applicant_citizen_id", "the applicant is not a registered citizen")
    dossier = Dossier.submit(procedure, application, dossiers.next_sequence, now, caller.actor)
    dossiers.add(dossier, request_key)
    _emit(tx, dossier, events_pb2.DossierSubmitted(
        dossier=messages.dossier_ref(dossier),
        payment_method=procedures_pb2.PaymentMethod.Value(dossier.payment_method.value), fee_vnd=dossier.fee_vnd,
        delivery=messages.delivery_message(dossier.delivery), channel=_channel(dossier),
        status=procedures_pb2.DossierStatus.Value(dossier.status.value)))
    return dossier


def get_dossier(db: Database[Any], code: str, caller: Caller) -> Dossier:
    return _load(DossierRepository(db), code, caller, check_can_view)


def accept_dossier(tx: Transaction, code: str, caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, code, caller, check_can_process)
    dossier.accept_at_desk(now, caller.actor)
    dossiers.save(dossier)
    _emit_accepted(tx, dossier)
    return dossier


def record_step(tx: Transaction, request: procedures_pb2.RecordStepRequest, caller: Caller,
                now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_process)
    dossier.record_step(request.step, request.note, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierStepRecorded(
        dossier=messages.dossier_ref(dossier), step=request.step, actor=caller.actor))
    return dossier


def request_supplement(tx: Transaction, catalogue: Catalogue,
                       request: procedures_pb2.RequestSupplementRequest, caller: Caller,
                       now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_process)
    missing = tuple(request.missing_document_codes)
    dossier.request_supplement(_procedure_of(catalogue, dossier), request.reason, missing, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierSupplementRequested(
        dossier=messages.dossier_ref(dossier), reason=request.reason, missing_document_codes=missing))
    return dossier


def provide_supplement(tx: Transaction, catalogue: Catalogue,
                       request: procedures_pb2.ProvideSupplementRequest, caller: Caller,
                       now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_supplement)
    documents = messages.documents_from(request.documents)
    dossier.provide_supplement(_procedure_of(catalogue, dossier), documents, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierSupplementProvided(
        dossier=messages.dossier_ref(dossier), due_date=_due_date(dossier),
        paused_working_days=dossier.paused_working_days))
    return dossier


def approve_dossier(tx: Transaction, request: procedures_pb2.ApproveDossierRequest, caller: Caller,
                    now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_process)
    dossier.approve(request.note, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierApproved(dossier=messages.dossier_ref(dossier)))
    return dossier


def reject_dossier(tx: Transaction, request: procedures_pb2.RejectDossierRequest, caller: Caller,
                   now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_process)
    dossier.reject(request.reason, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierRejected(
        dossier=messages.dossier_ref(dossier), reason=request.reason,
        payment_method=procedures_pb2.PaymentMethod.Value(dossier.payment_method.value)))
    return dossier


def issue_result(tx: Transaction, request: procedures_pb2.IssueResultRequest, caller: Caller,
                 now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, request.code, caller, check_can_process)
    dossier.issue_result(request.result_document_number, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, events_pb2.DossierResultIssued(
        dossier=messages.dossier_ref(dossier), result_document_number=dossier.result_document_number,
        delivery=messages.delivery_message(dossier.delivery), timeliness=_timeliness(dossier)))
    if dossier.status is DossierStatus.COMPLETED:
        _emit_completed(tx, dossier)
    return dossier


# -- events from other services --------------------------------------------------------------------
def record_citizen(tx: Transaction, payload: CitizenRegistered, event: CloudEvent) -> None:
    CitizenRegistry.within(tx).record(payload.citizen_id, payload.full_name, _event_time(event))


def accept_paid_dossier(tx: Transaction, payload: PaymentSettled, event: CloudEvent) -> None:
    # A payment for a dossier we do not have raises NotFound: retried, then parked in the
    # dead-letter queue for someone to look at, never silently dropped. Same for deliveries.
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, payload.dossier_code)
    if dossier.status is not DossierStatus.AWAITING_PAYMENT:
        # Accepted already (a second notice of the same payment), or rejected before the money
        # arrived: payments refunds on DossierRejected, nothing to change here.
        log.info("payment %s for dossier %s ignored: dossier is %s", payload.bill_id, dossier.code,
                 dossier.status.value)
        return
    # The settlement time, not the time this event is handled: a delayed delivery must not cost
    # the applicant days on the legal clock.
    dossier.accept_on_payment(_event_time(event), PAYMENTS_ACTOR)
    dossiers.save(dossier)
    _emit_accepted(tx, dossier)


def complete_delivered_dossier(tx: Transaction, payload: ShipmentDelivered, event: CloudEvent) -> None:
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, payload.dossier_code)
    if dossier.status is DossierStatus.COMPLETED:
        log.info("delivery of dossier %s reported again; already completed", dossier.code)
        return
    dossier.complete_delivery(_parse_time(payload.delivered_at) or _event_time(event), POSTAL_ACTOR)
    dossiers.save(dossier)
    _emit_completed(tx, dossier)


EVENT_HANDLERS: dict[str, Callable[[Transaction, Any, CloudEvent], None]] = {
    "egov.identity.v1.CitizenRegistered": record_citizen,
    "egov.payments.v1.PaymentSettled": accept_paid_dossier,
    "egov.postal.v1.ShipmentDelivered": complete_delivered_dossier,
}


# -- helpers ---------------------------------------------------------------------------------------
def _load(dossiers: DossierRepository, code: str, caller: Caller,
          check: Callable[[Dossier, Caller], None]) -> Dossier:
    dossier = _require(dossiers, code)
    check(dossier, caller)
    return dossier


def _require(dossiers: DossierRepository, code: str) -> Dossier:
    dossier = dossiers.get(code)
    if dossier is None:
        raise NotFound("code", f"no dossier {code!r}")
    return dossier


def _procedure_of(catalogue: Catalogue, dossier: Dossier) -> Procedure:
    procedure = catalogue.find(dossier.procedure_code)
    if procedure is None:
        raise FailedPrecondition("procedure_code",
                                 f"procedure {dossier.procedure_code} is no longer in the catalogue")
    return procedure


dossiers_completed = telemetry.meter("egov.procedures").create_counter(
    "egov.dossiers.completed", unit="{dossier}", description="completed dossiers by agency, on time or late")


def _emit(tx: Transaction, dossier: Dossier, payload: Message) -> None:
    tx.emit(payload, subject=dossier.code, correlation_id=dossier.code)


def _emit_accepted(tx: Transaction, dossier: Dossier) -> None:
    _emit(tx, dossier, events_pb2.DossierAccepted(dossier=messages.dossier_ref(dossier),
                                                  accepted_at=messages.rfc3339(dossier.accepted_at),
                                                  due_date=_due_date(dossier)))


def _emit_completed(tx: Transaction, dossier: Dossier) -> None:
    timeliness = _timeliness(dossier)
    _emit(tx, dossier, events_pb2.DossierCompleted(dossier=messages.dossier_ref(dossier),
                                                   timeliness=timeliness,
                                                   completed_at=messages.rfc3339(dossier.completed_at),
                                                   due_date=_due_date(dossier)))
    # Decision 766/QĐ-TTg scores the share settled on time per agency. Counted as the completion is
    # written: a transaction retried after a write conflict may count once more (metrics, not records).
    dossiers_completed.add(1, {"agency_code": dossier.agency_code,
                               "timeliness": procedures_pb2.Timeliness.Name(timeliness)})


def _due_date(dossier: Dossier) -> str:
    return dossier.due_date.isoformat() if dossier.due_date else ""


def _timeliness(dossier: Dossier) -> procedures_pb2.Timeliness.ValueType:
    return procedures_pb2.Timeliness.Value(dossier.timeliness.value)


def _channel(dossier: Dossier) -> caller_pb2.Channel.ValueType:
    return caller_pb2.Channel.Value(dossier.channel.value)


def _event_time(event: CloudEvent) -> datetime:
    return event.time.ToDatetime(tzinfo=UTC)


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
