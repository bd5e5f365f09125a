"""The gateway as a real process in front of a real nameko service (tests/integration/fake_services.py)
on the real broker, called with a real grpcio client and the generated stubs."""

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from nameko.standalone.rpc import ClusterRpcClient

from deploy.local.stack import BIN, ROOT, Stack, free_port, wait_for_port
from egov.common.v1 import caller_pb2
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from services.common.caller import Caller, CallerKind
from services.common.tokens import generate_key_pair, issue_token
from tests.support import eventually

KNOWN_PROCEDURE = "1.001612"
# The fake's record_step answers after 3 s; the gateway must give up at its own deadline first.
GATEWAY_DEADLINE_SECONDS = "2"


@dataclass
class Platform:
    stack: Stack
    channel: grpc.Channel
    procedures: procedures_pb2_grpc.ProcedureServiceStub
    private_key: bytes

    def token(self, caller: Caller) -> tuple[tuple[str, str]]:
        token, _ = issue_token(self.private_key, caller, timedelta(minutes=5))
        return (("authorization", f"Bearer {token}"),)

    def recorded_calls(self) -> list[dict[str, Any]]:
        with ClusterRpcClient(uri=self.stack.amqp_uri, timeout=10) as rpc:
            return list(rpc.procedures.recorded_calls())


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The broker vhost, keys and env of a stack with no platform service, the fake `procedures`
    service, and the gateway. Module-scoped: one stack for all tests here."""
    stack = Stack(tmp_path_factory.mktemp("gateway"))
    try:
        stack.start(services=(), gateway=False)
        stack.spawn("procedures", [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                                    "tests.integration.fake_services:FakeProcedures"], stack.env())
        stack.wait_for_service("procedures")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("EGOV_GATEWAY_DEFAULT_DEADLINE_SECONDS", GATEWAY_DEADLINE_SECONDS)
            env.setenv("EGOV_GATEWAY_MAX_DEADLINE_SECONDS", GATEWAY_DEADLINE_SECONDS)
            stack.start_gateway()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    private_key = Path(stack.env()["EGOV_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    try:
        yield Platform(stack, channel, procedures_pb2_grpc.ProcedureServiceStub(channel), private_key)
    finally:
        channel.close()
        stack.stop()


def citizen() -> Caller:
    return Caller(CallerKind.CITIZEN, subject=f"0460990{uuid.uuid4().int % 100000:05d}")


def civil_servant() -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject=f"cb-{uuid.uuid4().hex[:6]}", agency_code="000.00.15.H57",
                  role="specialist")


def submission(request_id: str, **fields: Any) -> pp.SubmitDossierRequest:
    document = pp.SubmittedDocument(document_code="TK01", file_name="to-khai.pdf", sha256="ab" * 32, size_bytes=2048)
    values: dict[str, Any] = {
        "procedure_code": KNOWN_PROCEDURE, "documents": [document], "client_request_id": request_id,
        "payment_method": pp.PAYMENT_METHOD_ONLINE,
        "delivery": pp.Delivery(method=pp.DELIVERY_METHOD_POST, recipient_name="Nguyễn Thị Hoa",
                                address=caller_pb2.Address(commune="Phường Phú Hội", district="Thành phố Huế",
                                                           province="Thừa Thiên Huế")),
    }
    values.update(fields)
    return pp.SubmitDossierRequest(**values)


def refused(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        call(*args, **kwargs)
    return failure.value


def reached_the_service(platform: Platform, request_id: str) -> bool:
    return any(c["request"].get("client_request_id") == request_id for c in platform.recorded_calls())


def test_a_valid_call_returns_the_service_answer(platform: Platform) -> None:
    procedure = platform.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE),
                                                 timeout=10).procedure
    assert (procedure.code, procedure.name, procedure.fee_vnd) == (KNOWN_PROCEDURE, "Đăng ký khai sinh", 50_000)

    applicant = citizen()
    request_id = uuid.uuid4().hex
    dossier = platform.procedures.SubmitDossier(submission(request_id), metadata=platform.token(applicant),
                                                timeout=10).dossier
    assert dossier.applicant_citizen_id == applicant.subject      # the caller from the token was carried
    assert dossier.delivery.address.commune == "Phường Phú Hội"
    assert dossier.documents[0].sha256 == "ab" * 32
    [recorded] = [c for c in platform.recorded_calls() if c["request"].get("client_request_id") == request_id]
    assert recorded["caller"]["kind"] == "CALLER_KIND_CITIZEN"


def test_invalid_input_is_refused_naming_the_field_and_never_reaches_the_service(platform: Platform) -> None:
    request_id = uuid.uuid4().hex
    bad_document = pp.SubmittedDocument(document_code="TK02", file_name="cccd.jpg", sha256="not-a-hash", size_bytes=1)
    request = submission(request_id)
    request.documents.append(bad_document)
    error = refused(platform.procedures.SubmitDossier, request, metadata=platform.token(citizen()), timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "documents[1].sha256: must match [0-9a-f]{64}"
    assert not reached_the_service(platform, request_id)


def test_remote_domain_errors_keep_their_status_and_message(platform: Platform) -> None:
    missing = refused(platform.procedures.GetProcedure, pp.GetProcedureRequest(procedure_code="9.999999"), timeout=10)
    assert (missing.code(), missing.details()) == (grpc.StatusCode.NOT_FOUND, "procedure_code: no procedure 9.999999")
    offline = refused(platform.procedures.SubmitDossier, submission(uuid.uuid4().hex, procedure_code="2.000001"),
                      metadata=platform.token(citizen()), timeout=10)
    assert (offline.code(), offline.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "procedure_code: this procedure is not offered online")


def test_a_service_bug_is_internal_and_its_detail_stays_in_the_log(platform: Platform) -> None:
    error = refused(platform.procedures.ApproveDossier, pp.ApproveDossierRequest(code="000.00.15.H57-260101-0001"),
                    metadata=platform.token(civil_servant()), timeout=10)
    assert error.code() == grpc.StatusCode.INTERNAL
    assert (error.details() or "").startswith("internal error (request id ")
    assert "hunter2" not in (error.details() or "")


def test_the_gateway_caps_a_longer_client_deadline(platform: Platform) -> None:
    error = refused(platform.procedures.RecordStep, pp.RecordStepRequest(code="000.00.15.H57-260101-0001",
                                                                         step="thẩm định"),
                    metadata=platform.token(civil_servant()), timeout=20)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_callers_are_authenticated_and_authorized_before_the_service_is_called(platform: Platform) -> None:
    no_token_id, forged_id, wrong_kind_id = (uuid.uuid4().hex for _ in range(3))
    no_token = refused(platform.procedures.SubmitDossier, submission(no_token_id), timeout=10)
    assert no_token.code() == grpc.StatusCode.UNAUTHENTICATED

    forged, _ = issue_token(generate_key_pair()[0], citizen(), timedelta(minutes=5))
    forgery = refused(platform.procedures.SubmitDossier, submission(forged_id),
                      metadata=(("authorization", f"Bearer {forged}"),), timeout=10)
    assert forgery.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization" in (forgery.details() or "")

    not_a_servant = refused(platform.procedures.AcceptDossier, pp.AcceptDossierRequest(code="x"),
                            metadata=platform.token(citizen()), timeout=10)
    assert not_a_servant.code() == grpc.StatusCode.PERMISSION_DENIED
    wrong_kind = refused(platform.procedures.RecordStep, pp.RecordStepRequest(code=wrong_kind_id, step="x"),
                         metadata=platform.token(citizen()), timeout=10)
    assert wrong_kind.code() == grpc.StatusCode.PERMISSION_DENIED

    calls = platform.recorded_calls()
    assert not any(c["request"].get("client_request_id") in (no_token_id, forged_id) for c in calls)
    assert not any(c["request"].get("code") == wrong_kind_id for c in calls)


def test_health_is_serving_overall_and_per_service(platform: Platform) -> None:
    health = health_pb2_grpc.HealthStub(platform.channel)
    for service in ("", "egov.procedures.v1.ProcedureService", "egov.identity.v1.IdentityService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_platform_services(platform: Platform) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(platform.channel)
    [reply] = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                   timeout=10))
    listed = {service.name for service in reply.list_services_response.service}
    assert listed >= {"egov.identity.v1.IdentityService", "egov.procedures.v1.ProcedureService",
                      "egov.payments.v1.PaymentService", "egov.postal.v1.PostalService",
                      "egov.notifications.v1.NotificationService", "grpc.health.v1.Health"}


def test_32_concurrent_calls_all_succeed(platform: Platform) -> None:
    applicant = citizen()
    token = platform.token(applicant)
    request_ids = [uuid.uuid4().hex for _ in range(32)]

    def submit(request_id: str) -> pp.Dossier:
        return platform.procedures.SubmitDossier(submission(request_id), metadata=token, timeout=30).dossier

    with ThreadPoolExecutor(max_workers=32) as pool:
        dossiers = list(pool.map(submit, request_ids))
    assert all(d.applicant_citizen_id == applicant.subject for d in dossiers)
    recorded = {c["request"].get("client_request_id") for c in platform.recorded_calls()}
    assert set(request_ids) <= recorded


def test_calls_succeed_again_after_the_broker_drops_the_gateway_connection(platform: Platform) -> None:
    vhost = platform.stack.vhost
    listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "vhost", "client_properties"],
                             check=True, capture_output=True, text=True, timeout=60).stdout
    [connection] = [line.split("\t")[0] for line in listing.splitlines()
                    if line.split("\t")[1:2] == [vhost] and '"gateway-rpc"' in line]
    subprocess.run(["rabbitmqctl", "-q", "close_connection", connection, "test: connection lost"],
                   check=True, capture_output=True, timeout=60)

    def answered() -> bool:
        try:
            platform.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE), timeout=5)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE   # while reconnecting, and nothing else
            return False
        return True

    eventually(answered, "the gateway to reconnect to the broker")


def test_sigterm_drains_and_exits_cleanly(platform: Platform) -> None:
    port = free_port()
    env = {**platform.stack.env(), "EGOV_GATEWAY_ADDRESS": f"127.0.0.1:{port}"}
    gateway = platform.stack.spawn("gateway-sigterm", [sys.executable, "-m", "gateway"], env)
    wait_for_port(port, 30, gateway, "second gateway")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    gateway.send_signal(signal.SIGTERM)
    assert gateway.wait(timeout=30) == 0
