"""One-time code verifications and rate-limit counters in identity's MongoDB database.

Both expire by themselves (TTL indexes on `expires_at`): a spent or stale verification and a past
window's counter are of no use to anyone.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.identity.domain.verification import MAX_CODE_ATTEMPTS, Purpose, Verification

VERIFICATIONS = "verifications"
COUNTERS = "rate_counters"


def ensure_verification_indexes(db: Database[Any]) -> None:
    db[VERIFICATIONS].create_index("expires_at", name="expiry", expireAfterSeconds=0)
    db[COUNTERS].create_index("expires_at", name="expiry", expireAfterSeconds=0)


class VerificationStore:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    def add(self, verification: Verification) -> None:
        self._db[VERIFICATIONS].insert_one({
            "_id": verification.verification_id, "purpose": verification.purpose.value,
            "citizen_id": verification.citizen_id, "full_name": verification.full_name,
            "birth_date": verification.birth_date, "code_digest": verification.code_digest,
            "salt": verification.salt, "expires_at": verification.expires_at,
            "attempts": verification.attempts, "used": verification.used,
        }, session=self._session)

    def get(self, verification_id: str) -> Verification | None:
        doc = self._db[VERIFICATIONS].find_one({"_id": verification_id}, session=self._session)
        if doc is None:
            return None
        return Verification(verification_id=doc["_id"], purpose=Purpose(doc["purpose"]),
                            citizen_id=doc["citizen_id"], full_name=doc["full_name"], birth_date=doc["birth_date"],
                            code_digest=doc["code_digest"], salt=doc["salt"], expires_at=_aware(doc["expires_at"]),
                            attempts=int(doc["attempts"]), used=bool(doc["used"]))

    def count_attempt(self, verification_id: str) -> None:
        """A wrong try: the verification is spent after MAX_CODE_ATTEMPTS of them."""
        self._db[VERIFICATIONS].update_one({"_id": verification_id}, {"$inc": {"attempts": 1}},
                                           session=self._session)

    def spend(self, verification_id: str) -> bool:
        """Mark it used; False if it was already used or spent (by a concurrent request)."""
        result = self._db[VERIFICATIONS].update_one(
            {"_id": verification_id, "used": False, "attempts": {"$lt": MAX_CODE_ATTEMPTS}},
            {"$set": {"used": True}}, session=self._session)
        return result.modified_count == 1


class Counters:
    def __init__(self, db: Database[Any]) -> None:
        self._db = db

    def hit(self, counter_id: str, expires_at: datetime) -> int:
        """Count one more in this window; the count including it."""
        doc = self._db[COUNTERS].find_one_and_update(
            {"_id": counter_id}, {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires_at}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return int(doc["count"]) if doc else 1


def _aware(moment: datetime) -> datetime:
    """pymongo hands back naive UTC datetimes unless the client is tz-aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
