"""The public lookup's guard against guessing the 4 digits: failures counted per code, a window."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import ResourceExhausted
from services.procedures.domain.lookups import MAX_FAILED, WINDOW, first_failure

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_past_the_limit_the_code_answers_resource_exhausted_until_the_window_passes() -> None:
    failed = first_failure("X", T0)
    for i in range(1, MAX_FAILED):
        failed.check(T0 + timedelta(seconds=i))
        failed = failed.after_failure(T0 + timedelta(seconds=i))
    with pytest.raises(ResourceExhausted, match="try again after 09:15"):
        failed.check(T0 + timedelta(minutes=1))
    failed.check(T0 + WINDOW)                                    # the window has passed
    assert failed.after_failure(T0 + WINDOW).count == 1          # and counting starts again
