"""The whole platform on one machine as real processes: SecantusDB, the third-party simulators,
the nameko services and the gateway with its agency front. `make run`, the tests and the bench use it.

What runs is declared in `components()`, one `Component` per process (argv, environment, readiness,
stop tier); deploy/local/runner.py starts, stops and supervises them. Each stack gets its own
RabbitMQ virtual host and database server, so stacks never see each other's messages or data; in
both, each component connects as a user of its own (deploy/local/broker_vhost.py,
deploy/local/database_servers.py), as in compose and Kubernetes.
`replicas=2` runs every service and the gateway twice, as k8s/overlays/prod does: the replicas of a
service compete for the same queues (as the same users), each gateway writes its own message-log chain
(named after its process, as a pod's after its name), and the archive runs once (one ordered reader of
its stream).
`separate_databases=True` gives each component's database a SecantusDB server of its own
(`mongo-<component>`); one server is the default: tests and operator commands reach every database
through `mongo_uri`; with separate servers, `database_uri(component)`.
Nothing happens at import. The environment of every process (`env`) is the one table of settings a
local stack has, kept whole here rather than spread over the components.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deploy import registrations
from deploy.local.agency_front import front_env, haproxy_command
from deploy.local.broker_vhost import BrokerVhost
from deploy.local.database_servers import DatabaseServers
from deploy.local.ports import Ports, free_port, wait_for_port
from deploy.local.runner import Component, ProcessRunner
from deploy.users import database

__all__ = ["BIN", "ROOT", "SERVICES", "Ports", "Stack", "free_port", "wait_for_port"]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = {
    "identity": "services.identity.service:IdentityService",
    "procedures": "services.procedures.service:ProceduresService",
    "payments": "services.payments.service:PaymentsService",
    "postal": "services.postal.service:PostalService",
    "notifications": "services.notifications.service:NotificationsService",
    "supervision": "services.supervision.service:SupervisionService",
    "archive": "services.archive.service:ArchiveService",
}
SINGLE_REPLICA = ("archive",)   # as in k8s/overlays/prod: one ordered reader of the archive stream
SIMULATORS = ("population", "business_registry", "paygate", "postal_operator", "sms", "push", "mailbox")
IDENTITY_SUBSYSTEM = registrations.IDENTITY_SUBSYSTEM


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _base(name: str) -> str:
    """The service a process runs: `procedures-2` -> `procedures`."""
    base, _, index = name.rpartition("-")
    return base if index.isdigit() and base else name


class Stack:
    def __init__(self, workdir: Path, *, ports: Ports | None = None, broker_uri: str | None = None,
                 vhost: str | None = None, mongo_uri: str | None = None,
                 extra_env: dict[str, str] | None = None, replicas: int = 1,
                 separate_databases: bool = False) -> None:
        self.workdir = workdir
        self.replicas = replicas
        self._replica_ports: dict[str, int] = {}
        self.ports = ports or Ports()
        base = broker_uri or os.environ.get("EGOV_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
        self.vhost = vhost if vhost is not None else f"egov-{uuid.uuid4().hex[:8]}"
        parsed = urllib.parse.urlsplit(base)
        self.amqp_uri = parsed._replace(path="/" + urllib.parse.quote(self.vhost, safe="")).geturl()
        # None with an external database (`mongo_uri`): the stack then starts no server of its own.
        self.databases: DatabaseServers | None = None
        if mongo_uri:
            self.mongo_uri = mongo_uri
        else:
            self.databases = DatabaseServers(workdir, self.ports.mongo, separate_databases)
            self.mongo_uri = self.databases.root_uri()
        self.extra_env = dict(extra_env or {})
        self.logs = workdir / "logs"
        self.runner = ProcessRunner(ROOT, self.logs)
        self.paygate_secret = secrets.token_hex(16)
        self.postal_secret = secrets.token_hex(16)
        # Made in start(), removed in stop(); None without a vhost of its own (the admin URI as given).
        self.broker = BrokerVhost(self.amqp_uri, self.vhost) if self.vhost else None
        # False for a stack started without the gateway: identity then calls the simulators directly.
        self.outbound_through_gateway = True

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return self.runner.processes

    def mongo_uris(self) -> list[str]:
        """Every database server of the stack, as root (what a meter reading server counters needs)."""
        return [self.mongo_uri] if self.databases is None else self.databases.root_uris()

    def database_uri(self, component: str) -> str:
        """The root URI of the server holding the component's database."""
        return self.mongo_uri if self.databases is None else self.databases.root_uri(component)

    def database_server(self, component: str) -> str:
        """The name of the process holding the component's database: `mongo` or `mongo-<component>`."""
        return "mongo" if self.databases is None else self.databases.server_of(component)

    def pids(self) -> dict[str, int]:
        """The running processes' ids by name (what a meter or a profiler needs)."""
        return {name: proc.pid for name, proc in self.processes.items() if proc.poll() is None}

    # -- configuration --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        p = self.ports
        keys = self.workdir / "keys"
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos'}",
            "PYTHONUNBUFFERED": "1",
            "MALLOC_MMAP_THRESHOLD_": "131072",   # as in the image: see deploy/docker/Dockerfile
            "EGOV_AMQP_URI": self.amqp_uri,
            "EGOV_MONGO_URI": self.mongo_uri,
            "EGOV_TOKEN_PRIVATE_KEY_FILE": str(keys / "token-signing.pem"),
            "EGOV_TOKEN_PUBLIC_KEY_FILE": str(keys / "token-signing.pub.pem"),
            "EGOV_GATEWAY_ADDRESS": f"127.0.0.1:{p.gateway}",
            "EGOV_GATEWAY_AGENCY_ADDRESS": f"127.0.0.1:{p.agency}",
            "EGOV_GATEWAY_LOG_KEY_FILE": str(self.workdir / "certs" / "message-log.key"),
            "EGOV_GATEWAY_SEAL_KEY_FILE": str(self.workdir / "certs" / "gateway-seal.key"),
            # Signed callers (services/common/caller_proof.py). On one machine every process gets the
            # operator's key too, for the demo's operator commands; in a cluster only operators hold it.
            "EGOV_GATEWAY_CALLER_KEY_FILE": str(self.workdir / "certs" / "gateway-caller.key"),
            "EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE": str(self.workdir / "certs" / "gateway-caller.pub.pem"),
            "EGOV_OPERATOR_KEY_FILE": str(self.workdir / "certs" / "operator.key"),
            "EGOV_OPERATOR_PUBLIC_KEY_FILE": str(self.workdir / "certs" / "operator.pub.pem"),
            "EGOV_PAYGATE_URL": f"http://127.0.0.1:{p.paygate}",
            "EGOV_PAYGATE_SECRET": self.paygate_secret,
            "EGOV_PAYMENTS_CALLBACK_URL": f"http://127.0.0.1:{p.payments_http}/callbacks/paygate",
            "EGOV_POSTAL_OPERATOR_URL": f"http://127.0.0.1:{p.postal_operator}",
            "EGOV_POSTAL_SECRET": self.postal_secret,
            "EGOV_POSTAL_CALLBACK_URL": f"http://127.0.0.1:{p.postal_http}/callbacks/postal",
            "EGOV_SMTP_HOST": "127.0.0.1",
            "EGOV_SMTP_PORT": str(p.smtp),
            "EGOV_SMS_URL": f"http://127.0.0.1:{p.sms}",
            "EGOV_PUSH_URL": f"http://127.0.0.1:{p.push}",
        })
        env.update(self.outbound_env())
        env.update(self.extra_env)
        return env

    def outbound_env(self) -> dict[str, str]:
        """The gateway's outbound listener (mutual TLS, while its public listener stays plaintext) and
        its client certificate towards external systems; identity's way to them."""
        p, certs = self.ports, self.workdir / "certs"
        env = {
            "EGOV_GATEWAY_OUTBOUND_ADDRESS": f"127.0.0.1:{p.gateway_outbound}",
            "EGOV_GATEWAY_OUTBOUND_TLS_CERT": str(certs / "gateway.pem"),
            "EGOV_GATEWAY_OUTBOUND_TLS_KEY": str(certs / "gateway.key"),
            "EGOV_GATEWAY_OUTBOUND_TLS_CLIENT_CA": str(certs / "ca.pem"),
            "EGOV_GATEWAY_OUTBOUND_CLIENT_CERT": str(certs / "external" / "gateway-client.pem"),
            "EGOV_GATEWAY_OUTBOUND_CLIENT_KEY": str(certs / "external" / "gateway-client.key"),
        }
        if not self.outbound_through_gateway:
            return {**env, "EGOV_POPULATION_ADDRESS": f"127.0.0.1:{p.population}",
                    "EGOV_BUSINESS_REGISTRY_ADDRESS": f"127.0.0.1:{p.business_registry}"}
        identity = certs / "services" / "GOV_HUE_identity"
        return {**env, "EGOV_OUTBOUND_ADDRESS": f"127.0.0.1:{p.gateway_outbound}",
                "EGOV_OUTBOUND_TLS_CERT": f"{identity}.pem", "EGOV_OUTBOUND_TLS_KEY": f"{identity}.key",
                "EGOV_OUTBOUND_TLS_CA": str(certs / "ca.pem")}

    def component_amqp_uri(self, component: str) -> str:
        """The component's own broker user in this stack's vhost (the shared admin URI without one)."""
        return self.amqp_uri if self.broker is None else self.broker.component_uri(component)

    def component_mongo_uri(self, component: str) -> str:
        """The component's own database user (the stack's root user for "root" or another name)."""
        return self.mongo_uri if self.databases is None else self.databases.user_uri(component)

    def service_env(self, name: str) -> dict[str, str]:
        env = self.env()
        env["EGOV_AMQP_URI"] = self.component_amqp_uri(_base(name))     # a replica connects as its service
        env["EGOV_MONGO_URI"] = self.component_mongo_uri(_base(name))
        web = {"payments": self.ports.payments_http, "postal": self.ports.postal_http}.get(name)
        if web is None and _base(name) in ("payments", "postal"):
            web = self._replica_port(f"{name}-web")   # a replica's callback listener (the first gets the callbacks)
        if web:
            env["EGOV_WEB_ADDRESS"] = f"127.0.0.1:{web}"
        return env

    # -- replicas ---------------------------------------------------------------------------------
    def replica_names(self, name: str) -> list[str]:
        """The processes of one service or gateway: `name`, then `name-2`, ... (`replicas` of them;
        one for SINGLE_REPLICA)."""
        count = 1 if name in SINGLE_REPLICA else self.replicas
        return [name, *(f"{name}-{i}" for i in range(2, count + 1))]

    def _replica_port(self, key: str) -> int:
        if key not in self._replica_ports:
            self._replica_ports[key] = free_port()
        return self._replica_ports[key]

    def gateway_addresses(self) -> list[str]:
        """Every gateway's public address, the first gateway's first."""
        return [f"127.0.0.1:{self.ports.gateway}",
                *(self.gateway_replica_env(n)["EGOV_GATEWAY_ADDRESS"] for n in self.replica_names("gateway")[1:])]

    def gateway_replica_env(self, name: str) -> dict[str, str]:
        """A second (third...) gateway: listeners of its own, and its own message-log chain."""
        return {**self.env(), "EGOV_AMQP_URI": self.component_amqp_uri("gateway"),
                "EGOV_MONGO_URI": self.component_mongo_uri("gateway"),
                "EGOV_GATEWAY_ADDRESS": f"127.0.0.1:{self._replica_port(name)}",
                "EGOV_GATEWAY_AGENCY_ADDRESS": f"127.0.0.1:{self._replica_port(f'{name}-agency')}",
                "EGOV_GATEWAY_OUTBOUND_ADDRESS": f"127.0.0.1:{self._replica_port(f'{name}-outbound')}",
                "EGOV_GATEWAY_LOG_CHAIN": name, "EGOV_GATEWAY_INSTANCE": name}

    # -- the components ---------------------------------------------------------------------------
    def components(self, services: Iterable[str] = SERVICES, gateway: bool = True) -> list[Component]:
        """Every process of the stack, in start order."""
        found = self.mongo()
        found += [self.simulator(name) for name in SIMULATORS]
        found += [self.service(replica) for name in services for replica in self.replica_names(name)]
        if gateway:
            found += self.gateway()
            for name in self.replica_names("gateway")[1:]:
                found += self.gateway(name, self.gateway_replica_env(name))
        return found

    def mongo(self) -> list[Component]:
        """The database server, and with `separate_databases` one more per component (none with an
        external database)."""
        return [] if self.databases is None else [self._database_component(s) for s in self.databases.names()]

    def _database_component(self, server: str) -> Component:
        assert self.databases is not None
        port = self.databases.port_of(server)
        return Component(server, self.databases.argv(server), self.env(),
                         lambda proc: wait_for_port(port, 60, proc, server), tier=0)

    def database_name(self, component: str) -> str:
        """The component's database, as the environment may rename it (`EGOV_<COMPONENT>_DB`)."""
        return self.env().get(f"EGOV_{component.upper()}_DB") or database(component)

    def simulator(self, name: str) -> Component:
        p, certs = self.ports, self.workdir / "certs"

        def tls(cert: str) -> list[str]:
            if not self.outbound_through_gateway:
                return []
            return ["--tls-cert", str(certs / "external" / f"{cert}.pem"),
                    "--tls-key", str(certs / "external" / f"{cert}.key"), "--client-ca", str(certs / "ca.pem")]

        argv, ports = {
            "population": (["--port", str(p.population), *tls("population")], [p.population]),
            "business_registry": (["--port", str(p.business_registry), *tls("business-registry")],
                                  [p.business_registry]),
            "paygate": (["--port", str(p.paygate), "--secret", self.paygate_secret], [p.paygate]),
            "postal_operator": (["--port", str(p.postal_operator), "--secret", self.postal_secret],
                                [p.postal_operator]),
            "sms": (["--port", str(p.sms)], [p.sms]),
            "push": (["--port", str(p.push)], [p.push]),
            "mailbox": (["--smtp-port", str(p.smtp), "--http-port", str(p.mailbox_http)], [p.mailbox_http, p.smtp]),
        }[name]

        def ready(proc: subprocess.Popen[bytes]) -> None:
            for port in ports:
                wait_for_port(port, 30, proc, f"simulator {name}")

        return Component(f"sim-{name}", [sys.executable, "-m", f"simulators.{name}", *argv], self.env(), ready, tier=1)

    def service(self, name: str, target: str = "", env: dict[str, str] | None = None) -> Component:
        """A nameko service: one of SERVICES (or a replica of one, `procedures-2`), or `target`
        (module:Class) under `name`."""
        argv = [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                target or SERVICES[_base(name)]]
        return Component(name, argv, env or self.service_env(name), lambda proc: self.wait_for_service(name))

    def gateway(self, name: str = "gateway", env: dict[str, str] | None = None) -> list[Component]:
        """The gateway process and its agency front (`<name>-front`), which agency systems call with
        mutual TLS. The front takes the gateway's TLS files; for a gateway without them (plaintext
        public port, as `make run`'s) the stack's own certificates (deploy/certs.py)."""
        env = dict(env or {**self.env(), "EGOV_AMQP_URI": self.component_amqp_uri("gateway"),
                           "EGOV_MONGO_URI": self.component_mongo_uri("gateway")})
        env.setdefault("EGOV_GATEWAY_AGENCY_SOCKET", str(self.workdir / "run" / f"{name}-agency.sock"))
        certs = self.workdir / "certs"
        tls = {"EGOV_GATEWAY_TLS_CERT": str(certs / "gateway.pem"), "EGOV_GATEWAY_TLS_KEY": str(certs / "gateway.key"),
               "EGOV_GATEWAY_TLS_CLIENT_CA": str(certs / "ca.pem")}
        return [
            Component(name, [sys.executable, "-m", "gateway"], env,
                      lambda proc: wait_for_port(_port(env["EGOV_GATEWAY_ADDRESS"]), 30, proc, name)),
            Component(f"{name}-front", haproxy_command(), front_env({**tls, **env}, self.workdir / "run" / name),
                      lambda proc: wait_for_port(_port(env["EGOV_GATEWAY_AGENCY_ADDRESS"]), 30, proc, f"{name}-front")),
        ]

    def dashboard(self) -> Component:
        """The supervisors' dashboard (services/supervision/dashboard/), a client of the gateway."""
        env = {**self.env(), "EGOV_DASHBOARD_ADDRESS": f"127.0.0.1:{self.ports.dashboard}",
               "EGOV_DASHBOARD_GATEWAY": f"127.0.0.1:{self.ports.gateway}"}
        return Component("dashboard", [sys.executable, "-m", "services.supervision.dashboard"], env,
                         lambda proc: wait_for_port(self.ports.dashboard, 30, proc, "dashboard"))

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, services: Iterable[str] = SERVICES, gateway: bool = True) -> None:
        services = list(services)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "run").mkdir(exist_ok=True)
        (self.workdir / "mongo").mkdir(exist_ok=True)
        self.outbound_through_gateway = gateway
        self._make_keys()
        if self.broker is not None:
            self.broker.create()
        if self.databases is not None:
            self.databases.provision_users(self.database_name)
        planned = self.components(services, gateway)
        for component in planned:
            if component.tier < 2:
                self.runner.start(component, wait=False)
        for component in planned:
            if component.tier < 2:
                component.ready(self.processes[component.name])
        if "procedures" in services:
            self.import_catalogue()
        subprocess.run([sys.executable, "-m", "services.common.events.broker"], env=self.env(), check=True,
                       capture_output=True, timeout=60)
        for name in services:                       # services start side by side, then are waited for
            for replica in self.replica_names(name):
                self.runner.start(self.service(replica), wait=False)
        for name in services:
            for replica in self.replica_names(name):
                self.wait_for_service(replica)
        if gateway:
            self.start_gateway()
            for name in self.replica_names("gateway")[1:]:
                self.start_gateway(name, self.gateway_replica_env(name))
            self.register(registrations.outbound_exchange(
                {"population": f"127.0.0.1:{self.ports.population}",
                 "business-registry": f"127.0.0.1:{self.ports.business_registry}"}))

    def import_catalogue(self) -> None:
        """The shipped unit tree and procedure catalogue into the procedures database, as
        `egov-catalogue import-shipped` does; idempotent, so a restarted stack may run it again."""
        from pymongo import MongoClient

        from services.procedures.adapters.catalogue_store import MongoCatalogueStore
        from services.procedures.catalogue_admin import import_shipped

        uri = self.database_uri("procedures")
        client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=10000, tz_aware=True)
        try:
            import_shipped(MongoCatalogueStore(client, self.env().get("EGOV_PROCEDURES_DB") or "egov_procedures"))
        finally:
            client.close()

    def _make_keys(self) -> None:
        from deploy.certs import make_all
        from services.common.tokens import generate_key_pair

        keys = self.workdir / "keys"
        if not (keys / "token-signing.pem").exists():
            keys.mkdir(parents=True, exist_ok=True)
            private, public = generate_key_pair()
            (keys / "token-signing.pem").write_bytes(private)
            (keys / "token-signing.pem").chmod(0o600)
            (keys / "token-signing.pub.pem").write_bytes(public)
        make_all(self.workdir / "certs")

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a process of the caller's own (a test's probe) as part of the stack, not waited for."""
        return self.runner.start(Component(name, argv, env or self.env()), wait=False)

    def start_component(self, name: str) -> subprocess.Popen[bytes]:
        """(Re)start a process the stack declares (`sim-postal_operator`...) and wait until it is ready."""
        component = self.runner.components.get(name)
        if component is None:
            component = next(c for c in self.components(gateway=True) if c.name == name)
        return self.runner.start(component)

    def start_service(self, name: str, wait: bool = True) -> subprocess.Popen[bytes]:
        return self.runner.start(self.service(name), wait=wait)

    def wait_for_service(self, name: str, timeout: float = 60) -> None:
        """Until the service answers `health`; for a replica (`procedures-2`), until its RPC queue
        also has a consumer per replica up to this one."""
        from nameko.standalone.rpc import ClusterRpcClient

        deadline = time.monotonic() + timeout
        service = _base(name)
        consumers = self.replica_names(service).index(name) + 1 if name != service else 0
        with ClusterRpcClient(uri=self.amqp_uri, timeout=2) as rpc:
            while True:
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"service {name} exited with code {proc.returncode}; see {self.logs}/{name}.log")
                try:
                    if (getattr(rpc, service).health()["status"] == "ok"
                            and (not consumers or self._rpc_consumers(service) >= consumers)):
                        return
                except Exception:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"service {name} not healthy within {timeout:.0f} s") from None
                    time.sleep(0.1)

    def _rpc_consumers(self, service: str) -> int:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        try:
            return int(connection.channel().queue_declare(f"rpc-{service}", passive=True).method.consumer_count)
        finally:
            connection.close()

    def start_gateway(self, name: str = "gateway", env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """The gateway and its agency front; a restarted gateway keeps a front that still runs."""
        (self.workdir / "run").mkdir(parents=True, exist_ok=True)
        process, front = self.gateway(name, env)
        proc = self.runner.start(process)
        running = self.processes.get(front.name)
        if running is None or running.poll() is not None:
            self.runner.start(front)
        return proc

    def start_dashboard(self) -> subprocess.Popen[bytes]:
        return self.runner.start(self.dashboard())

    def register(self, document: dict[str, Any], timeout: float = 15) -> int:
        """Add what a members file declares (deploy/registrations.py) to the gateway's registry,
        paths relative to the stack's certificates, and wait until a running gateway serves it."""
        return registrations.register(self.database_uri("gateway"), self.env().get("EGOV_GATEWAY_DB") or "egov_gateway",
                                      document, self.workdir / "certs", timeout)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.runner.kill(name, sig)

    def stop(self) -> None:
        """The gateway and the services first (they finish what they hold: in-flight work, the
        message log's last records and seal), then the simulators, then the database."""
        self.runner.stop()
        if self.broker is not None:
            self.broker.delete()

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
