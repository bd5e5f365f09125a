"""Domain objects to and from the proto messages of the procedures contract.

Enum members of the domain carry the proto value names, so a value crosses by name and a proto enum
added later cannot silently map to the wrong member.
"""

from collections.abc import Iterable
from datetime import datetime

from egov.common.v1 import caller_pb2
from egov.procedures.v1 import events_pb2, procedures_pb2
from services.common.errors import InvalidArgument
from services.procedures.domain.access import Filing
from services.procedures.domain.catalogue import Procedure
from services.procedures.domain.dossier import (
    VIETNAM_TIME,
    Address,
    Application,
    Delivery,
    DeliveryMethod,
    Dossier,
    PaymentMethod,
    SubmittedDocument,
)


def rfc3339(moment: datetime | None) -> str:
    """Times shown in Vietnam's offset: what the applicant and the desk read on their clocks."""
    return moment.astimezone(VIETNAM_TIME).isoformat(timespec="seconds") if moment else ""


# -- requests to the domain ----------------------------------------------------------------------
def application_from(request: procedures_pb2.SubmitDossierRequest, filing: Filing) -> Application:
    return Application(
        applicant_citizen_id=filing.applicant_citizen_id,
        channel=filing.channel,
        payment_method=_payment_method(request.payment_method),
        delivery=delivery_from(request.delivery),
        documents=documents_from(request.documents),
    )


def _payment_method(value: procedures_pb2.PaymentMethod.ValueType) -> PaymentMethod:
    try:
        return PaymentMethod(procedures_pb2.PaymentMethod.Name(value))
    except ValueError:
        raise InvalidArgument("payment_method", "choose online, at the counter, or no fee") from None


def delivery_from(message: procedures_pb2.Delivery) -> Delivery:
    try:
        method = DeliveryMethod(procedures_pb2.DeliveryMethod.Name(message.method))
    except ValueError:
        raise InvalidArgument("delivery.method", "choose pickup or post") from None
    address = None
    if message.HasField("address"):
        a = message.address
        if not (a.commune and a.district and a.province):
            raise InvalidArgument("delivery.address", "commune, district and province are required")
        address = Address(street=a.street, commune=a.commune, district=a.district, province=a.province)
    return Delivery(method=method, address=address, recipient_name=message.recipient_name,
                    recipient_phone=message.recipient_phone)


def documents_from(messages: Iterable[procedures_pb2.SubmittedDocument]) -> tuple[SubmittedDocument, ...]:
    return tuple(SubmittedDocument(document_code=m.document_code, file_name=m.file_name, sha256=m.sha256,
                                   size_bytes=m.size_bytes) for m in messages)


# -- domain to responses and events --------------------------------------------------------------
def procedure_message(procedure: Procedure) -> procedures_pb2.Procedure:
    return procedures_pb2.Procedure(
        code=procedure.code, name=procedure.name, agency_code=procedure.agency_code,
        agency_name=procedure.agency_name,
        agency_level=procedures_pb2.AgencyLevel.Value(procedure.agency_level.value),
        service_level=procedure.service_level, fee_vnd=procedure.fee_vnd,
        legal_deadline_working_days=procedure.legal_deadline_working_days,
        required_documents=[procedures_pb2.RequiredDocument(code=d.code, name=d.name, mandatory=d.mandatory)
                            for d in procedure.required_documents],
        field=procedure.field,
    )


def delivery_message(delivery: Delivery) -> procedures_pb2.Delivery:
    message = procedures_pb2.Delivery(
        method=procedures_pb2.DeliveryMethod.Value(delivery.method.value),
        recipient_name=delivery.recipient_name, recipient_phone=delivery.recipient_phone)
    if delivery.address is not None:
        a = delivery.address
        message.address.CopyFrom(caller_pb2.Address(street=a.street, commune=a.commune, district=a.district,
                                                     province=a.province))
    return message


def dossier_message(dossier: Dossier) -> procedures_pb2.Dossier:
    return procedures_pb2.Dossier(
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
        due_date=dossier.due_date.isoformat() if dossier.due_date else "",
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
    )


def dossier_ref(dossier: Dossier) -> events_pb2.DossierRef:
    return events_pb2.DossierRef(code=dossier.code, procedure_code=dossier.procedure_code,
                                 procedure_name=dossier.procedure_name, agency_code=dossier.agency_code,
                                 applicant_citizen_id=dossier.applicant_citizen_id)
