# Over 300 lines: the one place the gateway process is wired (its listeners, the outbound exchange, health,
# reflection, graceful stop), in start-up order.
"""The gateway process: a grpcio server (no eventlet) serving the platform's gRPC API.

Platform methods pass the interceptor chain (gateway.chain: one interceptor per concern) to the
generic handler (gateway.handlers), which carries them over nameko RPC; the gateway's own metadata
methods take the same chain to gateway.metadata. Standard health (`grpc.health.v1`) and server reflection are served
alongside.

Listeners. EGOV_GATEWAY_ADDRESS serves citizens' and civil servants' apps (bearer tokens): TLS
without a client certificate when EGOV_GATEWAY_TLS_* are set, plaintext otherwise (for local
development only, and the log says so). Agency systems connect to the agency front (HAProxy,
deploy/agency-front/), which terminates their mutual TLS and forwards each call, with the
certificate presented and its verification result, to EGOV_GATEWAY_AGENCY_SOCKET: a unix socket only
the front can reach (gateway.agency_front says why, and what it sends), served by a grpcio server of
its own (EGOV_GATEWAY_AGENCY_WORKERS), so that the public port's callers cannot take the workers
agency calls need.

The outbound exchange (gateway.outbound) is a second grpcio server on EGOV_GATEWAY_OUTBOUND_ADDRESS:
the platform's own services call external systems there. A server of its own, because every port of
one grpcio server serves every method: the platform's API must not be callable on the outbound port,
nor external systems' methods on the public one.

Maintenance (`egov-gateway maintenance on`): health turns NOT_SERVING, new calls are answered
UNAVAILABLE, calls in flight finish. SIGTERM: the same, then in-flight calls get `grace` seconds, the
message log writes and seals what it holds, and the process exits.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import logging
import os
import secrets
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pymongo import MongoClient

from gateway import logs, validation
from gateway.auth import Authenticator, caller_resolvers
from gateway.chain import interceptor_chain
from gateway.config import GatewayConfig
from gateway.deadlines import DeadlinePolicy
from gateway.exchange_recorder import ExchangeRecorder
from gateway.handlers import generic_handlers
from gateway.limits import EffectiveLimits, Limiter, MemberLimiter
from gateway.members import Registry
from gateway.message_log import LogKey, Sealer
from gateway.message_log_anchors import AnchorLog, ArchiveAnchors
from gateway.message_log_store import InMemoryLogStore, LogStore, MongoLogStore
from gateway.message_log_writer import MessageLog
from gateway.metadata import MetadataService
from gateway.methods import Method, build_method_table, gateway_method_table, grpc_service_names
from gateway.outbound import ExternalChannels, OutboundExchange
from gateway.outbound import listen as listen_outbound
from gateway.registry_cache import FixedRegistry, RegistryCache, RegistrySource
from gateway.registry_store import RegistryStore
from gateway.revocations import RevocationList, RevocationPoller
from gateway.rpc_client import NamekoRpcClient, RpcBackend
from gateway.subscriptions import EventFeed
from services.common import telemetry
from services.common.caller_proof import GATEWAY, CallerSigner

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    agency_socket: str | None
    registry: RegistryCache
    message_log: MessageLog
    services: list[str]
    feed: EventFeed
    recorder: ExchangeRecorder
    caller_signer: CallerSigner
    agency_server: grpc.Server | None = None
    outbound_server: grpc.Server | None = None
    outbound_port: int | None = None
    external_channels: ExternalChannels | None = None
    revocations: RevocationPoller | None = None     # identity's revoked sessions (gateway.revocations)

    def servers(self) -> list[grpc.Server]:
        return [s for s in (self.server, self.agency_server, self.outbound_server) if s is not None]

    def start(self) -> None:
        if self.revocations is not None:
            self.revocations.start()
        self.registry.start()
        self.message_log.start()
        self.recorder.start()
        for server in self.servers():
            server.start()

    def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        self.feed.close()     # open subscriptions end UNAVAILABLE at once instead of holding the grace
        stopped = [server.stop(grace) for server in self.servers()]
        for event in stopped:
            event.wait()
        if self.external_channels is not None:
            self.external_channels.close()
        self.recorder.stop()
        self.message_log.stop()
        self.registry.stop()
        if self.revocations is not None:
            self.revocations.stop()

    def on_registry_change(self, registry: Registry) -> None:
        """Maintenance mode shows in health: load balancers stop sending new calls."""
        status = health_pb2.HealthCheckResponse.NOT_SERVING if registry.maintenance else \
            health_pb2.HealthCheckResponse.SERVING
        for name in ("", *self.services):
            self.health.set(name, status)
        if registry.maintenance:
            log.warning("maintenance mode ON: health NOT_SERVING, new calls refused, calls in flight finish")
        else:
            log.info("maintenance mode off: serving")


def build_gateway(config: GatewayConfig, backend: RpcBackend, table: Mapping[str, Method] | None = None, *,
                  registry_source: RegistrySource | None = None, log_store: LogStore | None = None,
                  anchors: AnchorLog | None = None) -> Gateway:
    """The server with every part wired; without a registry source or log store (unit tests) a
    fixed empty registry and a message log in memory (anchored nowhere without `anchors`)."""
    platform = build_method_table() if table is None else table
    served = {**platform, **gateway_method_table()}
    for method in served.values():
        validation.prepare(method.request_class)
    log_key = LogKey(config.log_key or _ephemeral("EGOV_GATEWAY_LOG_KEY_FILE", secrets.token_bytes(32)))
    seal_key = _private_key("EGOV_GATEWAY_SEAL_KEY_FILE", config.seal_key)
    registry = RegistryCache(registry_source or FixedRegistry(), config.instance or f"gateway:{os.getpid()}",
                             config.registry_poll_seconds)
    message_log = MessageLog(log_store or InMemoryLogStore(), config.log_chain, Sealer(seal_key),
                             record_key=log_key.record_key(), holder=config.instance or f"gateway:{os.getpid()}",
                             anchors=anchors, anchor_every_seconds=config.log_anchor_seconds,
                             hold_on_halt=config.log_hold_on_halt,
                             seal_every_records=config.seal_every_records,
                             seal_every_seconds=config.seal_every_seconds)
    limiter = MemberLimiter(EffectiveLimits(config.member_rate, config.member_burst, config.member_concurrency))
    revoked = RevocationList()
    recorder = ExchangeRecorder(message_log, log_key, config.log_durable, refusals=config.refusals)
    deadlines = DeadlinePolicy(config.default_deadline, config.max_deadline, config.stream_max_seconds)
    chain = interceptor_chain(
        served, deadlines=deadlines, recorder=recorder, log_key=log_key, max_message_bytes=config.max_message_bytes,
        registry=registry.current, members=limiter,
        authenticator=Authenticator(caller_resolvers(config.token_public_key, registry.current,
                                                     lambda: registry.loaded, revoked)),
        accounts=Limiter(EffectiveLimits(config.account_rate, config.account_burst, config.account_concurrency),
                         lambda _: "this account"),
        addresses=Limiter(EffectiveLimits(config.address_rate, config.address_burst, config.address_concurrency),
                          lambda _: "this address"))
    server = _grpc_server(config, config.workers, "gateway-call", chain)
    # Agency calls have workers of their own: the public port's callers cannot take them all.
    agency_server = _grpc_server(config, config.agency_workers, "gateway-agency", chain) \
        if config.agency_socket else None
    metadata = MetadataService(served, registry.current, log_key)
    feed = EventFeed(backend, registry.current, max_open=config.max_subscriptions,
                     max_per_member=config.member_subscriptions, poll_seconds=config.subscribe_poll_seconds)
    signer = CallerSigner(_private_key("EGOV_GATEWAY_CALLER_KEY_FILE", config.caller_key), GATEWAY)
    handlers = generic_handlers(served, backend, signer, {**metadata.functions(), **feed.functions()})
    services = grpc_service_names(served)
    health_servicer = health.HealthServicer()
    for name in ("", *services):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    for each in (server, agency_server):
        if each is not None:
            each.add_generic_rpc_handlers(handlers)
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, each)
            reflection.enable_server_reflection((*services, health.SERVICE_NAME, reflection.SERVICE_NAME), each)
    port = _listen(server, config)
    poller = RevocationPoller(backend, revoked, config.revocation_poll_seconds, config.instance) \
        if config.revocation_poll_seconds > 0 else None
    gateway = Gateway(server, health_servicer, port, _listen_agency(agency_server, config), registry, message_log,
                      services, feed, recorder, signer, agency_server=agency_server, revocations=poller)
    if config.outbound_address:
        _add_outbound(gateway, config, limiter, recorder, deadlines)
    registry.on_change = gateway.on_registry_change
    return gateway


def _add_outbound(gateway: Gateway, config: GatewayConfig, limiter: MemberLimiter, recorder: ExchangeRecorder,
                  deadlines: DeadlinePolicy) -> None:
    tls = config.outbound_listener_tls
    if tls is not None and config.outbound_client is None:
        log.warning("EGOV_GATEWAY_OUTBOUND_CLIENT_CERT/KEY are not set: external systems that require the "
                    "gateway's client certificate will refuse its calls")
    channels = ExternalChannels(config.outbound_client)
    exchange = OutboundExchange(gateway.registry.current, channels, limiter, recorder, deadlines,
                                tls=tls is not None, max_message_bytes=config.max_message_bytes)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="gateway-outbound"),
        options=[("grpc.max_receive_message_length", config.grpc_message_limit),
                 ("grpc.max_send_message_length", config.grpc_message_limit)],
        maximum_concurrent_rpcs=config.workers,
    )
    server.add_generic_rpc_handlers((exchange,))
    gateway.outbound_port = listen_outbound(
        server, config.outbound_address, (tls.certificate, tls.key, tls.client_ca) if tls else None)
    gateway.outbound_server, gateway.external_channels = server, channels


def _grpc_server(config: GatewayConfig, workers: int, name: str,
                 interceptors: list[grpc.ServerInterceptor[Any, Any]]) -> grpc.Server:
    return grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", config.grpc_message_limit),
                 ("grpc.max_send_message_length", config.grpc_message_limit)],
        # Beyond one call per worker grpcio answers RESOURCE_EXHAUSTED at once instead of queueing.
        maximum_concurrent_rpcs=workers,
    )


def _listen(server: grpc.Server, config: GatewayConfig) -> int:
    tls = config.tls
    if tls is None:
        log.warning("PLAINTEXT: EGOV_GATEWAY_TLS_CERT/KEY/CLIENT_CA are not set, so calls are not encrypted; "
                    "for local development only")
        return server.add_insecure_port(config.address)
    return server.add_secure_port(config.address, grpc.ssl_server_credentials([(tls.key, tls.certificate)]))


def _listen_agency(server: grpc.Server | None, config: GatewayConfig) -> str | None:
    if server is None:
        log.warning("EGOV_GATEWAY_AGENCY_SOCKET is not set: no agency system can call")
        return None
    # The socket file is the boundary: only the front, running as the gateway's user, may connect.
    server.add_insecure_port(f"unix:{config.agency_socket}")
    os.chmod(config.agency_socket, 0o600)
    return config.agency_socket


_EPHEMERAL_MEANS = {
    "EGOV_GATEWAY_CALLER_KEY_FILE": "services, which verify the callers it signs with the key they were given, "
                                    "will refuse every caller but anonymous ones",
}


def _ephemeral(variable: str, value: bytes) -> bytes:
    log.warning("%s is not set: using a key made for this run only; %s", variable, _EPHEMERAL_MEANS.get(
        variable, "the message log written now cannot be linked to or checked against another run's"))
    return value


def _private_key(variable: str, pem: bytes | None) -> Ed25519PrivateKey:
    if pem is None:
        return Ed25519PrivateKey.from_private_bytes(_ephemeral(variable, secrets.token_bytes(32)))
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{variable} must hold an Ed25519 private key (PEM)")
    return key


def serve() -> None:
    logs.configure(os.environ.get("EGOV_LOG_LEVEL", "INFO"))
    telemetry.setup("gateway")
    config = GatewayConfig.from_env()
    backend = NamekoRpcClient(config.amqp_uri)
    if not backend.start():
        log.warning("broker not reachable yet; calls answer UNAVAILABLE until it is")
    mongo: MongoClient[dict[str, Any]] = MongoClient(config.mongo_uri, serverSelectionTimeoutMS=2000,
                                                     appname=f"gateway {config.instance}")
    registry_store, log_store = RegistryStore(mongo, config.db_name), MongoLogStore(mongo, config.db_name)
    try:
        registry_store.ensure_indexes()
    except Exception as exc:   # the registry and log threads keep trying; calls wait for them
        log.error("the gateway database is not reachable yet: %s", exc)
    # The log's anchors go to the archive stream, out of reach of the gateway's database.
    anchors = ArchiveAnchors(config.amqp_uri, backend)
    gateway = build_gateway(config, backend, registry_source=registry_store, log_store=log_store, anchors=anchors)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gateway.start()
    log.info("gateway listening", extra={"fields": {
        "address": config.address, "agency_socket": gateway.agency_socket,
        "outbound_address": config.outbound_address or None,
        "outbound_tls": config.outbound_listener_tls is not None,
        "tls": config.tls is not None, "workers": config.workers, "log_chain": config.log_chain}})
    stopping.wait()
    log.info("stopping: draining calls for up to %.1f s", config.grace)
    gateway.stop(config.grace)
    anchors.close()
    backend.close()
    mongo.close()
    telemetry.shutdown()
    log.info("stopped")
