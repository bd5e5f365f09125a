"""Translation between postal's contract (protos) and its domain: nothing else.

The entrypoints (service.py) use it once per call, both ways: a request becomes a domain command
(domain/commands.py) for the service layer, and the shipment the service layer returns becomes the
response. The events the service layer emits stay proto messages (the contract `tx.emit`
publishes). Nothing here checks a value: the rules refuse what they do not accept.
"""

from egov.common.v1.caller_pb2 import Address as AddressMessage
from egov.postal.v1 import postal_pb2 as pb
from services.postal.domain import commands
from services.postal.domain.shipment import Shipment, ShipmentStatus


# -- requests in: one command per RPC ------------------------------------------------------------------
def get_shipment_command(message: pb.GetShipmentRequest) -> commands.GetShipment:
    return commands.GetShipment(dossier_code=message.dossier_code)


# -- results out: one response per RPC ---------------------------------------------------------------
def status_value(status: ShipmentStatus) -> "pb.ShipmentStatus.ValueType":
    return pb.ShipmentStatus.Value(status.value)


def shipment_message(shipment: Shipment) -> pb.Shipment:
    address = shipment.address
    return pb.Shipment(
        shipment_id=shipment.shipment_id,
        dossier_code=shipment.dossier_code,
        citizen_id=shipment.citizen_id,
        tracking_number=shipment.tracking_number,
        status=status_value(shipment.status),
        address=AddressMessage(street=address.street, commune=address.commune, district=address.district,
                               province=address.province),
        recipient_name=shipment.recipient_name,
        tracking=[pb.TrackingEvent(status=status_value(t.status), at=t.at, location=t.location)
                  for t in shipment.tracking],
        delivered_at=shipment.delivered_at,
    )


def get_shipment_response(shipment: Shipment) -> pb.GetShipmentResponse:
    return pb.GetShipmentResponse(shipment=shipment_message(shipment))
