"""What the national population database says decides whether an account may be opened."""

from datetime import date

import pytest

from services.common.errors import DomainError, FailedPrecondition, InvalidArgument, Unavailable
from services.identity.adapters.population import FakePopulationRegistry
from services.identity.domain.citizen import CitizenApplication, check_application
from services.identity.domain.contact import Address
from services.identity.domain.population import Verification, require_match
from services.identity.handlers import confirm_resident

HUE = Address(street="", commune="Phường Vĩnh Ninh", district="Thành phố Huế", province="Thừa Thiên Huế")
TODAY = date(2026, 1, 1)
RESIDENTS = {
    "046090012345": ("Nguyễn Văn An", "1990-05-14", False),
    "046048001357": ("Hồ Văn Đức", "1948-01-15", True),
}


def _application(citizen_id: str, full_name: str, birth_date: str) -> CitizenApplication:
    return CitizenApplication(citizen_id=citizen_id, full_name=full_name, birth_date=birth_date,
                              phone="0905123456", email="", address=HUE, password="a long password",
                              notification_channels=[])


def test_a_match_lets_the_registration_go_on() -> None:
    registry = FakePopulationRegistry(RESIDENTS)
    checked = check_application(_application("046090012345", " nguyễn  văn AN ", "1990-05-14"), TODAY)
    confirm_resident(registry, checked)
    assert registry.asked == ["046090012345"]


@pytest.mark.parametrize(("application", "error", "field"), [
    (_application("046090099999", "Nguyễn Văn An", "1990-05-14"), InvalidArgument, "citizen_id"),
    (_application("046090012345", "Nguyễn Văn Ân", "1990-05-14"), InvalidArgument, "full_name"),
    (_application("046090012345", "Nguyễn Văn An", "1990-05-15"), InvalidArgument, "full_name"),
    (_application("046048001357", "Hồ Văn Đức", "1948-01-15"), FailedPrecondition, "citizen_id"),
])
def test_anything_but_a_match_is_refused(application: CitizenApplication, error: type[DomainError],
                                         field: str) -> None:
    checked = check_application(application, TODAY)
    with pytest.raises(error) as refused:
        confirm_resident(FakePopulationRegistry(RESIDENTS), checked)
    assert refused.value.field == field


def test_an_unreachable_registry_means_try_again_later() -> None:
    checked = check_application(_application("046090012345", "Nguyễn Văn An", "1990-05-14"), TODAY)
    with pytest.raises(Unavailable) as refused:
        confirm_resident(FakePopulationRegistry(RESIDENTS, reachable=False), checked)
    assert refused.value.field == "citizen_id"


def test_not_found_says_where_it_was_looked_for() -> None:
    with pytest.raises(InvalidArgument) as refused:
        require_match(Verification.NOT_FOUND)
    assert refused.value.message == "not found in the national population database"
