"""The client address the gateway passes to services (nameko context header `client_address`), which
identity limits one-time codes and sign-ins per."""

import pytest

from gateway.call import Call, peer_address


@pytest.mark.parametrize(("peer", "address"), [
    ("ipv4:203.0.113.7:51234", "203.0.113.7"),
    ("ipv6:[2001:db8::7]:51234", "2001:db8::7"),
    ("ipv6:%5B::1%5D:40000", "::1"),
    ("unix:/run/egov/agency/gateway.sock", ""),
    ("", ""),
])
def test_the_address_without_the_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address


def test_the_address_travels_in_the_context_only_when_known() -> None:
    call = Call(method="/egov.identity.v1.IdentityService/SignIn", deadline=0.0)
    assert "client_address" not in call.context_data()
    call.client_address = "203.0.113.7"
    assert call.context_data()["client_address"] == "203.0.113.7"
