"""`PodProbes`: the probes of the pod (or container) a nameko service runs in, served by that process.

    GET /livez   200 while this process's event loop turns and its service container runs
    GET /readyz  200 when, in addition, this process reaches its MongoDB database and the broker,
                 and is not stopping

Both answer from a green thread of the service's own eventlet hub, so a hub that is blocked (a
call that froze the loop) answers nothing and the kubelet's timeout fails the probe: liveness checks
the process and its loop, never a dependency, so a broker or database outage does not restart every
pod; readiness takes the pod out of rotation instead. Each probe asks this process, unlike a call to
the service's `health` RPC, which any replica sharing the RPC queue could answer.

Served on EGOV_PROBE_ADDRESS (host:port, e.g. 0.0.0.0:8081); unset, no probe server runs (the local
stack, tests). The dependency checks are bounded by EGOV_PROBE_TIMEOUT_SECONDS.
"""

import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import eventlet
import eventlet.wsgi
from kombu import Connection
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import ConfigError, amqp_uri, database_name, env_float, mongo_uri

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"environment variable EGOV_PROBE_ADDRESS must be host:port, got {value!r}")
    return host, int(port)


class PodProbes(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        raw = os.environ.get("EGOV_PROBE_ADDRESS", "")
        self.address = parse_address(raw) if raw else None
        self.timeout = env_float("EGOV_PROBE_TIMEOUT_SECONDS", 3.0)
        self.stopping = False
        self._mongo: MongoClient[Any] | None = None
        self._socket: Any = None

    def start(self) -> None:
        if self.address is None:
            return
        self._mongo = MongoClient(mongo_uri(), serverSelectionTimeoutMS=int(self.timeout * 1000),
                                  connectTimeoutMS=int(self.timeout * 1000), appname=f"{self.service_name} probes")
        self._socket = eventlet.listen(self.address)
        self.container.spawn_managed_thread(self._serve, identifier="pod-probes")
        log.info("probes on http://%s:%d/livez and /readyz", *self.address)

    @property
    def service_name(self) -> str:
        return str(self.container.service_name)

    def stop(self) -> None:
        # Readiness fails from now on: the pod leaves the Service while the workers in flight finish.
        self.stopping = True

    def kill(self) -> None:
        self.stopping = True

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None

    def _serve(self) -> None:
        eventlet.wsgi.server(self._socket, self._app, log_output=False)

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/livez":
            status, body = self.liveness()
        elif path == "/readyz":
            status, body = self.readiness()
        else:
            status, body = "404 Not Found", {"error": f"no such probe {path}: /livez or /readyz"}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def liveness(self) -> tuple[str, dict[str, Any]]:
        # Answering at all proves the hub turns; a container that died makes the process exit anyway.
        return "200 OK", {"service": self.service_name, "live": True}

    def readiness(self) -> tuple[str, dict[str, Any]]:
        checks = {"stopping": "no" if not self.stopping else "yes", "database": self._database(),
                  "broker": self._broker()}
        ready = checks["stopping"] == "no" and checks["database"] == "ok" and checks["broker"] == "ok"
        return ("200 OK" if ready else "503 Service Unavailable"), {"service": self.service_name, "ready": ready,
                                                                    **checks}

    def _database(self) -> str:
        assert self._mongo is not None
        try:
            self._mongo[database_name(self.service_name)].command("ping")
        except Exception as exc:
            return f"unreachable: {exc.__class__.__name__}"
        return "ok"

    def _broker(self) -> str:
        try:
            with eventlet.Timeout(self.timeout), Connection(amqp_uri(), connect_timeout=self.timeout) as connection:
                connection.connect()
        except (Exception, eventlet.Timeout) as exc:
            return f"unreachable: {exc.__class__.__name__}"
        return "ok"
