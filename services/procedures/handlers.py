"""The service layer: one function per command (domain/commands.py, translated at the entrypoint by
translation.py) or event, answering in domain values. Each runs inside one transaction (the
caller passes `tx`): the dossier change, the events it causes and, for events, the inbox record
commit together. Longer than 300 lines: one function per command of the dossier's life, side by side
with the event handlers that move the same dossiers; the deadline watch is in watch.py."""

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol

from google.protobuf.message import Message

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered, CivilServantRegistered
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentDelivered, ShipmentDeliveryFailed
from egov.procedures.v1 import events_pb2, procedures_pb2
from services.common import telemetry
from services.common.caller import Caller, CallerKind, appointments_from_claims
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.common.events.envelope import event_type
from services.common.mongo_store import Transaction
from services.common.roles import Role
from services.procedures import messages, reception
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.repository import CitizenRegistry, DossierRepository
from services.procedures.domain import commands
from services.procedures.domain.access import Action, action_checker, check_action, check_can_supplement
from services.procedures.domain.application import Application
from services.procedures.domain.desks import Desk, check_desk
from services.procedures.domain.dossier import Dossier, DossierStatus, check_transfer_target
from services.procedures.domain.procedure import CatalogueReader, Procedure
from services.procedures.reception import ApplicantVerifier

log = logging.getLogger(__name__)

PAYMENTS_ACTOR = "service:payments"
POSTAL_ACTOR = "service:postal"
EventHandler = Callable[[Transaction, Any, CloudEvent], None]


# -- commands --------------------------------------------------------------------------------------
def submit_dossier(tx: Transaction, catalogue: CatalogueReader, verifier: ApplicantVerifier,
                   command: commands.SubmitDossier, caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    request_key = f"{caller.actor}:{command.client_request_id}" if command.client_request_id else ""
    if request_key:
        first = dossiers.find_by_request_key(request_key)
        if first is not None:
            if first.procedure_code != command.procedure_code:
                raise AlreadyExists("client_request_id", f"already used for dossier {first.code}")
            return first
    entry = reception.entry_for(catalogue, command.procedure_code, command.unit_code, caller)
    directory = Directory.within(tx)
    desk, channel = reception.desk_and_channel(catalogue.units, directory, entry, command.receiving_agency_code,
                                               caller)
    applicant = reception.applicant_for(command, caller, CitizenRegistry.within(tx), verifier)
    application = Application(
        applicant=applicant, proxy=reception.proxy_from(command.proxy), channel=channel,
        payment_method=reception.payment_method_from(command.payment_method),
        fee_category=command.fee_category.strip(), delivery=reception.delivery_from(command.delivery),
        documents=command.documents)
    dossier = Dossier.submit(entry, desk, application, catalogue.units, dossiers.next_sequence, now, caller.actor)
    dossiers.add(dossier, request_key)
    _emit(tx, dossier, now, events_pb2.DossierSubmitted(
        dossier=messages.dossier_ref(dossier, now),
        payment_method=procedures_pb2.PaymentMethod.Value(dossier.payment_method.value), fee_vnd=dossier.fee_vnd,
        delivery=messages.delivery_message(dossier.delivery), channel=_channel(dossier),
        status=procedures_pb2.DossierStatus.Value(dossier.status.value)))
    return dossier


def accept_dossier(tx: Transaction, command: commands.AcceptDossier, caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.ACCEPT))
    dossier.accept(now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierAccepted(dossier=messages.dossier_ref(dossier, now),
                                                       accepted_at=messages.rfc3339(dossier.accepted_at),
                                                       due_date=_due_date(dossier)))
    return dossier


def return_dossier(tx: Transaction, catalogue: CatalogueReader, command: commands.ReturnDossier,
                   caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.RETURN_FOR_SUPPLEMENT))
    missing = tuple(command.missing_document_codes)
    dossier.return_for_supplement(_procedure_of(catalogue, dossier), missing, command.guidance, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierSupplementRequested(
        dossier=messages.dossier_ref(dossier, now), reason=command.guidance, missing_document_codes=missing,
        at_reception=True))
    return dossier


def record_step(tx: Transaction, command: commands.RecordStep, caller: Caller,
                now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.RECORD_STEP))
    dossier.record_step(command.step, command.note, command.done, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierStepRecorded(
        dossier=messages.dossier_ref(dossier, now), step=command.step, actor=caller.actor))
    return dossier


def request_supplement(tx: Transaction, catalogue: CatalogueReader,
                       command: commands.RequestSupplement, caller: Caller,
                       now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.REQUEST_SUPPLEMENT))
    missing = tuple(command.missing_document_codes)
    dossier.request_supplement(_procedure_of(catalogue, dossier), command.reason, missing, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierSupplementRequested(
        dossier=messages.dossier_ref(dossier, now), reason=command.reason, missing_document_codes=missing))
    return dossier


def provide_supplement(tx: Transaction, catalogue: CatalogueReader,
                       command: commands.ProvideSupplement, caller: Caller,
                       now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, check_can_supplement)
    dossier.provide_supplement(_procedure_of(catalogue, dossier), command.documents, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierSupplementProvided(
        dossier=messages.dossier_ref(dossier, now), due_date=_due_date(dossier),
        paused_working_days=dossier.paused_working_days))
    return dossier


def assign_dossier(tx: Transaction, command: commands.AssignDossier, caller: Caller,
                   now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.ASSIGN))
    if not Directory.within(tx).holds(command.assignee, Role.SPECIALIST, dossier.handling_agency_code):
        raise FailedPrecondition("assignee", f"{command.assignee} is not a specialist of "
                                             f"{dossier.handling_agency_code}, which handles dossier {dossier.code}")
    previous = dossier.assignee
    dossier.assign(command.assignee, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierAssigned(
        dossier=messages.dossier_ref(dossier, now), assignee=dossier.assignee, previous_assignee=previous,
        actor=caller.actor))
    return dossier


def transfer_dossier(tx: Transaction, catalogue: CatalogueReader, command: commands.TransferDossier,
                     caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.TRANSFER))
    units = catalogue.units
    target_unit = units.unit_of_agency(command.to_agency_code)
    at_target = catalogue.entry(dossier.procedure_code, target_unit.code) if target_unit else None
    tier = check_transfer_target(at_target, dossier, command.to_agency_code, units)
    previous = dossier.handling_agency_code
    dossier.transfer(command.to_agency_code, tier, command.reason, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierTransferred(
        dossier=messages.dossier_ref(dossier, now), from_agency_code=previous,
        to_agency_code=command.to_agency_code, reason=command.reason, actor=caller.actor))
    return dossier


def approve_dossier(tx: Transaction, command: commands.ApproveDossier, caller: Caller,
                    now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.APPROVE))
    dossier.approve(command.note, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierApproved(dossier=messages.dossier_ref(dossier, now)))
    return dossier


def reject_dossier(tx: Transaction, command: commands.RejectDossier, caller: Caller,
                   now: datetime) -> Dossier:
    """Before acceptance the receiving unit refuses (Mẫu 03); after it, the handling agency's leader."""
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, command.code)
    at_reception = not dossier.is_accepted
    check_action(dossier, caller, Action.REFUSE if at_reception else Action.REJECT)
    dossier.reject(command.reason, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierRejected(
        dossier=messages.dossier_ref(dossier, now), reason=command.reason,
        payment_method=procedures_pb2.PaymentMethod.Value(dossier.payment_method.value),
        at_reception=at_reception))
    return dossier


def issue_result(tx: Transaction, command: commands.IssueResult, caller: Caller,
                 now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.ISSUE_RESULT))
    dossier.issue_result(command.result_document_number, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierResultIssued(
        dossier=messages.dossier_ref(dossier, now), result_document_number=dossier.result_document_number,
        delivery=messages.delivery_message(dossier.delivery), timeliness=_timeliness(dossier)))
    if dossier.status is DossierStatus.COMPLETED:
        _emit_completed(tx, dossier, now)
    return dossier


def issue_apology(tx: Transaction, command: commands.IssueApology, caller: Caller,
                  now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.APOLOGISE))
    new_due = _date(command.new_due_date, "new_due_date")
    apology = dossier.apologise(command.reason, new_due, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierApologyIssued(
        dossier=messages.dossier_ref(dossier, now), responsible_agency_code=apology.agency_code,
        reason=apology.reason, previous_due_date=apology.previous_due_date.isoformat(),
        new_due_date=apology.new_due_date.isoformat(), reappointment=len(dossier.apologies),
        signed_by=apology.actor, letter_number=apology.letter_number))
    return dossier


def extend_dossier(tx: Transaction, catalogue: CatalogueReader, command: commands.ExtendDossier,
                   caller: Caller, now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.EXTEND))
    allowed = _procedure_of(catalogue, dossier).extension_working_days
    extension = dossier.extend(command.working_days, command.reason, allowed, now, caller.actor)
    dossiers.save(dossier)
    _emit(tx, dossier, now, events_pb2.DossierExtended(
        dossier=messages.dossier_ref(dossier, now), previous_due_date=extension.previous_due_date.isoformat(),
        new_due_date=extension.new_due_date.isoformat(), reason=extension.reason, actor=caller.actor))
    return dossier


def collect_result(tx: Transaction, command: commands.CollectResult, caller: Caller,
                   now: datetime) -> Dossier:
    dossiers = DossierRepository.within(tx)
    dossier = _load(dossiers, command.code, caller, action_checker(Action.COLLECT))
    dossier.collect(now, caller.actor)
    dossiers.save(dossier)
    _emit_completed(tx, dossier, now)
    return dossier


def configure_desk(tx: Transaction, catalogue: CatalogueReader, command: commands.ConfigureDesk,
                   caller: Caller) -> Desk:
    if caller.kind is not CallerKind.OPERATOR:
        raise PermissionDenied("caller", "only an operator configures desks")
    desk = check_desk(Desk(command.agency_code.strip(), command.name.strip(), command.unit_code.strip(),
                           tuple(a.strip() for a in command.accepts)), catalogue.units)
    Directory.within(tx).put_desk(desk)
    return desk


# -- events from other services --------------------------------------------------------------------
def record_citizen(tx: Transaction, payload: CitizenRegistered, event: CloudEvent) -> None:
    CitizenRegistry.within(tx).record(payload.citizen_id, payload.full_name, _event_time(event))


def record_civil_servant(tx: Transaction, payload: CivilServantRegistered, event: CloudEvent) -> None:
    Directory.within(tx).record_civil_servant(payload.civil_servant_id,
                                              appointments_from_claims(list(payload.appointments)))


def record_payment(tx: Transaction, payload: PaymentSettled, event: CloudEvent) -> None:
    """The fee is paid; the dossier waits for the receiving unit, which alone accepts it.
    A payment for a dossier we do not have raises NotFound: retried, then parked in the dead-letter
    queue for someone to look at, never silently dropped. Same for deliveries."""
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, payload.dossier_code)
    if dossier.status is DossierStatus.REJECTED or not dossier.record_payment(_event_time(event), PAYMENTS_ACTOR):
        # A second notice of the same payment, or refused before the money arrived: payments
        # refunds on DossierRejected, nothing to change here.
        log.info("payment %s for dossier %s ignored: dossier is %s", payload.bill_id, dossier.code,
                 dossier.status.value)
        return
    dossiers.save(dossier)
    at = _event_time(event)
    _emit(tx, dossier, at, events_pb2.DossierPaymentRecorded(dossier=messages.dossier_ref(dossier, at),
                                                            bill_id=payload.bill_id))


def complete_delivered_dossier(tx: Transaction, payload: ShipmentDelivered, event: CloudEvent) -> None:
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, payload.dossier_code)
    if dossier.status is DossierStatus.COMPLETED:
        log.info("delivery of dossier %s reported again; already completed", dossier.code)
        return
    at = _parse_time(payload.delivered_at) or _event_time(event)
    dossier.complete_delivery(at, POSTAL_ACTOR)
    dossiers.save(dossier)
    _emit_completed(tx, dossier, at)


def return_result_to_desk(tx: Transaction, payload: ShipmentDeliveryFailed, event: CloudEvent) -> None:
    """The post gave up: the result waits at the receiving desk and the applicant is told so."""
    dossiers = DossierRepository.within(tx)
    dossier = _require(dossiers, payload.dossier_code)
    at = _parse_time(payload.failed_at) or _event_time(event)
    if not dossier.return_to_desk(payload.reason, at, POSTAL_ACTOR):
        log.info("failed delivery of dossier %s reported again; already awaiting pickup", dossier.code)
        return
    dossiers.save(dossier)
    _emit(tx, dossier, at, events_pb2.DossierReturnedToDesk(
        dossier=messages.dossier_ref(dossier, at), shipment_id=payload.shipment_id, reason=payload.reason))


EVENT_HANDLERS: dict[str, EventHandler] = {
    event_type(CitizenRegistered): record_citizen,
    event_type(CivilServantRegistered): record_civil_servant,
    event_type(PaymentSettled): record_payment,
    event_type(ShipmentDelivered): complete_delivered_dossier,
    event_type(ShipmentDeliveryFailed): return_result_to_desk,
}


class EventStore(Protocol):
    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool: ...


def handle_event(store: EventStore, event: CloudEvent) -> bool:
    """Process one incoming event exactly once; False if it was a duplicate or not ours."""
    return store.handle_event(event, EVENT_HANDLERS)


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


def _procedure_of(catalogue: CatalogueReader, dossier: Dossier) -> Procedure:
    procedure = catalogue.procedure(dossier.procedure_code)
    if procedure is None:
        raise FailedPrecondition("procedure_code",
                                 f"procedure {dossier.procedure_code} is no longer in the catalogue")
    return procedure


dossiers_completed = telemetry.meter("egov.procedures").create_counter(
    "egov.dossiers.completed", unit="{dossier}", description="completed dossiers by agency, on time or late")


def _emit(tx: Transaction, dossier: Dossier, at: datetime, payload: Message) -> None:
    tx.emit(payload, subject=dossier.code, correlation_id=dossier.code)


def _emit_completed(tx: Transaction, dossier: Dossier, at: datetime) -> None:
    timeliness = _timeliness(dossier)
    _emit(tx, dossier, at, events_pb2.DossierCompleted(dossier=messages.dossier_ref(dossier, at),
                                                   timeliness=timeliness,
                                                   completed_at=messages.rfc3339(dossier.completed_at),
                                                   due_date=_due_date(dossier)))
    # Decision 766/QĐ-TTg scores the share settled on time per agency. Counted as the completion is
    # written: a transaction retried after a write conflict may count once more (metrics, not records).
    dossiers_completed.add(1, {"agency_code": dossier.handling_agency_code,
                               "timeliness": procedures_pb2.Timeliness.Name(timeliness)})


def _due_date(dossier: Dossier) -> str:
    return dossier.due_date.isoformat() if dossier.due_date else ""


def _timeliness(dossier: Dossier) -> procedures_pb2.Timeliness.ValueType:
    return procedures_pb2.Timeliness.Value(dossier.timeliness.value)


def _channel(dossier: Dossier) -> caller_pb2.Channel.ValueType:
    return caller_pb2.Channel.Value(dossier.channel.value)


def _event_time(event: CloudEvent) -> datetime:
    return event.time.ToDatetime(tzinfo=UTC)


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
