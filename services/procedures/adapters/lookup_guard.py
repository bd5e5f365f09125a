"""Failed public lookups per code, kept in the process (not the database: a refused lookup stores
nothing). Each replica counts its own, so with N replicas a code closes after at most N x MAX_FAILED
failures in the window; the oldest codes are forgotten past MAX_CODES to bound memory."""

from collections import OrderedDict
from threading import Lock

from services.procedures.domain.lookups import FailedLookups

MAX_CODES = 100_000


class LookupGuard:
    def __init__(self, max_codes: int = MAX_CODES) -> None:
        self._failed: OrderedDict[str, FailedLookups] = OrderedDict()
        self._max = max_codes
        self._lock = Lock()

    def get(self, code: str) -> FailedLookups | None:
        with self._lock:
            return self._failed.get(code)

    def put(self, failed: FailedLookups) -> None:
        with self._lock:
            self._failed[failed.code] = failed
            self._failed.move_to_end(failed.code)
            while len(self._failed) > self._max:
                self._failed.popitem(last=False)
