"""The gateway process: a grpcio server (no eventlet) serving the platform's gRPC API.

Platform methods pass the interceptor chain (gateway.interceptors) to the generic handler
(gateway.handlers), which carries them over nameko RPC. Standard health (`grpc.health.v1`) and server
reflection are served alongside. SIGTERM: health turns NOT_SERVING, in-flight calls get `grace`
seconds to finish, then the process exits.
"""

from __future__ import annotations  # grpc's generic types exist only in its stubs

import logging
import os
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway import logs, validation
from gateway.auth import Authenticator, caller_resolvers
from gateway.config import GatewayConfig
from gateway.handlers import generic_handlers
from gateway.interceptors import (
    AuthenticationInterceptor,
    AuthorizationInterceptor,
    RequestContextInterceptor,
)
from gateway.methods import Method, build_method_table, grpc_service_names
from gateway.rpc_client import NamekoRpcClient, RpcBackend

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    server: grpc.Server
    health: health.HealthServicer
    port: int

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def build_gateway(config: GatewayConfig, backend: RpcBackend,
                  table: Mapping[str, Method] | None = None) -> Gateway:
    table = build_method_table() if table is None else table
    for method in table.values():
        validation.prepare(method.request_class)
    interceptors: list[grpc.ServerInterceptor[Any, Any]] = [
        RequestContextInterceptor(table, config.default_deadline, config.max_deadline),
        AuthenticationInterceptor(table, Authenticator(caller_resolvers(config.token_public_key))),
        AuthorizationInterceptor(table),
    ]
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="gateway-call"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", config.max_message_bytes),
                 ("grpc.max_send_message_length", config.max_message_bytes)],
    )
    server.add_generic_rpc_handlers(generic_handlers(table, backend))

    services = grpc_service_names(table)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *services):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*services, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    # Plaintext until mutual TLS for agency members arrives (see gateway.auth.caller_resolvers).
    port = server.add_insecure_port(config.address)
    return Gateway(server, health_servicer, port)


def serve() -> None:
    logs.configure(os.environ.get("EGOV_LOG_LEVEL", "INFO"))
    config = GatewayConfig.from_env()
    backend = NamekoRpcClient(config.amqp_uri)
    if not backend.start():
        log.warning("broker not reachable yet; calls answer UNAVAILABLE until it is")
    gateway = build_gateway(config, backend)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gateway.start()
    log.info("gateway listening", extra={"fields": {"address": config.address, "workers": config.workers}})
    stopping.wait()
    log.info("stopping: draining calls for up to %.1f s", config.grace)
    gateway.stop(config.grace)
    backend.close()
    log.info("stopped")
