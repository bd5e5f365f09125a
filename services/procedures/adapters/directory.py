"""The procedures database beyond dossiers: configured desks, the roster of civil servants' roles (read
model of identity's CivilServantRegistered), and the work queue's filter."""

from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.common.mongo_store import Transaction
from services.common.roles import Appointment, Role
from services.procedures.domain.desks import Desk

DESKS = "desks"
ROSTER = "civil_servants"


class Directory:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    @classmethod
    def within(cls, tx: Transaction) -> "Directory":
        return tx.repository(cls)

    def desk(self, agency_code: str) -> Desk | None:
        doc = self._db[DESKS].find_one({"_id": agency_code}, session=self._session)
        if doc is None:
            return None
        return Desk(doc["_id"], doc["name"], doc["unit_code"], tuple(doc["accepts"]))

    def desk_for(self, competent_agency_code: str, unit_codes: tuple[str, ...]) -> Desk | None:
        """A configured desk receiving for the agency, the nearest to the implementing unit first."""
        found = [self.desk(doc["_id"]) for doc in self._db[DESKS].find(
            {"accepts": {"$in": [competent_agency_code, "*"]}}, {"_id": 1}, session=self._session)]
        desks = [d for d in found if d is not None]
        rank = {code: i for i, code in enumerate(unit_codes)}
        desks.sort(key=lambda d: (rank.get(d.unit_code, len(rank)), d.agency_code))
        return desks[0] if desks else None

    def desks(self) -> list[Desk]:
        return [Desk(doc["_id"], doc["name"], doc["unit_code"], tuple(doc["accepts"]))
                for doc in self._db[DESKS].find({}, session=self._session).sort("_id", 1)]

    def put_desk(self, desk: Desk) -> None:
        self._db[DESKS].replace_one({"_id": desk.agency_code},
                                    {"name": desk.name, "unit_code": desk.unit_code, "accepts": list(desk.accepts)},
                                    upsert=True, session=self._session)

    def record_civil_servant(self, civil_servant_id: str, appointments: tuple[Appointment, ...]) -> None:
        self._db[ROSTER].replace_one({"_id": civil_servant_id},
                                     {"appointments": [a.to_claim() for a in appointments]},
                                     upsert=True, session=self._session)

    def holds(self, civil_servant_id: str, role: Role, agency_code: str) -> bool:
        claim = Appointment(agency_code, role).to_claim()
        return self._db[ROSTER].find_one({"_id": civil_servant_id, "appointments": claim}, {"_id": 1},
                                         session=self._session) is not None

