"""The payment intermediary as a nameko dependency: configured and checked once at start-up."""

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider

from services.common.config import env, env_float
from services.payments.adapters.paygate import PaygateClient


class Paygate(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.client = PaygateClient(
            base_url=env("EGOV_PAYGATE_URL", "http://127.0.0.1:8101"),
            callback_url=env("EGOV_PAYMENTS_CALLBACK_URL", "http://127.0.0.1:8000/callbacks/paygate"),
            # No default: the secret that proves a callback came from the intermediary is never in the repo.
            notice_secret=env("EGOV_PAYGATE_SECRET"),
            timeout=env_float("EGOV_PAYGATE_TIMEOUT_SECONDS", 10.0),
        )

    def get_dependency(self, worker_ctx: WorkerContext) -> PaygateClient:
        return self.client
