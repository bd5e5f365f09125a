"""The outbound exchange in-process: a gateway with mutual TLS, a fixed registry and a message log in
memory, forwarding to an in-process external system that requires the gateway's client certificate."""

import secrets
import socket
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from deploy.certs import file_name, make_all
from egov.population.v1 import population_pb2 as pb
from egov.population.v1 import population_pb2_grpc as pb_grpc
from gateway.auth import certificate_fingerprint
from gateway.config import ClientCertificate, GatewayConfig, TlsFiles
from gateway.members import (
    Certificate,
    ExternalSystem,
    Grant,
    Member,
    MemberId,
    Registry,
    Subsystem,
    SubsystemId,
)
from gateway.message_log_store import InMemoryLogStore
from gateway.registry_cache import FixedRegistry
from gateway.server import Gateway, build_gateway
from services.common.tokens import generate_key_pair
from tests.support import eventually

IDENTITY = SubsystemId.parse("VN/GOV/HUE/identity")
STRANGER = SubsystemId.parse("VN/GOV/HUE/stranger")
POPULATION = SubsystemId.parse("VN/GOV/BCA/population")
VERIFY = "/egov.population.v1.PopulationRegistry/VerifyCitizen"
REQUEST = pb.VerifyCitizenRequest(citizen_id="046090012345", full_name="Nguyễn Văn An", birth_date="1990-05-14")


@dataclass
class ExternalPopulation(pb_grpc.PopulationRegistryServicer):
    """Answers MATCH and remembers the metadata each call carried."""

    seen: list[dict[str, str]] = field(default_factory=list)

    def VerifyCitizen(self, request: pb.VerifyCitizenRequest, context: Any) -> pb.VerifyCitizenResponse:
        self.seen.append(dict(context.invocation_metadata()))
        return pb.VerifyCitizenResponse(result=pb.VERIFICATION_RESULT_MATCH)


@dataclass
class Exchange:
    gateway: Gateway
    registry: FixedRegistry
    log: InMemoryLogStore
    external: ExternalPopulation
    certs: Path

    def channel(self, subsystem: SubsystemId) -> grpc.Channel:
        base = self.certs / "services" / file_name(str(subsystem))
        credentials = grpc.ssl_channel_credentials(
            (self.certs / "ca.pem").read_bytes(), base.with_suffix(".key").read_bytes(),
            base.with_suffix(".pem").read_bytes())
        return grpc.secure_channel(f"127.0.0.1:{self.gateway.outbound_port}", credentials)

    def verify(self, subsystem: SubsystemId = IDENTITY, method: str = VERIFY,
               metadata: tuple[tuple[str, str], ...] = ()) -> pb.VerifyCitizenResponse:
        with self.channel(subsystem) as channel:
            call = channel.unary_unary(method, request_serializer=pb.VerifyCitizenRequest.SerializeToString,
                                       response_deserializer=pb.VerifyCitizenResponse.FromString)
            response: pb.VerifyCitizenResponse = call(REQUEST, timeout=5, metadata=metadata)
            return response

    def records(self) -> list[dict[str, Any]]:
        return list(self.log.records("gateway"))

    def set_registry(self, **changes: Any) -> None:
        self.registry.registry = replace(self.registry.registry, **changes)
        self.gateway.registry.refresh()


def _registry(certs: Path, external_port: int, *, grants: frozenset[Grant]) -> Registry:
    fingerprint = certificate_fingerprint((certs / "services" / f"{file_name(str(IDENTITY))}.pem").read_bytes())
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return Registry.build(
        version=1,
        members=[Member(MemberId.parse("VN/GOV/HUE"), "UBND tỉnh"), Member(MemberId.parse("VN/GOV/BCA"), "Bộ Công an")],
        subsystems=[Subsystem(IDENTITY), Subsystem(STRANGER)],
        certificates=[Certificate(fingerprint, IDENTITY, "CN=identity", later)],
        groups={}, grants=grants,
        external_systems=[ExternalSystem(POPULATION, f"127.0.0.1:{external_port}", "population",
                                         (certs / "ca.pem").read_bytes(),
                                         frozenset({"egov.population.v1.PopulationRegistry"}))])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    make_all(out, agencies=(), services=(str(IDENTITY), str(STRANGER)))
    return out


@pytest.fixture
def exchange(certs: Path) -> Iterator[Exchange]:
    external = ExternalPopulation()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_PopulationRegistryServicer_to_server(external, server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
        [((certs / "external" / "population.key").read_bytes(), (certs / "external" / "population.pem").read_bytes())],
        root_certificates=(certs / "ca.pem").read_bytes(), require_client_auth=True))
    server.start()
    registry = FixedRegistry(_registry(certs, port, grants=frozenset({Grant.for_subsystem(IDENTITY, VERIFY)})))
    log = InMemoryLogStore()
    tls = TlsFiles((certs / "gateway.pem").read_bytes(), (certs / "gateway.key").read_bytes(),
                   (certs / "ca.pem").read_bytes())
    config = GatewayConfig(
        address="127.0.0.1:0", workers=4, max_message_bytes=64 * 1024, default_deadline=10, max_deadline=30,
        grace=0.1, amqp_uri="unused", token_public_key=generate_key_pair()[1], outbound_address="127.0.0.1:0",
        outbound_tls=tls, outbound_client=ClientCertificate(
            (certs / "external" / "gateway-client.pem").read_bytes(),
            (certs / "external" / "gateway-client.key").read_bytes()))
    gateway = build_gateway(config, backend=None, table={}, registry_source=registry, log_store=log)  # type: ignore[arg-type]
    gateway.start()
    try:
        yield Exchange(gateway, registry, log, external, certs)
    finally:
        gateway.stop(0.1)
        server.stop(0)


def test_a_granted_call_is_forwarded_over_mutual_tls_logged_outbound_and_traced(exchange: Exchange) -> None:
    trace_id = secrets.token_hex(16)
    answer = exchange.verify(metadata=(("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),))
    assert answer.result == pb.VERIFICATION_RESULT_MATCH
    forwarded = exchange.external.seen[-1]
    assert forwarded["traceparent"].split("-")[1] == trace_id
    [record] = exchange.records()
    assert (record["direction"], record["method"], record["client"], record["status"], record["trace_id"]) == (
        "outbound", VERIFY, str(IDENTITY), "OK", trace_id)
    assert record["request_bytes"] == REQUEST.ByteSize()
    assert record["response_digest"] != ""


@pytest.mark.parametrize(("subsystem", "method", "code", "note"), [
    (STRANGER, VERIFY, grpc.StatusCode.UNAUTHENTICATED, "is not registered to any subsystem"),
    (IDENTITY, "/egov.population.v1.PopulationRegistry/ForgetCitizen", grpc.StatusCode.PERMISSION_DENIED,
     "has no grant of"),
    (IDENTITY, "/egov.tax.v1.TaxRegistry/VerifyTaxpayer", grpc.StatusCode.UNIMPLEMENTED,
     "no registered external system serves"),
])
def test_refusals_never_reach_the_external_system_and_are_logged(
        exchange: Exchange, subsystem: SubsystemId, method: str, code: grpc.StatusCode, note: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        exchange.verify(subsystem, method)
    assert refused.value.code() is code
    assert exchange.external.seen == []
    # A refusal's record is written after its answer (nothing happened that it must vouch for).
    [record] = eventually(exchange.records, "the refusal's record", timeout=5)
    assert record["status"] == code.name and note in record["note"]


def test_a_revoked_grant_refuses_the_next_call(exchange: Exchange) -> None:
    exchange.verify()
    exchange.set_registry(version=2, grants=frozenset(), _granted={})
    with pytest.raises(grpc.RpcError) as refused:
        exchange.verify()
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert len(exchange.external.seen) == 1


def test_an_external_system_that_is_down_answers_unavailable(exchange: Exchange) -> None:
    registry = exchange.registry.registry
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    moved = replace(registry.external_systems[POPULATION], address=f"127.0.0.1:{closed_port}")
    exchange.set_registry(version=3, external_systems={POPULATION: moved},
                          _routes={"egov.population.v1.PopulationRegistry": moved})
    with pytest.raises(grpc.RpcError) as failed:
        exchange.verify()
    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
    assert str(POPULATION) in (failed.value.details() or "")
    assert exchange.records()[-1]["status"] == "UNAVAILABLE"


def test_the_external_system_refuses_a_gateway_without_its_client_certificate(certs: Path) -> None:
    """The second leg's mutual TLS is the external system's to require: without the gateway's client
    certificate the handshake fails."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    pb_grpc.add_PopulationRegistryServicer_to_server(ExternalPopulation(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
        [((certs / "external" / "population.key").read_bytes(), (certs / "external" / "population.pem").read_bytes())],
        root_certificates=(certs / "ca.pem").read_bytes(), require_client_auth=True))
    server.start()
    try:
        credentials = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
        with (grpc.secure_channel(f"127.0.0.1:{port}", credentials,
                                  options=[("grpc.ssl_target_name_override", "population")]) as channel,
              pytest.raises(grpc.RpcError) as refused):
            pb_grpc.PopulationRegistryStub(channel).VerifyCitizen(REQUEST, timeout=5)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


def test_registry_routes_methods_by_their_service() -> None:
    system = ExternalSystem(POPULATION, "127.0.0.1:1", "population", b"",
                            frozenset({"egov.population.v1.PopulationRegistry"}))
    registry = Registry.build(version=1, members=[], subsystems=[], certificates=[], groups={}, grants=[],
                              external_systems=[system])
    assert registry.route(VERIFY) == system
    assert registry.route("/egov.population.v1.Other/VerifyCitizen") is None
