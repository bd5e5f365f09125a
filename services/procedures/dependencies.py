"""nameko dependency providers of procedures: each does its work once, at container setup."""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from pymongo import MongoClient

from services.common.config import ConfigError, database_name, env_float, mongo_uri
from services.procedures.adapters.lookup_guard import LookupGuard
from services.procedures.adapters.repository import ensure_indexes


class DossierIndexes(DependencyProvider):  # type: ignore[misc]
    """Creates the dossier indexes at setup, which every extension finishes before any starts, so no
    submission is served before the unique request-key index exists. Workers get nothing from it."""

    def setup(self) -> None:
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000)
        try:
            ensure_indexes(client[database_name("procedures")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None


class FailedLookupsSeen(DependencyProvider):  # type: ignore[misc]
    """One LookupGuard for every worker of this process (adapters/lookup_guard.py)."""

    def setup(self) -> None:
        self.guard = LookupGuard()

    def get_dependency(self, worker_ctx: WorkerContext) -> LookupGuard:
        return self.guard


class WatchLead(DependencyProvider):  # type: ignore[misc]
    """How many working days before a deadline the watch says it is due soon:
    EGOV_WATCH_LEAD_WORKING_DAYS (default 1), read at start-up."""

    def setup(self) -> None:
        lead = env_float("EGOV_WATCH_LEAD_WORKING_DAYS", 1)
        if lead < 0 or lead != int(lead):
            raise ConfigError("EGOV_WATCH_LEAD_WORKING_DAYS must be a whole number of working days, 0 or more")
        self.lead = int(lead)

    def get_dependency(self, worker_ctx: WorkerContext) -> int:
        return self.lead


class WatchTimer(Timer):  # type: ignore[misc]
    """nameko's timer with its interval from EGOV_WATCH_INTERVAL_SECONDS (default 300), read at start-up."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(interval=300.0, **kwargs)

    def setup(self) -> None:
        self.interval = env_float("EGOV_WATCH_INTERVAL_SECONDS", 300.0)
        if self.interval <= 0:
            raise ConfigError("EGOV_WATCH_INTERVAL_SECONDS must be positive")


watch_timer = WatchTimer.decorator
