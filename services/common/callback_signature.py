"""HMAC-SHA256 signatures on third-party callbacks (payment intermediary, postal operator).

The platform verifies them; the simulators sign with the same scheme.

The signed text is `<timestamp>.<nonce>.` followed by the raw body, so neither the time nor the
nonce can be changed without breaking the signature.
"""

import hashlib
import hmac


def sign(secret: str, body: bytes, timestamp: str, nonce: str) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, timestamp: str, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body, timestamp, nonce), signature)
