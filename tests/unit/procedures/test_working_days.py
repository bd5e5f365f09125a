from datetime import date, timedelta

import holidays
import pytest

from services.procedures.domain.working_days import add_working_days, is_working_day, working_days_between


def test_weekends_are_skipped() -> None:
    friday = date(2027, 3, 5)
    assert add_working_days(friday, 1) == date(2027, 3, 8)          # Monday
    assert add_working_days(date(2027, 3, 6), 1) == date(2027, 3, 8)  # from a Saturday
    assert add_working_days(friday, 5) == date(2027, 3, 12)
    assert add_working_days(friday, 0) == friday


def test_tet_2027_is_the_calendar_the_deadlines_rely_on() -> None:
    # holidays 0.108 gives Tết Đinh Mùi as Thursday 4 to Wednesday 10 February 2027
    tet = {d for d, name in holidays.country_holidays("VN", years=2027).items() if "Lunar New Year" in name}
    assert tet == {date(2027, 2, 4) + timedelta(days=n) for n in range(7)}
    assert not any(is_working_day(d) for d in tet)


def test_a_deadline_straddling_tet_2027_resumes_after_it() -> None:
    wednesday_before_tet = date(2027, 2, 3)
    assert add_working_days(wednesday_before_tet, 1) == date(2027, 2, 11)   # first day back
    assert add_working_days(wednesday_before_tet, 3) == date(2027, 2, 15)
    # two working days before the break, three after it
    assert add_working_days(date(2027, 2, 1), 5) == date(2027, 2, 15)


def test_hung_kings_commemoration_day() -> None:
    assert not is_working_day(date(2027, 4, 16))                    # 10/3 lunar, a Friday
    assert add_working_days(date(2027, 4, 15), 1) == date(2027, 4, 19)


def test_reunification_and_labour_day_with_the_observed_monday() -> None:
    # 30/4 is a Friday and 1/5 a Saturday in 2027, observed on Monday 3 May
    assert add_working_days(date(2027, 4, 29), 1) == date(2027, 5, 4)
    assert working_days_between(date(2027, 4, 29), date(2027, 5, 4)) == 1


def test_national_day() -> None:
    # 2/9 and the day after, Thursday and Friday in 2027
    assert add_working_days(date(2027, 9, 1), 1) == date(2027, 9, 6)


def test_a_saturday_made_a_working_day_counts() -> None:
    # 2026: Monday 31 August off in exchange for working Saturday 22 August
    assert is_working_day(date(2026, 8, 22))
    assert not is_working_day(date(2026, 8, 31))
    assert add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)


def test_counting_between_dates() -> None:
    assert working_days_between(date(2027, 2, 3), date(2027, 2, 15)) == 3
    assert working_days_between(date(2027, 3, 1), date(2027, 3, 1)) == 0
    assert working_days_between(date(2027, 3, 10), date(2027, 3, 1)) == 0
    assert working_days_between(date(2027, 3, 5), date(2027, 3, 7)) == 0   # a weekend


def test_counting_undoes_adding_across_a_year_of_start_days() -> None:
    start = date(2026, 12, 1)
    for offset in range(0, 300, 7):
        day = start + timedelta(days=offset)
        for count in (0, 1, 4, 15):
            assert working_days_between(day, add_working_days(day, count)) == count


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2027, 1, 4), -1)
