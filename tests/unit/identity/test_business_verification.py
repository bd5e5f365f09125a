"""What the national business registration database says decides whether a business may be registered."""

import pytest

from egov.businessregistry.v1 import business_registry_pb2 as pb
from services.common.errors import DomainError, FailedPrecondition, InvalidArgument, Unavailable
from services.identity.adapters.business_registry import FakeBusinessRegistry
from services.identity.domain.business import BusinessVerification, check_tax_code, require_registered
from simulators.business_registry import DEFAULT_DATA, load_businesses, verify

BUSINESSES = {"3300123456": ("Công ty TNHH Du lịch Sông Hương", False),
              "3300789013": ("Hợp tác xã Nón lá Tây Hồ", True)}


def test_a_registered_living_business_by_its_name_may_be_registered() -> None:
    registry = FakeBusinessRegistry(BUSINESSES)
    require_registered(registry.verify("3300123456", "công ty tnhh  du lịch sông hương"))
    assert registry.asked == ["3300123456"]


@pytest.mark.parametrize(("tax_code", "name", "error", "field"), [
    ("3300999998", "Công ty TNHH Du lịch Sông Hương", InvalidArgument, "tax_code"),
    ("3300123456", "Công ty TNHH Du lịch Hương Giang", InvalidArgument, "name"),
    ("3300789013", "Hợp tác xã Nón lá Tây Hồ", FailedPrecondition, "tax_code"),
])
def test_what_the_registry_denies_is_refused_naming_the_field(tax_code: str, name: str, error: type[DomainError],
                                                               field: str) -> None:
    with pytest.raises(error) as refused:
        require_registered(FakeBusinessRegistry(BUSINESSES).verify(tax_code, name))
    assert refused.value.field == field


@pytest.mark.parametrize("verification", [BusinessVerification.UNREACHABLE, BusinessVerification.REFUSED])
def test_no_answer_is_unavailable_and_a_refused_exchange_says_the_operator_must_act(
        verification: BusinessVerification) -> None:
    with pytest.raises(Unavailable) as refused:
        require_registered(verification)
    assert ("operator" in str(refused.value)) is (verification is BusinessVerification.REFUSED)
    assert FakeBusinessRegistry(reachable=False).verify("3300123456", "x") is BusinessVerification.UNREACHABLE


def test_the_simulators_data_set_holds_valid_tax_codes_and_the_well_known_rows() -> None:
    businesses = load_businesses(DEFAULT_DATA)
    for code in businesses:
        assert check_tax_code(code) == code
    assert [b.dissolved for b in list(businesses.values())[:4]] == [False, False, True, False]


@pytest.mark.parametrize(("tax_code", "name", "result"), [
    ("3300123456", "  CÔNG TY TNHH Du lịch Sông Hương ", pb.BUSINESS_VERIFICATION_RESULT_MATCH),
    ("3300123456", "Công ty khác", pb.BUSINESS_VERIFICATION_RESULT_MISMATCH),
    ("3300999998", "Công ty TNHH Du lịch Sông Hương", pb.BUSINESS_VERIFICATION_RESULT_NOT_FOUND),
    ("3300789013", "Hợp tác xã Nón lá Tây Hồ", pb.BUSINESS_VERIFICATION_RESULT_DISSOLVED),
    ("3300123456001", "Chi nhánh Công ty TNHH Du lịch Sông Hương tại Lăng Cô", pb.BUSINESS_VERIFICATION_RESULT_MATCH),
])
def test_the_simulator_answers_by_tax_code_and_name(tax_code: str, name: str, result: int) -> None:
    assert verify(load_businesses(DEFAULT_DATA), pb.VerifyBusinessRequest(tax_code=tax_code, name=name)) == result
