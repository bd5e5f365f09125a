"""The gateway's gRPC server in-process, with an in-memory bus in place of RabbitMQ."""

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest

from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.call_interceptors import Concern
from gateway.config import GatewayConfig
from gateway.deadlines import DeadlinePolicy
from gateway.rpc_client import RpcTimeout
from gateway.server import Gateway, build_gateway
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.tokens import generate_key_pair, issue_token

PRIVATE_KEY, PUBLIC_KEY = generate_key_pair()
CITIZEN = Caller(CallerKind.CITIZEN, subject="046099001234")


@dataclass
class SentCall:
    service: str
    method: str
    kwargs: Mapping[str, Any]
    timeout: float
    context_data: Mapping[str, Any]


class InMemoryBus:
    """Answers every call with `reply` (or raises `error`) and remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[SentCall] = []
        self.reply: Any = {"procedure": {"code": "1.001612"}}
        self.error: Exception | None = None

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        self.sent.append(SentCall(service, method, kwargs, timeout, context_data or {}))
        if self.error is not None:
            raise self.error
        return self.reply


@dataclass
class Running:
    bus: InMemoryBus
    channel: grpc.Channel
    procedures: procedures_pb2_grpc.ProcedureServiceStub


@pytest.fixture
def gateway() -> Iterator[Running]:
    bus = InMemoryBus()
    config = GatewayConfig(address="127.0.0.1:0", workers=4, max_message_bytes=64 * 1024, default_deadline=10,
                           max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=PUBLIC_KEY)
    server: Gateway = build_gateway(config, bus)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Running(bus, channel, procedures_pb2_grpc.ProcedureServiceStub(channel))
    finally:
        channel.close()
        server.stop(0)


def bearer(caller: Caller = CITIZEN, ttl: timedelta = timedelta(minutes=5),
           key: bytes = PRIVATE_KEY) -> tuple[tuple[str, str], ...]:
    token, _ = issue_token(key, caller, ttl)
    return (("authorization", f"Bearer {token}"),)


def code_of(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failed:
        call(*args, **kwargs)
    return failed.value.code(), failed.value.details() or ""


def test_a_call_is_carried_with_request_caller_and_trace(gateway: Running) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    reply = gateway.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"),
                                            metadata=(*bearer(), ("traceparent", traceparent)))
    assert reply.procedure.code == "1.001612"
    [sent] = gateway.bus.sent
    assert (sent.service, sent.method) == ("procedures", "get_procedure")
    assert sent.kwargs["request"] == {"procedure_code": "1.001612"}
    assert {k: v for k, v in sent.kwargs["caller"].items() if k != "proof"} == CITIZEN.to_wire()
    assert sent.kwargs["caller"]["proof"]["issuer"] == "gateway"      # signed: tests/unit/common/test_caller_proof.py
    assert sent.context_data["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


def test_an_anonymous_call_carries_the_anonymous_caller(gateway: Running) -> None:
    gateway.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"))
    assert gateway.bus.sent[0].kwargs["caller"]["kind"] == "CALLER_KIND_ANONYMOUS"


@pytest.mark.parametrize("metadata, message", [
    (lambda: bearer(ttl=timedelta(seconds=-5)), "expired"),
    (lambda: bearer(key=generate_key_pair()[0]), "signed with a key this gateway does not hold"),
    (lambda: (("authorization", "Basic dXNlcjpwYXNz"),), "Bearer"),
    (lambda: (("authorization", "Bearer not.a.jwt"),), "invalid access token"),
])
def test_a_bad_token_is_refused_even_where_anonymous_callers_are_allowed(
        gateway: Running, metadata: Any, message: str) -> None:
    code, details = code_of(gateway.procedures.GetProcedure, pp.GetProcedureRequest(procedure_code="1.001612"),
                            metadata=metadata())
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert details.startswith("authorization: ") and message in details
    assert gateway.bus.sent == []


def test_refusals_never_reach_the_bus(gateway: Running) -> None:
    servant_only = pp.AcceptDossierRequest(code="000.00.15.H57-260101-0001")
    assert code_of(gateway.procedures.AcceptDossier, servant_only)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(gateway.procedures.AcceptDossier, servant_only, metadata=bearer())[0] == \
        grpc.StatusCode.PERMISSION_DENIED
    assert code_of(gateway.procedures.GetDossier, pp.GetDossierRequest(), metadata=bearer()) == \
        (grpc.StatusCode.INVALID_ARGUMENT, "code: is required")
    assert gateway.bus.sent == []


def test_bytes_that_are_not_the_request_message_are_an_invalid_argument(gateway: Running) -> None:
    raw = gateway.channel.unary_unary("/egov.procedures.v1.ProcedureService/GetProcedure", None, None)
    code, details = code_of(raw, b"\x0a\xff\xff\xff", metadata=bearer())
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("request: not a valid egov.procedures.v1.GetProcedureRequest")


def test_the_client_deadline_bounds_the_rpc_timeout(gateway: Running) -> None:
    gateway.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"), timeout=2)
    # grpc-timeout travels rounded up, so "about 2 s": in any case the client's, not the 10 s default.
    assert 0 < gateway.bus.sent[0].timeout < 5


def test_bus_failures_become_statuses_and_internals_stay_in_the_log(gateway: Running) -> None:
    gateway.bus.error = RpcTimeout("procedures", "get_procedure", 10)
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    assert code_of(gateway.procedures.GetProcedure, request)[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    gateway.bus.error = None
    gateway.bus.reply = {"procedure": {"no_such_field": 1}}
    code, details = code_of(gateway.procedures.GetProcedure, request)
    assert code == grpc.StatusCode.INTERNAL
    assert details.startswith("internal error (request id ") and "no_such_field" not in details


@pytest.mark.parametrize("client_remaining, expected", [
    (None, 10.0), (1e12, 10.0), (2.5, 2.5), (30.0, 30.0), (100.0, 30.0),
])
def test_deadline_defaults_and_cap(client_remaining: float | None, expected: float) -> None:
    assert DeadlinePolicy(default_seconds=10, max_seconds=30).seconds(client_remaining) == expected


def test_text_reaches_the_service_in_nfc_and_its_length_is_counted_so(gateway: Running) -> None:
    """Issue 12 items 12 and 15: decomposed (NFD) text is stored as NFC, and a name at its length limit
    in NFC is not refused because it was typed decomposed."""
    from tests.unit.gateway.test_validation import address, submission

    name = "Nguyễn Thị Hoà" + "ễ" * 106                      # 120 characters in NFC (the limit), 336 in NFD
    gateway.bus.reply = {"dossier": {"code": "000.00.15.H57-260101-0001"}}
    gateway.procedures.SubmitDossier(submission(delivery=pp.Delivery(
        method=pp.DELIVERY_METHOD_POST, recipient_name=unicodedata.normalize("NFD", name),
        address=address(street=unicodedata.normalize("NFD", "12 Lê Lợi")))), metadata=bearer(), timeout=5)
    [sent] = gateway.bus.sent
    assert sent.kwargs["request"]["delivery"]["recipient_name"] == name
    assert sent.kwargs["request"]["delivery"]["address"]["street"] == "12 Lê Lợi"


def test_a_reply_that_crosses_serialized_reaches_the_client_as_the_same_message(gateway: Running) -> None:
    """Hot reads answer with the message already serialized (services/common/protowire.py `encoded`)."""
    dossier = pp.Dossier(code="000.00.15.H57-260101-0001", status=pp.DOSSIER_STATUS_IN_PROGRESS,
                         procedure_name="Cấp phiếu lý lịch tư pháp")
    gateway.bus.reply = protowire.encoded(pp.GetDossierResponse(dossier=dossier).SerializeToString())
    reply = gateway.procedures.GetDossier(pp.GetDossierRequest(code=dossier.code), metadata=bearer(), timeout=5)
    assert reply.dossier == dossier


def test_serialized_bytes_that_are_not_the_response_are_an_internal_error(gateway: Running) -> None:
    gateway.bus.reply = protowire.encoded(b"\x0a\xff\xff\xff")
    code, details = code_of(gateway.procedures.GetDossier, pp.GetDossierRequest(code="000.00.15.H57-260101-0001"),
                            metadata=bearer())
    assert code == grpc.StatusCode.INTERNAL
    assert details.startswith("internal error (request id ")


def test_the_interceptor_chain_is_not_rebuilt_for_each_call(gateway: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    gateway.procedures.GetProcedure(request)
    rebuilt: list[object] = []
    original = Concern.rebuilt
    monkeypatch.setattr(Concern, "rebuilt", staticmethod(lambda *args, **kwargs: rebuilt.append(args) or
                                                         original(*args, **kwargs)))
    gateway.procedures.GetProcedure(request)
    gateway.procedures.GetProcedure(request, metadata=bearer())
    assert rebuilt == [] and len(gateway.bus.sent) == 3
