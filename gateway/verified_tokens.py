"""Access tokens whose signature the gateway has already checked, kept until they expire.

An app sends the same token on every call for the token's lifetime, and checking its Ed25519
signature and claims again each time was a tenth of the gateway's CPU on a read (about 0.37 ms
a call on the bench machine; docs/BENCHMARKS.md). A token is the exact string that was verified,
so a hit proves what the first check proved; what can change afterwards is checked on every call
all the same: its expiry here, its session's revocation by the resolver.
"""

import threading
import time
from collections.abc import Callable

import jwt

from services.common.tokens import VerifiedToken

MAX_TOKENS = 20_000   # some 20 MB at most (a token and its caller); the oldest go first beyond it


class VerifiedTokens:
    """`check` is the full verification (services.common.tokens.verify_access_token with the keys)."""

    def __init__(self, check: Callable[[str], VerifiedToken], clock: Callable[[], float] = time.time,
                 capacity: int = MAX_TOKENS) -> None:
        self._check = check
        self._clock = clock
        self._capacity = capacity
        self._lock = threading.Lock()
        self._held: dict[str, tuple[VerifiedToken, float]] = {}

    def verify(self, token: str) -> VerifiedToken:
        """As `check`: the token's caller, or Unauthenticated (an expired one included)."""
        with self._lock:
            held = self._held.get(token)
        if held is not None and self._clock() < held[1]:
            return held[0]
        verified = self._check(token)     # raises for a bad or expired token: never held
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        with self._lock:
            self._held.pop(token, None)
            if len(self._held) >= self._capacity:
                self._evict()
            self._held[token] = (verified, expires)
        return verified

    def _evict(self) -> None:
        now = self._clock()
        for token in [t for t, (_, expires) in self._held.items() if expires <= now]:
            del self._held[token]
        while len(self._held) >= self._capacity:
            del self._held[next(iter(self._held))]     # insertion order: the oldest first
