"""The outbound exchange with a real stack: identity reaches the national population and business
registration databases (simulators with their own certificates) through the gateway, mutual TLS on
both legs, under identity's grants, in the message log, in the caller's trace."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest
from pymongo import MongoClient

from deploy.local.journey import PASSWORD, Journey, bearer, residents
from deploy.local.stack import IDENTITY_SUBSYSTEM, Stack
from egov.common.v1 import caller_pb2
from egov.identity.v1 import identity_pb2 as pb
from egov.population.v1 import population_pb2, population_pb2_grpc
from gateway.members import Grant, SubsystemId
from gateway.registry_store import RegistryStore
from tests.support import eventually

VERIFY_CITIZEN = "/egov.population.v1.PopulationRegistry/VerifyCitizen"
VERIFY_BUSINESS = "/egov.businessregistry.v1.BusinessRegistry/VerifyBusiness"
# The population database is asked (and sends the one-time code) when the code is requested.
REQUEST_CODE = "/egov.identity.v1.IdentityService/RequestVerificationCode"
HUE = caller_pb2.Address(street="12 Lê Lợi", commune="Phường Vĩnh Ninh", district="Thành phố Huế",
                         province="Thừa Thiên Huế")
# Well-known rows of simulators/data/businesses.json.
SONG_HUONG = ("3300123456", "Công ty TNHH Du lịch Sông Hương")
DISSOLVED = ("3300789013", "Hợp tác xã Nón lá Tây Hồ")
UNKNOWN_TAX_CODE = "3300999998"     # a valid check digit, in no registry


@dataclass
class Running:
    stack: Stack
    channel: grpc.Channel
    journey: Journey
    mongo: MongoClient[dict[str, Any]]
    registry: RegistryStore
    people: Iterator[dict[str, Any]]

    def log_records(self, trace_id: str) -> list[dict[str, Any]]:
        return list(self.mongo["egov_gateway"]["message_log"].find({"trace_id": trace_id}, {"_id": 0}))

    def stored_citizen(self, citizen_id: str) -> dict[str, Any] | None:
        return self.mongo["egov_identity"]["citizens"].find_one({"_id": citizen_id})

    def in_force(self, version: int) -> None:
        eventually(lambda: any(g.loaded_version >= version for g in self.registry.live_gateways(timedelta(seconds=5))),
                   f"registry version {version} in force")

    def register(self, person: dict[str, Any], traceparent: str = "") -> pb.RegisterCitizenResponse:
        metadata = (("traceparent", traceparent),) if traceparent else ()
        identity = self.journey.api.identity
        verification_id, code = self.journey.request_code(person, metadata=metadata)
        response: pb.RegisterCitizenResponse = identity.RegisterCitizen(pb.RegisterCitizenRequest(
            citizen_id=person["citizen_id"], full_name=person["full_name"], birth_date=person["birth_date"],
            phone="0905123456", email=f"{person['citizen_id']}@example.vn", password=PASSWORD, address=HUE,
            notification_channels=[caller_pb2.NOTIFICATION_CHANNEL_EMAIL], verification_id=verification_id,
            verification_code=code), timeout=10)
        return response


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Stack(tmp_path_factory.mktemp("outbound"))
    try:
        stack.start(services=("identity",))
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_uri)
    living = (p for p in residents() if not p.get("deceased"))
    try:
        yield Running(stack, channel, Journey.of(stack, channel), mongo, RegistryStore(mongo, "egov_gateway"),
                      living)
    finally:
        channel.close()
        mongo.close()
        stack.stop()


def test_a_citizen_registered_at_the_gateway_is_verified_through_the_outbound_exchange_in_one_trace(
        running: Running) -> None:
    person = next(running.people)
    trace_id = secrets.token_hex(16)
    running.register(person, f"00-{trace_id}-{secrets.token_hex(8)}-01")

    def both_legs() -> dict[str, dict[str, Any]]:
        records = {r["direction"]: r for r in running.log_records(trace_id)}
        assert set(records) == {"inbound", "outbound"}, records
        return records

    records = eventually(both_legs, "an inbound and an outbound record of the registration's trace")
    assert records["inbound"]["method"] == REQUEST_CODE
    assert records["inbound"]["status"] == "OK"
    outbound = records["outbound"]
    assert outbound["method"] == VERIFY_CITIZEN
    assert outbound["status"] == "OK"
    assert outbound["client"] == IDENTITY_SUBSYSTEM        # identified by its client certificate
    assert outbound["response_bytes"] > 0
    assert person["citizen_id"] not in str(outbound)        # no personal data in clear
    assert running.stored_citizen(person["citizen_id"]) is not None


def test_the_population_database_answers_only_the_gateways_client_certificate(running: Running) -> None:
    certs = running.stack.workdir / "certs"
    address = f"127.0.0.1:{running.stack.ports.population}"
    request = population_pb2.VerifyCitizenRequest(citizen_id="046090012345", full_name="Nguyễn Văn An",
                                                  birth_date="1990-05-14")
    options = [("grpc.ssl_target_name_override", "population")]
    ca = (certs / "ca.pem").read_bytes()

    def verify(credentials: grpc.ChannelCredentials | None) -> population_pb2.VerifyCitizenResponse:
        with (grpc.secure_channel(address, credentials, options=options) if credentials
              else grpc.insecure_channel(address)) as channel:
            response: population_pb2.VerifyCitizenResponse = population_pb2_grpc.PopulationRegistryStub(
                channel).VerifyCitizen(request, timeout=5)
            return response

    for refused in (None, grpc.ssl_channel_credentials(root_certificates=ca)):
        with pytest.raises(grpc.RpcError) as failed:
            verify(refused)
        assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
    gateway_client = certs / "external" / "gateway-client"
    answer = verify(grpc.ssl_channel_credentials(ca, (gateway_client.with_suffix(".key")).read_bytes(),
                                                 (gateway_client.with_suffix(".pem")).read_bytes()))
    assert answer.result == population_pb2.VERIFICATION_RESULT_MATCH


def test_without_its_grant_identity_cannot_verify_and_registration_stores_nothing(running: Running) -> None:
    identity = SubsystemId.parse(IDENTITY_SUBSYSTEM)
    grant = Grant.for_subsystem(identity, VERIFY_CITIZEN)
    person = next(running.people)
    trace_id = secrets.token_hex(16)
    running.in_force(running.registry.revoke_grant(grant))
    try:
        with pytest.raises(grpc.RpcError) as refused:
            running.register(person, f"00-{trace_id}-{secrets.token_hex(8)}-01")
    finally:
        running.in_force(running.registry.add_grant(grant))
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "refused identity's access" in (refused.value.details() or "")
    assert running.stored_citizen(person["citizen_id"]) is None
    denied = eventually(lambda: [r for r in running.log_records(trace_id) if r["direction"] == "outbound"],
                        "the refused outbound call in the message log")
    assert denied[0]["status"] == "PERMISSION_DENIED"
    assert denied[0]["note"] == f"access right: {IDENTITY_SUBSYSTEM} has no grant of {VERIFY_CITIZEN}"
    running.register(person)           # the grant back in force: the same person registers


def test_a_business_is_verified_with_the_national_business_registry(running: Running) -> None:
    person = next(running.people)
    running.register(person)
    token = running.journey.sign_in(person["citizen_id"]).token
    identity = running.journey.api.identity

    def register_business(tax_code: str, name: str, trace_id: str = "") -> pb.RegisterBusinessResponse:
        metadata = list(bearer(token))
        if trace_id:
            metadata.append(("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"))
        response: pb.RegisterBusinessResponse = identity.RegisterBusiness(pb.RegisterBusinessRequest(
            tax_code=tax_code, name=name, address=HUE), timeout=10, metadata=metadata)
        return response

    refusals = [
        (UNKNOWN_TAX_CODE, SONG_HUONG[1], grpc.StatusCode.INVALID_ARGUMENT, "tax_code"),
        (SONG_HUONG[0], "Công ty TNHH Du lịch Hương Giang", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        (*DISSOLVED, grpc.StatusCode.FAILED_PRECONDITION, "tax_code"),
    ]
    for tax_code, name, code, field in refusals:
        with pytest.raises(grpc.RpcError) as refused:
            register_business(tax_code, name)
        assert (refused.value.code(), (refused.value.details() or "").split(":")[0]) == (code, field)
    assert running.mongo["egov_identity"]["businesses"].count_documents({}) == 0

    trace_id = secrets.token_hex(16)
    business = register_business(*SONG_HUONG, trace_id=trace_id).business
    assert (business.tax_code, business.owner_citizen_id) == (SONG_HUONG[0], person["citizen_id"])
    outbound = eventually(lambda: [r for r in running.log_records(trace_id) if r["direction"] == "outbound"],
                          "the business verification in the message log")
    assert (outbound[0]["method"], outbound[0]["status"], outbound[0]["client"]) == (
        VERIFY_BUSINESS, "OK", IDENTITY_SUBSYSTEM)
