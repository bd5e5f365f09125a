"""Signed calls from a merchant (the platform) to its payment intermediary.

As Vietnamese intermediaries require (VNPay's terminal code and hash secret, MoMo's partner code and
secret key), every call names the merchant and carries an HMAC over what it asks for, a unique request
id and the time: the intermediary refuses a call with no credential, a wrong signature, a stale time
or a request id it has seen, so nobody without the merchant's secret can open, void, query or refund,
and a captured call cannot be played again.

The signed text is one line per item: a scheme tag, the method, the path, the merchant code, the
time (unix seconds), the request id and the SHA-256 of the raw body. Callbacks the intermediary
sends us are signed over `<timestamp>.<nonce>.<body>` (callback_signature.py), so a signature made
in one direction never verifies in the other even though one secret serves both, as with VNPay.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

SCHEME = "EGOV-MERCHANT-HMAC-SHA256"
MERCHANT_HEADER = "X-Merchant-Code"
REQUEST_ID_HEADER = "X-Request-Id"
TIME_HEADER = "X-Request-Time"
SIGNATURE_HEADER = "X-Signature"
FRESHNESS_SECONDS = 300


@dataclass(frozen=True)
class SignedRequest:
    """What a merchant call carries besides its body, as the intermediary reads it."""

    merchant_code: str
    request_id: str
    timestamp: str
    signature: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "SignedRequest":
        return cls(headers.get(MERCHANT_HEADER, ""), headers.get(REQUEST_ID_HEADER, ""),
                   headers.get(TIME_HEADER, ""), headers.get(SIGNATURE_HEADER, ""))

    def headers(self) -> dict[str, str]:
        return {MERCHANT_HEADER: self.merchant_code, REQUEST_ID_HEADER: self.request_id,
                TIME_HEADER: self.timestamp, SIGNATURE_HEADER: self.signature}


def string_to_sign(method: str, path: str, merchant_code: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), path, merchant_code, timestamp, request_id, digest)).encode()


def sign_request(secret: str, method: str, path: str, merchant_code: str, timestamp: str, request_id: str,
                 body: bytes) -> SignedRequest:
    text = string_to_sign(method, path, merchant_code, timestamp, request_id, body)
    signature = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    return SignedRequest(merchant_code, request_id, timestamp, signature)


def verify_request(secret: str, method: str, path: str, body: bytes, signed: SignedRequest) -> bool:
    expected = sign_request(secret, method, path, signed.merchant_code, signed.timestamp, signed.request_id, body)
    return hmac.compare_digest(expected.signature, signed.signature.strip().lower())
