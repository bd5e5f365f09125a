"""One contract for the identity operator port (services/identity/operations.py): the identity
service over nameko RPC, and the in-memory twin."""

from collections.abc import Callable
from typing import Any

import pytest

from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.identity import operations

FORM = operations.CivilServant("cb-contract-1", "Trần Văn Bảo", "000.00.15.H57", "receiver", "mat-khau-an-toan-2026")


@pytest.mark.parametrize("adapter", ["memory", "rpc"])
def test_a_civil_servant_is_registered_once_with_every_field(adapter: str, make_stack: Callable[..., Any]) -> None:
    if adapter == "memory":
        identity: operations.IdentityAdmin = operations.InMemoryIdentityAdmin()
    else:
        stack = make_stack(services=("identity",), gateway=False)
        identity = operations.RpcIdentityAdmin(stack.amqp_uri, environ=stack.env())
    registered = operations.register_civil_servant(identity, FORM)
    assert registered.pop("second_factor_uri").startswith("otpauth://totp/")
    assert registered == {
        "civil_servant_id": "cb-contract-1", "full_name": "Trần Văn Bảo", "agency_code": "000.00.15.H57",
        "role": "receiver", "ecard_serial": "", "appointments": ["receiver@000.00.15.H57"]}
    first_factor = operations.reset_second_factor(identity, "cb-contract-1")["second_factor_uri"]
    assert operations.reset_second_factor(identity, "cb-contract-1")["second_factor_uri"] != first_factor
    with pytest.raises(NotFound):
        operations.reset_second_factor(identity, "cb-nobody")
    with pytest.raises(InvalidArgument):
        operations.dismiss_civil_servant(identity, "cb-contract-1", "")
    assert operations.dismiss_civil_servant(identity, "cb-contract-1", "nghỉ hưu")["dismissed_at"]
    with pytest.raises(AlreadyExists):
        operations.register_civil_servant(identity, FORM)
    with pytest.raises(InvalidArgument):
        operations.register_civil_servant(identity, operations.CivilServant("cb-2", "", "000.00.15.H57", "receiver",
                                                                            "mat-khau-an-toan-2026"))
