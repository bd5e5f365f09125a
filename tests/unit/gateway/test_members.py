"""Member identifiers, grants through groups, and which certificates identify a subsystem."""

import pytest

from gateway.members import (
    Certificate,
    CertificateRefused,
    Channel,
    Grant,
    Member,
    MemberId,
    Registry,
    Subsystem,
    SubsystemId,
    identify,
)
from services.common.errors import InvalidArgument

DESK = SubsystemId.parse("VN/GOV/000.00.15.H57/one-stop-desk")
POST = SubsystemId.parse("VN/COM/0100109106/vnpost-counter")
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"
SUBMIT = "/egov.procedures.v1.ProcedureService/SubmitDossier"


def registry(**changes: object) -> Registry:
    values: dict[str, object] = {
        "version": 1,
        "members": [Member(DESK.member, "Sở Tư pháp"), Member(POST.member, "Bưu điện")],
        "subsystems": [Subsystem(DESK, Channel.COUNTER), Subsystem(POST, Channel.POST_OFFICE)],
        "certificates": [Certificate("a" * 64, DESK, "CN=desk", "2030-01-01"),
                         Certificate("b" * 64, POST, "CN=post", "2030-01-01", revoked=True),
                         Certificate("c" * 64, SubsystemId.parse("VN/GOV/9/gone"), "CN=gone", "2030-01-01")],
        "groups": {"front-offices": [DESK, POST]},
        "grants": [Grant.for_subsystem(DESK, GET_DOSSIER), Grant.for_group("front-offices", SUBMIT)],
    }
    values.update(changes)
    return Registry.build(**values)  # type: ignore[arg-type]


def test_identifiers_read_and_print_the_x_road_way() -> None:
    assert str(DESK) == "VN/GOV/000.00.15.H57/one-stop-desk"
    assert (DESK.member.member_code, DESK.subsystem_code) == ("000.00.15.H57", "one-stop-desk")
    assert MemberId.parse("GOV/000.00.15.H57") == MemberId.parse("VN/GOV/000.00.15.H57") == DESK.member


@pytest.mark.parametrize("text, field", [
    ("EE/GOV/1/a", "subsystem"), ("VN/XYZ/1/a", "member_class"), ("VN/GOV/1", "subsystem"),
    ("VN/GOV/1/a b", "subsystem_code"), ("VN/GOV//a", "member_code"),
])
def test_bad_identifiers_name_the_part_at_fault(text: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        SubsystemId.parse(text)
    assert refused.value.field == field


def test_grants_reach_subsystems_directly_and_through_groups_and_nothing_else() -> None:
    rights = registry()
    assert rights.is_granted(DESK, GET_DOSSIER) and rights.is_granted(DESK, SUBMIT)
    assert rights.is_granted(POST, SUBMIT) and not rights.is_granted(POST, GET_DOSSIER)
    assert not rights.is_granted(SubsystemId.parse("VN/GOV/1/unknown"), SUBMIT)
    assert not registry(grants=[]).is_granted(DESK, GET_DOSSIER)     # deny by default


def test_a_grant_needs_a_full_method_name() -> None:
    with pytest.raises(InvalidArgument):
        Grant.for_subsystem(DESK, "GetDossier")


def test_only_a_registered_unrevoked_certificate_of_a_registered_subsystem_identifies_it() -> None:
    rights = registry()
    assert identify(rights, "a" * 64).id == DESK
    for fingerprint, reason in (("b" * 64, "revoked"), ("c" * 64, "no longer registered"),
                                ("d" * 64, "not registered")):
        with pytest.raises(CertificateRefused, match=reason):
            identify(rights, fingerprint)
