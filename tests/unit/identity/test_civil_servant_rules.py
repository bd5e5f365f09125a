"""What a civil servant's record must hold."""

import pytest

from services.common.errors import InvalidArgument
from services.identity.domain.civil_servant import appoint_civil_servant
from services.identity.domain.passwords import hash_password, password_matches

GOOD = {"civil_servant_id": "cb-hue-001", "full_name": "Trần Văn Bảo", "agency_code": "000.00.15.H57",
        "role": "receiver", "ecard_serial": "", "password": "một mật khẩu dài"}


def test_a_valid_civil_servant_keeps_only_a_hash_of_the_password() -> None:
    servant = appoint_civil_servant(**GOOD, hash_password=hash_password)
    assert (servant.civil_servant_id, servant.agency_code, servant.role) == ("cb-hue-001", "000.00.15.H57",
                                                                             "receiver")
    assert password_matches(GOOD["password"], servant.password_hash)


@pytest.mark.parametrize(("field", "value"), [
    ("civil_servant_id", ""),
    ("civil_servant_id", "cb hue 001"),
    ("full_name", "Trần Văn B4o"),
    ("agency_code", ""),
    ("agency_code", "H57/một"),
    ("role", ""),
    ("role", "Approver!"),
    ("ecard_serial", "serial with spaces"),
    ("password", "1234567"),
])
def test_each_refusal_names_the_field_at_fault(field: str, value: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        appoint_civil_servant(**{**GOOD, field: value}, hash_password=hash_password)
    assert refused.value.field == field
