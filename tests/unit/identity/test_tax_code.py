"""The Vietnamese tax code (mã số thuế): 10 digits with a check digit, 13 for a branch."""

import pytest

from services.common.errors import InvalidArgument
from services.identity.domain.business import check_business, check_tax_code, tax_code_check_digit
from services.identity.domain.contact import Address

HUE = Address(street="", commune="Phường Phú Hội", district="Thành phố Huế", province="Thừa Thiên Huế")


@pytest.mark.parametrize("tax_code", [
    "0100109106",      # Hà Nội series (01)
    "0300588569",      # Hồ Chí Minh City series (03)
    "3300101406",      # Thừa Thiên Huế series (33)
    "0100109106001",   # first branch of 0100109106
    "0300588569999",
])
def test_codes_with_the_right_check_digit_are_accepted(tax_code: str) -> None:
    assert check_tax_code(tax_code) == tax_code


def test_the_check_digit_weights_the_first_nine_digits() -> None:
    # 0*31 + 1*29 + 0*23 + 0*19 + 1*17 + 0*13 + 9*7 + 1*5 + 0*3 = 114; 114 mod 11 = 4; 10 - 4 = 6
    assert tax_code_check_digit("010010910") == 6


@pytest.mark.parametrize(("tax_code", "why"), [
    ("0100109107", "wrong check digit"),
    ("0300588560", "wrong check digit"),
    ("0101000060", "the weighted sum is a multiple of 11: no check digit exists"),
    ("0000000000", "the weighted sum is a multiple of 11: no check digit exists"),
    ("0100109106000", "branch numbers start at 001"),
    ("010010910", "9 digits"),
    ("01001091060", "11 digits"),
    ("0100109106-001", "the dash is not part of the stored form"),
    ("01OO109106", "letters"),
])
def test_malformed_codes_are_refused_naming_tax_code(tax_code: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_tax_code(tax_code)
    assert refused.value.field == "tax_code", why


def test_a_series_whose_sum_is_a_multiple_of_eleven_has_no_check_digit() -> None:
    assert tax_code_check_digit("010100006") is None


def test_a_business_needs_a_name_and_an_address() -> None:
    with pytest.raises(InvalidArgument) as no_name:
        check_business("3300101406", "  ", "046090012345", HUE)
    assert no_name.value.field == "name"
    with pytest.raises(InvalidArgument) as no_province:
        check_business("3300101406", "Công ty TNHH Sông Hương", "046090012345",
                       Address(street="", commune="Phú Hội", district="Huế", province=""))
    assert no_province.value.field == "address.province"


def test_a_business_keeps_its_owner_and_a_tidy_name() -> None:
    business = check_business("3300101406", " Công ty TNHH  Sông Hương ", "046090012345", HUE)
    assert (business.name, business.owner_citizen_id) == ("Công ty TNHH Sông Hương", "046090012345")
