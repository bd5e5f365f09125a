"""The public status lookup's guard: the last 4 digits of the applicant's identity number are 10,000
guesses, so failed lookups of one code are counted, and past MAX_FAILED in WINDOW that code answers
RESOURCE_EXHAUSTED until the window passes, whoever asks and from wherever. Unknown codes are counted
the same way, so the guard tells nothing about which codes exist. (Per-address limits are the
gateway's: its agency front limits callers without a trusted certificate by address.)"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.errors import ResourceExhausted
from services.procedures.domain.application import VIETNAM_TIME

MAX_FAILED = 5
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class FailedLookups:
    code: str
    since: datetime
    count: int

    def check(self, now: datetime) -> None:
        if self.count >= MAX_FAILED and now - self.since < WINDOW:
            until = (self.since + WINDOW).astimezone(VIETNAM_TIME)
            raise ResourceExhausted("code", f"too many failed lookups of this code: try again after {until:%H:%M}")

    def after_failure(self, now: datetime) -> "FailedLookups":
        if now - self.since >= WINDOW:
            return FailedLookups(self.code, now, 1)
        return FailedLookups(self.code, self.since, self.count + 1)


def first_failure(code: str, now: datetime) -> FailedLookups:
    return FailedLookups(code, now, 1)
