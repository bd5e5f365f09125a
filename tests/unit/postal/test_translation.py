"""postal's translation at the entrypoint (services/postal/translation.py): a request becomes its
domain command with the values as sent, which the rules refuse naming the field in the words the
service has always used, and the shipment answered becomes its response."""

import pytest

from egov.postal.v1 import postal_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument
from services.common.protowire import parse
from services.postal import handlers
from services.postal import translation as tr
from services.postal.domain import commands
from services.postal.domain.shipment import Address, Shipment, ShipmentOrder, ShipmentStatus, TrackingEvent
from services.postal.fakes import in_memory_store

CODE = "000.00.01.H57-260302-0001"
CITIZEN = "046090001234"


def test_the_request_becomes_its_command_with_the_values_as_sent() -> None:
    assert tr.get_shipment_command(parse(pb.GetShipmentRequest, {"dossier_code": f" {CODE} "})) == \
        commands.GetShipment(dossier_code=f" {CODE} ")


@pytest.mark.parametrize("code, words", [("", "is required"), ("X" * 65, "at most 64 characters")])
def test_a_dossier_code_the_rules_refuse_is_refused_naming_the_field(code: str, words: str) -> None:
    command = tr.get_shipment_command(pb.GetShipmentRequest(dossier_code=code))
    with pytest.raises(InvalidArgument) as refused:
        handlers.get_shipment(in_memory_store(), command, Caller(CallerKind.CITIZEN, subject=CITIZEN))
    assert (refused.value.field, refused.value.message) == ("dossier_code", words)


def test_a_shipment_becomes_its_response() -> None:
    order = ShipmentOrder.for_dossier(CODE, CITIZEN, "Nguyễn Văn An", "0905123456",
                                      Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế"))
    shipment = Shipment.booked(order, "VN123456789", "2026-03-02T09:30:00Z")
    shipment.tracking.append(TrackingEvent(ShipmentStatus.PICKED_UP, "2026-03-02T10:00:00Z", "Bưu cục Huế"))
    answer = tr.get_shipment_response(shipment).shipment
    assert (answer.shipment_id, answer.dossier_code, answer.citizen_id, answer.tracking_number) == (
        shipment.shipment_id, CODE, CITIZEN, "VN123456789")
    assert answer.status == pb.SHIPMENT_STATUS_REQUESTED and answer.recipient_name == "Nguyễn Văn An"
    assert (answer.address.street, answer.address.commune, answer.address.district, answer.address.province) == (
        "12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế")
    assert [(t.status, t.at, t.location) for t in answer.tracking][-1] == (
        pb.SHIPMENT_STATUS_PICKED_UP, "2026-03-02T10:00:00Z", "Bưu cục Huế")
    assert answer.delivered_at == ""
