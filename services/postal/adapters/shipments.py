"""Shipments and spent callback nonces in the postal database: documents in and out, no rules."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.postal.domain.shipment import Address, Shipment, ShipmentStatus, TrackingEvent

SHIPMENTS = "shipments"
NONCES = "callback_nonces"
# A nonce only has to be remembered while its timestamp would still be fresh; kept a while longer.
NONCE_RETENTION_SECONDS = 3600


def ensure_indexes(db: Database[Any]) -> None:
    db[SHIPMENTS].create_index([("tracking_number", ASCENDING)], unique=True)
    db[SHIPMENTS].create_index([("dossier_code", ASCENDING)], unique=True)
    db[NONCES].create_index([("at", ASCENDING)], expireAfterSeconds=NONCE_RETENTION_SECONDS)


class ShipmentRepository:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._shipments = db[SHIPMENTS]
        self._session = session

    def get(self, shipment_id: str) -> Shipment | None:
        return self._one({"_id": shipment_id})

    def by_tracking_number(self, tracking_number: str) -> Shipment | None:
        return self._one({"tracking_number": tracking_number})

    def by_dossier_code(self, dossier_code: str) -> Shipment | None:
        return self._one({"dossier_code": dossier_code})

    def add(self, shipment: Shipment) -> None:
        self._shipments.insert_one(to_document(shipment), session=self._session)

    def save(self, shipment: Shipment) -> None:
        document = to_document(shipment)
        self._shipments.replace_one({"_id": document["_id"]}, document, session=self._session)

    def _one(self, query: dict[str, Any]) -> Shipment | None:
        document = self._shipments.find_one(query, session=self._session)
        return None if document is None else from_document(document)


class MongoNonceLedger:
    def __init__(self, db: Database[Any], session: ClientSession) -> None:
        self._nonces = db[NONCES]
        self._session = session

    def spend(self, nonce: str, at: datetime) -> bool:
        try:
            self._nonces.insert_one({"_id": nonce, "at": at}, session=self._session)
        except DuplicateKeyError:
            return False
        return True


def to_document(shipment: Shipment) -> dict[str, Any]:
    document = asdict(shipment)
    document["_id"] = document.pop("shipment_id")
    return document


def from_document(document: dict[str, Any]) -> Shipment:
    return Shipment(
        shipment_id=document["_id"],
        dossier_code=document["dossier_code"],
        citizen_id=document["citizen_id"],
        tracking_number=document["tracking_number"],
        recipient_name=document["recipient_name"],
        recipient_phone=document["recipient_phone"],
        address=Address(**document["address"]),
        status=ShipmentStatus(document["status"]),
        tracking=[TrackingEvent(ShipmentStatus(t["status"]), t["at"], t["location"])
                  for t in document["tracking"]],
        delivered_at=document["delivered_at"],
    )
