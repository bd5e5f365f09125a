"""S10 tracking numbers: check digits worked out by hand with weights 8 6 4 2 3 5 9 7, modulo 11."""

import pytest

from services.common.errors import InvalidArgument
from services.postal.domain.tracking_number import check_digit, parse_tracking_number, tracking_number
from simulators.postal_operator import s10_tracking_number

HAND_COMPUTED = [
    # 4·8 + 7·6 + 3·4 + 1·2 + 2·3 + 4·5 + 8·9 + 2·7 = 200; 200 mod 11 = 2; 11 - 2 = 9 (the UPU's own example)
    ("47312482", 9),
    # 1·8 + 2·6 + 3·4 + 4·2 + 5·3 + 6·5 + 7·9 + 8·7 = 204; 204 mod 11 = 6; 11 - 6 = 5
    ("12345678", 5),
    # 8·7 = 56; 56 mod 11 = 1; 11 - 1 = 10, written 0
    ("00000008", 0),
    # 0; 0 mod 11 = 0; 11 - 0 = 11, written 5
    ("00000000", 5),
    # 1·7 = 7; 11 - 7 = 4
    ("00000001", 4),
]


@pytest.mark.parametrize(("serial", "digit"), HAND_COMPUTED)
def test_check_digit_matches_the_hand_computed_one(serial: str, digit: int) -> None:
    assert check_digit(serial) == digit


@pytest.mark.parametrize(("serial", "digit"), HAND_COMPUTED)
def test_the_operator_issues_the_same_numbers(serial: str, digit: int) -> None:
    assert s10_tracking_number(serial) == f"EB{serial}{digit}VN"
    assert tracking_number("EB", serial, "VN") == f"EB{serial}{digit}VN"


@pytest.mark.parametrize(("serial", "digit"), HAND_COMPUTED)
def test_well_formed_numbers_are_accepted(serial: str, digit: int) -> None:
    assert parse_tracking_number(f"EB{serial}{digit}VN") == f"EB{serial}{digit}VN"


@pytest.mark.parametrize("value", [
    "EB123456784VN",   # check digit should be 5
    "EB12345678VN",    # serial one digit short
    "eb123456785vn",   # letters must be capitals
    "E1123456785VN",
    "",
])
def test_malformed_numbers_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_tracking_number(value)
    assert refused.value.field == "tracking_number"


def test_a_serial_must_be_eight_digits() -> None:
    with pytest.raises(InvalidArgument):
        check_digit("1234567")
