"""The population database simulator: its data set and how it matches a person."""

import unicodedata

import pytest

from egov.population.v1 import population_pb2 as pb
from services.common.citizen_id import check_citizen_id
from simulators.population import DEFAULT_DATA, load_residents, verify

RESIDENTS = load_residents(DEFAULT_DATA)


def _verify(citizen_id: str, full_name: str, birth_date: str) -> int:
    return verify(RESIDENTS, pb.VerifyCitizenRequest(citizen_id=citizen_id, full_name=full_name,
                                                     birth_date=birth_date))


def test_every_resident_has_a_valid_id_that_agrees_with_the_birth_year() -> None:
    assert 190 <= len(RESIDENTS) <= 210
    for resident in RESIDENTS.values():
        check_citizen_id(resident.citizen_id, birth_year=int(resident.birth_date[:4]))
    from_hue = [r for r in RESIDENTS.values() if r.citizen_id.startswith("046")]
    assert len(from_hue) > len(RESIDENTS) / 2
    assert sum(r.deceased for r in RESIDENTS.values()) >= 2


@pytest.mark.parametrize("full_name", ["Nguyễn Văn An", "  nguyễn   VĂN an ",
                                       unicodedata.normalize("NFD", "Nguyễn Văn An")])
def test_a_well_known_resident_matches_whatever_the_case_spacing_or_composition(full_name: str) -> None:
    assert _verify("046090012345", full_name, "1990-05-14") == pb.VERIFICATION_RESULT_MATCH


@pytest.mark.parametrize(("citizen_id", "full_name", "birth_date", "result"), [
    ("046090012345", "Nguyễn Văn Ân", "1990-05-14", pb.VERIFICATION_RESULT_MISMATCH),
    ("046090012345", "Nguyễn Văn An", "1990-05-15", pb.VERIFICATION_RESULT_MISMATCH),
    ("046090000000", "Nguyễn Văn An", "1990-05-14", pb.VERIFICATION_RESULT_NOT_FOUND),
    ("046048001357", "Hồ Văn Đức", "1948-01-15", pb.VERIFICATION_RESULT_DECEASED),
    ("046185006789", "Trần Thị Bình", "1985-11-02", pb.VERIFICATION_RESULT_MATCH),
    ("046201004567", "Lê Hoàng Cường", "2001-03-20", pb.VERIFICATION_RESULT_MATCH),
    ("046304002468", "Tôn Nữ Minh Châu", "2004-08-09", pb.VERIFICATION_RESULT_MATCH),
])
def test_the_answer_for_each_case(citizen_id: str, full_name: str, birth_date: str, result: int) -> None:
    assert _verify(citizen_id, full_name, birth_date) == result
