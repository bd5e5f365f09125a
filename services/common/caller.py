"""Who is calling, as established by the gateway and passed to every RPC."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.common.errors import PermissionDenied
from services.common.roles import Appointment, Role


class CallerKind(StrEnum):
    ANONYMOUS = "CALLER_KIND_ANONYMOUS"
    CITIZEN = "CALLER_KIND_CITIZEN"
    CIVIL_SERVANT = "CALLER_KIND_CIVIL_SERVANT"
    AGENCY = "CALLER_KIND_AGENCY"
    OPERATOR = "CALLER_KIND_OPERATOR"   # admin CLI inside the cluster; never set by the gateway


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    subject: str = ""
    agency_code: str = ""
    role: str = ""
    channel: str = "CHANNEL_ONLINE"
    # A civil servant's roles, each in one agency (token claim `appointments`: `role@agency-code`).
    appointments: tuple[Appointment, ...] = ()

    @classmethod
    def from_wire(cls, data: dict[str, Any] | None) -> "Caller":
        data = data or {}
        kind = data.get("kind") or CallerKind.ANONYMOUS.value
        return cls(
            kind=CallerKind(kind),
            subject=str(data.get("subject", "")),
            agency_code=str(data.get("agency_code", "")),
            role=str(data.get("role", "")),
            channel=str(data.get("channel", "CHANNEL_ONLINE")),
            appointments=appointments_from_claims(data.get("appointments") or ()),
        )

    def to_wire(self) -> dict[str, str | list[str]]:
        return {"kind": self.kind.value, "subject": self.subject, "agency_code": self.agency_code,
                "role": self.role, "channel": self.channel,
                "appointments": [a.to_claim() for a in self.appointments]}

    @property
    def actor(self) -> str:
        return f"{self.kind.value.removeprefix('CALLER_KIND_').lower()}:{self.subject}"

    def holds(self, role: Role, agency_code: str) -> bool:
        return Appointment(agency_code, role) in self.appointments

    def agencies_with(self, *roles: Role) -> frozenset[str]:
        """The agencies where the caller holds any of `roles` (every role when none is named)."""
        return frozenset(a.agency_code for a in self.appointments if not roles or a.role in roles)

    def require(self, *kinds: CallerKind) -> None:
        if self.kind not in kinds:
            raise PermissionDenied("caller", f"{self.kind.value} may not do this")


OPERATOR = Caller(CallerKind.OPERATOR, subject="operator")


def appointments_from_claims(claims: object) -> tuple[Appointment, ...]:
    """Claims that do not parse are dropped: a token from before a role was renamed grants nothing
    rather than failing every call."""
    found: list[Appointment] = []
    for claim in claims if isinstance(claims, list | tuple) else ():
        try:
            found.append(Appointment.from_claim(str(claim)))
        except ValueError:
            continue
    return tuple(sorted(set(found)))
