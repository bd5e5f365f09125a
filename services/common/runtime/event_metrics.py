"""Counters of the event flow, exported with the process's other metrics (OTLP → the collector →
Prometheus as `egov_events_*_total`). Queue depths, dead letters waiting and redeliveries come from
RabbitMQ's own Prometheus endpoint (docs/DEVOPS.md, "Observe"): the broker knows them exactly, a
service would only sample them."""

from services.common import telemetry

_meter = telemetry.meter("egov.events")
published = _meter.create_counter(
    "egov.events.published", unit="{event}", description="events confirmed by the broker, by service and type")
consumed = _meter.create_counter(
    "egov.events.consumed", unit="{event}",
    description="events delivered to a service, by outcome: processed, duplicate (already in the inbox), "
                "rebuilt, ignored (no handler)")
failed = _meter.create_counter(
    "egov.events.failed", unit="{event}",
    description="handler failures, by outcome: retried (returned to the queue after a back-off) or dead_lettered")
