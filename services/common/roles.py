"""The roles civil servants hold in the one-stop mechanism (Decree 61/2018/NĐ-CP as amended), each in
one agency: a civil servant can be a receiver at a commune's desk and nobody anywhere else, or a
specialist of one department and the leader of another's unit. Identity records the appointments;
the token carries them; each service decides with them what the holder may do.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    RECEIVER = "receiver"          # tiếp nhận: receives, checks, issues the receipt, returns or refuses
    SPECIALIST = "specialist"      # thụ lý: examines the dossier, records steps, proposes
    LEADER = "leader"              # lãnh đạo: assigns, signs (approves or rejects), apologises
    RESULT_DESK = "result_desk"    # trả kết quả: hands the result over
    SUPERVISOR = "supervisor"      # giám sát: reads the unit and the units below it, changes nothing


@dataclass(frozen=True, order=True)
class Appointment:
    """A role held in one agency (its electronic agency code, e.g. `000.00.15.H57`)."""

    agency_code: str
    role: Role

    def to_claim(self) -> str:
        return f"{self.role.value}@{self.agency_code}"

    @classmethod
    def from_claim(cls, claim: str) -> "Appointment":
        """`specialist@000.00.15.H57` → Appointment; ValueError for anything else."""
        role, sep, agency = claim.partition("@")
        if not sep or not agency:
            raise ValueError(f"appointment {claim!r} is not role@agency-code")
        return cls(agency, Role(role))
