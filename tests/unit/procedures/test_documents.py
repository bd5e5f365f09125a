"""Dossiers to MongoDB documents and proto messages, and back: nothing is lost on the way."""

from datetime import date

import pytest

from egov.common.v1 import caller_pb2
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.errors import InvalidArgument
from services.procedures.adapters.repository import dossier_from_document, dossier_to_document
from services.procedures.domain.access import Filing
from services.procedures.domain.dossier import Channel, Delivery, DeliveryMethod, Dossier, SubmittedDocument
from services.procedures.messages import application_from, dossier_message
from tests.unit.procedures.factories import CITIZEN, application, in_progress, procedure, vn


def a_worked_dossier() -> Dossier:
    dossier = in_progress(vn(date(2027, 3, 1)))
    dossier.request_supplement(procedure(), "Thiếu ủy quyền", ("GUQ",), vn(date(2027, 3, 2)), "civil_servant:CB1")
    return dossier


def test_a_document_round_trip_keeps_every_field() -> None:
    dossier = a_worked_dossier()
    assert dossier_from_document(dossier_to_document(dossier)) == dossier
    pickup = in_progress(vn(date(2027, 3, 1)), app=application(delivery=Delivery(DeliveryMethod.PICKUP)))
    assert dossier_from_document(dossier_to_document(pickup)) == pickup


def test_the_proto_dossier_carries_dates_history_and_status() -> None:
    message = dossier_message(a_worked_dossier())
    assert message.status == pb.DOSSIER_STATUS_SUPPLEMENT_REQUESTED
    assert message.due_date == "2027-03-15"
    assert message.accepted_at == "2027-03-01T09:00:00+07:00"
    assert [h.status for h in message.history] == [pb.DOSSIER_STATUS_AWAITING_PAYMENT, pb.DOSSIER_STATUS_IN_PROGRESS,
                                                   pb.DOSSIER_STATUS_SUPPLEMENT_REQUESTED]
    assert message.delivery.address.commune == "Phú Hội"
    assert message.timeliness == pb.TIMELINESS_UNSPECIFIED


def request(**fields: object) -> pb.SubmitDossierRequest:
    base = pb.SubmitDossierRequest(
        procedure_code="2.000488", payment_method=pb.PAYMENT_METHOD_ONLINE,
        delivery=pb.Delivery(method=pb.DELIVERY_METHOD_PICKUP),
        documents=[pb.SubmittedDocument(document_code="TK01", file_name="tk01.pdf", sha256="ab" * 32,
                                        size_bytes=10)])
    for name, value in fields.items():
        if isinstance(value, int):
            setattr(base, name, value)
        else:
            getattr(base, name).CopyFrom(value)
    return base


def test_requests_become_applications() -> None:
    app = application_from(request(), Filing(CITIZEN, Channel.ONLINE))
    assert app.delivery.method is DeliveryMethod.PICKUP and app.delivery.address is None
    assert app.documents == (SubmittedDocument("TK01", "tk01.pdf", "ab" * 32, 10),)


@pytest.mark.parametrize(("fields", "field"), [
    ({"payment_method": pb.PAYMENT_METHOD_UNSPECIFIED}, "payment_method"),
    ({"delivery": pb.Delivery()}, "delivery.method"),
    ({"delivery": pb.Delivery(method=pb.DELIVERY_METHOD_POST, address=caller_pb2.Address(street="1 Lê Lợi"))},
     "delivery.address"),
])
def test_unspecified_choices_are_refused(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        application_from(request(**fields), Filing(CITIZEN, Channel.ONLINE))
    assert caught.value.field == field
