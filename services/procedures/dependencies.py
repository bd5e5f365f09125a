"""nameko dependency providers of procedures: each does its work once, at container setup."""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import database_name, mongo_uri
from services.procedures.adapters.repository import ensure_indexes
from services.procedures.domain.catalogue import Catalogue, load_catalogue


class ProcedureCatalogue(DependencyProvider):  # type: ignore[misc]
    """The catalogue, read and checked once: a broken catalogue stops the start-up instead of
    failing submissions later."""

    def setup(self) -> None:
        self.catalogue = load_catalogue()

    def get_dependency(self, worker_ctx: WorkerContext) -> Catalogue:
        return self.catalogue


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
