"""Agency systems through the real gateway process with mutual TLS, its member registry in the real
database managed with the real admin command (`egov-gateway`), in front of the fake `procedures`
service: every refusal path with its status and its message log record.

Over 300 lines: the tests share one module-scoped stack (started once), so they stay together."""

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient
from typer.testing import CliRunner

from deploy.certs import Issued, file_name, issue, load, make_all, make_ca
from deploy.local.stack import BIN, ROOT, Stack, free_port
from egov.common.v1 import caller_pb2
from egov.gateway.v1 import metadata_pb2 as md
from egov.gateway.v1 import metadata_pb2_grpc
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.cli import app
from tests.support import eventually

DESK = "VN/GOV/000.00.15.H57/one-stop-desk"
POST = "VN/COM/0100109106/vnpost-counter"
STRANGER = "VN/GOV/000.00.99.H57/stranger"          # has a certificate from the CA, never registered
SUBMIT = "/egov.procedures.v1.ProcedureService/SubmitDossier"
GET_PROCEDURE = "/egov.procedures.v1.ProcedureService/GetProcedure"
KNOWN_PROCEDURE = "1.001612"
MAX_BYTES = 32 * 1024


@dataclass
class AgencyPlatform:
    stack: Stack
    certs: Path
    mongo: MongoClient  # type: ignore[type-arg]
    cli: CliRunner
    env: dict[str, str]              # the admin command's
    gateway_env: dict[str, str]      # the gateway's, besides the stack's

    def admin(self, *args: str, expect: int = 0) -> str:
        result = self.cli.invoke(app, list(args), env=self.env)
        assert result.exit_code == expect, f"egov-gateway {' '.join(args)}: {result.output}"
        return result.output

    def client_cert(self, subsystem: str) -> Issued:
        directory = self.certs / "agencies"
        return load(directory / f"{file_name(subsystem)}.pem", directory / f"{file_name(subsystem)}.key")

    def channel(self, client: Issued | None, agency: bool = True) -> grpc.Channel:
        port = self.env["AGENCY_PORT"] if agency else str(self.stack.ports.gateway)
        credentials = grpc.ssl_channel_credentials(
            (self.certs / "ca.pem").read_bytes(), client.key_pem if client else None,
            client.certificate_pem if client else None)
        return grpc.secure_channel(f"127.0.0.1:{port}", credentials)

    def procedures(self, subsystem: str | None = DESK) -> Any:
        return procedures_pb2_grpc.ProcedureServiceStub(
            self.channel(self.client_cert(subsystem) if subsystem else None, agency=subsystem is not None))

    def record(self, request_id: str) -> dict[str, Any]:
        return eventually(lambda: self.mongo["egov_gateway"]["message_log"].find_one({"request_id": request_id}),
                          f"the message log record of request {request_id}")

    def start_gateway(self) -> None:
        # As the stack's extra environment: it overrides the stack's own settings (its certificates
        # and keys), where the process environment would not.
        self.stack.extra_env.update(self.gateway_env)
        self.stack.start_gateway()

    def recorded_calls(self) -> list[dict[str, Any]]:
        with ClusterRpcClient(uri=self.stack.amqp_uri, timeout=10) as rpc:
            return list(rpc.procedures.recorded_calls())


def gateway_env(stack: Stack, certs: Path, **extra: str) -> dict[str, str]:
    return {"EGOV_GATEWAY_TLS_CERT": str(certs / "gateway.pem"), "EGOV_GATEWAY_TLS_KEY": str(certs / "gateway.key"),
            "EGOV_GATEWAY_TLS_CLIENT_CA": str(certs / "ca.pem"),
            "EGOV_GATEWAY_LOG_KEY_FILE": str(certs / "message-log.key"),
            "EGOV_GATEWAY_SEAL_KEY_FILE": str(certs / "gateway-seal.key"),
            "EGOV_GATEWAY_MAX_MESSAGE_BYTES": str(MAX_BYTES), **extra}


def start_agency_platform(tmp: Path, services: tuple[str, ...] = (), *, archive: bool = False,
                          **extra_env: str) -> AgencyPlatform:
    """A stack with certificates, a TLS gateway and `services`; without any, the fake `procedures`
    (and the archive, where the message log's anchors are read back, with `archive`)."""
    stack = Stack(tmp / "stack")
    certs = tmp / "certs"
    make_all(certs, agencies=(DESK, POST, STRANGER))
    agency_port = free_port()
    env = gateway_env(stack, certs, EGOV_GATEWAY_AGENCY_ADDRESS=f"127.0.0.1:{agency_port}", **extra_env)
    try:
        stack.start(services=services, gateway=False)
        if not services:
            stack.spawn("procedures", [str(BIN / "nameko"), "run", "--config",
                                        str(ROOT / "deploy" / "nameko.yaml"),
                                        "tests.integration.fake_services:FakeProcedures"], stack.env())
            stack.wait_for_service("procedures")
        if archive and "archive" not in services:
            stack.start_service("archive")
        platform = AgencyPlatform(stack, certs, MongoClient(stack.mongo_uri), CliRunner(), {
            "EGOV_MONGO_URI": stack.mongo_uri, "EGOV_AMQP_URI": stack.amqp_uri,
            "EGOV_GATEWAY_SEAL_KEY_FILE": env["EGOV_GATEWAY_SEAL_KEY_FILE"],
            "EGOV_GATEWAY_LOG_KEY_FILE": env["EGOV_GATEWAY_LOG_KEY_FILE"], "AGENCY_PORT": str(agency_port)}, env)
        platform.start_gateway()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    return platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyPlatform]:
    running = start_agency_platform(tmp_path_factory.mktemp("agencies"))
    try:
        running.admin("members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp tỉnh Thừa Thiên Huế")
        running.admin("members", "add", "COM", "0100109106", "--name", "Tổng công ty Bưu điện Việt Nam")
        running.admin("subsystems", "add", DESK, "--channel", "counter")
        running.admin("subsystems", "add", POST, "--channel", "post-office")
        for subsystem in (DESK, POST):
            running.admin("certs", "register", subsystem,
                          str(running.certs / "agencies" / f"{file_name(subsystem)}.pem"))
        running.admin("groups", "add", "front-offices", "--description", "one-stop desks and post offices")
        for subsystem in (DESK, POST):
            running.admin("groups", "add-member", "front-offices", subsystem)
        running.admin("grants", "add", SUBMIT, "--group", "front-offices")
        running.admin("grants", "add", GET_PROCEDURE, "--subsystem", DESK)
        yield running
    finally:
        running.mongo.close()
        running.stack.stop()


def submission(request_id: str) -> pp.SubmitDossierRequest:
    document = pp.SubmittedDocument(document_code="TK01", file_name="to-khai.pdf", sha256="ab" * 32, size_bytes=2048)
    return pp.SubmitDossierRequest(
        procedure_code=KNOWN_PROCEDURE, documents=[document], client_request_id=request_id,
        applicant_citizen_id="046099001234", payment_method=pp.PAYMENT_METHOD_AT_COUNTER,
        delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP))


def refused(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        call(*args, **kwargs)
    return failure.value


def request_id_of(error: grpc.RpcError) -> str:
    return dict(error.trailing_metadata() or ())["x-request-id"]


def test_front_offices_submit_on_a_citizens_behalf_and_their_channel_is_carried(platform: AgencyPlatform) -> None:
    for subsystem, channel in ((DESK, "CHANNEL_COUNTER"), (POST, "CHANNEL_POST_OFFICE")):
        request_id = uuid.uuid4().hex
        dossier, call = platform.procedures(subsystem).SubmitDossier.with_call(submission(request_id), timeout=10)
        assert dossier.dossier.applicant_citizen_id == "046099001234"
        [recorded] = [c for c in platform.recorded_calls() if c["request"].get("client_request_id") == request_id]
        assert recorded["caller"] == {"kind": "CALLER_KIND_AGENCY", "subject": subsystem,
                                      "agency_code": subsystem.split("/")[2], "role": "", "channel": channel,
                                      "appointments": []}
        record = platform.record(dict(call.trailing_metadata())["x-request-id"])
        assert (record["client"], record["method"], record["status"]) == (subsystem, SUBMIT, "OK")
        assert "046099001234" not in repr(record)


def test_an_agency_only_method_without_a_certificate_is_unauthenticated(platform: AgencyPlatform) -> None:
    metadata = metadata_pb2_grpc.MetadataServiceStub(platform.channel(None, agency=False))
    error = refused(metadata.ListClients, md.ListClientsRequest(), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    record = platform.record(request_id_of(error))
    assert (record["client"], record["status"]) == ("anonymous", "UNAUTHENTICATED")


def test_a_certificate_not_registered_is_unauthenticated(platform: AgencyPlatform) -> None:
    error = refused(platform.procedures(STRANGER).GetProcedure,
                    pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "is not registered to any subsystem" in (error.details() or "")
    record = platform.record(request_id_of(error))
    assert record["client"].startswith("certificate:") and record["status"] == "UNAUTHENTICATED"


def test_no_certificate_an_unknown_ca_or_an_expired_certificate_is_unauthenticated_and_logged(
        platform: AgencyPlatform) -> None:
    """The agency front lets every TLS client through to the gateway with its verdict on the
    certificate, so each refusal is a gRPC answer with a log record, not a failed handshake."""
    impostor = issue(make_ca("rogue CA"), DESK)
    ca = load(platform.certs / "ca.pem", platform.certs / "ca.key")
    now = datetime.now(UTC)
    expired = issue(ca, DESK, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    calls_before = len(platform.recorded_calls())
    for client, reason, logged_as in (
            (None, "certificate: no client certificate was presented", "anonymous"),
            (impostor, "certificate: the client certificate is not trusted: its issuer is not a trusted CA",
             f"certificate:{impostor.certificate.fingerprint(hashes.SHA256()).hex()}"),
            (expired, "certificate: the client certificate expired at "
                      f"{expired.certificate.not_valid_after_utc.isoformat()}",
             f"certificate:{expired.certificate.fingerprint(hashes.SHA256()).hex()}")):
        stub = procedures_pb2_grpc.ProcedureServiceStub(platform.channel(client))
        error = refused(stub.GetProcedure, pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE), timeout=10)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (error.details() or "").startswith(reason)
        record = platform.record(request_id_of(error))
        assert (record["client"], record["status"], record["method"]) == (logged_as, "UNAUTHENTICATED", GET_PROCEDURE)
    assert len(platform.recorded_calls()) == calls_before       # none reached the service


def test_the_front_s_headers_sent_by_a_caller_are_never_believed(platform: AgencyPlatform) -> None:
    """Forged on the public listener they are ignored (the caller stays anonymous); sent through the
    front they are replaced by the front's own."""
    desk = platform.client_cert(DESK)
    forged = (("x-egov-client-verify", "1,0,0"),
              ("x-egov-client-cert", base64.b64encode(desk.certificate.public_bytes(Encoding.DER)).decode()))
    public = metadata_pb2_grpc.MetadataServiceStub(platform.channel(None, agency=False))
    error = refused(public.ListClients, md.ListClientsRequest(), timeout=10, metadata=forged)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert platform.record(request_id_of(error))["client"] == "anonymous"
    through_front = metadata_pb2_grpc.MetadataServiceStub(platform.channel(None))
    error = refused(through_front.ListClients, md.ListClientsRequest(), timeout=10, metadata=forged)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNAUTHENTICATED, "certificate: no client certificate was presented: agency systems call "
                                         "this port with the certificate registered to their subsystem")


def test_a_method_not_granted_is_permission_denied(platform: AgencyPlatform) -> None:
    error = refused(platform.procedures(POST).GetProcedure, pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE),
                    timeout=10)
    assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED,
                                               f"access right: {POST} has no grant of {GET_PROCEDURE}")
    record = platform.record(request_id_of(error))
    assert (record["client"], record["status"], record["note"]) == (POST, "PERMISSION_DENIED", error.details())


def test_a_grant_revoked_at_run_time_refuses_the_next_call(platform: AgencyPlatform) -> None:
    platform.admin("grants", "add", GET_PROCEDURE, "--subsystem", POST)
    stub = platform.procedures(POST)
    request = pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE)
    stub.GetProcedure(request, timeout=10)
    output = platform.admin("grants", "revoke", GET_PROCEDURE, "--subsystem", POST)
    assert "in force on 1 gateway" in output
    error = refused(stub.GetProcedure, request, timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert platform.record(request_id_of(error))["status"] == "PERMISSION_DENIED"


def test_a_certificate_revoked_at_run_time_is_refused_on_the_next_call(platform: AgencyPlatform) -> None:
    subsystem = "VN/GOV/000.00.15.H57/archive"
    platform.admin("subsystems", "add", subsystem)
    make_all(platform.certs, agencies=(subsystem,))
    certificate = platform.certs / "agencies" / f"{file_name(subsystem)}.pem"
    platform.admin("certs", "register", subsystem, str(certificate))
    stub = metadata_pb2_grpc.MetadataServiceStub(platform.channel(platform.client_cert(subsystem)))
    assert stub.AllowedMethods(md.AllowedMethodsRequest(), timeout=10).client == subsystem
    platform.admin("certs", "revoke", str(certificate))
    error = refused(stub.AllowedMethods, md.AllowedMethodsRequest(), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (error.details() or "")
    record = platform.record(request_id_of(error))
    assert record["client"].startswith("certificate:") and record["status"] == "UNAUTHENTICATED"


def test_metadata_and_reflection(platform: AgencyPlatform) -> None:
    stub = metadata_pb2_grpc.MetadataServiceStub(platform.channel(platform.client_cert(DESK)))
    clients = {c.id: c for c in stub.ListClients(md.ListClientsRequest(), timeout=10).clients}
    assert clients[POST].channel == caller_pb2.CHANNEL_POST_OFFICE
    assert clients[DESK].member_name == "Sở Tư pháp tỉnh Thừa Thiên Huế"
    allowed = {m.full_name for m in stub.AllowedMethods(md.AllowedMethodsRequest(), timeout=10).methods}
    assert {SUBMIT, GET_PROCEDURE} <= allowed
    assert "/egov.procedures.v1.ProcedureService/GetDossier" not in allowed
    reflection = reflection_pb2_grpc.ServerReflectionStub(platform.channel(None, agency=False))
    [reply] = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                   timeout=10))
    assert "egov.gateway.v1.MetadataService" in {s.name for s in reply.list_services_response.service}


def test_maintenance_mode_drains_and_health_says_so(platform: AgencyPlatform) -> None:
    health = health_pb2_grpc.HealthStub(platform.channel(None, agency=False))
    stub = platform.procedures(DESK)
    request = pp.GetProcedureRequest(procedure_code=KNOWN_PROCEDURE)
    platform.admin("maintenance", "on")
    try:
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.NOT_SERVING
        error = refused(stub.GetProcedure, request, timeout=10)
        assert (error.code(), error.details()) == (grpc.StatusCode.UNAVAILABLE, "gateway is in maintenance")
        assert platform.record(request_id_of(error))["status"] == "UNAVAILABLE"
    finally:
        platform.admin("maintenance", "off")
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    stub.GetProcedure(request, timeout=10)


def test_a_member_over_its_rate_is_refused_at_once(platform: AgencyPlatform) -> None:
    member = "VN/COM/0100109106"
    platform.admin("members", "limits", member, "--rate", "0.0001", "--burst", "1")
    try:
        stub = platform.procedures(POST)
        stub.SubmitDossier(submission(uuid.uuid4().hex), timeout=10)
        error = refused(stub.SubmitDossier, submission(uuid.uuid4().hex), timeout=10)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"member {member}: over its rate" in (error.details() or "")
        assert platform.record(request_id_of(error))["status"] == "RESOURCE_EXHAUSTED"
    finally:
        platform.admin("members", "limits", member)


def test_an_oversized_request_is_resource_exhausted_naming_the_bound(platform: AgencyPlatform) -> None:
    """Answered by the agency front from the size the message announces (tests/integration/test_size_limits.py
    has the sizes past grpcio's own bound), so it is not in the message log; on the public port the
    gateway answers the same and logs it."""
    oversized = pp.GetProcedureRequest(procedure_code="9" * MAX_BYTES).SerializeToString()
    expected = (grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"request: {len(oversized)} bytes exceeds the limit of {MAX_BYTES} bytes")
    error = refused(platform.channel(platform.client_cert(DESK)).unary_unary(GET_PROCEDURE, None, None), oversized,
                    timeout=10)
    assert (error.code(), error.details()) == expected
    error = refused(platform.channel(None, agency=False).unary_unary(GET_PROCEDURE, None, None), oversized, timeout=10)
    assert (error.code(), error.details()) == expected
    record = platform.record(request_id_of(error))
    assert (record["status"], record["request_bytes"]) == ("RESOURCE_EXHAUSTED", len(oversized))


def test_the_admin_command_refuses_bad_changes_naming_the_field(platform: AgencyPlatform) -> None:
    assert "subsystem" in platform.admin("subsystems", "add", "VN/GOV/no-subsystem", expect=1)
    assert "already exists" in platform.admin("members", "add", "GOV", "000.00.15.H57", "--name", "x", expect=1)
    output = platform.admin("grants", "add", "/egov.procedures.v1.ProcedureService/AcceptDossier",
                            "--subsystem", DESK, expect=1)
    assert "not a method agency systems may call" in output
    assert "its CN is" in platform.admin("certs", "register", POST,
                                         str(platform.certs / "agencies" / f"{file_name(DESK)}.pem"), expect=1)


def test_callers_without_a_trusted_certificate_are_throttled_at_the_front_unlogged(platform: AgencyPlatform) -> None:
    """Last in this module: it uses up this address's allowance of calls without a trusted
    certificate (20 per 10 s) for the next 10 s."""
    stub = metadata_pb2_grpc.MetadataServiceStub(platform.channel(None))
    errors = [refused(stub.ListClients, md.ListClientsRequest(), timeout=10) for _ in range(30)]
    codes = [e.code() for e in errors]
    answered = codes.index(grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert answered <= 20 and set(codes[:answered]) == {grpc.StatusCode.UNAUTHENTICATED}
    assert set(codes[answered:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    throttled = errors[-1]
    assert throttled.details() == "too many calls without a trusted client certificate from this address"
    assert "x-request-id" not in dict(throttled.trailing_metadata() or ())     # the gateway never saw it
    # A registered agency calling from the same address is not held back.
    allowed = metadata_pb2_grpc.MetadataServiceStub(platform.channel(platform.client_cert(DESK)))
    assert allowed.AllowedMethods(md.AllowedMethodsRequest(), timeout=10).client == DESK
