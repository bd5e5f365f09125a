"""The archive's nameko dependency: its index, built once at container setup."""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.archive.adapters.index import ArchiveIndex, archive_database
from services.common.config import mongo_uri


class Index(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000, tz_aware=True)
        self.index = ArchiveIndex(archive_database(self.client))
        self.index.ensure_indexes()   # at setup: before the stream entrypoint starts delivering

    def stop(self) -> None:
        self.client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> ArchiveIndex:
        return self.index


def indexed_through(container: Any) -> int | None:
    """Where the archive stream entrypoint resumes: the index's own position."""
    provider = next(d for d in container.dependencies if isinstance(d, Index))
    return provider.index.position()
