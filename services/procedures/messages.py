"""Domain objects to and from the proto messages of the procedures contract.

Enum members of the domain carry the proto value names, so a value crosses by name and a proto enum
added later cannot silently map to the wrong member.
"""

from datetime import date, datetime

from egov.common.v1 import caller_pb2
from egov.procedures.v1 import events_pb2, procedures_pb2
from services.common.errors import InvalidArgument
from services.procedures.domain.applicants import Applicant
from services.procedures.domain.application import VIETNAM_TIME, Delivery
from services.procedures.domain.dossier import Dossier, DossierStatus, Slip, SlipForm
from services.procedures.domain.procedure import ApplicantKind


def rfc3339(moment: datetime | None) -> str:
    """Times shown in Vietnam's offset: what the applicant and the desk read on their clocks."""
    return moment.astimezone(VIETNAM_TIME).isoformat(timespec="seconds") if moment else ""


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


_APPLICANT_KIND = {ApplicantKind.CITIZEN: procedures_pb2.APPLICANT_KIND_CITIZEN,
                   ApplicantKind.FOREIGNER: procedures_pb2.APPLICANT_KIND_FOREIGNER,
                   ApplicantKind.ORGANISATION: procedures_pb2.APPLICANT_KIND_ORGANISATION}
_SLIP_FORM = {SlipForm.RECEIPT: procedures_pb2.SLIP_FORM_RECEIPT,
              SlipForm.SUPPLEMENT: procedures_pb2.SLIP_FORM_SUPPLEMENT,
              SlipForm.REFUSAL: procedures_pb2.SLIP_FORM_REFUSAL,
              SlipForm.APOLOGY: procedures_pb2.SLIP_FORM_APOLOGY}


# -- requests to the domain (the reads'; dossier commands are translated in translation.py) ----------
def slip_form_from(value: procedures_pb2.SlipForm.ValueType) -> SlipForm:
    form = next((k for k, v in _SLIP_FORM.items() if v == value), None)
    if form is None:
        raise InvalidArgument("form", "choose SLIP_FORM_RECEIPT, SLIP_FORM_SUPPLEMENT, SLIP_FORM_REFUSAL or "
                                      "SLIP_FORM_APOLOGY")
    return form


def status_from(value: procedures_pb2.DossierStatus.ValueType) -> DossierStatus | None:
    return None if value == 0 else DossierStatus(procedures_pb2.DossierStatus.Name(value))


# -- domain to responses and events --------------------------------------------------------------
def delivery_message(delivery: Delivery) -> procedures_pb2.Delivery:
    message = procedures_pb2.Delivery(
        method=procedures_pb2.DeliveryMethod.Value(delivery.method.value),
        recipient_name=delivery.recipient_name, recipient_phone=delivery.recipient_phone)
    if delivery.address is not None:
        a = delivery.address
        message.address.CopyFrom(caller_pb2.Address(street=a.street, commune=a.commune, district=a.district,
                                                     province=a.province))
    return message


def applicant_message(applicant: Applicant) -> procedures_pb2.Applicant:
    return procedures_pb2.Applicant(
        kind=_APPLICANT_KIND[applicant.kind], id_number=applicant.id_number, full_name=applicant.full_name,
        birth_date=applicant.birth_date, nationality=applicant.nationality,
        representative_id=applicant.representative_id, phone=applicant.phone, email=applicant.email,
        verified=applicant.verified.value)


def dossier_message(dossier: Dossier) -> procedures_pb2.Dossier:
    message = procedures_pb2.Dossier(
        code=dossier.code,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        agency_code=dossier.agency_code,
        applicant_citizen_id=dossier.applicant_citizen_id,
        status=procedures_pb2.DossierStatus.Value(dossier.status.value),
        channel=caller_pb2.Channel.Value(dossier.channel.value),
        payment_method=procedures_pb2.PaymentMethod.Value(dossier.payment_method.value),
        delivery=delivery_message(dossier.delivery),
        fee_vnd=dossier.fee_vnd,
        documents=[procedures_pb2.SubmittedDocument(document_code=d.document_code, file_name=d.file_name,
                                                    sha256=d.sha256, size_bytes=d.size_bytes)
                   for d in dossier.documents],
        submitted_at=rfc3339(dossier.submitted_at),
        accepted_at=rfc3339(dossier.accepted_at),
        due_date=_day(dossier.due_date),
        paused_working_days=dossier.paused_working_days,
        result_issued_at=rfc3339(dossier.result_issued_at),
        completed_at=rfc3339(dossier.completed_at),
        timeliness=procedures_pb2.Timeliness.Value(dossier.timeliness.value),
        history=[procedures_pb2.HistoryEntry(at=rfc3339(h.at),
                                             status=procedures_pb2.DossierStatus.Value(h.status.value),
                                             actor=h.actor, note=h.note)
                 for h in dossier.history],
        result_document_number=dossier.result_document_number,
        rejection_reason=dossier.rejection_reason,
        receiving_agency_code=dossier.receiving_agency_code,
        competent_agency_code=dossier.competent_agency_code,
        handling_agency_code=dossier.handling_agency_code,
        unit_code=dossier.unit_code,
        applicant=applicant_message(dossier.applicant),
        fee_category=dossier.fee_category,
        fee_paid=dossier.fee_paid,
        assignee=dossier.assignee,
        current_step=dossier.current_step.name if dossier.current_step else "",
        step_due_date=_day(dossier.step_due()),
        deadline=dossier.deadline.describe(),
        transfers=[procedures_pb2.Transfer(at=rfc3339(t.at), actor=t.actor, from_agency_code=t.from_agency_code,
                                           to_agency_code=t.to_agency_code, reason=t.reason)
                   for t in dossier.transfers],
        assignments=[procedures_pb2.Assignment(at=rfc3339(a.at), actor=a.actor, assignee=a.assignee,
                                               previous=a.previous) for a in dossier.assignments],
        slips=[slip_ref(s) for s in dossier.slips],
        missing_document_codes=list(dossier.missing_document_codes),
        legal_due_date=_day(dossier.judged_due_date),
        reappointments=len(dossier.apologies),
        extended_working_days=sum(e.working_days for e in dossier.extensions),
    )
    if dossier.proxy is not None:
        p = dossier.proxy
        message.proxy.CopyFrom(procedures_pb2.Proxy(citizen_id=p.citizen_id, full_name=p.full_name))
        if p.authorisation is not None:
            a = p.authorisation
            message.proxy.authorisation.CopyFrom(procedures_pb2.Authorisation(
                number=a.number, file_name=a.file_name, sha256=a.sha256, size_bytes=a.size_bytes))
    return message


def slip_ref(slip: Slip) -> procedures_pb2.SlipRef:
    return procedures_pb2.SlipRef(form=_SLIP_FORM[slip.form], issued_at=rfc3339(slip.issued_at),
                                  issued_by=slip.issued_by)


def summary_message(dossier: Dossier, today: date) -> procedures_pb2.DossierSummary:
    return procedures_pb2.DossierSummary(
        code=dossier.code, procedure_code=dossier.procedure_code, procedure_name=dossier.procedure_name,
        status=procedures_pb2.DossierStatus.Value(dossier.status.value),
        receiving_agency_code=dossier.receiving_agency_code, competent_agency_code=dossier.competent_agency_code,
        handling_agency_code=dossier.handling_agency_code, applicant_name=dossier.applicant.full_name,
        assignee=dossier.assignee, submitted_at=rfc3339(dossier.submitted_at), due_date=_day(dossier.due_date),
        current_step=dossier.current_step.name if dossier.current_step else "",
        step_due_date=_day(dossier.step_due()), overdue=dossier.overdue_on(today),
        fee_category=dossier.fee_category)


def dossier_ref(dossier: Dossier, at: datetime) -> events_pb2.DossierRef:
    step = dossier.current_step
    return events_pb2.DossierRef(
        code=dossier.code, procedure_code=dossier.procedure_code, procedure_name=dossier.procedure_name,
        agency_code=dossier.agency_code, applicant_citizen_id=dossier.applicant_citizen_id,
        receiving_agency_code=dossier.receiving_agency_code, competent_agency_code=dossier.competent_agency_code,
        handling_agency_code=dossier.handling_agency_code, unit_code=dossier.unit_code,
        channel=caller_pb2.Channel.Value(dossier.channel.value), occurred_at=rfc3339(at),
        due_date=_day(dossier.due_date), current_step=step.name if step else "",
        step_due_date=_day(dossier.step_due()), applicant_kind=_APPLICANT_KIND[dossier.applicant.kind],
        status=procedures_pb2.DossierStatus.Value(dossier.status.value), units=list(dossier.units))
