"""scrypt off the eventlet hub: a hash takes ~0.1 s of CPU by design, and hashlib releases the GIL
while it runs, so in a native thread it neither stalls the service's other requests nor keeps the
second core idle."""

from eventlet import tpool

from services.identity.domain.passwords import hash_password, password_matches


class PasswordHasher:
    def hash(self, password: str) -> str:
        hashed: str = tpool.execute(hash_password, password)
        return hashed

    def matches(self, password: str, stored: str) -> bool:
        matched: bool = tpool.execute(password_matches, password, stored)
        return matched
