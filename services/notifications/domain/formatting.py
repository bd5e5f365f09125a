"""How amounts and dates are written in Vietnamese administrative texts."""

from datetime import date, datetime, timedelta, timezone

from services.common.errors import InvalidArgument

# Vietnam has kept UTC+7 without daylight saving since 1975.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")


def format_vnd(amount: int, field: str = "amount_vnd") -> str:
    """1250000 -> "1.250.000 đồng" (dots group thousands, as on Vietnamese fee notices)."""
    if amount < 0:
        raise InvalidArgument(field, "must not be negative")
    return f"{amount:,}".replace(",", ".") + " đồng"


def format_date(value: str, field: str = "date") -> str:
    """A calendar date (YYYY-MM-DD) or an RFC 3339 instant, written dd/mm/yyyy in Vietnam time."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
        else:
            instant = datetime.fromisoformat(value)
            if instant.tzinfo is None:
                raise InvalidArgument(field, f"{value!r} has no UTC offset")
            day = instant.astimezone(VIETNAM_TIME).date()
    except ValueError as exc:
        raise InvalidArgument(field, f"{value!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from exc
    return day.strftime("%d/%m/%Y")
