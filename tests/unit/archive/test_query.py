from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.archive.domain.query import EventQuery
from services.common.errors import InvalidArgument

SETTLED = "egov.payments.v1.PaymentSettled"


def test_only_the_filters_given_are_applied() -> None:
    assert EventQuery().as_filter() == {}
    assert EventQuery(type=SETTLED, subject="B-1").as_filter() == {"type": SETTLED, "subject": "B-1"}
    assert EventQuery(source="/egov/payments", correlation_id="D-1").as_filter() == {
        "source": "/egov/payments", "correlation_id": "D-1"}


def test_a_time_range_includes_since_and_excludes_until() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=1)
    assert EventQuery(since=since, until=until).as_filter() == {"time": {"$gte": since, "$lt": until}}


def test_times_without_an_offset_are_utc_and_offsets_are_kept() -> None:
    naive = EventQuery(since=datetime(2026, 1, 1, 7, 0))
    assert naive.since == datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
    hanoi = timezone(timedelta(hours=7))
    aware = EventQuery(since=datetime(2026, 1, 1, 7, 0, tzinfo=hanoi))
    assert aware.since == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def test_since_after_until_is_refused_naming_since() -> None:
    with pytest.raises(InvalidArgument) as refused:
        EventQuery(since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    assert refused.value.field == "since"


def test_a_target_narrows_to_the_types_it_consumes() -> None:
    assert EventQuery(types=("a.A", "b.B")).as_filter() == {"type": {"$in": ["a.A", "b.B"]}}
    assert EventQuery(type="a.A", types=("a.A", "b.B")).as_filter() == {"type": "a.A"}
    with pytest.raises(InvalidArgument) as refused:
        EventQuery(type="c.C", types=("a.A",))
    assert refused.value.field == "type"


def test_a_description_names_only_the_filters_given() -> None:
    described = EventQuery(type=SETTLED, since=datetime(2026, 1, 1, tzinfo=UTC), types=("z.Z", SETTLED)).describe()
    assert described == {"type": SETTLED, "since": "2026-01-01T00:00:00+00:00", "types": [SETTLED, "z.Z"]}
    assert EventQuery().describe() == {}
