"""One journey through the gateway is one trace, with spans from every process it crosses, and it
shows in the metrics every process exports."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from pymongo import MongoClient

from deploy.local.journey import Journey, residents
from deploy.local.stack import Stack
from egov.procedures.v1 import procedures_pb2 as pp
from tests.e2e.conftest import Platform
from tests.otlp_receiver import OtlpReceiver
from tests.support import eventually

pytestmark = pytest.mark.e2e


@dataclass
class TracedJourney:
    platform: Platform
    receiver: OtlpReceiver
    trace_id: str
    root_span: str
    citizen_id: str
    dossier_code: str
    agency_code: str


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedJourney]:
    """One journey on a stack exporting OTLP to the receiver, under a trace id of the test's."""
    receiver = OtlpReceiver()
    stack = Stack(tmp_path_factory.mktemp("traced"), extra_env={
        "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    try:
        stack.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
        platform = Platform(stack, Journey.of(stack, channel),
                            MongoClient(stack.mongo_uri))
        journey = platform.journey
        trace_id, root_span = secrets.token_hex(16), secrets.token_hex(8)
        journey.trace.traceparent = f"00-{trace_id}-{root_span}-01"
        citizen = journey.register_citizen(residents()[0])
        procedure = journey.pick_procedure(level=4, with_fee=True)
        dossier = journey.submit(citizen, procedure)
        journey.pay(citizen, dossier.code)
        officer = platform.civil_servant(procedure.agency_code)
        journey.receive(officer, dossier.code)
        journey.work(officer, dossier.code)
        journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED)
        yield TracedJourney(platform, receiver, trace_id, root_span, citizen.citizen_id, dossier.code,
                            procedure.agency_code)
    finally:
        stack.stop()
        receiver.close()


def test_a_journey_is_one_trace_across_every_process(traced: TracedJourney) -> None:
    receiver, trace_id, root_span = traced.receiver, traced.trace_id, traced.root_span
    wanted = {"gateway", "identity", "procedures", "payments", "postal", "notifications"}

    def orphans() -> list[object]:
        spans = receiver.trace(trace_id)
        by_id = {s.span_id for s in spans}
        return [s for s in spans if s.parent_span_id not in by_id and s.parent_span_id != root_span]

    # Spans arrive in batches, a parent often after its children: wait until the trace is whole.
    eventually(lambda: wanted <= {x.service for x in receiver.trace(trace_id)} and not orphans(),
               "spans from the gateway and all five services, each with its parent", timeout=30)
    spans = receiver.trace(trace_id)
    assert orphans() == []
    assert any(s.name.startswith("payments handle egov.procedures.v1.DossierSubmitted") for s in spans)
    assert any(dict(s.attributes).get("egov.dossier_code") == traced.dossier_code for s in spans)
    # Personal data stays out of spans.
    assert not any(traced.citizen_id in value for s in spans for _, value in s.attributes)


def test_the_journey_shows_in_every_process_metrics(traced: TracedJourney) -> None:
    receiver = traced.receiver
    submitted, completed = "egov.procedures.v1.DossierSubmitted", "egov.procedures.v1.DossierCompleted"
    expected = [
        ("gateway", "egov.gateway.calls", {"rpc.method": "SubmitDossier", "rpc.grpc.status_code": 0}),
        ("gateway", "rpc.server.call.duration", {"rpc.service": "egov.procedures.v1.ProcedureService",
                                                 "rpc.method": "SubmitDossier"}),
        ("procedures", "egov.events.published", {"type": submitted}),
        ("procedures", "egov.events.published", {"type": completed}),
        ("payments", "egov.events.consumed", {"type": submitted, "outcome": "processed"}),
        ("notifications", "egov.events.consumed", {"type": completed, "outcome": "processed"}),
        ("procedures", "egov.dossiers.completed", {"agency_code": traced.agency_code,
                                                   "timeliness": "TIMELINESS_EARLY"}),
    ]
    eventually(lambda: all(receiver.metric(service, name, **labels) >= 1 for service, name, labels in expected),
               "the journey's calls, events and completed dossier in the exported metrics", timeout=30)
    assert receiver.metric("payments", "egov.events.failed") == 0
