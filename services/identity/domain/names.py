"""Personal names: letters of any script (Vietnamese with its diacritics included) and spaces."""

import unicodedata

from services.common.errors import InvalidArgument

MAX_NAME = 120


def normalize_full_name(raw: str, field: str = "full_name") -> str:
    """The name in NFC with single spaces; refused if anything but letters and spaces is in it."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise InvalidArgument(field, "is required")
    if len(name) > MAX_NAME:
        raise InvalidArgument(field, f"must be at most {MAX_NAME} characters")
    # After NFC a Vietnamese letter is one code point of category L*; a stray combining mark
    # (category M) means text that is not a name.
    if not all(ch == " " or unicodedata.category(ch).startswith("L") for ch in name):
        raise InvalidArgument(field, "may contain only letters and spaces")
    return name
