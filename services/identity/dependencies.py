"""nameko dependency providers of identity: each builds its client once, at container setup."""

import os
from dataclasses import replace
from datetime import timedelta
from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import ConfigError, database_name, mongo_uri
from services.identity.adapters.business_registry import BusinessRegistry, GrpcBusinessRegistry
from services.identity.adapters.exchange import Endpoint
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.population import GrpcPopulationRegistry, PopulationRegistry
from services.identity.adapters.repository import ensure_indexes
from services.identity.adapters.sessions import ensure_session_indexes
from services.identity.adapters.sign_in_failures import ensure_failure_indexes
from services.identity.adapters.signing import TokenSigner
from services.identity.adapters.verifications import ensure_verification_indexes
from services.identity.domain.rate_limits import CodePolicy, Limit

# The gateway puts the address its caller connected from in this nameko context header
# (gateway/call.py); "" for calls that did not come through the gateway's public port.
CLIENT_ADDRESS_HEADER = "client_address"


class Population(DependencyProvider):  # type: ignore[misc]
    """The national population database client, through the gateway's outbound exchange, shared by
    all workers (gRPC channels are thread-safe)."""

    def setup(self) -> None:
        self.registry = GrpcPopulationRegistry(Endpoint.from_env("EGOV_POPULATION_ADDRESS"))

    def stop(self) -> None:
        self.registry.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> PopulationRegistry:
        return self.registry.joined(str(worker_ctx.context_data.get("traceparent") or ""))


class Businesses(DependencyProvider):  # type: ignore[misc]
    """The national business registration database client, through the gateway's outbound exchange."""

    def setup(self) -> None:
        self.registry = GrpcBusinessRegistry(
            Endpoint.from_env("EGOV_BUSINESS_REGISTRY_ADDRESS"))

    def stop(self) -> None:
        self.registry.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> BusinessRegistry:
        return self.registry.joined(str(worker_ctx.context_data.get("traceparent") or ""))


class Signer(DependencyProvider):  # type: ignore[misc]
    """The token signing key, read once; a missing key stops the service at start-up, not at sign-in."""

    def setup(self) -> None:
        self.signer = TokenSigner.from_environment()

    def get_dependency(self, worker_ctx: WorkerContext) -> TokenSigner:
        return self.signer


class Passwords(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.hasher = PasswordHasher()

    def get_dependency(self, worker_ctx: WorkerContext) -> PasswordHasher:
        return self.hasher


class AccountIndexes(DependencyProvider):  # type: ignore[misc]
    """Creates identity's indexes at setup, which every extension finishes before any starts, so no
    request is served before the unique indexes exist. Workers get nothing from it."""

    def setup(self) -> None:
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000)
        try:
            ensure_indexes(client[database_name("identity")])
            ensure_verification_indexes(client[database_name("identity")])
            ensure_session_indexes(client[database_name("identity")])
            ensure_failure_indexes(client[database_name("identity")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None


class ClientAddress(DependencyProvider):  # type: ignore[misc]
    """The address the gateway's caller connected from, for limits per address."""

    def get_dependency(self, worker_ctx: WorkerContext) -> str:
        return str(worker_ctx.context_data.get(CLIENT_ADDRESS_HEADER) or "")


class CodeLimits(DependencyProvider):  # type: ignore[misc]
    """How many one-time codes per person and per source; the per-address limit can be set with
    EGOV_IDENTITY_CODES_PER_ADDRESS_PER_HOUR (carrier-grade NAT may need more, a test less)."""

    def setup(self) -> None:
        policy = CodePolicy()
        raw = os.environ.get("EGOV_IDENTITY_CODES_PER_ADDRESS_PER_HOUR", "")
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"EGOV_IDENTITY_CODES_PER_ADDRESS_PER_HOUR must be a positive integer, got {raw!r}")
            policy = replace(policy, per_address=(Limit("code-address-1h", int(raw), timedelta(hours=1)),))
        self.policy = policy

    def get_dependency(self, worker_ctx: WorkerContext) -> CodePolicy:
        return self.policy
