"""Issue 13 section 4, the gateway's part: RPC spans and metrics per the OpenTelemetry semantic
conventions: spans named `<package.Service>/<Method>` with `rpc.system`, `rpc.service`, `rpc.method`
and `rpc.grpc.status_code` as an integer; call durations as a histogram in seconds."""

import grpc
from opentelemetry.trace import SpanKind

from egov.procedures.v1 import procedures_pb2 as pp
from tests.unit.gateway.metrics import histogram, reader, span_exporter
from tests.unit.gateway.test_outbound import VERIFY, Exchange, certs, exchange  # noqa: F401 - fixtures
from tests.unit.gateway.test_server import Running, code_of, gateway  # noqa: F401 - the fixture

SERVICE, METHOD = "egov.procedures.v1.ProcedureService", "GetProcedure"


def test_a_served_call_is_a_server_span_and_a_duration_in_seconds_with_the_numeric_status(
        gateway: Running) -> None:  # noqa: F811 - the fixture imported above
    exporter, _ = span_exporter(), reader()
    exporter.clear()
    gateway.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"), timeout=5)
    code, _ = code_of(gateway.procedures.AcceptDossier, pp.AcceptDossierRequest(code="000.00.15.H57-260101-0001"))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    spans = {s.name: s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER}
    served = spans[f"{SERVICE}/{METHOD}"]
    assert dict(served.attributes or {}) == {"rpc.system": "grpc", "rpc.service": SERVICE, "rpc.method": METHOD,
                                             "rpc.grpc.status_code": 0}
    assert dict(spans[f"{SERVICE}/AcceptDossier"].attributes or {})["rpc.grpc.status_code"] == 16
    unit, points = histogram("rpc.server.call.duration")
    assert unit == "s"
    ok = [p for p in points if dict(p.attributes) == {"rpc.system": "grpc", "rpc.service": SERVICE,
                                                      "rpc.method": METHOD, "rpc.grpc.status_code": 0}]
    assert ok and ok[0].count >= 1
    assert 0.001 in ok[0].explicit_bounds            # buckets made for seconds, not the SDK's milliseconds
    assert any(dict(p.attributes).get("rpc.grpc.status_code") == 16 for p in points)


def test_an_outbound_call_is_a_client_span_and_a_client_duration_in_seconds(
        exchange: Exchange) -> None:  # noqa: F811 - the fixture imported above
    exporter, _ = span_exporter(), reader()
    exporter.clear()
    exchange.verify()
    [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    service, method = VERIFY.lstrip("/").split("/")
    assert span.name == f"{service}/{method}"
    attributes = dict(span.attributes or {})
    assert (attributes["rpc.service"], attributes["rpc.method"], attributes["rpc.grpc.status_code"]) == (
        service, method, 0)
    unit, points = histogram("rpc.client.call.duration")
    assert unit == "s"
    assert any(dict(p.attributes).get("rpc.method") == method and dict(p.attributes)["rpc.grpc.status_code"] == 0
               for p in points)
