"""The catalogue in force inside each replica of the procedures service: loaded at start, replaced
whole when the version document moves (polled every EGOV_CATALOGUE_POLL_SECONDS, 1 s by default), so
an import is served by every replica without a restart. Each replica reports the version it serves
(`egov-catalogue status`, `egov-catalogue import --wait`).

Workers get the snapshot current when they start; a reload never changes it under a running worker.
"""

import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from services.common.config import database_name, env_float, mongo_uri
from services.procedures.adapters.catalogue_store import MongoCatalogueStore
from services.procedures.catalogue_admin import load_catalogue
from services.procedures.domain.catalogue import Catalogue

log = logging.getLogger(__name__)
HEARTBEAT_POLLS = 5      # a replica reports itself every this many polls, and at once after a reload


class CatalogueInForce(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.interval = env_float("EGOV_CATALOGUE_POLL_SECONDS", 1.0)
        self.client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000, tz_aware=True)
        self.store = MongoCatalogueStore(self.client, database_name("procedures"))
        self.store.ensure_indexes()
        self.reader_id = f"{socket.gethostname()}:{os.getpid()}"
        self.catalogue: Catalogue = load_catalogue(self.store)
        self._running = False
        log.info("catalogue revision %d (units %s): %d procedures", self.catalogue.version.revision,
                 self.catalogue.version.units_version or "none", len(self.catalogue))

    def start(self) -> None:
        self._running = True
        self._report()
        self.container.spawn_managed_thread(self._follow, identifier="catalogue-in-force")

    def stop(self) -> None:
        self._running = False

    def kill(self) -> None:
        self._running = False

    def get_dependency(self, worker_ctx: WorkerContext) -> Catalogue:
        return self.catalogue

    def _follow(self) -> None:
        polls = 0
        while self._running:
            time.sleep(self.interval)        # green under `nameko run`
            polls += 1
            try:
                if self.store.version() != self.catalogue.version:
                    self.catalogue = load_catalogue(self.store)
                    log.info("catalogue reloaded: revision %d (units %s), %d procedures",
                             self.catalogue.version.revision, self.catalogue.version.units_version, len(self.catalogue))
                    polls = 0
                if polls % HEARTBEAT_POLLS == 0:
                    self._report()
            except PyMongoError:
                log.warning("catalogue version not read; serving revision %d meanwhile",
                            self.catalogue.version.revision, exc_info=True)

    def _report(self) -> None:
        try:
            self.store.record_reader(self.reader_id, self.catalogue.version, datetime.now(UTC))
        except PyMongoError:
            log.warning("could not report the catalogue version served", exc_info=True)
