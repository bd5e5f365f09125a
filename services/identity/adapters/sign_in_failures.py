"""Failed sign-in counts in identity's MongoDB database (services/identity/domain/sign_in_limits.py),
shared by every identity replica; each expires an hour after its last failure."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from services.identity.domain.sign_in_limits import FORGET_AFTER, Counted

FAILURES = "sign_in_failures"


def ensure_failure_indexes(db: Database[Any]) -> None:
    db[FAILURES].create_index("expires_at", name="expiry", expireAfterSeconds=0)


class FailureStore:
    def __init__(self, db: Database[Any]) -> None:
        self._db = db

    def wait(self, keys: list[Counted], now: datetime) -> tuple[timedelta, bool]:
        """(the longest wait any key imposes, whether any key has failures at all)."""
        docs = {d["_id"]: d for d in self._db[FAILURES].find({"_id": {"$in": [k.key for k in keys]}})}
        longest = timedelta(0)
        for counted in keys:
            doc = docs.get(counted.key)
            if doc is not None and _aware(doc["expires_at"]) > now:
                longest = max(longest, counted.backoff.wait(int(doc["count"]), _aware(doc["last_failure"]), now))
        return longest, bool(docs)

    def record(self, keys: list[Counted], now: datetime) -> None:
        self._db[FAILURES].bulk_write([
            UpdateOne({"_id": k.key}, {"$inc": {"count": 1},
                                       "$set": {"last_failure": now, "expires_at": now + FORGET_AFTER}}, upsert=True)
            for k in keys], ordered=False)

    def clear(self, keys: list[str]) -> None:
        self._db[FAILURES].delete_many({"_id": {"$in": keys}})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
