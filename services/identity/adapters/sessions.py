"""Session epochs per account in identity's MongoDB database (services/identity/domain/sessions.py).

One document per account whose sessions were ever revoked: `{_id: account, epoch, revoked_until}`.
Kept after the revocation has run out, because the epoch must never go back.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.identity.domain.sessions import Revocation

SESSIONS = "sessions"


def ensure_session_indexes(db: Database[Any]) -> None:
    db[SESSIONS].create_index("revoked_until", name="revoked_until")


class SessionStore:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._db = db
        self._session = session

    def epoch(self, account: str) -> int:
        doc = self._db[SESSIONS].find_one({"_id": account}, {"epoch": 1}, session=self._session)
        return int(doc["epoch"]) if doc else 0

    def revoke(self, account: str, until: datetime) -> int:
        """Raise the account's epoch; its tokens of earlier epochs are listed as revoked until `until`.
        The new epoch."""
        doc = self._db[SESSIONS].find_one_and_update(
            {"_id": account}, {"$inc": {"epoch": 1}, "$max": {"revoked_until": until}},
            upsert=True, return_document=ReturnDocument.AFTER, session=self._session)
        return int(doc["epoch"]) if doc else 1

    def revoked(self, now: datetime) -> list[Revocation]:
        return [Revocation(doc["_id"], int(doc["epoch"]), _aware(doc["revoked_until"]))
                for doc in self._db[SESSIONS].find({"revoked_until": {"$gt": now}}, session=self._session)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
