"""The registry snapshot every call reads, kept fresh by one thread without a restart.

Calls read `current()`, a plain attribute holding an immutable gateway.members.Registry: no lock,
no database round trip on the call path. The refresher polls the version counter every
`poll_seconds` (a find by _id), reloads the whole registry when it moved, swaps the reference, then
reports the version it serves in its heartbeat. The admin command waits for that report, so a
change it confirms is in force for the next call.

Until the first load succeeds `loaded` is False and agency calls are refused UNAVAILABLE; a database
outage later keeps the last snapshot (refusing every agency because the database blinked would be
worse than serving rights that are a few seconds old) and is logged.
"""

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from gateway.members import Registry

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_SECONDS = 1.0


class RegistrySource(Protocol):
    def version(self) -> int: ...
    def load(self) -> Registry: ...
    def heartbeat(self, instance: str, loaded_version: int) -> None: ...
    def forget(self, instance: str) -> None: ...


class FixedRegistry:
    """A registry that never changes unless a test replaces it: no database."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()

    def version(self) -> int:
        return self.registry.version

    def load(self) -> Registry:
        return self.registry

    def heartbeat(self, instance: str, loaded_version: int) -> None:
        pass

    def forget(self, instance: str) -> None:
        pass


class RegistryCache:
    def __init__(self, source: RegistrySource, instance: str, poll_seconds: float = 0.5,
                 on_change: Callable[[Registry], None] | None = None) -> None:
        self._source = source
        self._instance = instance
        self._poll = poll_seconds
        self.on_change = on_change
        self._current = Registry(version=-1)
        self.loaded = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-registry", daemon=True)

    def current(self) -> Registry:
        return self._current

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self._source.forget(self._instance)
        except Exception as exc:   # the heartbeat simply ages out
            log.warning("could not remove this gateway's heartbeat: %s", exc)

    def refresh(self) -> bool:
        """Reload if the version moved; True if the registry could be read."""
        try:
            if not self.loaded or self._source.version() != self._current.version:
                registry = self._source.load()
                self._swap(registry)
            return True
        except Exception as exc:
            log.warning("cannot read the member registry (serving version %s): %s", self._current.version, exc)
            return False

    def _swap(self, registry: Registry) -> None:
        previous, self._current = self._current, registry
        self.loaded = True
        log.info("member registry loaded", extra={"fields": {
            "version": registry.version, "members": len(registry.members), "subsystems": len(registry.subsystems),
            "grants": len(registry.grants), "maintenance": registry.maintenance}})
        if self.on_change is not None and (previous.maintenance != registry.maintenance or previous.version < 0):
            self.on_change(registry)
        self._beat()

    def _beat(self) -> None:
        try:
            self._source.heartbeat(self._instance, self._current.version)
        except Exception as exc:
            log.warning("cannot write this gateway's heartbeat: %s", exc)

    def _run(self) -> None:
        since_beat = 0.0
        while not self._stopping.wait(self._poll):
            before = self._current.version
            self.refresh()
            since_beat += self._poll
            if since_beat >= HEARTBEAT_EVERY_SECONDS and self._current.version == before:
                self._beat()
                since_beat = 0.0
