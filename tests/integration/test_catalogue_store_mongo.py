"""The catalogue store contract on MongoDB (SecantusDB here): the same tests as the in-memory store."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from services.procedures.adapters.catalogue_store import MongoCatalogueStore
from tests.unit.procedures.catalogue_store_contract import CatalogueStoreContract


@pytest.fixture(scope="module")
def mongo(mongo_uri: str) -> Iterator[MongoClient[Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=True)    # the session's SecantusDB (conftest)
    try:
        yield client
    finally:
        client.close()


class TestMongoCatalogueStore(CatalogueStoreContract):
    @pytest.fixture
    def store(self, mongo: MongoClient[Any]) -> MongoCatalogueStore:
        store = MongoCatalogueStore(mongo, f"catalogue_{uuid.uuid4().hex[:8]}")
        store.ensure_indexes()
        return store
