"""A business (doanh nghiệp) registered by a citizen, known by its tax code (mã số thuế)."""

import re
from dataclasses import dataclass
from enum import StrEnum

from services.common.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.identity.domain.contact import Address, check_address

# Circular 105/2020/TT-BTC: 10 digits, the 10th a check digit over the first nine; a dependent unit
# (branch) adds a 3-digit number from 001 to 999.
_TAX_CODE = re.compile(r"[0-9]{10}([0-9]{3})?")
_CHECK_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
MAX_BUSINESS_NAME = 200


@dataclass(frozen=True)
class Business:
    tax_code: str
    name: str
    owner_citizen_id: str
    address: Address


def tax_code_check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when the series has no valid check digit."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, _CHECK_WEIGHTS, strict=True)) % 11
    check = 10 - remainder
    return None if check == 10 else check


def check_tax_code(raw: str, field: str = "tax_code") -> str:
    value = raw.strip()
    if not _TAX_CODE.fullmatch(value):
        raise InvalidArgument(field, "must be 10 digits, or 13 for a branch")
    expected = tax_code_check_digit(value[:9])
    if expected is None or expected != int(value[9]):
        raise InvalidArgument(field, "the check digit (10th digit) is wrong")
    if len(value) == 13 and value[10:] == "000":
        raise InvalidArgument(field, "a branch number runs from 001 to 999")
    return value


def check_business(tax_code: str, name: str, owner_citizen_id: str, address: Address) -> Business:
    business_name = " ".join(name.split())
    if not business_name:
        raise InvalidArgument("name", "is required")
    if len(business_name) > MAX_BUSINESS_NAME:
        raise InvalidArgument("name", f"must be at most {MAX_BUSINESS_NAME} characters")
    return Business(tax_code=check_tax_code(tax_code), name=business_name,
                    owner_citizen_id=owner_citizen_id, address=check_address(address))


class BusinessVerification(StrEnum):
    """What the national business registration database says about a tax code and name."""

    MATCH = "MATCH"
    MISMATCH = "MISMATCH"          # the tax code is registered under another name
    NOT_FOUND = "NOT_FOUND"
    DISSOLVED = "DISSOLVED"
    UNREACHABLE = "UNREACHABLE"    # no answer (down, deadline passed, or an answer we cannot read)
    REFUSED = "REFUSED"            # the data exchange refused identity itself (grant, registration)


def require_registered(verification: BusinessVerification) -> None:
    """Only a business the national registry knows, alive and by this name, may be registered here."""
    if verification is BusinessVerification.MATCH:
        return
    if verification is BusinessVerification.NOT_FOUND:
        raise InvalidArgument("tax_code", "not found in the national business registration database")
    if verification is BusinessVerification.MISMATCH:
        raise InvalidArgument("name", "differs from the name in the national business registration database")
    if verification is BusinessVerification.DISSOLVED:
        raise FailedPrecondition("tax_code", "the national business registration database records this "
                                             "business as dissolved")
    if verification is BusinessVerification.REFUSED:
        raise Unavailable("tax_code", "the national business registration database cannot be consulted: the "
                                      "data exchange refused identity's access; the platform operator must "
                                      "restore it")
    raise Unavailable("tax_code", "the national business registration database cannot be reached; "
                                  "try again later")
