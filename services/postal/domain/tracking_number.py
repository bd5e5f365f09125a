"""UPU S10 item identifiers, the form VNPost tracking numbers take: two service letters, an
eight-digit serial, a check digit and the country code (e.g. EB123456785VN)."""

import re

from services.common.errors import InvalidArgument

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10 = re.compile(r"[A-Z]{2}(\d{8})(\d)[A-Z]{2}")


def check_digit(serial: str) -> int:
    if len(serial) != len(WEIGHTS) or not serial.isdigit():
        raise InvalidArgument("serial", "an S10 serial is exactly 8 digits")
    remainder = sum(int(d) * w for d, w in zip(serial, WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    return {10: 0, 11: 5}.get(check, check)


def tracking_number(service: str, serial: str, country: str) -> str:
    return f"{service}{serial}{check_digit(serial)}{country}"


def parse_tracking_number(value: str) -> str:
    """The tracking number if it is a well-formed S10 identifier with the right check digit."""
    match = S10.fullmatch(value)
    if match is None:
        raise InvalidArgument("tracking_number", "not an S10 identifier (two letters, 9 digits, two letters)")
    serial, check = match.groups()
    if check_digit(serial) != int(check):
        raise InvalidArgument("tracking_number", "check digit does not match")
    return value
