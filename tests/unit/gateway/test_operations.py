"""The operator's functions on the data-sharing layer, on the in-memory registry: what each change
does, what it refuses (and that a refusal changes nothing), and waiting for the gateways."""

from datetime import UTC, datetime, timedelta

import pytest

from deploy.certs import issue, make_ca
from gateway import operations
from gateway.members import Channel, SubsystemId
from gateway.registry_admin import InMemoryRegistry
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

DESK = "VN/GOV/000.00.15.H57/one-stop-desk"
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"
CA = make_ca()


def desk_registry() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    operations.add_member(registry, "GOV/000.00.15.H57", "Sở Tư pháp")
    operations.add_subsystem(registry, DESK, "counter")
    return registry


def test_a_member_a_subsystem_and_its_certificate_identify_the_caller() -> None:
    registry = desk_registry()
    pem = issue(CA, DESK).certificate_pem
    change = operations.register_certificate(registry, DESK, pem)
    assert change.version == 3 and operations.fingerprint(pem) in change.what
    snapshot = registry.load()
    assert snapshot.subsystems[SubsystemId.parse(DESK)].channel is Channel.COUNTER
    assert operations.certificates(registry)[0]["subsystem"] == DESK
    assert operations.subsystems(registry)[0]["certificates_in_force"] == 1


def test_a_certificate_must_name_the_subsystem_and_be_in_force() -> None:
    registry = desk_registry()
    with pytest.raises(InvalidArgument, match="its CN is 'VN/GOV/x/other'"):
        operations.register_certificate(registry, DESK, issue(CA, "VN/GOV/x/other").certificate_pem)
    expired = issue(CA, DESK, not_before=datetime.now(UTC) - timedelta(days=3),
                    not_after=datetime.now(UTC) - timedelta(days=1)).certificate_pem
    with pytest.raises(InvalidArgument, match="expired"):
        operations.register_certificate(registry, DESK, expired)
    with pytest.raises(InvalidArgument, match="not a PEM certificate"):
        operations.register_certificate(registry, DESK, b"junk")
    assert registry.version == 2 and not registry.certificates     # refused: nothing changed


def test_revoking_by_file_or_fingerprint_and_never_twice() -> None:
    registry = desk_registry()
    pem = issue(CA, DESK).certificate_pem
    operations.register_certificate(registry, DESK, pem)
    operations.revoke_certificate(registry, pem)
    assert registry.load().certificates[operations.fingerprint(pem)].revoked
    with pytest.raises(FailedPrecondition, match="already revoked"):
        operations.revoke_certificate(registry, operations.fingerprint(pem))
    with pytest.raises(NotFound):
        operations.revoke_certificate(registry, "ab" * 32)


def test_only_grantable_methods_are_granted_to_exactly_one_client() -> None:
    registry = desk_registry()
    operations.add_grant(registry, GET_DOSSIER, subsystem=DESK)
    assert registry.load().is_granted(SubsystemId.parse(DESK), GET_DOSSIER)
    with pytest.raises(InvalidArgument, match="not a method agency systems may call"):
        operations.add_grant(registry, "/egov.procedures.v1.ProcedureService/AcceptDossier", subsystem=DESK)
    with pytest.raises(InvalidArgument, match="the gateway's own"):
        operations.add_grant(registry, "/egov.gateway.v1.MetadataService/ListMethods", subsystem=DESK)
    with pytest.raises(InvalidArgument, match="exactly one of"):
        operations.add_grant(registry, GET_DOSSIER)
    with pytest.raises(AlreadyExists):
        operations.add_grant(registry, GET_DOSSIER, subsystem=DESK)
    operations.revoke_grant(registry, GET_DOSSIER, subsystem=DESK)
    assert operations.grants(registry) == []
    assert "event:egov.procedures.v1.DossierCompleted" in operations.grantable()


def test_a_method_of_a_registered_external_system_is_grantable() -> None:
    registry = desk_registry()
    operations.add_member(registry, "GOV/BCA", "Bộ Công an")
    system = operations.external_system("VN/GOV/BCA/population", "127.0.0.1:4000", CA.certificate_pem,
                                        "population", ["egov.population.v1.PopulationRegistry"])
    operations.add_external_system(registry, system)
    operations.add_grant(registry, "/egov.population.v1.PopulationRegistry/VerifyCitizen", subsystem=DESK)
    assert operations.external_systems(registry)[0]["services"] == ["egov.population.v1.PopulationRegistry"]


def test_limits_are_checked_then_set_and_cleared() -> None:
    registry = desk_registry()
    with pytest.raises(InvalidArgument, match="rate"):
        operations.limits(rate=0)
    operations.set_limits(registry, "VN/GOV/000.00.15.H57", operations.limits(5, 10, 2))
    assert operations.members(registry)[0] | {"subsystems": []} == {
        "member": "VN/GOV/000.00.15.H57", "name": "Sở Tư pháp", "subsystems": [], "rate_per_second": 5,
        "burst": 10, "concurrency": 2}
    operations.set_limits(registry, "VN/GOV/000.00.15.H57", operations.limits())
    assert operations.members(registry)[0]["rate_per_second"] is None


def test_groups_carry_grants_to_their_subsystems() -> None:
    registry = desk_registry()
    operations.add_group(registry, "front-offices", "desks")
    operations.add_to_group(registry, "front-offices", DESK)
    operations.add_grant(registry, GET_DOSSIER, group="front-offices")
    assert registry.load().is_granted(SubsystemId.parse(DESK), GET_DOSSIER)
    operations.remove_from_group(registry, "front-offices", DESK)
    assert not registry.load().is_granted(SubsystemId.parse(DESK), GET_DOSSIER)
    assert operations.groups(registry) == [{"group": "front-offices", "description": "desks", "subsystems": []}]


class StepClock(operations.Clock):
    """Time that moves only when the waiter sleeps; runs `each_sleep` as it does."""

    def __init__(self, each_sleep: object = None) -> None:
        self.now = 0.0
        self.each_sleep = each_sleep
        super().__init__(monotonic=lambda: self.now, sleep=self._sleep, poll=1.0)

    def _sleep(self, seconds: float) -> None:
        self.now += seconds
        if callable(self.each_sleep):
            self.each_sleep()


def test_a_change_is_confirmed_once_every_running_gateway_serves_it() -> None:
    registry = desk_registry()
    change = operations.set_maintenance(registry, True)
    assert operations.wait_until_loaded(registry, change.version, 5, clock=StepClock()).confirmed   # none running
    registry.heartbeat("gw-1", change.version - 1)
    registry.heartbeat("gw-2", change.version)
    late = operations.wait_until_loaded(registry, change.version, 3, clock=StepClock())
    assert (late.confirmed, late.behind, late.in_force_on) == (False, ("gw-1",), ("gw-2",))
    caught_up = operations.wait_until_loaded(
        registry, change.version, 3, clock=StepClock(lambda: registry.heartbeat("gw-1", change.version)))
    assert caught_up.confirmed and caught_up.in_force_on == ("gw-1", "gw-2")
    assert operations.maintenance_status(registry)["maintenance"] is True


def test_a_stack_waits_for_a_gateway_to_run() -> None:
    registry = desk_registry()
    waited = operations.wait_until_loaded(registry, 2, 2, need_a_gateway=True, clock=StepClock())
    assert not waited.confirmed and waited.behind == ("(no gateway running)",)
