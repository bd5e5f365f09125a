"""nameko dependency providers of supervision: each builds what it needs once, at container setup."""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import database_name, mongo_uri
from services.procedures.domain.units import UnitTree
from services.supervision.adapters.repository import ensure_indexes
from services.supervision.adapters.units import load_units
from services.supervision.queries import max_months


class SupervisionIndexes(DependencyProvider):  # type: ignore[misc]
    """Creates the supervision indexes at setup, before any event is handled. Workers get nothing."""

    def setup(self) -> None:
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000)
        try:
            ensure_indexes(client[database_name("supervision")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None


class Units(DependencyProvider):  # type: ignore[misc]
    """The units tree and the period limit, read and checked once at start-up; workers share them."""

    def setup(self) -> None:
        self.tree = load_units()
        max_months()                      # a bad EGOV_SUPERVISION_MAX_MONTHS stops the start-up

    def get_dependency(self, worker_ctx: WorkerContext) -> UnitTree:
        return self.tree
