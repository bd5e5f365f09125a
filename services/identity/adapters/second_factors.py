"""Civil servants' second factors and dismissals in identity's MongoDB database, in a collection of
their own (`civil_servant_credentials`, keyed by civil servant ID) beside the civil servant's record."""

from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.identity.domain.second_factor import SecondFactor

CREDENTIALS = "civil_servant_credentials"


class SecondFactors:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    def get(self, civil_servant_id: str) -> SecondFactor | None:
        doc = self._db[CREDENTIALS].find_one({"_id": civil_servant_id}, session=self._session)
        if doc is None:
            return None
        dismissed = doc.get("dismissed_at")
        return SecondFactor(doc["_id"], doc["totp_secret"], int(doc.get("totp_last_step", -1)),
                            dismissed.replace(tzinfo=UTC) if dismissed and not dismissed.tzinfo else dismissed)

    def enroll(self, factor: SecondFactor) -> None:
        """A new secret (the step history goes with the old one); a dismissal stays."""
        self._db[CREDENTIALS].update_one({"_id": factor.civil_servant_id}, {
            "$set": {"totp_secret": factor.secret, "totp_last_step": -1}}, upsert=True, session=self._session)

    def use_step(self, civil_servant_id: str, step: int) -> bool:
        """Record `step` as used; False if it (or a later one) was already: a replay."""
        result = self._db[CREDENTIALS].update_one(
            {"_id": civil_servant_id, "totp_last_step": {"$lt": step}}, {"$set": {"totp_last_step": step}},
            session=self._session)
        return result.modified_count == 1

    def dismiss(self, civil_servant_id: str, now: datetime) -> None:
        """Recorded once (the first dismissal's time is kept), with or without a factor enrolled."""
        self._db[CREDENTIALS].update_one({"_id": civil_servant_id}, {
            "$min": {"dismissed_at": now}, "$setOnInsert": {"totp_secret": "", "totp_last_step": -1}},
            upsert=True, session=self._session)
