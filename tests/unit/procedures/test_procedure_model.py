"""The catalogue's building blocks: deadlines of three kinds, fee categories, entries per unit, the unit tree."""

from datetime import date, datetime, time

import pytest

from services.common.errors import InvalidArgument
from services.common.roles import Appointment, Role
from services.procedures.domain.procedure import (
    EACH_UNIT,
    ApplicantKind,
    CatalogueEntry,
    Deadline,
    DeadlineKind,
    FeeCategory,
    FeeSchedule,
    OnlineMode,
    Procedure,
    RequiredDocument,
    SubmissionChannel,
)
from services.procedures.domain.units import Agency, AgencyKind, Unit, UnitTree

HUE = Unit("46", "Thành phố Huế", "province", None, "000.00.00.H57", "UBND thành phố Huế")
THUAN_HOA = Unit("474", "Quận Thuận Hóa", "district", "46", "000.00.31.H57", "UBND quận Thuận Hóa")
VY_DA = Unit("19777", "Phường Vỹ Dạ", "commune", "474", "000.01.31.H57", "UBND phường Vỹ Dạ")
JUSTICE = Agency("000.00.15.H57", "Sở Tư pháp", "46", AgencyKind.DEPARTMENT)
TREE = UnitTree.build("test", ("province", "district", "commune"), [HUE, THUAN_HOA, VY_DA], [JUSTICE])


def procedure(tiers: tuple[str, ...], competent: dict[str, str]) -> Procedure:
    return Procedure(code="1.001193", name="Thủ tục đăng ký khai sinh", field="Hộ tịch", tiers=tiers,
                     competent_agency=competent, online=OnlineMode.FULL, channels=(SubmissionChannel.DESK,),
                     deadline=Deadline(DeadlineKind.SAME_DAY, cutoff=time(15)), fee=FeeSchedule(0),
                     documents=(RequiredDocument("TK", "Tờ khai đăng ký khai sinh", True),),
                     applicants=(ApplicantKind.CITIZEN,), process=())


def test_working_days_skip_weekends_and_tet() -> None:
    # Tết 2026: Monday 16 to Friday 20 February are days off.
    assert Deadline(DeadlineKind.WORKING_DAYS, 3).due(datetime(2026, 2, 13, 9)) == date(2026, 2, 25)


def test_calendar_days_ending_on_a_day_off_end_on_the_next_working_day() -> None:
    assert Deadline(DeadlineKind.CALENDAR_DAYS, 15).due(datetime(2026, 12, 1, 9)) == date(2026, 12, 16)
    # 1 + 4 = Saturday 5 December: the period ends on Monday 7.
    assert Deadline(DeadlineKind.CALENDAR_DAYS, 4).due(datetime(2026, 12, 1, 9)) == date(2026, 12, 7)


def test_same_day_before_the_cutoff_next_working_day_after_it() -> None:
    same_day = Deadline(DeadlineKind.SAME_DAY, cutoff=time(15))
    assert same_day.due(datetime(2026, 12, 4, 14, 59)) == date(2026, 12, 4)
    assert same_day.due(datetime(2026, 12, 4, 15, 0)) == date(2026, 12, 7)      # Friday after 15:00 → Monday
    assert same_day.due(datetime(2026, 12, 5, 9, 0)) == date(2026, 12, 7)       # received on a Saturday


def test_fee_by_applicant_category() -> None:
    fee = FeeSchedule(200_000, (FeeCategory("student", "Học sinh, sinh viên", 100_000),
                                FeeCategory("child", "Trẻ em", 0)))
    assert (fee.fee_for(""), fee.fee_for("student"), fee.fee_for("child")) == (200_000, 100_000, 0)
    with pytest.raises(InvalidArgument) as refused:
        fee.fee_for("veteran")
    assert refused.value.field == "fee_category" and "student, child" in refused.value.message


def test_a_commune_procedure_exists_once_per_commune_settled_by_its_committee() -> None:
    birth = procedure(("commune",), {"commune": EACH_UNIT})
    entry = CatalogueEntry.of(birth, VY_DA)
    assert entry is not None and entry.competent_agency_code == "000.01.31.H57"
    assert CatalogueEntry.of(birth, THUAN_HOA) is None


def test_a_province_procedure_is_settled_by_its_department() -> None:
    record = procedure(("province",), {"province": JUSTICE.agency_code})
    entry = CatalogueEntry.of(record, HUE)
    assert entry is not None and entry.competent_agency_code == "000.00.15.H57"


def test_the_unit_tree_knows_scope_and_committees() -> None:
    assert TREE.is_within("19777", "46") and TREE.is_within("19777", "19777") and not TREE.is_within("474", "19777")
    assert [u.code for u in TREE.ancestors("19777")] == ["474", "46"]
    assert TREE.children("474") == ("19777",)
    committee = TREE.agency("000.01.31.H57")
    assert committee is not None and committee.kind is AgencyKind.PEOPLES_COMMITTEE
    assert TREE.unit_of_agency("000.00.15.H57") == HUE
    assert TREE.tier_rank("commune") == 2


def test_appointments_travel_as_claims() -> None:
    appointment = Appointment("000.00.15.H57", Role.SPECIALIST)
    assert Appointment.from_claim(appointment.to_claim()) == appointment
    with pytest.raises(ValueError):
        Appointment.from_claim("specialist")


def test_a_half_day_ends_on_the_working_day_it_falls_in() -> None:
    deadline = Deadline(DeadlineKind.WORKING_DAYS, 2.5)
    assert deadline.due(datetime(2026, 12, 7, 9)) == date(2026, 12, 10)      # Monday → Thursday
    assert (deadline.whole_days, deadline.describe()) == (3, "2,5 ngày làm việc")
