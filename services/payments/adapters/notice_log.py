"""The payment notices accepted, keyed by nonce (`_id`, so unique): a nonce used again is found here."""

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.database import Database

NOTICES = "payment_notices"


class NoticeLog:
    def __init__(self, db: Database[Any], session: ClientSession | None = None) -> None:
        self._notices = db[NOTICES]
        self._session = session

    def digest_for(self, nonce: str) -> str | None:
        """The body digest of the notice that used this nonce, if any did."""
        doc = self._notices.find_one({"_id": nonce}, {"digest": 1}, session=self._session)
        return None if doc is None else str(doc["digest"])

    def record(self, nonce: str, digest: str, bill_id: str, transaction_id: str, at: datetime) -> None:
        self._notices.insert_one(
            {"_id": nonce, "digest": digest, "bill_id": bill_id, "transaction_id": transaction_id, "at": at},
            session=self._session,
        )
