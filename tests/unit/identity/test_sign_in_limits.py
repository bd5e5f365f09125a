"""Progressive delay on failed sign-ins (pure rules), and the bound on scrypt per process."""

from datetime import UTC, datetime, timedelta

import eventlet
import pytest

from services.common.errors import ResourceExhausted
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.domain.passwords import hash_password
from services.identity.domain.sign_in_limits import (
    ACCOUNT,
    ACCOUNT_AND_ADDRESS,
    ADDRESS,
    cleared_keys,
    counted_keys,
    refusal,
)

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def waits(backoff, failures_up_to: int) -> list[float]:  # type: ignore[no-untyped-def]
    return [backoff.wait(n, NOW, NOW).total_seconds() for n in range(failures_up_to + 1)]


def test_the_guessers_own_address_waits_longer_and_longer() -> None:
    assert waits(ACCOUNT_AND_ADDRESS, 6) == [0, 0, 0, 1, 2, 4, 8]
    assert ACCOUNT_AND_ADDRESS.wait(40, NOW, NOW) == timedelta(minutes=15)


def test_an_account_is_never_held_for_more_than_thirty_seconds_whoever_fails() -> None:
    assert waits(ACCOUNT, 12) == [0] * 10 + [1, 2, 4]
    assert max(ACCOUNT.wait(n, NOW, NOW) for n in range(1000)) == timedelta(seconds=30)


def test_one_address_trying_many_accounts_is_slowed_after_twenty_failures() -> None:
    assert ADDRESS.wait(19, NOW, NOW) == timedelta(0)
    assert ADDRESS.wait(25, NOW, NOW) == timedelta(seconds=32)


def test_a_wait_runs_from_the_last_failure() -> None:
    assert ACCOUNT_AND_ADDRESS.wait(5, NOW, NOW + timedelta(seconds=3)) == timedelta(seconds=1)
    assert ACCOUNT_AND_ADDRESS.wait(5, NOW, NOW + timedelta(seconds=5)) == timedelta(0)
    assert str(refusal(timedelta(seconds=3.2))) == "password: too many failed sign-ins: try again in 4 s"


def test_keys_name_no_id_or_address_in_clear_and_a_success_clears_only_the_account() -> None:
    keys = counted_keys("citizen:046090012345", "203.0.113.7")
    assert [k.backoff for k in keys] == [ACCOUNT, ACCOUNT_AND_ADDRESS, ADDRESS]
    assert not any("046090012345" in k.key or "203.0.113.7" in k.key for k in keys)
    assert cleared_keys("citizen:046090012345", "203.0.113.7") == [k.key for k in keys[:2]]
    assert [k.backoff for k in counted_keys("citizen:046090012345", "")] == [ACCOUNT]


def test_no_more_password_hashes_run_at_once_than_the_bound_the_rest_are_refused_at_once() -> None:
    hasher = PasswordHasher(concurrent=1, queue_seconds=0)
    stored = hash_password("mật khẩu đủ dài")

    def check() -> str:
        try:
            return "match" if hasher.matches("mật khẩu đủ dài", stored) else "no match"
        except ResourceExhausted as exc:
            return str(exc)

    pool = eventlet.GreenPool()
    outcomes = list(pool.imap(lambda _: check(), range(3)))
    assert outcomes.count("match") == 1
    assert outcomes.count("password: too many sign-ins at this moment: try again in a few seconds") == 2
    assert check() == "match"      # the slot is free again


@pytest.mark.parametrize("failures", [0, 3, 10])
def test_no_wait_before_the_first_failure(failures: int) -> None:
    assert ACCOUNT.wait(failures, None, NOW) == timedelta(0)
