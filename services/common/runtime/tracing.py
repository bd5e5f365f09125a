"""Tracing inside nameko processes: every entrypoint gets a span (opentelemetry-instrumentation-nameko),
every MongoDB command a child span (pymongo instrumentation), and an event handler's span continues
the trace of the span that emitted the event (its `traceparent` travels in the CloudEvent envelope).
"""

import re
from typing import Any

from nameko_opentelemetry import NamekoInstrumentor
from nameko_opentelemetry.messaging import ConsumerEntrypointAdapter
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

from services.common import telemetry
from services.common.events.envelope import decode

DOSSIER_CODE = re.compile(r"[0-9A-Z.]+-[0-9]{6}-[0-9]{4}")


class EventConsumerAdapter(ConsumerEntrypointAdapter):  # type: ignore[misc]
    """Spans for `consume_events`: parent from the envelope, named after the event type."""

    def _event(self, worker_ctx: Any) -> Any:
        try:
            return decode(worker_ctx.args[0])
        except (ValueError, IndexError):
            return None

    def get_metadata(self, worker_ctx: Any) -> dict[str, str]:
        event = self._event(worker_ctx)
        return {"traceparent": event.traceparent} if event is not None and event.traceparent else {}

    def get_span_name(self, worker_ctx: Any) -> str:
        event = self._event(worker_ctx)
        kind = event.type if event is not None else "malformed event"
        return f"{worker_ctx.service_name} handle {kind}"

    def get_attributes(self, worker_ctx: Any) -> dict[str, str]:
        attributes: dict[str, str] = super().get_attributes(worker_ctx)
        event = self._event(worker_ctx)
        if event is not None:
            attributes.update({"cloudevents.event_id": event.id, "cloudevents.event_type": event.type,
                               "cloudevents.event_source": event.source})
            # Dossier codes only: subjects of other events (a citizen ID) are personal data.
            if DOSSIER_CODE.fullmatch(event.correlation_id):
                attributes["egov.dossier_code"] = event.correlation_id
        return attributes


def instrument(service_name: str) -> None:
    """Configure exporters from the environment and instrument nameko and pymongo (when enabled)."""
    telemetry.setup(service_name)
    if telemetry.exporter_kind() == "none":
        return
    if not PymongoInstrumentor().is_instrumented_by_opentelemetry:
        PymongoInstrumentor().instrument()
    if not NamekoInstrumentor().is_instrumented_by_opentelemetry:
        NamekoInstrumentor().instrument(entrypoint_adapters={
            "services.common.runtime.entrypoints.EventConsumer": "services.common.runtime.tracing.EventConsumerAdapter",
        })
