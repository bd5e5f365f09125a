"""`egov-gateway apply -f members.yaml` on the in-memory registry: the file checked whole, the
differences as steps, converging (and pruning) and doing nothing the second time."""

from pathlib import Path

import pytest
import yaml

from deploy.certs import issue, make_ca
from gateway import members_file, operations
from gateway.members import SubsystemId
from gateway.registry_admin import InMemoryRegistry
from services.common.errors import InvalidArgument

DESK = "VN/GOV/000.00.15.H57/one-stop-desk"
POST = "VN/COM/0100109106/vnpost-counter"
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"
SUBMIT = "/egov.procedures.v1.ProcedureService/SubmitDossier"
CA = make_ca()


def write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "members.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def two_agencies(tmp_path: Path) -> dict[str, object]:
    for subsystem in (DESK, POST):
        (tmp_path / f"{subsystem.rsplit('/', 1)[1]}.pem").write_bytes(issue(CA, subsystem).certificate_pem)
    return {
        "members": [
            {"member": "VN/GOV/000.00.15.H57", "name": "Sở Tư pháp", "limits": {"rate_per_second": 50},
             "subsystems": [{"subsystem": "one-stop-desk", "channel": "counter", "certificates": ["one-stop-desk.pem"],
                             "grants": [GET_DOSSIER]}]},
            {"member": "VN/COM/0100109106", "name": "Bưu điện",
             "subsystems": [{"subsystem": "vnpost-counter", "channel": "post-office",
                             "certificates": ["vnpost-counter.pem"]}]}],
        "groups": [{"group": "front-offices", "description": "desks and post offices", "subsystems": [DESK, POST],
                    "grants": [SUBMIT]}],
    }


def test_apply_converges_then_has_nothing_to_do(tmp_path: Path) -> None:
    registry = InMemoryRegistry()
    path = write(tmp_path, two_agencies(tmp_path))
    dry = members_file.apply(registry, members_file.read(path), dry_run=True)
    assert registry.version == 0 and dry.dry_run
    assert [s.line() for s in dry.steps][:3] == ["+ member VN/GOV/000.00.15.H57: Sở Tư pháp",
                                                 "+ member VN/COM/0100109106: Bưu điện",
                                                 f"+ subsystem {DESK}: channel counter"]
    applied = members_file.apply(registry, members_file.read(path))
    assert applied.version == registry.version == len(dry.steps)
    snapshot = registry.load()
    assert snapshot.is_granted(SubsystemId.parse(POST), SUBMIT)
    assert snapshot.is_granted(SubsystemId.parse(DESK), GET_DOSSIER)
    assert members_file.apply(registry, members_file.read(path)).steps == []


def test_what_the_file_leaves_out_is_taken_away_in_order(tmp_path: Path) -> None:
    registry = InMemoryRegistry()
    document = two_agencies(tmp_path)
    members_file.apply(registry, members_file.read(write(tmp_path, document)))
    document["members"] = document["members"][:1]                           # type: ignore[index]
    document["members"][0]["limits"] = {}                                   # type: ignore[index]
    document["groups"] = []
    post_certificate = next(c["fingerprint"] for c in operations.certificates(registry) if c["subsystem"] == POST)
    steps = members_file.apply(registry, members_file.read(write(tmp_path, document))).steps
    assert [s.line().split(":")[0] for s in steps] == [
        "~ member VN/GOV/000.00.15.H57", f"- grant {SUBMIT}", "- group_place front-offices",
        "- group_place front-offices", "- group front-offices", f"- certificate {post_certificate}",
        f"- subsystem {POST}", "- member VN/COM/0100109106"]
    assert [m["member"] for m in operations.members(registry)] == ["VN/GOV/000.00.15.H57"]


def test_without_pruning_nothing_is_taken_away(tmp_path: Path) -> None:
    registry = InMemoryRegistry()
    operations.add_member(registry, "GOV/HUE", "UBND tỉnh")
    members_file.apply(registry, members_file.read(write(tmp_path, two_agencies(tmp_path))), prune=False)
    assert "VN/GOV/HUE" in [m["member"] for m in operations.members(registry)]


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["members"][0].update(member="VN/XXX/1"), "member_class"),
    (lambda d: d["members"][0]["subsystems"][0].update(grants=["/egov.procedures.v1.ProcedureService/AcceptDossier"]),
     "method"),
    (lambda d: d["members"][0]["subsystems"][0].update(certificates=["vnpost-counter.pem"]), "certificate"),
    (lambda d: d["members"][0]["subsystems"][0].update(certificates=["missing.pem"]), "certificates[0]"),
    (lambda d: d["groups"][0].update(subsystems=["VN/GOV/1/undeclared"]), "groups[0].subsystems"),
    (lambda d: d.update(agencies=[]), "file"),
])
def test_a_bad_file_is_refused_whole_and_changes_nothing(tmp_path: Path, change: object, field: str) -> None:
    registry = InMemoryRegistry()
    document = two_agencies(tmp_path)
    change(document)  # type: ignore[operator]
    with pytest.raises(InvalidArgument) as refused:
        members_file.apply(registry, members_file.read(write(tmp_path, document)))
    assert refused.value.field.endswith(field) and registry.version == 0


def test_a_revoked_certificate_cannot_be_declared_again(tmp_path: Path) -> None:
    registry = InMemoryRegistry()
    path = write(tmp_path, two_agencies(tmp_path))
    members_file.apply(registry, members_file.read(path))
    operations.revoke_certificate(registry, (tmp_path / "one-stop-desk.pem").read_bytes())
    with pytest.raises(InvalidArgument, match="issue a new one"):
        members_file.apply(registry, members_file.read(path))
