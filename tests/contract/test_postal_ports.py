"""One contract per postal repository, held by the MongoDB adapter and its in-memory twin
(services/postal/fakes.py) alike: shipments and the spent callback nonces."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.postal.adapters.shipments import MongoNonceLedger, ShipmentRepository, ensure_indexes
from services.postal.domain.shipment import Address, Shipment, ShipmentOrder, ShipmentStatus
from services.postal.fakes import InMemoryNonceLedger, InMemoryShipments
from tests.contract.scratch import scratch_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ADDRESS = Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế")


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[Database[Any]]:
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        ensure_indexes(db)
        yield db


@pytest.fixture(params=["memory", "mongo"])
def shipments(request: pytest.FixtureRequest) -> ShipmentRepository:
    if request.param == "memory":
        return InMemoryShipments()  # type: ignore[return-value]
    return ShipmentRepository(request.getfixturevalue("database"))


@pytest.fixture(params=["memory", "mongo"])
def nonces(request: pytest.FixtureRequest) -> Iterator[MongoNonceLedger]:
    if request.param == "memory":
        yield InMemoryNonceLedger()  # type: ignore[misc]
        return
    database = request.getfixturevalue("database")
    with database.client.start_session() as session:
        yield MongoNonceLedger(database, session)


def shipment(n: int, tracking_number: str = "") -> Shipment:
    order = ShipmentOrder.for_dossier(f"000.00.01.H57-260302-{n:04d}", "046090001234", "Nguyễn Văn An",
                                      "0905123456", ADDRESS)
    return Shipment.booked(order, tracking_number or f"EB{n:09d}VN", "2026-03-02T09:30:00Z")


def test_a_shipment_is_found_by_id_tracking_number_and_dossier_and_saved_whole(
        shipments: ShipmentRepository) -> None:
    first = shipment(1)
    assert shipments.get(first.shipment_id) is None
    shipments.add(first)
    assert shipments.get(first.shipment_id) == first
    assert shipments.by_tracking_number(first.tracking_number) == first
    assert shipments.by_dossier_code(first.dossier_code) == first
    assert shipments.by_tracking_number("EB999999999VN") is None and shipments.by_dossier_code("X") is None
    first.advance(ShipmentStatus.DELIVERED, "2026-03-03T08:00:00Z", "Huế")
    assert shipments.get(first.shipment_id) != first           # what was read is a copy
    shipments.save(first)
    assert shipments.by_dossier_code(first.dossier_code) == first


def test_a_shipment_id_tracking_number_or_dossier_is_held_once(shipments: ShipmentRepository) -> None:
    shipments.add(shipment(1))
    with pytest.raises(DuplicateKeyError):
        shipments.add(shipment(1, "EB000000777VN"))          # the same dossier again
    with pytest.raises(DuplicateKeyError):
        shipments.add(shipment(2, "EB000000001VN"))          # another dossier, a tracking number in use
    shipments.save(shipment(3))                               # never added: saving stores nothing
    assert shipments.get(shipment(3).shipment_id) is None


def test_a_nonce_is_spent_once(nonces: MongoNonceLedger) -> None:
    assert nonces.spend("nonce-1", NOW)
    assert not nonces.spend("nonce-1", NOW)
    assert nonces.spend("nonce-2", NOW)
