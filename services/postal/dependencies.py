"""What the postal workers are given: the operator's client, the callback secret, the indexes.

Each is built once when the container starts, so a missing setting stops the service at start-up
with the variable's name rather than failing on the first request.
"""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import database_name, env, mongo_uri
from services.postal.adapters.postal_operator import PostalOperatorClient
from services.postal.adapters.shipments import ensure_indexes


class PostalOperator(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.client = PostalOperatorClient(
            env("EGOV_POSTAL_OPERATOR_URL", "http://127.0.0.1:8103"),
            callback_url=env("EGOV_POSTAL_CALLBACK_URL", "http://127.0.0.1:8000/callbacks/postal"),
        )

    def get_dependency(self, worker_ctx: WorkerContext) -> PostalOperatorClient:
        return self.client


class CallbackSecret(DependencyProvider):  # type: ignore[misc]
    """The secret the operator signs its tracking reports with; never defaulted."""

    def setup(self) -> None:
        self.secret = env("EGOV_POSTAL_SECRET")

    def get_dependency(self, worker_ctx: WorkerContext) -> str:
        return self.secret


class ShipmentIndexes(DependencyProvider):  # type: ignore[misc]
    """Creates the postal collections' indexes before any worker runs."""

    def start(self) -> None:
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000, tz_aware=True)
        try:
            ensure_indexes(client[database_name("postal")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None
