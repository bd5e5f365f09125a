"""Agency systems through the gateway in-process behind a real agency front (HAProxy): mutual TLS,
member registry, access rights, limits, maintenance and the message log, with an in-memory bus,
registry and log store (no database)."""

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.certs import SERVER_NAMES, Issued, issue, make_ca
from egov.common.v1 import caller_pb2, options_pb2
from egov.gateway.v1 import metadata_pb2 as md
from egov.gateway.v1 import metadata_pb2_grpc
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.auth import certificate_fingerprint
from gateway.config import GatewayConfig, TlsFiles
from gateway.members import Certificate, Channel, Grant, Limits, Member, Registry, Subsystem, SubsystemId
from gateway.message_log_store import InMemoryLogStore
from gateway.message_log_verify import verify
from gateway.registry_cache import FixedRegistry
from gateway.server import Gateway, build_gateway
from services.common.caller_proof import CallerVerifier
from services.common.config import ConfigError
from tests.unit.gateway.front import agency_front
from tests.unit.gateway.test_server import PUBLIC_KEY, InMemoryBus, bearer, code_of

CA = make_ca()
ROGUE_CA = make_ca("rogue CA")
SERVER = issue(CA, "gateway", server_names=SERVER_NAMES, client=False)
DESK = SubsystemId.parse("VN/GOV/000.00.15.H57/one-stop-desk")
ARCHIVE = SubsystemId.parse("VN/GOV/000.00.15.H57/archive")
DESK_CERT = issue(CA, str(DESK))
ARCHIVE_CERT = issue(CA, str(ARCHIVE))
UNREGISTERED = issue(CA, str(DESK))
IMPOSTOR = issue(ROGUE_CA, str(DESK))
GET_PROCEDURE = "/egov.procedures.v1.ProcedureService/GetProcedure"
SUBMIT = "/egov.procedures.v1.ProcedureService/SubmitDossier"

MAX_BYTES = 64 * 1024
NO_LIMITS = Limits()


def fingerprint(issued: Issued) -> str:
    return certificate_fingerprint(issued.certificate_pem)


def rights(version: int = 1, grants: tuple[Grant, ...] = (Grant.for_subsystem(DESK, GET_PROCEDURE),),
           revoked: bool = False, maintenance: bool = False, limits: Limits = NO_LIMITS) -> Registry:
    return Registry.build(
        version=version, members=[Member(DESK.member, "Sở Tư pháp", limits)],
        subsystems=[Subsystem(DESK, Channel.COUNTER), Subsystem(ARCHIVE)],
        certificates=[Certificate(fingerprint(DESK_CERT), DESK, "CN=desk", "2030-01-01", revoked=revoked),
                      Certificate(fingerprint(ARCHIVE_CERT), ARCHIVE, "CN=archive", "2030-01-01")],
        groups={}, grants=grants, maintenance=maintenance)


class HeldBus(InMemoryBus):
    """Holds every call until released, to have calls in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        self.entered.release()
        self.release.wait(timeout)
        return super().call(service, method, kwargs, timeout, context_data)


@dataclass
class Running:
    gateway: Gateway
    bus: HeldBus
    registry: FixedRegistry
    log: InMemoryLogStore
    front_port: int

    def channel(self, client: Issued | None = None, agency: bool = True) -> grpc.Channel:
        port = self.front_port if agency else self.gateway.port
        credentials = grpc.ssl_channel_credentials(
            CA.certificate_pem, client.key_pem if client else None, client.certificate_pem if client else None)
        return grpc.secure_channel(f"127.0.0.1:{port}", credentials)

    def procedures(self, client: Issued | None = DESK_CERT, agency: bool = True) -> Any:
        return procedures_pb2_grpc.ProcedureServiceStub(self.channel(client, agency))

    def metadata(self, client: Issued | None = DESK_CERT, agency: bool = True) -> Any:
        return metadata_pb2_grpc.MetadataServiceStub(self.channel(client, agency))

    def change(self, registry: Registry) -> None:
        self.registry.registry = registry
        assert self.gateway.registry.refresh()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    bus, registry, log = HeldBus(), FixedRegistry(rights()), InMemoryLogStore()
    bus.release.set()
    config = GatewayConfig(
        address="127.0.0.1:0", agency_socket=str(tmp_path / "agency.sock"), workers=8, max_message_bytes=MAX_BYTES,
        default_deadline=10, max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=PUBLIC_KEY,
        tls=TlsFiles(SERVER.certificate_pem, SERVER.key_pem, CA.certificate_pem), seal_every_records=1000)
    gateway = build_gateway(config, bus, registry_source=registry, log_store=log)
    gateway.start()
    assert config.tls is not None
    try:
        with agency_front(tmp_path, config.agency_socket, config.tls, MAX_BYTES) as front_port:
            yield Running(gateway, bus, registry, log, front_port)
    finally:
        bus.release.set()
        gateway.stop(0)


def wait_for_record(running: Running, count: int) -> list[dict[str, Any]]:
    """The exchange records once `count` are written (refusals are written after their answer)."""
    deadline = time.monotonic() + 5
    while len([r for r in running.log.rows if r["kind"] == "exchange"]) < count:
        assert time.monotonic() < deadline, "records not written"
        time.sleep(0.01)
    return [r for r in running.log.rows if r["kind"] == "exchange"]


def test_a_registered_granted_subsystem_is_carried_as_an_agency_with_its_channel(running: Running) -> None:
    reply = running.procedures().GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"), timeout=10)
    assert reply.procedure.code == "1.001612"
    [sent] = running.bus.sent
    verifier = CallerVerifier(running.gateway.caller_signer.public_key, Ed25519PrivateKey.generate().public_key())
    caller = verifier.verify(sent.kwargs["caller"], "procedures", "get_procedure", sent.kwargs["request"])
    assert caller.to_wire() == {"kind": "CALLER_KIND_AGENCY", "subject": str(DESK),
                                "agency_code": "000.00.15.H57", "role": "", "channel": "CHANNEL_COUNTER",
                                "appointments": []}
    [record] = wait_for_record(running, 1)
    assert (record["client"], record["status"], record["direction"]) == (str(DESK), "OK", "inbound")
    assert record["response_digest"] and record["request_bytes"] > 0


def test_a_method_not_granted_is_permission_denied_and_logged(running: Running) -> None:
    code, details = code_of(running.procedures().SubmitDossier, pp.SubmitDossierRequest(), timeout=10)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert details == f"access right: {DESK} has no grant of {SUBMIT}"
    assert running.bus.sent == []
    [record] = wait_for_record(running, 1)
    assert (record["client"], record["status"], record["note"]) == (str(DESK), "PERMISSION_DENIED", details)


def test_a_grant_or_certificate_revoked_at_run_time_refuses_the_next_call(running: Running) -> None:
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    procedures = running.procedures()
    procedures.GetProcedure(request, timeout=10)
    running.change(rights(version=2, grants=()))
    assert code_of(procedures.GetProcedure, request, timeout=10)[0] == grpc.StatusCode.PERMISSION_DENIED
    running.change(rights(version=3, revoked=True))
    code, details = code_of(procedures.GetProcedure, request, timeout=10)
    assert code == grpc.StatusCode.UNAUTHENTICATED and "revoked" in details
    assert [r["status"] for r in wait_for_record(running, 3)] == ["OK", "PERMISSION_DENIED", "UNAUTHENTICATED"]


def test_an_unregistered_certificate_is_unauthenticated_and_logged_by_fingerprint(running: Running) -> None:
    code, details = code_of(running.procedures(UNREGISTERED).GetProcedure,
                            pp.GetProcedureRequest(procedure_code="1.001612"), timeout=10)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert details == f"certificate: client certificate {fingerprint(UNREGISTERED)[:16]}… is not registered to " \
                      "any subsystem"
    [record] = wait_for_record(running, 1)
    assert record["client"] == f"certificate:{fingerprint(UNREGISTERED)}"


def test_no_certificate_or_one_from_an_unknown_ca_is_unauthenticated_and_logged(running: Running) -> None:
    code, details = code_of(running.procedures(IMPOSTOR).GetProcedure,
                            pp.GetProcedureRequest(procedure_code="1.001612"), timeout=10)
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED,
                               "certificate: the client certificate is not trusted: its issuer is not a trusted CA")
    code, details = code_of(running.procedures(None).GetProcedure,
                            pp.GetProcedureRequest(procedure_code="1.001612"), timeout=10)
    assert code == grpc.StatusCode.UNAUTHENTICATED and details.startswith("certificate: no client certificate")
    impostor, anonymous = wait_for_record(running, 2)
    assert (impostor["client"], impostor["status"]) == (f"certificate:{fingerprint(IMPOSTOR)}", "UNAUTHENTICATED")
    assert (anonymous["client"], anonymous["status"]) == ("anonymous", "UNAUTHENTICATED")
    assert running.bus.sent == []


def test_apps_call_the_tls_port_without_a_certificate_and_agency_only_methods_ask_for_one(running: Running) -> None:
    procedures = running.procedures(None, agency=False)
    procedures.GetProcedure(pp.GetProcedureRequest(procedure_code="1.001612"), metadata=bearer(), timeout=10)
    assert running.bus.sent[0].kwargs["caller"]["kind"] == "CALLER_KIND_CITIZEN"
    code, details = code_of(running.metadata(None, agency=False).ListClients, md.ListClientsRequest(), timeout=10)
    assert code == grpc.StatusCode.UNAUTHENTICATED and details.startswith("certificate: this method is for agency")


def test_metadata_lists_clients_methods_and_what_the_caller_may_call(running: Running) -> None:
    metadata = running.metadata()
    clients = metadata.ListClients(md.ListClientsRequest(), timeout=10).clients
    assert [(c.id, c.member_name, c.channel) for c in clients] == [
        (str(ARCHIVE), "Sở Tư pháp", caller_pb2.CHANNEL_UNSPECIFIED),
        (str(DESK), "Sở Tư pháp", caller_pb2.CHANNEL_COUNTER)]
    methods = {m.full_name: m for m in metadata.ListMethods(md.ListMethodsRequest(), timeout=10).methods}
    assert set(methods[SUBMIT].access) == {options_pb2.CALLER_KIND_CITIZEN, options_pb2.CALLER_KIND_CIVIL_SERVANT,
                                           options_pb2.CALLER_KIND_AGENCY}
    assert methods[SUBMIT].grant_required and not methods["/egov.gateway.v1.MetadataService/ListClients"].grant_required
    allowed = metadata.AllowedMethods(md.AllowedMethodsRequest(), timeout=10)
    assert allowed.client == str(DESK) and allowed.caller_kind == options_pb2.CALLER_KIND_AGENCY
    assert [m.full_name for m in allowed.methods] == [
        "/egov.gateway.v1.MetadataService/AllowedMethods", "/egov.gateway.v1.MetadataService/ListClients",
        "/egov.gateway.v1.MetadataService/ListMethods", GET_PROCEDURE]
    anonymous = running.metadata(None, agency=False).AllowedMethods(md.AllowedMethodsRequest(), timeout=10)
    assert GET_PROCEDURE in [m.full_name for m in anonymous.methods] and anonymous.client == "anonymous"
    assert running.bus.sent == []                     # answered by the gateway itself


def test_maintenance_refuses_new_calls_and_lets_calls_in_flight_finish(running: Running) -> None:
    running.bus.release.clear()
    procedures = running.procedures()
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(procedures.GetProcedure, request, timeout=10)
        assert running.bus.entered.acquire(timeout=5)
        running.change(rights(version=2, maintenance=True))
        code, details = code_of(procedures.GetProcedure, request, timeout=10)
        assert (code, details) == (grpc.StatusCode.UNAVAILABLE, "gateway is in maintenance")
        health = health_pb2_grpc.HealthStub(running.channel(None, agency=False))
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.NOT_SERVING
        running.bus.release.set()
        assert in_flight.result(timeout=10).procedure.code == "1.001612"
    running.change(rights(version=3))
    procedures.GetProcedure(request, timeout=10)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING


def test_a_member_over_its_concurrency_or_rate_is_refused_at_once(running: Running) -> None:
    running.change(rights(version=2, limits=Limits(concurrency=1)))
    running.bus.release.clear()
    procedures = running.procedures()
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(procedures.GetProcedure, request, timeout=10)
        assert running.bus.entered.acquire(timeout=5)
        code, details = code_of(procedures.GetProcedure, request, timeout=10)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "1 concurrent calls" in details
        running.bus.release.set()
        held.result(timeout=10)
    running.change(rights(version=3, limits=Limits(rate_per_second=1e-6, burst=1)))
    procedures.GetProcedure(request, timeout=10)
    code, details = code_of(procedures.GetProcedure, request, timeout=10)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "over its rate" in details


def test_a_request_over_the_size_bound_is_resource_exhausted_naming_both_sizes_on_both_ports(
        running: Running) -> None:
    for agency in (True, False):
        raw = running.channel(DESK_CERT if agency else None, agency).unary_unary(GET_PROCEDURE, None, None)
        for size in (MAX_BYTES + 10, MAX_BYTES + 2 * 1024 * 1024):
            oversized = pp.GetProcedureRequest(procedure_code="x" * size).SerializeToString()
            code, details = code_of(raw, oversized, timeout=10)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (agency, size, details)
            if agency or size < MAX_BYTES + 1024 * 1024:     # past grpcio's own bound, grpcio answers
                assert details == f"request: {len(oversized)} bytes exceeds the limit of {MAX_BYTES} bytes"
            else:
                assert f"Received message larger than max ({len(oversized)} vs." in details
    assert running.bus.sent == []


def test_an_exchange_that_cannot_be_logged_is_unavailable(running: Running) -> None:
    running.log.failing = OSError("database down")
    code, details = code_of(running.procedures().GetProcedure, pp.GetProcedureRequest(procedure_code="1.001612"),
                            timeout=10)
    assert code == grpc.StatusCode.UNAVAILABLE and "database down" in details


def test_the_log_of_a_session_verifies_and_holds_no_citizen_id(running: Running) -> None:
    request = pp.GetProcedureRequest(procedure_code="1.001612")
    running.procedures().GetProcedure(request, timeout=10)
    running.procedures(None, agency=False).GetProcedure(request, metadata=bearer(), timeout=10)
    code_of(running.procedures().SubmitDossier, pp.SubmitDossierRequest(), timeout=10)
    wait_for_record(running, 3)
    running.gateway.stop(0)
    verdict = verify(running.log.records("gateway"), [running.gateway.message_log._sealer.public_raw])
    assert verdict.intact and verdict.seals == 1 and verdict.unsealed == 0
    assert "046099001234" not in repr(running.log.rows)



def test_mutual_tls_needs_all_three_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gateway.pem").write_bytes(SERVER.certificate_pem)
    monkeypatch.setenv("EGOV_GATEWAY_TLS_CERT", str(tmp_path / "gateway.pem"))
    with pytest.raises(ConfigError, match="missing: EGOV_GATEWAY_TLS_KEY, EGOV_GATEWAY_TLS_CLIENT_CA"):
        TlsFiles.from_env()
    monkeypatch.setenv("EGOV_GATEWAY_TLS_KEY", str(tmp_path / "nowhere.key"))
    with pytest.raises(ConfigError, match="cannot read"):
        TlsFiles.from_env()
