import pytest

from services.common.errors import InvalidArgument
from services.notifications.domain.formatting import format_date, format_vnd


@pytest.mark.parametrize(("amount", "written"), [
    (0, "0 đồng"),
    (500, "500 đồng"),
    (1_000, "1.000 đồng"),
    (50_000, "50.000 đồng"),
    (1_250_000, "1.250.000 đồng"),
    (12_345_678_901, "12.345.678.901 đồng"),
])
def test_vnd_groups_thousands_with_dots(amount: int, written: str) -> None:
    assert format_vnd(amount) == written


def test_negative_amount_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        format_vnd(-1, "fee_vnd")
    assert raised.value.field == "fee_vnd"


@pytest.mark.parametrize(("value", "written"), [
    ("2025-01-05", "05/01/2025"),
    ("2025-01-05T09:00:00+07:00", "05/01/2025"),
    ("2025-01-04T17:00:00Z", "05/01/2025"),     # midnight in Huế
    ("2025-01-04T16:59:59+00:00", "04/01/2025"),
])
def test_dates_are_day_month_year_in_vietnam_time(value: str, written: str) -> None:
    assert format_date(value) == written


@pytest.mark.parametrize("value", ["", "24/03/2025", "2025-13-01", "2025-03-24T10:00:00"])
def test_malformed_dates_are_refused(value: str) -> None:
    with pytest.raises(InvalidArgument):
        format_date(value, "due_date")
