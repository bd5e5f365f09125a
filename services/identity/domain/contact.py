"""How to reach a person: phone, e-mail, postal address and the channels they want news by."""

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from services.common.errors import InvalidArgument

PHONE_REGION = "VN"
# Deliberately loose: one "@", no spaces, a dot in the domain. Whether the box exists is learnt by
# writing to it, not by a regular expression.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
MAX_EMAIL = 254
MAX_ADDRESS_PART = 100
MAX_STREET = 200


class NotificationChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    PUSH = "PUSH"


DEFAULT_CHANNELS = (NotificationChannel.SMS,)


def channels_named(names: tuple[str, ...], field: str = "notification_channels") -> list[NotificationChannel]:
    """The channels a person asked for by name; the contract's UNSPECIFIED (or a number it does not
    know) is not one."""
    if any(name not in NotificationChannel.__members__ for name in names):
        raise InvalidArgument(field, "each channel must be EMAIL, SMS or PUSH")
    return [NotificationChannel[name] for name in names]


@dataclass(frozen=True)
class Address:
    street: str
    commune: str
    district: str
    province: str


def normalize_phone(raw: str, field: str = "phone") -> str:
    """A Vietnamese phone number in E.164 (+84...), whichever way it was written."""
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidArgument(field, "is not a phone number") from exc
    if (not phonenumbers.is_valid_number(number)
            or phonenumbers.region_code_for_number(number) != PHONE_REGION):
        raise InvalidArgument(field, "is not a valid Vietnamese phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str, field: str = "email") -> str:
    """The e-mail address with its domain in lower case; "" when none was given."""
    value = raw.strip()
    if not value:
        return ""
    if len(value) > MAX_EMAIL or not _EMAIL.fullmatch(value):
        raise InvalidArgument(field, "is not an e-mail address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def check_address(address: Address, field: str = "address") -> Address:
    parts = {}
    for name in ("commune", "district", "province"):
        value = " ".join(getattr(address, name).split())
        if not value:
            raise InvalidArgument(f"{field}.{name}", "is required")
        if len(value) > MAX_ADDRESS_PART:
            raise InvalidArgument(f"{field}.{name}", f"must be at most {MAX_ADDRESS_PART} characters")
        parts[name] = value
    street = " ".join(address.street.split())
    if len(street) > MAX_STREET:
        raise InvalidArgument(f"{field}.street", f"must be at most {MAX_STREET} characters")
    return Address(street=street, **parts)


def choose_channels(requested: list[NotificationChannel], email: str,
                    field: str = "notification_channels") -> tuple[NotificationChannel, ...]:
    """The channels in the order asked, without repeats; SMS when none was asked for."""
    channels = tuple(dict.fromkeys(requested)) or DEFAULT_CHANNELS
    if NotificationChannel.EMAIL in channels and not email:
        raise InvalidArgument("email", "is required to be notified by e-mail")
    return channels
