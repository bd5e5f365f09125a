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
from dataclasses import dataclass
from pathlib import Path

from services.common.config import ConfigError, amqp_uri, database_name, env, env_float, mongo_uri

MIB = 1024 * 1024


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
    log_chain: str = "gateway"
    log_durable: bool = True                  # an answer waits for its exchange's record to be written
    seal_every_records: int = 1000
    seal_every_seconds: float = 60.0
    registry_poll_seconds: float = 0.5
    member_rate: float = 200.0                # calls/s per member
    member_burst: int = 400
    member_concurrency: int = 32
    max_subscriptions: int = 16               # open EventService/Subscribe streams (each holds a worker)
    stream_max_seconds: float = 300.0         # a stream ends (OK) after this; the caller resumes
    subscribe_poll_seconds: float = 0.5       # how often an idle subscription asks the archive

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
            max_message_bytes=env_int("EGOV_GATEWAY_MAX_MESSAGE_BYTES", 4 * MIB),
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
            log_chain=env("EGOV_GATEWAY_LOG_CHAIN", "gateway"),
            log_durable=env_flag("EGOV_GATEWAY_LOG_DURABLE", True),
            seal_every_records=env_int("EGOV_GATEWAY_SEAL_EVERY_RECORDS", 1000),
            seal_every_seconds=env_seconds("EGOV_GATEWAY_SEAL_EVERY_SECONDS", 60),
            registry_poll_seconds=env_seconds("EGOV_GATEWAY_REGISTRY_POLL_SECONDS", 0.5),
            member_rate=env_rate("EGOV_GATEWAY_MEMBER_RATE", 200),
            member_burst=env_int("EGOV_GATEWAY_MEMBER_BURST", 400),
            member_concurrency=env_int("EGOV_GATEWAY_MEMBER_CONCURRENCY", 32),
            max_subscriptions=env_int("EGOV_GATEWAY_MAX_SUBSCRIPTIONS", 16),
            stream_max_seconds=env_seconds("EGOV_GATEWAY_STREAM_MAX_SECONDS", 300),
            subscribe_poll_seconds=env_seconds("EGOV_GATEWAY_SUBSCRIBE_POLL_SECONDS", 0.5),
        )
        if config.address.startswith("unix:"):
            raise ConfigError("EGOV_GATEWAY_ADDRESS must be a TCP address: calls on a unix socket are taken for "
                              "the agency front's (EGOV_GATEWAY_AGENCY_SOCKET)")
        if config.log_key is not None and len(config.log_key) < 32:
            raise ConfigError("EGOV_GATEWAY_LOG_KEY_FILE must hold at least 32 bytes")
        if config.max_subscriptions >= config.workers:
            raise ConfigError("EGOV_GATEWAY_MAX_SUBSCRIPTIONS must be below EGOV_GATEWAY_WORKERS: each open "
                              "subscription holds a worker, and unary calls need some")
        if config.default_deadline > config.max_deadline:
            raise ConfigError("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS must not exceed "
                              "EGOV_GATEWAY_MAX_DEADLINE_SECONDS")
        return config

    @property
    def outbound_listener_tls(self) -> TlsFiles | None:
        """The outbound listener's TLS: its own files if given, else the gateway's (plaintext only
        when neither is set: local development)."""
        return self.outbound_tls or self.tls
