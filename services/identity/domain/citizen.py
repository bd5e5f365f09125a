"""A citizen's account (công dân điện tử): who may open one and what it holds."""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from services.common.citizen_id import check_citizen_id
from services.common.errors import InvalidArgument
from services.identity.domain.contact import (
    Address,
    NotificationChannel,
    check_address,
    choose_channels,
    normalize_email,
    normalize_phone,
)
from services.identity.domain.names import normalize_full_name
from services.identity.domain.passwords import check_password

# Decree 59/2022/NĐ-CP: an electronic identification account for a person from 14 years of age.
MIN_ACCOUNT_AGE = 14
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class CitizenApplication:
    """What a person asks to register with, as they typed it."""

    citizen_id: str
    full_name: str
    birth_date: str
    phone: str
    email: str
    address: Address
    password: str
    notification_channels: list[NotificationChannel]


@dataclass(frozen=True)
class Citizen:
    citizen_id: str
    full_name: str
    birth_date: date
    phone: str          # E.164
    email: str          # "" when none
    address: Address
    notification_channels: tuple[NotificationChannel, ...]
    password_hash: str
    registered_at: datetime


@dataclass(frozen=True)
class CheckedApplication:
    """An application whose every detail is valid and normalised; the password is still in clear
    because it is hashed only once the population database has confirmed the person."""

    citizen_id: str
    full_name: str
    birth_date: date
    phone: str
    email: str
    address: Address
    notification_channels: tuple[NotificationChannel, ...]
    password: str


def parse_birth_date(raw: str, today: date, field: str = "birth_date") -> date:
    value = raw.strip()
    if not _ISO_DATE.fullmatch(value):
        raise InvalidArgument(field, "must be a date written YYYY-MM-DD")
    try:
        born = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument(field, f"{value} is not a calendar date") from exc
    if born > today:
        raise InvalidArgument(field, "is in the future")
    return born


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_application(application: CitizenApplication, today: date) -> CheckedApplication:
    """Every rule that needs nothing but the application itself; each refusal names its field."""
    citizen_id = check_citizen_id(application.citizen_id.strip())
    born = parse_birth_date(application.birth_date, today)
    check_citizen_id(citizen_id, birth_year=born.year)
    if age_on(born, today) < MIN_ACCOUNT_AGE:
        raise InvalidArgument("birth_date", f"an account needs an age of at least {MIN_ACCOUNT_AGE}")
    full_name = normalize_full_name(application.full_name)
    phone = normalize_phone(application.phone)
    email = normalize_email(application.email)
    address = check_address(application.address)
    channels = choose_channels(application.notification_channels, email)
    password = check_password(application.password)
    return CheckedApplication(citizen_id=citizen_id, full_name=full_name, birth_date=born, phone=phone,
                              email=email, address=address, notification_channels=channels,
                              password=password)


def open_account(application: CheckedApplication, hash_password: Callable[[str], str], now: datetime) -> Citizen:
    return Citizen(
        citizen_id=application.citizen_id,
        full_name=application.full_name,
        birth_date=application.birth_date,
        phone=application.phone,
        email=application.email,
        address=application.address,
        notification_channels=application.notification_channels,
        password_hash=hash_password(application.password),
        registered_at=now,
    )


def recover_account(citizen: Citizen, phone: str, email: str, requested_channels: list[NotificationChannel],
                    new_password: str, hash_password: Callable[[str], str]) -> Citizen:
    """The account back in its owner's hands: their contact details and a new password; each detail
    checked (naming its field) before the password is hashed."""
    checked_phone = normalize_phone(phone)
    checked_email = normalize_email(email)
    channels = choose_channels(requested_channels, checked_email)
    password = check_password(new_password, "new_password")
    return replace(citizen, phone=checked_phone, email=checked_email, notification_channels=channels,
                   password_hash=hash_password(password))
