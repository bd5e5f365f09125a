"""One contract for the registry port (gateway.registry_admin.RegistryAdmin), held by the MongoDB
store and the in-memory registry alike: what each change does, which errors refuse it, versions."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from deploy.certs import issue, make_ca
from gateway import operations
from gateway.members import Certificate, Channel, Grant, Member, MemberId, Subsystem, SubsystemId
from gateway.registry_admin import InMemoryRegistry, RegistryAdmin
from gateway.registry_store import RegistryStore
from services.common.errors import AlreadyExists, FailedPrecondition, NotFound
from tests.contract.scratch import scratch_database

DESK = SubsystemId.parse("VN/GOV/000.00.15.H57/one-stop-desk")
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"
CA = make_ca()


@pytest.fixture(params=["memory", "mongo"])
def registry(request: pytest.FixtureRequest) -> Iterator[RegistryAdmin]:
    if request.param == "memory":
        yield InMemoryRegistry()
        return
    with scratch_database(request.getfixturevalue("mongo_uri"), tz_aware=False) as db:
        store = RegistryStore(db.client, db.name)
        store.ensure_indexes()
        yield store


def desk(registry: RegistryAdmin) -> Certificate:
    registry.add_member(Member(DESK.member, "Sở Tư pháp"))
    registry.add_subsystem(Subsystem(DESK, Channel.COUNTER))
    certificate = operations.certificate_of(DESK, issue(CA, str(DESK)).certificate_pem)
    registry.register_certificate(certificate)
    return certificate


def test_every_change_moves_the_version_on(registry: RegistryAdmin) -> None:
    assert registry.add_member(Member(DESK.member, "Sở Tư pháp")) == 1
    assert registry.add_subsystem(Subsystem(DESK)) == 2
    assert registry.set_maintenance(True) == 3
    snapshot = registry.load()
    assert (snapshot.version, snapshot.maintenance, list(snapshot.members)) == (3, True, [DESK.member])


def test_what_exists_is_not_added_again_and_what_is_missing_is_not_found(registry: RegistryAdmin) -> None:
    desk(registry)
    with pytest.raises(AlreadyExists):
        registry.add_member(Member(DESK.member, "again"))
    with pytest.raises(AlreadyExists):
        registry.add_subsystem(Subsystem(DESK))
    with pytest.raises(NotFound):
        registry.add_subsystem(Subsystem(SubsystemId.parse("VN/GOV/nobody/x")))
    with pytest.raises(NotFound):
        registry.update_member(Member(MemberId.parse("GOV/nobody"), "x"))
    with pytest.raises(NotFound):
        registry.add_grant(Grant.for_subsystem(SubsystemId.parse("VN/GOV/000.00.15.H57/other"), GET_DOSSIER))
    with pytest.raises(NotFound):
        registry.revoke_grant(Grant.for_subsystem(DESK, GET_DOSSIER))
    with pytest.raises(NotFound):
        registry.add_to_group("nobody", DESK)
    with pytest.raises(NotFound):
        registry.remove_external_system(SubsystemId.parse("VN/GOV/BCA/population"))


def test_certificates_are_registered_revoked_once_and_listed(registry: RegistryAdmin) -> None:
    certificate = desk(registry)
    with pytest.raises(AlreadyExists):
        registry.register_certificate(certificate)
    registry.revoke_certificate(certificate.fingerprint)
    with pytest.raises(FailedPrecondition):
        registry.revoke_certificate(certificate.fingerprint)
    (record,) = registry.certificate_records()
    assert (record.fingerprint, record.subsystem, record.revoked_at is not None) == (certificate.fingerprint,
                                                                                     str(DESK), True)
    assert record.registered_at.tzinfo is not None
    assert registry.load().certificates[certificate.fingerprint].revoked


def test_grants_through_groups_and_their_records(registry: RegistryAdmin) -> None:
    desk(registry)
    registry.add_group("front-offices", "desks")
    registry.add_to_group("front-offices", DESK)
    registry.add_grant(Grant.for_group("front-offices", GET_DOSSIER))
    assert registry.load().is_granted(DESK, GET_DOSSIER)
    (grant,) = registry.grant_records()
    assert (grant.client, grant.method) == ("group:front-offices", GET_DOSSIER)
    (group,) = registry.group_records()
    assert (group.code, group.description, group.subsystems) == ("front-offices", "desks", (str(DESK),))


def test_removal_is_refused_while_something_depends_on_it(registry: RegistryAdmin) -> None:
    certificate = desk(registry)
    registry.add_group("front-offices", "")
    registry.add_grant(Grant.for_group("front-offices", GET_DOSSIER))
    with pytest.raises(FailedPrecondition):
        registry.remove_group("front-offices")
    with pytest.raises(FailedPrecondition):
        registry.remove_subsystem(DESK)             # its certificate is in force
    with pytest.raises(FailedPrecondition):
        registry.remove_member(DESK.member)         # it has a subsystem
    registry.revoke_grant(Grant.for_group("front-offices", GET_DOSSIER))
    registry.remove_group("front-offices")
    registry.revoke_certificate(certificate.fingerprint)
    registry.set_channel(DESK, Channel.POST_OFFICE)
    assert registry.load().subsystems[DESK].channel is Channel.POST_OFFICE
    registry.remove_subsystem(DESK)
    registry.remove_member(DESK.member)
    assert not registry.load().members


def test_an_external_system_owns_its_services(registry: RegistryAdmin) -> None:
    registry.add_member(Member(MemberId.parse("GOV/BCA"), "Bộ Công an"))
    system = operations.external_system("VN/GOV/BCA/population", "127.0.0.1:4000", CA.certificate_pem, "population",
                                        ["egov.population.v1.PopulationRegistry"])
    registry.add_external_system(system)
    with pytest.raises(AlreadyExists):
        registry.add_external_system(operations.external_system(
            "VN/GOV/BCA/other", "127.0.0.1:4001", CA.certificate_pem, "other",
            ["egov.population.v1.PopulationRegistry"]))
    assert registry.load().route("/egov.population.v1.PopulationRegistry/VerifyCitizen") == system
    with pytest.raises(FailedPrecondition):
        registry.remove_member(system.id.member)


def test_limits_and_names_change_in_place(registry: RegistryAdmin) -> None:
    registry.add_member(Member(DESK.member, "Sở Tư pháp"))
    registry.set_limits(DESK.member, operations.limits(5, 10, 2))
    registry.update_member(Member(DESK.member, "Sở Tư pháp tỉnh", operations.limits(7)))
    member = registry.load().members[DESK.member]
    assert (member.name, member.limits.rate_per_second, member.limits.burst) == ("Sở Tư pháp tỉnh", 7, None)


def test_heartbeats_tell_which_gateways_run_and_what_they_serve(registry: RegistryAdmin) -> None:
    registry.heartbeat("gw-1", 4)
    (gateway,) = registry.live_gateways(timedelta(seconds=5))
    assert (gateway.instance, gateway.loaded_version) == ("gw-1", 4)
