"""Citizens, businesses and civil servants in identity's MongoDB database: documents in and out.

Each is keyed by its natural identifier (`_id`), so the database itself refuses a second account
for the same citizen ID, tax code or civil servant ID, even between two concurrent requests.
"""

from datetime import date
from typing import Any

from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.identity.domain.business import Business
from services.identity.domain.citizen import Citizen
from services.identity.domain.civil_servant import CivilServant, appointments_of
from services.identity.domain.contact import Address, NotificationChannel

CITIZENS = "citizens"
BUSINESSES = "businesses"
CIVIL_SERVANTS = "civil_servants"


class Duplicate(Exception):
    """A unique key is already taken; `key` is the document field ("_id" for the identifier)."""

    def __init__(self, collection: str, key: str) -> None:
        super().__init__(f"{collection}: duplicate {key}")
        self.collection = collection
        self.key = key


def ensure_indexes(db: Database[Any]) -> None:
    db[BUSINESSES].create_index([("owner_citizen_id", ASCENDING)], name="owner_citizen_id")
    db[CIVIL_SERVANTS].create_index([("agency_code", ASCENDING), ("role", ASCENDING)], name="agency_role")
    db[CIVIL_SERVANTS].create_index([("ecard_serial", ASCENDING)], name="ecard_serial_unique", unique=True,
                                    partialFilterExpression={"ecard_serial": {"$gt": ""}})


def _address_doc(address: Address) -> dict[str, str]:
    return {"street": address.street, "commune": address.commune, "district": address.district,
            "province": address.province}


def _address(doc: dict[str, Any]) -> Address:
    return Address(street=doc.get("street", ""), commune=doc["commune"], district=doc["district"],
                   province=doc["province"])


class IdentityRepository:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    def _insert(self, collection: str, doc: dict[str, Any]) -> None:
        try:
            self._db[collection].insert_one(doc, session=self._session)
        except DuplicateKeyError as exc:
            key_pattern = (exc.details or {}).get("keyPattern") or {"_id": 1}
            raise Duplicate(collection, next(iter(key_pattern))) from exc

    def _find(self, collection: str, key: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = self._db[collection].find_one({"_id": key}, session=self._session)
        return doc

    # -- citizens -------------------------------------------------------------------------------
    def add_citizen(self, citizen: Citizen) -> None:
        self._insert(CITIZENS, {
            "_id": citizen.citizen_id,
            "full_name": citizen.full_name,
            "birth_date": citizen.birth_date.isoformat(),
            "phone": citizen.phone,
            "email": citizen.email,
            "address": _address_doc(citizen.address),
            "notification_channels": [c.value for c in citizen.notification_channels],
            "password_hash": citizen.password_hash,
            "registered_at": citizen.registered_at,
        })

    def citizen(self, citizen_id: str) -> Citizen | None:
        doc = self._find(CITIZENS, citizen_id)
        if doc is None:
            return None
        return Citizen(
            citizen_id=doc["_id"],
            full_name=doc["full_name"],
            birth_date=date.fromisoformat(doc["birth_date"]),
            phone=doc["phone"],
            email=doc.get("email", ""),
            address=_address(doc["address"]),
            notification_channels=tuple(NotificationChannel(c) for c in doc["notification_channels"]),
            password_hash=doc["password_hash"],
            registered_at=doc["registered_at"],
        )

    def recover_citizen(self, citizen: Citizen) -> None:
        """The owner's contact details and password in place of whatever the account held."""
        self._db[CITIZENS].update_one({"_id": citizen.citizen_id}, {"$set": {
            "phone": citizen.phone, "email": citizen.email,
            "notification_channels": [c.value for c in citizen.notification_channels],
            "password_hash": citizen.password_hash,
        }}, session=self._session)

    # -- businesses -----------------------------------------------------------------------------
    def add_business(self, business: Business) -> None:
        self._insert(BUSINESSES, {"_id": business.tax_code, "name": business.name,
                                  "owner_citizen_id": business.owner_citizen_id,
                                  "address": _address_doc(business.address)})

    def business(self, tax_code: str) -> Business | None:
        doc = self._find(BUSINESSES, tax_code)
        if doc is None:
            return None
        return Business(tax_code=doc["_id"], name=doc["name"], owner_citizen_id=doc["owner_citizen_id"],
                        address=_address(doc["address"]))

    # -- civil servants -------------------------------------------------------------------------
    def add_civil_servant(self, civil_servant: CivilServant) -> None:
        self._insert(CIVIL_SERVANTS, {"_id": civil_servant.civil_servant_id,
                                      "full_name": civil_servant.full_name,
                                      "agency_code": civil_servant.agency_code, "role": civil_servant.role,
                                      "ecard_serial": civil_servant.ecard_serial,
                                      "password_hash": civil_servant.password_hash,
                                      "appointments": [a.to_claim() for a in civil_servant.appointments]})

    def civil_servant(self, civil_servant_id: str) -> CivilServant | None:
        doc = self._find(CIVIL_SERVANTS, civil_servant_id)
        if doc is None:
            return None
        return CivilServant(civil_servant_id=doc["_id"], full_name=doc["full_name"],
                            agency_code=doc["agency_code"], role=doc["role"],
                            ecard_serial=doc.get("ecard_serial", ""), password_hash=doc["password_hash"],
                            appointments=appointments_of(doc["agency_code"], doc["role"],
                                                         tuple(doc.get("appointments", ()))))
