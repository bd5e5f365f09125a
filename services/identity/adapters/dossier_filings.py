"""Which citizen has filed a dossier with which agency, as identity learns it from DossierSubmitted:
the scope of a civil servant's reads (services/identity/domain/access.py). One document per pair."""

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

FILINGS = "dossier_filings"


class DossierFilings:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    def record(self, citizen_id: str, agency_code: str, dossier_code: str, at: datetime) -> None:
        self._db[FILINGS].update_one({"_id": f"{citizen_id}|{agency_code}"}, {
            "$setOnInsert": {"citizen_id": citizen_id, "agency_code": agency_code, "first_dossier": dossier_code,
                             "since": at}}, upsert=True, session=self._session)

    def has_filed_with(self, citizen_id: str, agency_code: str) -> bool:
        return self._db[FILINGS].count_documents({"_id": f"{citizen_id}|{agency_code}"}, limit=1,
                                                 session=self._session) > 0
