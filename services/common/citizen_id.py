"""The 12-digit citizen identification number (số định danh cá nhân, Decree 137/2015/NĐ-CP):
3 digits of the province of birth registration, 1 of century and sex, 2 of birth year, 6 random."""

import re

from services.common.errors import InvalidArgument

# Province codes 001-096 as assigned by Circular 07/2016/TT-BCA (odd gaps are unassigned).
PROVINCE_CODES = frozenset({
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022",
    "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042",
    "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060", "062", "064", "066",
    "067", "068", "070", "072", "074", "075", "077", "079", "080", "082", "083", "084", "086", "087",
    "089", "091", "092", "093", "094", "095", "096",
})
_DIGITS = re.compile(r"[0-9]{12}")


def check_citizen_id(value: str, field: str = "citizen_id", birth_year: int | None = None) -> str:
    if not _DIGITS.fullmatch(value):
        raise InvalidArgument(field, "must be exactly 12 digits")
    if value[:3] not in PROVINCE_CODES:
        raise InvalidArgument(field, f"unknown province code {value[:3]}")
    if birth_year is not None:
        century_sex = int(value[3])
        century = 1900 + 100 * (century_sex // 2)
        if century + int(value[4:6]) != birth_year:
            raise InvalidArgument(field, f"digits 4-6 do not match birth year {birth_year}")
    return value
