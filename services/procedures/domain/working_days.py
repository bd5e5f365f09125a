"""Working days in Vietnam: Monday to Friday, less public holidays (Labour Code 2019, art. 112),
with the observed and substituted days off the government announces, as the `holidays` package
publishes them (Tết, Hùng Kings' day, 30/4, 1/5, 2/9...). A Saturday the government turned into
a make-up working day counts as a working day.
"""

from datetime import date, timedelta

import holidays

_CALENDAR = holidays.country_holidays("VN")


def is_working_day(day: date) -> bool:
    return bool(_CALENDAR.is_working_day(day))


def add_working_days(start: date, count: int) -> date:
    """The `count`-th working day after `start` (start itself never counts); start when count is 0."""
    if count < 0:
        raise ValueError("count must not be negative")
    day = start
    while count:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start`, up to and including `end`; 0 when end is not after start.

    The inverse of add_working_days: add_working_days(d, working_days_between(d, e)) <= e.
    """
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
