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
    description="handler failures, by outcome: retried (returned to the queue after a back-off), dead_lettered, "
                "or park_failed (the parked copy was not confirmed and routed: the original went back to its queue)")
archived = _meter.create_counter(
    "egov.events.archived", unit="{event}", description="events the archive indexed from its stream (the alert on "
    "archive index lag compares it with egov.events.published)")
outbox_backlog = _meter.create_gauge(
    "egov.outbox.backlog", unit="{event}",
    description="events the outbox relay found unpublished past its grace period at its last pass, by service")
unroutable = _meter.create_counter(
    "egov.outbox.unroutable", unit="{event}",
    description="events the broker returned because no queue was bound for their type, by service and type: "
                "set aside in the outbox and retried after a back-off, so the relay goes on with the others")
