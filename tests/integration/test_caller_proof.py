"""Issue 12 item 8 (first half) with the real identity service on the real broker: a process that can
reach the broker but holds neither the gateway's nor the operators' key (a compromised service) cannot
act as an operator or as the gateway; an operator command signed with the operators' key can."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient

from deploy.local.stack import Stack
from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.caller_proof import GATEWAY, CallerSigner
from services.common.caller_proof import OPERATOR as OPERATOR_ISSUER
from services.common.operator_signing import sign_as_operator


def refusal(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(RemoteError) as refused:
        call(**kwargs)
    return refused.value.exc_type, str(refused.value.value)


def test_only_the_operators_key_makes_an_operator_and_only_the_gateways_key_a_citizen(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(services=("identity",), gateway=False)
    servant = {"civil_servant_id": f"cb-{uuid.uuid4().hex[:8]}", "full_name": "Trần Văn Bình",
               "agency_code": "000.00.15.H57", "role": "specialist", "password": "mật-khẩu-dài-đủ-12"}
    own_key = Ed25519PrivateKey.generate()      # what a compromised service could sign with
    with ClusterRpcClient(uri=stack.amqp_uri, timeout=20) as rpc:
        register = rpc.identity.register_civil_servant
        assert refusal(register, request=servant, caller=OPERATOR.to_wire()) == (
            "Unauthenticated", "caller: a CALLER_KIND_OPERATOR caller must be signed by the operator")
        forged = CallerSigner(own_key, OPERATOR_ISSUER).sign(OPERATOR, "identity", "register_civil_servant", servant)
        assert refusal(register, request=servant, caller=forged)[0] == "Unauthenticated"
        citizen = Caller(CallerKind.CITIZEN, subject="046099001234")
        as_gateway = CallerSigner(own_key, GATEWAY).sign(citizen, "identity", "get_citizen",
                                                         {"citizen_id": "046099001234"})
        assert refusal(rpc.identity.get_citizen, request={"citizen_id": "046099001234"}, caller=as_gateway) == (
            "Unauthenticated", "caller: the caller's signature does not verify for identity.get_citizen and this "
                               "request")
        # Signed with the operators' key (held by operators, not by services), the command is done.
        done = register(request=servant, caller=sign_as_operator("identity", "register_civil_servant", servant,
                                                                 stack.env()))
        assert done["civil_servant"]["civil_servant_id"] == servant["civil_servant_id"]
