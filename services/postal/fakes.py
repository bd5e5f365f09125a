"""In-memory twins of the postal repositories (adapters/shipments.py), with the MongoDB adapters'
rules: a shipment id, tracking number or dossier code used twice raises DuplicateKeyError (the
unique indexes), what is read is a copy, a nonce is spent once. tests/contract/test_postal_ports.py
holds each twin and its adapter to the same contract; tests/unit/postal/test_handlers.py runs the
service layer on them."""

import copy
from collections.abc import Callable
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.common.memory_store import InMemoryStore
from services.postal.adapters.shipments import MongoNonceLedger, ShipmentRepository
from services.postal.domain.shipment import Shipment


class InMemoryShipments:
    def __init__(self) -> None:
        self.shipments: dict[str, Shipment] = {}

    def get(self, shipment_id: str) -> Shipment | None:
        return copy.deepcopy(self.shipments.get(shipment_id))

    def by_tracking_number(self, tracking_number: str) -> Shipment | None:
        return self._one(lambda s: s.tracking_number == tracking_number)

    def by_dossier_code(self, dossier_code: str) -> Shipment | None:
        return self._one(lambda s: s.dossier_code == dossier_code)

    def add(self, shipment: Shipment) -> None:
        for held in self.shipments.values():
            if shipment.shipment_id == held.shipment_id or shipment.tracking_number == held.tracking_number \
                    or shipment.dossier_code == held.dossier_code:
                raise DuplicateKeyError(f"shipment {shipment.shipment_id} clashes with {held.shipment_id}")
        self.shipments[shipment.shipment_id] = copy.deepcopy(shipment)

    def save(self, shipment: Shipment) -> None:
        if shipment.shipment_id in self.shipments:      # replace_one without upsert
            self.shipments[shipment.shipment_id] = copy.deepcopy(shipment)

    def _one(self, match: Callable[[Shipment], bool]) -> Shipment | None:
        return next((copy.deepcopy(s) for s in self.shipments.values() if match(s)), None)


class InMemoryNonceLedger:
    def __init__(self) -> None:
        self.spent: dict[str, datetime] = {}

    def spend(self, nonce: str, at: datetime) -> bool:
        if nonce in self.spent:
            return False
        self.spent[nonce] = at
        return True


def in_memory_store() -> InMemoryStore:
    """The postal service's store with every repository in memory."""
    return InMemoryStore("postal", {ShipmentRepository: InMemoryShipments(), MongoNonceLedger: InMemoryNonceLedger()})
