"""The gateway's settings from the environment, checked once at start-up.

Security material is read from files named by the environment. Left unset, the gateway still runs
for local development, and says so loudly at start-up: without EGOV_GATEWAY_TLS_* it listens in
plaintext; without EGOV_GATEWAY_AGENCY_SOCKET no agency system can call (EGOV_GATEWAY_OUTBOUND_TLS_* give the outbound
listener TLS of its own, e.g. while the public listener stays plaintext); without EGOV_GATEWAY_LOG_KEY_FILE or
EGOV_GATEWAY_SEAL_KEY_FILE it makes a key for this run only (pseudonyms and seals then cannot be
linked to another run's).
"""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from gateway.refusals import RefusalPolicy
from services.common.config import ConfigError, amqp_uri, database_name, env, env_float, mongo_uri

MIB = 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 4 * MIB           # the agency front's haproxy.cfg presets the same


def env_int(name: str, default: int, minimum: int = 1) -> int:
    value = env_float(name, default)
    if value != int(value) or value < minimum:
        raise ConfigError(f"environment variable {name} must be a whole number >= {minimum}, got {value}")
    return int(value)


def env_seconds(name: str, default: float) -> float:
    value = env_float(name, default)
    if value <= 0:
        raise ConfigError(f"environment variable {name} must be a positive number of seconds, got {value}")
    return value


def env_rate(name: str, default: float) -> float:
    value = env_float(name, default)
    if value <= 0:
        raise ConfigError(f"environment variable {name} must be a positive number of calls per second, got {value}")
    return value


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigError(f"environment variable {name} must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes")


def read_file(variable: str) -> bytes | None:
    """The content of the file named by `variable`, None when it is unset."""
    name = os.environ.get(variable, "")
    if not name:
        return None
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {name}: {exc.strerror}") from exc


def _on_halt(value: str) -> bool:
    """What calls get while the message log is halted: True to hold them."""
    if value not in ("unavailable", "hold"):
        raise ConfigError(f"environment variable EGOV_GATEWAY_LOG_ON_HALT must be unavailable or hold, got {value!r}")
    return value == "hold"


@dataclass(frozen=True)
class TlsFiles:
    certificate: bytes       # the gateway's certificate chain, PEM
    key: bytes               # its private key, PEM
    client_ca: bytes         # the CA(s) whose client certificates agency systems present, PEM

    @classmethod
    def from_env(cls, names: tuple[str, str, str] = (
            "EGOV_GATEWAY_TLS_CERT", "EGOV_GATEWAY_TLS_KEY", "EGOV_GATEWAY_TLS_CLIENT_CA")) -> "TlsFiles | None":
        values = [read_file(name) for name in names]
        if not any(values):
            return None
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise ConfigError(f"mutual TLS needs all of {', '.join(names)}; missing: {', '.join(missing)}")
        certificate, key, client_ca = (v or b"" for v in values)
        return cls(certificate, key, client_ca)


@dataclass(frozen=True)
class ClientCertificate:
    """The gateway's own client certificate, presented to external systems (outbound, second leg)."""

    certificate: bytes
    key: bytes

    @classmethod
    def from_env(cls) -> "ClientCertificate | None":
        names = ("EGOV_GATEWAY_OUTBOUND_CLIENT_CERT", "EGOV_GATEWAY_OUTBOUND_CLIENT_KEY")
        certificate, key = (read_file(name) for name in names)
        if not certificate and not key:
            return None
        if not certificate or not key:
            raise ConfigError(f"the gateway's client certificate needs both {' and '.join(names)}")
        return cls(certificate, key)


@dataclass(frozen=True)
class GatewayConfig:
    address: str
    workers: int
    max_message_bytes: int
    default_deadline: float
    max_deadline: float
    grace: float
    amqp_uri: str
    token_public_key: bytes
    tls: TlsFiles | None = None
    agency_socket: str = ""                   # where the agency front forwards agency calls; "": none
    outbound_address: str = "0.0.0.0:50053"   # where platform services call external systems
    outbound_tls: TlsFiles | None = None      # its own TLS files; None: those of `tls`
    outbound_client: ClientCertificate | None = None
    mongo_uri: str = ""                       # "": no database (tests): a fixed registry, log in memory
    db_name: str = "egov_gateway"
    instance: str = ""
    log_key: bytes | None = None              # HMAC key of the message log
    seal_key: bytes | None = None             # Ed25519 private key (PEM) that signs seals
    caller_key: bytes | None = None           # Ed25519 private key (PEM) that signs the callers it forwards
    log_chain: str = "gateway"
    log_durable: bool = True                  # an answer waits for its exchange's record to be written
    seal_every_records: int = 1000
    seal_every_seconds: float = 60.0
    log_anchor_seconds: float = 5.0           # the chain's head anchored outside the database at most this often
    log_hold_on_halt: bool = False            # a halted log holds calls (until their deadline) instead of refusing
    registry_poll_seconds: float = 0.5
    member_rate: float = 200.0                # calls/s per member
    member_burst: int = 400
    member_concurrency: int = 32
    agency_workers: int = 32                  # the agency socket's own worker pool
    account_rate: float = 50.0                # calls/s per citizen or civil servant account
    account_burst: int = 200
    account_concurrency: int = 32
    address_rate: float = 50.0                # calls/s per address, for anonymous callers
    address_burst: int = 200
    address_concurrency: int = 32
    refusals: RefusalPolicy = field(default_factory=RefusalPolicy)  # how refusals are aggregated in the log
    max_subscriptions: int = 16               # open EventService/Subscribe streams (each holds a worker)
    member_subscriptions: int = 4             # of which one member may hold at most this many
    stream_max_seconds: float = 300.0         # a stream ends (OK) after this; the caller resumes
    subscribe_poll_seconds: float = 0.5       # how often an idle subscription asks the archive
    # How often identity's revoked sessions are fetched (gateway.revocations); 0: never (a gateway
    # built in a test without identity). from_env's default is 10.
    revocation_poll_seconds: float = 0.0

    @property
    def grpc_message_limit(self) -> int:
        """grpc's own bound, above ours, so that our INVALID_ARGUMENT answers and not grpc's
        RESOURCE_EXHAUSTED; only a request over this one is refused by grpc itself."""
        return self.max_message_bytes + max(MIB, self.max_message_bytes // 4)

    @classmethod
    def from_env(cls) -> "GatewayConfig":
        key_file = Path(env("EGOV_TOKEN_PUBLIC_KEY_FILE"))
        try:
            token_public_key = key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"EGOV_TOKEN_PUBLIC_KEY_FILE: cannot read {key_file}: {exc.strerror}") from exc
        config = cls(
            address=env("EGOV_GATEWAY_ADDRESS", "0.0.0.0:50051"),
            workers=env_int("EGOV_GATEWAY_WORKERS", 64),
            max_message_bytes=env_int("EGOV_GATEWAY_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES),
            default_deadline=env_seconds("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS", 10),
            max_deadline=env_seconds("EGOV_GATEWAY_MAX_DEADLINE_SECONDS", 30),
            grace=env_seconds("EGOV_GATEWAY_GRACE_SECONDS", 5),
            amqp_uri=amqp_uri(),
            token_public_key=token_public_key,
            tls=TlsFiles.from_env(),
            agency_socket=os.environ.get("EGOV_GATEWAY_AGENCY_SOCKET", ""),
            outbound_address=env("EGOV_GATEWAY_OUTBOUND_ADDRESS", "0.0.0.0:50053"),
            outbound_tls=TlsFiles.from_env(("EGOV_GATEWAY_OUTBOUND_TLS_CERT", "EGOV_GATEWAY_OUTBOUND_TLS_KEY",
                                            "EGOV_GATEWAY_OUTBOUND_TLS_CLIENT_CA")),
            outbound_client=ClientCertificate.from_env(),
            mongo_uri=mongo_uri(),
            db_name=database_name("gateway"),
            instance=env("EGOV_GATEWAY_INSTANCE", f"{socket.gethostname()}:{os.getpid()}"),
            log_key=read_file("EGOV_GATEWAY_LOG_KEY_FILE"),
            seal_key=read_file("EGOV_GATEWAY_SEAL_KEY_FILE"),
            caller_key=read_file("EGOV_GATEWAY_CALLER_KEY_FILE"),
            log_chain=env("EGOV_GATEWAY_LOG_CHAIN", "gateway"),
            log_durable=env_flag("EGOV_GATEWAY_LOG_DURABLE", True),
            seal_every_records=env_int("EGOV_GATEWAY_SEAL_EVERY_RECORDS", 1000),
            seal_every_seconds=env_seconds("EGOV_GATEWAY_SEAL_EVERY_SECONDS", 60),
            log_anchor_seconds=env_seconds("EGOV_GATEWAY_LOG_ANCHOR_SECONDS", 5),
            log_hold_on_halt=_on_halt(env("EGOV_GATEWAY_LOG_ON_HALT", "unavailable")),
            registry_poll_seconds=env_seconds("EGOV_GATEWAY_REGISTRY_POLL_SECONDS", 0.5),
            member_rate=env_rate("EGOV_GATEWAY_MEMBER_RATE", 200),
            member_burst=env_int("EGOV_GATEWAY_MEMBER_BURST", 400),
            member_concurrency=env_int("EGOV_GATEWAY_MEMBER_CONCURRENCY", 32),
            agency_workers=env_int("EGOV_GATEWAY_AGENCY_WORKERS", 32),
            account_rate=env_rate("EGOV_GATEWAY_ACCOUNT_RATE", 50),
            account_burst=env_int("EGOV_GATEWAY_ACCOUNT_BURST", 200),
            account_concurrency=env_int("EGOV_GATEWAY_ACCOUNT_CONCURRENCY", 32),
            address_rate=env_rate("EGOV_GATEWAY_ADDRESS_RATE", 50),
            address_burst=env_int("EGOV_GATEWAY_ADDRESS_BURST", 200),
            address_concurrency=env_int("EGOV_GATEWAY_ADDRESS_CONCURRENCY", 32),
            refusals=RefusalPolicy(env_int("EGOV_GATEWAY_REFUSALS_EACH", 10, minimum=0),
                                   env_seconds("EGOV_GATEWAY_REFUSALS_WINDOW_SECONDS", 60)),
            max_subscriptions=env_int("EGOV_GATEWAY_MAX_SUBSCRIPTIONS", 16),
            member_subscriptions=env_int("EGOV_GATEWAY_MEMBER_SUBSCRIPTIONS", 4),
            stream_max_seconds=env_seconds("EGOV_GATEWAY_STREAM_MAX_SECONDS", 300),
            subscribe_poll_seconds=env_seconds("EGOV_GATEWAY_SUBSCRIBE_POLL_SECONDS", 0.5),
            revocation_poll_seconds=env_seconds("EGOV_GATEWAY_REVOCATION_POLL_SECONDS", 10),
        )
        if config.address.startswith("unix:"):
            raise ConfigError("EGOV_GATEWAY_ADDRESS must be a TCP address: calls on a unix socket are taken for "
                              "the agency front's (EGOV_GATEWAY_AGENCY_SOCKET)")
        if config.log_key is not None and len(config.log_key) < 32:
            raise ConfigError("EGOV_GATEWAY_LOG_KEY_FILE must hold at least 32 bytes")
        if config.max_subscriptions >= config.agency_workers:
            raise ConfigError("EGOV_GATEWAY_MAX_SUBSCRIPTIONS must be below EGOV_GATEWAY_AGENCY_WORKERS: each open "
                              "subscription holds an agency worker, and unary calls need some")
        if config.member_subscriptions >= config.max_subscriptions:
            raise ConfigError("EGOV_GATEWAY_MEMBER_SUBSCRIPTIONS must be below EGOV_GATEWAY_MAX_SUBSCRIPTIONS, so that "
                              "one member cannot take every stream")
        if config.default_deadline > config.max_deadline:
            raise ConfigError("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS must not exceed "
                              "EGOV_GATEWAY_MAX_DEADLINE_SECONDS")
        return config

    @property
    def outbound_listener_tls(self) -> TlsFiles | None:
        """The outbound listener's TLS: its own files if given, else the gateway's (plaintext only
        when neither is set: local development)."""
        return self.outbound_tls or self.tls
