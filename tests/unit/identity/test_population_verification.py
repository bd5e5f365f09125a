"""What identity learns from the national population database when it asks for a one-time code: sent,
or not sent without a reason; only "no answer at all", the same for everyone, is ever told."""

import pytest

from services.common.errors import Unavailable
from services.identity.adapters.population import FakePopulationRegistry
from services.identity.domain.population import CodeOutcome, require_answer
from services.identity.domain.verification import Purpose

RESIDENTS = {
    "046090012345": ("Nguyễn Văn An", "1990-05-14", False),
    "046048001357": ("Hồ Văn Đức", "1948-01-15", True),
}


def test_a_match_gets_the_code_sent() -> None:
    registry = FakePopulationRegistry(RESIDENTS)
    outcome = registry.send_code("046090012345", "nguyễn văn AN", "1990-05-14", "123456", Purpose.REGISTRATION)
    assert outcome is CodeOutcome.SENT
    assert registry.sent == [("046090012345", "123456", Purpose.REGISTRATION)]
    require_answer(outcome)


@pytest.mark.parametrize(("citizen_id", "full_name", "birth_date"), [
    ("046090099999", "Nguyễn Văn An", "1990-05-14"),     # unknown
    ("046090012345", "Nguyễn Văn Ân", "1990-05-14"),     # other name
    ("046090012345", "Nguyễn Văn An", "1990-05-15"),     # other birth date
    ("046048001357", "Hồ Văn Đức", "1948-01-15"),        # deceased
])
def test_anything_but_a_match_is_the_same_silent_not_sent(citizen_id: str, full_name: str, birth_date: str) -> None:
    registry = FakePopulationRegistry(RESIDENTS)
    outcome = registry.send_code(citizen_id, full_name, birth_date, "123456", Purpose.REGISTRATION)
    assert outcome is CodeOutcome.NOT_SENT
    assert registry.sent == []
    require_answer(outcome)    # nothing is raised: the caller gets the answer a match gets


@pytest.mark.parametrize("outcome", [CodeOutcome.UNREACHABLE, CodeOutcome.REFUSED])
def test_no_answer_means_try_again_later(outcome: CodeOutcome) -> None:
    with pytest.raises(Unavailable) as refused:
        require_answer(outcome)
    assert refused.value.field == "citizen_id"
    assert "national population database" in refused.value.message
