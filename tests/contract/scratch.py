"""A scratch MongoDB database for one contract test: a fresh name on the suite's server, dropped
after the test, so the MongoDB side of every port starts empty as its in-memory twin does."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database


@contextmanager
def scratch_database(mongo_uri: str, tz_aware: bool = True) -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=tz_aware)
    name = f"contract_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()
