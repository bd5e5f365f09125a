"""The whole platform on one machine as real processes: SecantusDB, the third-party simulators,
the five nameko services and the gateway with its agency front. `make run` and the e2e tests both
use it.

Each stack gets its own RabbitMQ virtual host and database server, so stacks never see each
other's messages or data.
"""

import contextlib
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from deploy.local.agency_front import front_env, haproxy_command
from gateway.members import Certificate, SubsystemId
from gateway.registry_store import RegistryStore
from services.common.tokens import generate_key_pair

# Health polling closes channels with replies still arriving; py-amqp warns about each one.
logging.getLogger("amqp").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="\nEventlet is deprecated")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = {
    "identity": "services.identity.service:IdentityService",
    "procedures": "services.procedures.service:ProceduresService",
    "payments": "services.payments.service:PaymentsService",
    "postal": "services.postal.service:PostalService",
    "notifications": "services.notifications.service:NotificationsService",
    "archive": "services.archive.service:ArchiveService",
}
SIMULATORS = ("population", "business_registry", "paygate", "postal_operator", "sms", "push", "mailbox")
# The outbound exchange of a stack with a gateway: identity (a subsystem of the province) reaches
# the national databases (external systems of their ministries) through the gateway, mutual TLS on
# both legs. (external system, member name, certificate name in certs/external, gRPC service, method)
IDENTITY_SUBSYSTEM = "VN/GOV/HUE/identity"
EXTERNAL_SYSTEMS = (
    ("VN/GOV/BCA/population", "Bộ Công an", "population", "egov.population.v1.PopulationRegistry",
     "VerifyCitizen"),
    ("VN/GOV/BKHDT/business-registry", "Bộ Kế hoạch và Đầu tư", "business-registry",
     "egov.businessregistry.v1.BusinessRegistry", "VerifyBusiness"),
)


def _ephemeral_ports() -> range:
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port from bind(0) is an ephemeral one,
    which any outgoing connection may take before the server that was given it binds it."""
    ephemeral = _ephemeral_ports()
    for _ in range(1000):
        port = random.randrange(10000, 65536)
        if port in _handed_out or port in ephemeral:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{name or 'server'} did not listen on port {port} within {timeout:.0f} s")


@dataclass
class Ports:
    mongo: int = field(default_factory=free_port)
    gateway: int = field(default_factory=free_port)
    agency: int = field(default_factory=free_port)          # the agency front (mutual TLS)
    payments_http: int = field(default_factory=free_port)
    postal_http: int = field(default_factory=free_port)
    gateway_outbound: int = field(default_factory=free_port)
    population: int = field(default_factory=free_port)
    business_registry: int = field(default_factory=free_port)
    paygate: int = field(default_factory=free_port)
    postal_operator: int = field(default_factory=free_port)
    sms: int = field(default_factory=free_port)
    push: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)
    mailbox_http: int = field(default_factory=free_port)


def certificate_of(subsystem: SubsystemId, certificate: Any) -> Certificate:
    """The registry's record of a subsystem's client certificate (an x509.Certificate), as
    `egov-gateway certs register` makes it."""
    from cryptography.hazmat.primitives import hashes

    return Certificate(certificate.fingerprint(hashes.SHA256()).hex(), subsystem, certificate.subject.rfc4514_string(),
                       certificate.not_valid_after_utc.isoformat())


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class Stack:
    def __init__(self, workdir: Path, *, ports: Ports | None = None, broker_uri: str | None = None,
                 vhost: str | None = None, mongo_uri: str | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.ports = ports or Ports()
        base = broker_uri or os.environ.get("EGOV_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
        self.vhost = vhost if vhost is not None else f"egov-{uuid.uuid4().hex[:8]}"
        parsed = urllib.parse.urlsplit(base)
        self.amqp_uri = parsed._replace(path="/" + urllib.parse.quote(self.vhost, safe="")).geturl()
        self.external_mongo = mongo_uri
        # Retryable writes off for the local SecantusDB only: it scans its table of remembered writes
        # on every write and slows down as the table grows (measured in bench/). Production keeps them.
        self.mongo_uri = mongo_uri or f"mongodb://127.0.0.1:{self.ports.mongo}/?directConnection=true&retryWrites=false"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.extra_env = dict(extra_env or {})
        self.logs = workdir / "logs"
        self.paygate_secret = secrets.token_hex(16)
        self.postal_secret = secrets.token_hex(16)
        # False for a stack started without the gateway: identity then calls the simulators directly.
        self.outbound_through_gateway = True

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

    def service_env(self, name: str) -> dict[str, str]:
        env = self.env()
        web = {"payments": self.ports.payments_http, "postal": self.ports.postal_http}.get(name)
        if web:
            env["EGOV_WEB_ADDRESS"] = f"127.0.0.1:{web}"
        return env

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, services: Iterable[str] = SERVICES, gateway: bool = True) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.outbound_through_gateway = gateway
        self._make_keys()
        if self.vhost:
            _rabbitmqctl("add_vhost", self.vhost)
            _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        if self.external_mongo is None:
            self.start_mongo()
        self.start_simulators()
        subprocess.run([sys.executable, "-m", "services.common.events.broker"], env=self.env(), check=True,
                       capture_output=True, timeout=60)
        for name in services:
            self.start_service(name, wait=False)
        for name in services:
            self.wait_for_service(name)
        if gateway:
            self.start_gateway()
            self.register_outbound()

    def _make_keys(self) -> None:
        keys = self.workdir / "keys"
        if not (keys / "token-signing.pem").exists():
            keys.mkdir(parents=True, exist_ok=True)
            private, public = generate_key_pair()
            (keys / "token-signing.pem").write_bytes(private)
            (keys / "token-signing.pem").chmod(0o600)
            (keys / "token-signing.pub.pem").write_bytes(public)
        from deploy.certs import make_all

        make_all(self.workdir / "certs")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        running = self.processes.get(name)
        if running is not None and running.poll() is None:   # it would be orphaned, never stopped
            raise RuntimeError(f"{name} is already running (pid {running.pid})")
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(argv, cwd=ROOT, env=env or self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.processes[name] = proc
        return proc

    def start_mongo(self) -> None:
        data = self.workdir / "mongo"
        data.mkdir(exist_ok=True)
        proc = self._spawn("mongo", [str(BIN / "secantusd-py"), "--host", "127.0.0.1", "--port",
                                     str(self.ports.mongo), "--storage-path", str(data), "--log-level", "WARNING"])
        wait_for_port(self.ports.mongo, 60, proc, "SecantusDB")

    def start_simulators(self) -> None:
        p = self.ports
        certs = self.workdir / "certs"

        def tls(name: str) -> list[str]:
            if not self.outbound_through_gateway:
                return []
            return ["--tls-cert", str(certs / "external" / f"{name}.pem"),
                    "--tls-key", str(certs / "external" / f"{name}.key"), "--client-ca", str(certs / "ca.pem")]

        argv = {
            "population": ["--port", str(p.population), *tls("population")],
            "business_registry": ["--port", str(p.business_registry), *tls("business-registry")],
            "paygate": ["--port", str(p.paygate), "--secret", self.paygate_secret],
            "postal_operator": ["--port", str(p.postal_operator), "--secret", self.postal_secret],
            "sms": ["--port", str(p.sms)],
            "push": ["--port", str(p.push)],
            "mailbox": ["--smtp-port", str(p.smtp), "--http-port", str(p.mailbox_http)],
        }
        waits = {"population": p.population, "business_registry": p.business_registry,
                 "paygate": p.paygate, "postal_operator": p.postal_operator,
                 "sms": p.sms, "push": p.push, "mailbox": p.mailbox_http}
        for name in SIMULATORS:
            self._spawn(f"sim-{name}", [sys.executable, "-m", f"simulators.{name}", *argv[name]])
        for name in SIMULATORS:
            wait_for_port(waits[name], 30, self.processes[f"sim-{name}"], f"simulator {name}")
        wait_for_port(p.smtp, 30, self.processes["sim-mailbox"], "SMTP server")

    def start_service(self, name: str, wait: bool = True) -> subprocess.Popen[bytes]:
        argv = [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"), SERVICES[name]]
        proc = self._spawn(name, argv, self.service_env(name))
        if wait:
            self.wait_for_service(name)
        return proc

    def wait_for_service(self, name: str, timeout: float = 60) -> None:
        from nameko.standalone.rpc import ClusterRpcClient

        deadline = time.monotonic() + timeout
        with ClusterRpcClient(uri=self.amqp_uri, timeout=2) as rpc:
            while True:
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"service {name} exited with code {proc.returncode}; see {self.logs}/{name}.log")
                try:
                    if getattr(rpc, name).health()["status"] == "ok":
                        return
                except Exception:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"service {name} not healthy within {timeout:.0f} s") from None
                    time.sleep(0.1)

    def start_gateway(self, name: str = "gateway", env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """The gateway process and its agency front (`<name>-front`), which agency systems call with
        mutual TLS. The front takes the gateway's TLS files; for a gateway without them (plaintext
        public port, as `make run`'s) the stack's own certificates (deploy/certs.py)."""
        env = dict(env or self.env())
        (self.workdir / "run").mkdir(parents=True, exist_ok=True)
        env.setdefault("EGOV_GATEWAY_AGENCY_SOCKET", str(self.workdir / "run" / f"{name}-agency.sock"))
        proc = self._spawn(name, [sys.executable, "-m", "gateway"], env)
        wait_for_port(_port(env["EGOV_GATEWAY_ADDRESS"]), 30, proc, name)
        running = self.processes.get(f"{name}-front")
        if running is None or running.poll() is not None:     # a restarted gateway keeps its front
            certs = self.workdir / "certs"
            tls = {"EGOV_GATEWAY_TLS_CERT": str(certs / "gateway.pem"),
                   "EGOV_GATEWAY_TLS_KEY": str(certs / "gateway.key"),
                   "EGOV_GATEWAY_TLS_CLIENT_CA": str(certs / "ca.pem")}
            front = self._spawn(f"{name}-front", haproxy_command(),
                                front_env({**tls, **env}, self.workdir / "run" / name))
            wait_for_port(_port(env["EGOV_GATEWAY_AGENCY_ADDRESS"]), 30, front, f"{name}-front")
        return proc

    def register_outbound(self, timeout: float = 15) -> None:
        """Register identity, the external systems and identity's grants in the gateway's registry
        (as `egov-gateway` would), and wait until the running gateway serves them."""
        from cryptography import x509

        from gateway.members import ExternalSystem, Grant, Member, Subsystem, SubsystemId

        certs = self.workdir / "certs"
        ca = (certs / "ca.pem").read_bytes()
        identity = SubsystemId.parse(IDENTITY_SUBSYSTEM)
        certificate = x509.load_pem_x509_certificate((certs / "services" / "GOV_HUE_identity.pem").read_bytes())
        listening = {"population": self.ports.population, "business-registry": self.ports.business_registry}
        changes: list[Callable[[RegistryStore], int]] = [
            lambda r: r.add_member(Member(identity.member, "Ủy ban nhân dân tỉnh Thừa Thiên Huế")),
            lambda r: r.add_subsystem(Subsystem(identity)),
            lambda r: r.register_certificate(certificate_of(identity, certificate)),
        ]
        for system_id, member_name, name, service, method in EXTERNAL_SYSTEMS:
            system = ExternalSystem(SubsystemId.parse(system_id), f"127.0.0.1:{listening[name]}", name, ca,
                                    frozenset({service}))
            grant = Grant.for_subsystem(identity, f"/{service}/{method}")
            changes += [partial(RegistryStore.add_member, member=Member(system.id.member, member_name)),
                        partial(RegistryStore.add_external_system, system=system),
                        partial(RegistryStore.add_grant, grant=grant)]
        self.change_registry(changes, timeout)

    def change_registry(self, changes: Iterable[Callable[[RegistryStore], int]], timeout: float = 15) -> None:
        """Apply registry changes (each returns the registry's new version; one this stack already
        made is skipped) and wait until a running gateway has loaded them all."""
        from pymongo import MongoClient

        from services.common.errors import AlreadyExists

        client: MongoClient[dict[str, Any]] = MongoClient(self.mongo_uri, serverSelectionTimeoutMS=5000)
        versions = [0]
        try:
            registry = RegistryStore(client, self.env().get("EGOV_GATEWAY_DB") or "egov_gateway")
            for change in changes:
                with contextlib.suppress(AlreadyExists):    # made by an earlier start of this stack
                    versions.append(change(registry))
            deadline = time.monotonic() + timeout
            while not any(g.loaded_version >= max(versions) for g in registry.live_gateways(timedelta(seconds=5))):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the gateway did not load registry version {max(versions)} "
                                       f"within {timeout:.0f} s")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """The gateway and the services first (they finish what they hold: in-flight work, the
        message log's last records and seal), then the simulators, then the database."""
        names = list(self.processes)
        tiers = [[n for n in names if n != "mongo" and not n.startswith("sim-")],
                 [n for n in names if n.startswith("sim-")], [n for n in names if n == "mongo"]]
        for tier in tiers:
            self._terminate([self.processes[n] for n in reversed(tier)])
        self.processes.clear()
        if self.vhost:
            with contextlib.suppress(subprocess.SubprocessError):
                _rabbitmqctl("delete_vhost", self.vhost)

    @staticmethod
    def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
