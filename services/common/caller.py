"""Who is calling, as established by the gateway and passed to every RPC."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.common.errors import PermissionDenied


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
        )

    def to_wire(self) -> dict[str, str]:
        return {"kind": self.kind.value, "subject": self.subject, "agency_code": self.agency_code,
                "role": self.role, "channel": self.channel}

    @property
    def actor(self) -> str:
        return f"{self.kind.value.removeprefix('CALLER_KIND_').lower()}:{self.subject}"

    def require(self, *kinds: CallerKind) -> None:
        if self.kind not in kinds:
            raise PermissionDenied("caller", f"{self.kind.value} may not do this")


OPERATOR = Caller(CallerKind.OPERATOR, subject="operator")
