"""The payment intermediary and the reconciliation settings as nameko extensions: configured and
checked once at start-up."""

from datetime import timedelta
from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.common.config import ConfigError, env, env_float
from services.payments.adapters.paygate import PaygateClient

DEFAULT_MERCHANT_CODE = "HUEGOV"


class Paygate(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.client = PaygateClient(
            base_url=env("EGOV_PAYGATE_URL", "http://127.0.0.1:8101"),
            callback_url=env("EGOV_PAYMENTS_CALLBACK_URL", "http://127.0.0.1:8000/callbacks/paygate"),
            merchant_code=env("EGOV_PAYGATE_MERCHANT_CODE", DEFAULT_MERCHANT_CODE),
            # No default: the merchant's secret (it signs our calls and the intermediary's notices)
            # is never in the repo.
            secret=env("EGOV_PAYGATE_SECRET"),
            timeout=env_float("EGOV_PAYGATE_TIMEOUT_SECONDS", 10.0),
        )

    def get_dependency(self, worker_ctx: WorkerContext) -> PaygateClient:
        return self.client


class ReconcileGrace(DependencyProvider):  # type: ignore[misc]
    """How long an open bill's transaction is left to its payment notice before it is queried:
    longer than the intermediary's own retries, so reconciliation catches what they gave up on."""

    def setup(self) -> None:
        seconds = env_float("EGOV_PAYMENTS_RECONCILE_GRACE_SECONDS", 600.0)
        if seconds < 0:
            raise ConfigError("EGOV_PAYMENTS_RECONCILE_GRACE_SECONDS must not be negative")
        self.grace = timedelta(seconds=seconds)

    def get_dependency(self, worker_ctx: WorkerContext) -> timedelta:
        return self.grace


class ReconcileTimer(Timer):  # type: ignore[misc]
    """nameko's timer with its interval from EGOV_PAYMENTS_RECONCILE_SECONDS, read at start-up."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(interval=60.0, **kwargs)

    def setup(self) -> None:
        self.interval = env_float("EGOV_PAYMENTS_RECONCILE_SECONDS", 60.0)
        if self.interval <= 0:
            raise ConfigError("EGOV_PAYMENTS_RECONCILE_SECONDS must be positive")


reconcile_timer = ReconcileTimer.decorator
