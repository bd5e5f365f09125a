"""Passwords are kept only as salted scrypt hashes."""

from services.identity.domain.passwords import hash_password, password_matches

PASSWORD = "mật khẩu Huế 2026"


def test_the_right_password_matches_and_a_wrong_one_does_not() -> None:
    stored = hash_password(PASSWORD)
    assert password_matches(PASSWORD, stored)
    assert not password_matches(PASSWORD + " ", stored)
    assert not password_matches("", stored)


def test_each_hash_has_its_own_salt_and_never_holds_the_password() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.startswith("scrypt$")
    assert PASSWORD not in first


def test_a_damaged_or_foreign_stored_hash_never_matches() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, key = stored.split("$")
    assert not password_matches(PASSWORD, "$".join([scheme, n, r, p, salt, key[:-4] + "AAA="]))
    assert not password_matches(PASSWORD, "$".join(["bcrypt", n, r, p, salt, key]))
    assert not password_matches(PASSWORD, "not a hash")
    assert not password_matches(PASSWORD, PASSWORD)
