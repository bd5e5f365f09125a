"""The database connection a command uses, opened on first use (so `--help` needs no database)."""

from typing import Any

import typer
from pymongo import MongoClient

from gateway.message_log_store import MongoLogStore
from gateway.registry_store import RegistryStore
from services.common.config import mongo_uri


class Context:
    def __init__(self, db: str) -> None:
        self.db = db
        self._client: MongoClient[dict[str, Any]] | None = None

    @property
    def client(self) -> MongoClient[dict[str, Any]]:
        if self._client is None:
            self._client = MongoClient(mongo_uri(), serverSelectionTimeoutMS=5000, tz_aware=True,
                                       appname="egov-gateway admin")
        return self._client

    @property
    def registry(self) -> RegistryStore:
        return RegistryStore(self.client, self.db)

    @property
    def log(self) -> MongoLogStore:
        return MongoLogStore(self.client, self.db)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def current(ctx: typer.Context) -> Context:
    found = ctx.find_object(Context)
    assert found is not None, "the egov-gateway callback sets the context"
    return found
