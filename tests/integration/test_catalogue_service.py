"""The catalogue as operators and the running service see it: `egov-catalogue` against the stack's
database, two replicas of procedures picking an import up without a restart, a bad file refused whole,
and the reform to two tiers imported while a dossier filed under three tiers keeps its units."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nameko.exceptions import RemoteError

from deploy.local.stack import BIN, ROOT, SERVICES, Stack
from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.procedures.v1 import procedures_pb2 as pb
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.events.broker import EventPublisher
from services.common.events.envelope import new_event
from services.common.roles import Appointment, Role
from services.procedures.domain.text import fold
from tests.support import SignedRpcClient
from tests.unit.procedures import catalogue_data as data

DECISION = "999/QĐ-UBND"
PHU_HOI_UNIT, PHU_HOI = "19786", "000.04.31.H57"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """procedures and a second replica of it, on a stack that imported the shipped catalogue."""
    stack = Stack(tmp_path_factory.mktemp("catalogue"))
    try:
        stack.start(services=("procedures",), gateway=False)
        stack.spawn("procedures-2", [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                                      SERVICES["procedures"]], stack.service_env("procedures"))
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()


def egov_catalogue(stack: Stack, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "egov-catalogue"), *args, "--mongo-uri", stack.mongo_uri], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**stack.env(), "COLUMNS": "200"})
    assert done.returncode == expect, done.stderr + done.stdout
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def call(stack: Stack, method: str, caller: Caller | None = None, **request: Any) -> Any:
    with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=20) as rpc:
        reply = getattr(rpc.procedures, method)(request=request, caller=(caller or Caller(CallerKind.ANONYMOUS))
                                                .to_wire())
    if method == "list_procedures":          # crosses serialized (services/common/protowire.py)
        return protowire.dump(protowire.parse(pb.ListProceduresResponse, reply))
    return reply


def replicas_serving(stack: Stack, revision: int) -> int:
    status = as_json(egov_catalogue(stack, "status", "-o", "json"))
    return sum(1 for r in status["replicas"] if r["revision"] == revision)


def test_the_shipped_catalogue_is_served_and_listed(stack: Stack) -> None:
    status = as_json(egov_catalogue(stack, "status", "-o", "json"))
    assert status["in_force"]["units_version"] == "hue-2025-03" and status["procedures"] >= 80
    assert status["entries"] > 10 * status["procedures"] and len(status["replicas"]) >= 1   # expanded over units
    found = as_json(egov_catalogue(stack, "list", "--unit", PHU_HOI_UNIT, "--keyword", "dang ky khai sinh",
                                   "-o", "json"))["procedures"]
    assert ("1.001193", PHU_HOI) in [(p["code"], p["competent_agency"]) for p in found]
    assert all("khai sinh" in fold(p["name"]) and p["unit"] == PHU_HOI_UNIT for p in found)
    shown = as_json(egov_catalogue(stack, "show", "1.001193", "--unit", PHU_HOI_UNIT, "-o", "json"))
    assert (shown["unit"]["name"], shown["deadline"], shown["decision"]) == (
        "Phường Phú Hội", {"kind": "same_day", "cutoff": "15:00"}, "427/QĐ-UBND")
    units = as_json(egov_catalogue(stack, "units", "list", "--tier", "district", "-o", "json"))["units"]
    assert len(units) == 9 and units[0] == {"code": "474", "name": "Quận Thuận Hóa", "tier": "district",
                                            "parent": "46", "agency_code": "000.00.31.H57",
                                            "agency_name": "Ủy ban nhân dân quận Thuận Hóa"}
    reply = call(stack, "list_procedures", unit_code=PHU_HOI_UNIT, keyword="ĐĂNG KÝ KHAI SINH")
    assert [p["code"] for p in reply["procedures"]] == [p["code"] for p in found]


def test_a_file_with_a_bad_row_is_refused_whole(stack: Stack, tmp_path: Path) -> None:
    before = as_json(egov_catalogue(stack, "status", "-o", "json"))["in_force"]
    bad = data.catalogue(DECISION, data.row("1.999991", "Thủ tục thử", ["commune"]),
                         data.row("1.999992", "Thủ tục thử hai", ["commune"], deadline={"kind": "working_days"}))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = egov_catalogue(stack, "import", str(path), "--decision", DECISION, expect=1)
    assert "procedures[1].deadline.days: is required" in refused.stderr, refused.stderr
    assert "nothing was imported" in refused.stderr
    assert as_json(egov_catalogue(stack, "status", "-o", "json"))["in_force"] == before
    with pytest.raises(RemoteError) as unknown:
        call(stack, "get_procedure", procedure_code="1.999991")
    assert unknown.value.exc_type == "NotFound"
    usage = egov_catalogue(stack, "import", str(path), expect=2)           # --decision is required
    assert "--decision" in usage.stderr


def test_every_replica_serves_an_import_without_a_restart(stack: Stack, tmp_path: Path) -> None:
    revision = as_json(egov_catalogue(stack, "status", "-o", "json"))["in_force"]["revision"]
    deadline = time.monotonic() + 60                     # the second replica reports once it has started
    while replicas_serving(stack, revision) < 2:
        assert time.monotonic() < deadline, "two replicas of procedures did not report the version they serve"
        time.sleep(0.5)
    amendment = data.catalogue(DECISION, data.row("1.999993", "Đăng ký thử nghiệm liên thông", ["commune"]),
                               scope="excerpt")
    path = tmp_path / "amendment.json"
    path.write_text(json.dumps(amendment, ensure_ascii=False), encoding="utf-8")
    dry = as_json(egov_catalogue(stack, "import", str(path), "--decision", DECISION, "--dry-run", "-o", "json"))
    assert (dry["added"], dry["applied"]) == ([{"code": "1.999993", "name": "Đăng ký thử nghiệm liên thông"}], False)
    done = as_json(egov_catalogue(stack, "import", str(path), "--decision", DECISION, "--wait", "30", "-o", "json"))
    assert done["applied"] and done["in_force"]["revision"] == revision + 1 and len(done["served_by"]) == 2
    # each replica answers from the new revision: ask enough times that both are asked
    for _ in range(6):
        reply = call(stack, "list_procedures", unit_code=PHU_HOI_UNIT, keyword="dang ky thu nghiem")
        assert (reply["catalogue_revision"], [p["code"] for p in reply["procedures"]]) == (revision + 1, ["1.999993"])
    again = as_json(egov_catalogue(stack, "import", str(path), "--decision", DECISION, "-o", "json"))
    assert (again["applied"], again["unchanged"]) == (False, 1)
    last = as_json(egov_catalogue(stack, "revisions", "-o", "json"))["revisions"][-1]
    assert (last["revision"], last["decision"], last["added"]) == (revision + 1, DECISION, 1)


def file_birth_registration(stack: Stack, clerk: Caller, citizen: str) -> dict[str, Any]:
    """A desk filing of 1.001193 for a citizen the service learns of from identity's event."""
    publisher = EventPublisher(stack.amqp_uri)
    publisher.publish(new_event(CitizenRegistered(citizen_id=citizen, full_name="Trần Thị Lan"),
                                source="/egov/identity", subject=citizen))
    publisher.close()
    request = {"procedure_code": "1.001193", "applicant_citizen_id": citizen,
               "documents": [{"document_code": code, "file_name": f"{code}.pdf", "sha256": "0f" * 32,
                              "size_bytes": 4096} for code in ("TP01", "TP02")],
               "payment_method": "PAYMENT_METHOD_NO_FEE", "delivery": {"method": "DELIVERY_METHOD_PICKUP"}}
    deadline = time.monotonic() + 30
    while True:
        try:
            return dict(call(stack, "submit_dossier", clerk, **request)["dossier"])
        except RemoteError as not_yet:        # until the CitizenRegistered event is consumed
            assert not_yet.exc_type == "FailedPrecondition" and time.monotonic() < deadline, not_yet.value
            time.sleep(0.1)


def test_an_operator_configures_a_desk_from_the_command_line(stack: Stack) -> None:
    thuan_hoa = ["000.00.31.H57", "--name", "Bộ phận Một cửa quận Thuận Hóa", "--unit", "474"]
    dry = as_json(egov_catalogue(stack, "desks", "configure", *thuan_hoa, "--accepts", "*", "--dry-run", "-o", "json"))
    assert (dry["applied"], dry["changed"], as_json(egov_catalogue(stack, "desks", "list", "-o", "json"))) == (
        False, True, {"desks": []})
    done = as_json(egov_catalogue(stack, "desks", "configure", *thuan_hoa, "--accepts", "*", "-o", "json"))
    assert (done["applied"], done["accepts"], done["before"]) == (True, ["*"], None)
    listed = as_json(egov_catalogue(stack, "desks", "list", "-o", "json"))["desks"]
    assert listed == [{"agency_code": "000.00.31.H57", "name": "Bộ phận Một cửa quận Thuận Hóa", "unit_code": "474",
                       "accepts": ["*"]}]
    refused = egov_catalogue(stack, "desks", "configure", *thuan_hoa, "--accepts", "*", "--accepts", "000.99.99.H57",
                             expect=1)
    assert "accepts[1]" in refused.stderr and "000.99.99.H57" in refused.stderr, refused.stderr
    assert as_json(egov_catalogue(stack, "desks", "list", "-o", "json"))["desks"] == listed
    again = as_json(egov_catalogue(stack, "desks", "configure", *thuan_hoa, "--accepts", "*", "-o", "json"))
    assert (again["applied"], again["changed"]) == (False, False)


def test_the_two_tier_reform_is_an_import_and_filed_dossiers_keep_their_units(stack: Stack) -> None:
    clerk = Caller(CallerKind.CIVIL_SERVANT, subject="CB-PHUHOI", agency_code=PHU_HOI,
                   appointments=(Appointment(PHU_HOI, Role.RECEIVER),))   # a receiver at Phú Hội's desk
    filed = file_birth_registration(stack, clerk, "046190000777")
    assert filed["agency_code"] == PHU_HOI

    reform = as_json(egov_catalogue(stack, "units", "import",
                                    str(ROOT / "services/procedures/data/units/hue-2025-07.json"), "-o", "json"))
    assert reform["applied"] and reform["tiers"] == ["province", "commune"]
    assert any(w.startswith("procedure 1.001776: tier district") for w in reform["warnings"])
    # Both replicas: the broker hands consecutive calls to each in turn, so six in a row on the new
    # tree were answered by both (one replica answering first is not enough under load).
    deadline, in_a_row = time.monotonic() + 30, 0
    while in_a_row < 6:
        new_tree = call(stack, "list_units", tier="commune").get("units_version") == "hue-2025-07"
        in_a_row = in_a_row + 1 if new_tree else 0
        assert time.monotonic() < deadline, "the replicas did not load the two-tier tree"
        if not new_tree:
            time.sleep(0.2)
    assert call(stack, "list_units", tier="commune", page_size=100)["total_size"] == 40

    # The dossier keeps the unit it was filed at, and that unit stays readable under its tree.
    kept = call(stack, "get_dossier", clerk, code=filed["code"])["dossier"]
    assert (kept["code"], kept["agency_code"]) == (filed["code"], PHU_HOI)
    earlier = call(stack, "get_unit", unit_code=PHU_HOI_UNIT, units_version="hue-2025-03")
    assert (earlier["unit"]["agency_code"], earlier["unit"]["parent_code"]) == (PHU_HOI, "474")
    with pytest.raises(RemoteError) as gone:
        call(stack, "get_unit", unit_code=PHU_HOI_UNIT)
    assert gone.value.exc_type == "NotFound" and gone.value.value.startswith("unit_code")
