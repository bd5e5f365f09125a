"""What the national population database says about a person, and what identity does about it."""

from enum import StrEnum

from services.common.errors import FailedPrecondition, InvalidArgument, Unavailable


class Verification(StrEnum):
    MATCH = "MATCH"
    MISMATCH = "MISMATCH"          # the ID exists, but the name or birth date differ
    NOT_FOUND = "NOT_FOUND"
    DECEASED = "DECEASED"
    UNREACHABLE = "UNREACHABLE"    # no answer (down, deadline passed, or an answer we cannot read)
    REFUSED = "REFUSED"            # the data exchange refused identity itself (grant, registration)


class CodeOutcome(StrEnum):
    """What came of asking the registry to send a one-time code: deliberately without the reason
    when it was not sent, so identity cannot leak what it does not know."""

    SENT = "SENT"
    NOT_SENT = "NOT_SENT"          # no match, deceased, or no contact on file
    UNREACHABLE = "UNREACHABLE"
    REFUSED = "REFUSED"


def require_answer(outcome: CodeOutcome) -> None:
    """No answer is the same for everyone (the registry is down or refused us), so it may be told."""
    if outcome is CodeOutcome.REFUSED:
        require_match(Verification.REFUSED)
    if outcome is CodeOutcome.UNREACHABLE:
        require_match(Verification.UNREACHABLE)


def require_match(verification: Verification) -> None:
    if verification is Verification.MATCH:
        return
    if verification is Verification.NOT_FOUND:
        raise InvalidArgument("citizen_id", "not found in the national population database")
    if verification is Verification.MISMATCH:
        raise InvalidArgument("full_name",
                              "the name or birth date differ from the national population database")
    if verification is Verification.DECEASED:
        raise FailedPrecondition("citizen_id",
                                 "the national population database records this person as deceased")
    if verification is Verification.REFUSED:
        raise Unavailable("citizen_id", "the national population database cannot be consulted: the data "
                                        "exchange refused identity's access; the platform operator must restore it")
    raise Unavailable("citizen_id", "the national population database cannot be reached; try again later")
