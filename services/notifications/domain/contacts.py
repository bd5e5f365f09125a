"""A citizen as notifications knows them: how to reach them and by which channels."""

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from services.common.citizen_id import check_citizen_id


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    PUSH = "PUSH"


@dataclass(frozen=True)
class Contact:
    citizen_id: str
    full_name: str
    phone: str = ""                 # E.164, or "" when none usable
    email: str = ""
    chosen_channels: tuple[Channel, ...] = ()

    @classmethod
    def register(cls, citizen_id: str, full_name: str, phone: str, email: str,
                 chosen_channels: list[Channel]) -> "Contact":
        return cls(
            citizen_id=check_citizen_id(citizen_id),
            full_name=full_name.strip(),
            phone=e164_or_empty(phone),
            email=email.strip() if "@" in email else "",
            chosen_channels=tuple(dict.fromkeys(chosen_channels)),
        )

    def address(self, channel: Channel) -> str:
        """Where a message on this channel goes: "" when the citizen gave no usable address.
        Push goes to the citizen's devices in the app, registered under their citizen ID."""
        return {Channel.EMAIL: self.email, Channel.SMS: self.phone, Channel.PUSH: self.citizen_id}[channel]

    def channels(self) -> list[Channel]:
        """The channels the citizen chose that can actually reach them, in the order chosen."""
        return [c for c in self.chosen_channels if self.address(c)]


def e164_or_empty(phone: str) -> str:
    """A Vietnamese or international number in E.164 ("0905 123 456" -> "+84905123456")."""
    try:
        number = phonenumbers.parse(phone, "VN")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
