"""scrypt off the eventlet hub: a hash takes ~0.1 s of CPU and 16 MiB by design, and hashlib releases
the GIL while it runs, so in a native thread it neither stalls the service's other requests nor keeps
the second core idle.

At most CONCURRENT_HASHES run at once per process (16 MiB each): a flood of sign-ins, even spread
over many accounts and addresses, cannot make identity burn more memory or cores than that; a call
that cannot start within QUEUE_SECONDS is refused RESOURCE_EXHAUSTED at once instead of queueing.
"""

from eventlet import tpool
from eventlet.semaphore import Semaphore

from services.common.errors import ResourceExhausted
from services.identity.domain.passwords import hash_password, password_matches

CONCURRENT_HASHES = 2
QUEUE_SECONDS = 1.0


class PasswordHasher:
    def __init__(self, concurrent: int = CONCURRENT_HASHES, queue_seconds: float = QUEUE_SECONDS) -> None:
        self._slots = Semaphore(concurrent)
        self._queue_seconds = queue_seconds

    def _slot(self) -> None:
        if not self._slots.acquire(timeout=self._queue_seconds):
            raise ResourceExhausted("password", "too many sign-ins at this moment: try again in a few seconds")

    def hash(self, password: str) -> str:
        self._slot()
        try:
            hashed: str = tpool.execute(hash_password, password)
        finally:
            self._slots.release()
        return hashed

    def matches(self, password: str, stored: str) -> bool:
        self._slot()
        try:
            matched: bool = tpool.execute(password_matches, password, stored)
        finally:
            self._slots.release()
        return matched
