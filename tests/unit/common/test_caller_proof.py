"""Issue 12 item 8 (first half): the caller a service believes is the one the gateway (or, for
operator commands, an operator key) signed for this very call."""

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.certs import make_caller_keys
from services.common.caller import OPERATOR, Caller, CallerKind
from services.common.caller_proof import GATEWAY, CallerSigner, CallerVerifier
from services.common.caller_proof import OPERATOR as OPERATOR_ISSUER
from services.common.config import ConfigError
from services.common.errors import Unauthenticated
from services.common.operator_signing import sign_as_operator

GATEWAY_SIGNER = CallerSigner(Ed25519PrivateKey.generate(), GATEWAY)
OPERATOR_SIGNER = CallerSigner(Ed25519PrivateKey.generate(), OPERATOR_ISSUER)
VERIFIER = CallerVerifier(GATEWAY_SIGNER.public_key, OPERATOR_SIGNER.public_key)
CITIZEN = Caller(CallerKind.CITIZEN, subject="046099001234")
REQUEST = {"code": "000.00.15.H57-260101-0001"}


def refused(wire: object, service: str = "procedures", method: str = "get_dossier", request: object = REQUEST,
            now: float | None = None) -> str:
    with pytest.raises(Unauthenticated) as refusal:
        VERIFIER.verify(wire, service, method, request, now=now)  # type: ignore[arg-type]
    return str(refusal.value)


def test_a_caller_the_gateway_signed_for_this_call_is_believed() -> None:
    wire = GATEWAY_SIGNER.sign(CITIZEN, "procedures", "get_dossier", REQUEST)
    assert VERIFIER.verify(wire, "procedures", "get_dossier", dict(REQUEST)) == CITIZEN


def test_an_anonymous_caller_needs_no_proof_and_any_other_does() -> None:
    assert VERIFIER.verify(None, "identity", "sign_in", {}).kind is CallerKind.ANONYMOUS
    assert VERIFIER.verify(Caller(CallerKind.ANONYMOUS).to_wire(), "identity", "sign_in", {}).kind is \
        CallerKind.ANONYMOUS
    assert refused(CITIZEN.to_wire()) == "caller: a CALLER_KIND_CITIZEN caller must be signed by the gateway"
    assert refused(OPERATOR.to_wire()) == "caller: a CALLER_KIND_OPERATOR caller must be signed by the operator"


def test_a_signed_caller_cannot_be_replayed_elsewhere_or_later() -> None:
    wire = GATEWAY_SIGNER.sign(CITIZEN, "procedures", "get_dossier", REQUEST, valid_seconds=10)
    assert "does not verify" in refused(wire, service="payments", method="get_bill")
    assert "does not verify" in refused(wire, method="accept_dossier")
    assert "does not verify" in refused(wire, request={"code": "000.00.15.H57-260101-0002"})
    assert refused(wire, now=time.time() + 3600) == "caller: the caller's proof has expired"
    altered = {**wire, "subject": "046099005678"}
    assert "does not verify" in refused(altered)


def test_a_compromised_service_cannot_act_as_the_gateway_or_an_operator() -> None:
    own_key = Ed25519PrivateKey.generate()      # all a compromised service can sign with
    forged = CallerSigner(own_key, GATEWAY).sign(CITIZEN, "procedures", "get_dossier", REQUEST)
    assert "does not verify" in refused(forged)
    as_operator = CallerSigner(own_key, OPERATOR_ISSUER).sign(OPERATOR, "identity", "register_civil_servant", {})
    assert "does not verify" in refused(as_operator, "identity", "register_civil_servant", {})
    # Nor does the gateway's key make an operator, or the operators' key a citizen.
    with pytest.raises(ValueError):
        GATEWAY_SIGNER.sign(OPERATOR, "identity", "register_civil_servant", {})
    relabelled = {**GATEWAY_SIGNER.sign(CITIZEN, "identity", "register_civil_servant", {}), "kind": OPERATOR.kind.value}
    assert refused(relabelled, "identity", "register_civil_servant", {}) == (
        "caller: a CALLER_KIND_OPERATOR caller must be signed by the operator, not the gateway")


def test_operator_commands_sign_with_the_operators_key_from_the_environment(tmp_path: Path) -> None:
    make_caller_keys(tmp_path)
    request = {"civil_servant_id": "cb-1"}
    wire = sign_as_operator("identity", "register_civil_servant", request,
                            {"EGOV_OPERATOR_KEY_FILE": str(tmp_path / "operator.key")})
    from services.common.caller_proof import public_key_from_pem
    verifier = CallerVerifier(GATEWAY_SIGNER.public_key,
                              public_key_from_pem((tmp_path / "operator.pub.pem").read_bytes()))
    assert verifier.verify(wire, "identity", "register_civil_servant", request) == OPERATOR
    with pytest.raises(ConfigError, match="EGOV_OPERATOR_KEY_FILE"):
        sign_as_operator("identity", "register_civil_servant", request, {})


def test_a_service_without_the_public_keys_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.common.runtime import rpc
    rpc.caller_verifier.cache_clear()
    monkeypatch.delenv("EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE", raising=False)
    try:
        with pytest.raises(ConfigError, match="EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE is not set"):
            rpc.caller_verifier()
    finally:
        rpc.caller_verifier.cache_clear()
