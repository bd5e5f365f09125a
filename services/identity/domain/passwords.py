"""Password hashing with scrypt and a random salt per password.

The stored form names its parameters (`scrypt$n$r$p$salt$hash`), so they can be raised later
without making existing passwords unusable.
"""

import base64
import functools
import hashlib
import hmac
import secrets

from services.common.errors import InvalidArgument

MIN_PASSWORD = 8
MAX_PASSWORD = 128
# 16 MiB of memory per hash: the classic interactive setting, small enough for a 150 MB service.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_SCHEME = "scrypt"


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument(field, f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument(field, f"must be at most {MAX_PASSWORD} characters")
    return password


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                          maxmem=2 * 128 * n * r * p)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def unknown_account_hash() -> str:
    """Checked when the account does not exist, so that a wrong ID costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))
