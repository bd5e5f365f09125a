"""The retry sweep's claim against a sender that was SIGKILLed inside its transaction, on the real
database: the transaction the dead sender left open holds its notification until the server ends
it. The claim must give way at once (a plain write would wait for that end, and the sweep with it:
SecantusDB ends such a transaction only when another transaction statement arrives, so the other
replica's sweep, and every notification behind it, waited for ever), and take the notification
once that transaction is gone."""

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson.binary import Binary, UuidRepresentation
from pymongo import MongoClient
from pymongo.database import Database

from services.common.mongo_store import Cause
from services.notifications.adapters import repository
from services.notifications.adapters.repository import NotificationRecords, ensure_indexes
from services.notifications.domain import notices
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import SEND_LEASE, Notification

CONTACT = Contact.register("046090001234", "Nguyễn Văn An", "0905123456", "an@example.vn",
                           [Channel.SMS, Channel.EMAIL])
# A crashed sender: marks the notification SENT inside a transaction, then dies before committing.
DIES_MID_TRANSACTION = """
import os, sys
from pymongo import MongoClient
db = MongoClient(sys.argv[1])[sys.argv[2]]
session = db.client.start_session()
session.start_transaction()
db.notifications.update_one({"_id": sys.argv[3]}, {"$set": {"status": "SENT"}}, session=session)
print(session.session_id["id"].hex(), flush=True)
os.kill(os.getpid(), 9)
"""


@pytest.fixture
def db(mongo_uri: str) -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=True)
    name = f"claims_{uuid.uuid4().hex[:8]}"
    ensure_indexes(client[name])
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


def _recorded_long_ago(db: Database[Any], channel: Channel) -> str:
    """A notification whose first-send lease ended long ago: due for the retry sweep."""
    notice = notices.citizen_welcome("Nguyễn Văn An")
    n = Notification.compose(notice, CONTACT, channel, event_id=str(uuid.uuid4()),
                             event_type="egov.identity.v1.CitizenRegistered",
                             now=datetime.now(UTC) - timedelta(minutes=10))
    NotificationRecords(db).add_notification(n, Cause(correlation_id="c", causation_id=n.event_id))
    return n.notification_id


def _claim_within(db: Database[Any], notification_id: str, seconds: float) -> list[repository.Claim | None]:
    """The claim's answer, or [] if it was still waiting after `seconds`."""
    answer: list[repository.Claim | None] = []
    now = datetime.now(UTC)
    worker = threading.Thread(
        target=lambda: answer.append(repository.claim(db, notification_id, now, now + SEND_LEASE)), daemon=True)
    worker.start()
    worker.join(seconds)
    return answer


def test_a_claim_gives_way_to_a_dead_senders_transaction_and_takes_the_notification_once_it_ends(
        db: Database[Any], mongo_uri: str) -> None:
    held = _recorded_long_ago(db, Channel.EMAIL)
    free = _recorded_long_ago(db, Channel.SMS)
    dead = subprocess.run([sys.executable, "-c", DIES_MID_TRANSACTION, mongo_uri, db.name, held],
                          capture_output=True, text=True, timeout=60)
    assert dead.returncode == -9, dead.stderr
    session_id = Binary.from_uuid(uuid.UUID(hex=dead.stdout.strip()), UuidRepresentation.STANDARD)

    assert _claim_within(db, held, 30) == [None], "the claim waited on the dead sender's transaction"
    taken = _claim_within(db, free, 30)
    assert taken and taken[0] is not None and taken[0].attempt == 2, "the sweep could not go past the held one"

    db.client.admin.command("killSessions", [{"id": session_id}])   # what the server's reaper does, later
    claimed = _claim_within(db, held, 30)
    assert claimed and claimed[0] is not None and claimed[0].notification.notification_id == held
    assert claimed[0].attempt == 2
    assert db.notifications.find_one({"_id": held})["status"] == "PENDING"   # the dead one's SENT never was
    assert _claim_within(db, held, 30) == [None]   # leased now: nobody else takes it
