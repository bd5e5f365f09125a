"""Refusals in the message log, aggregated so that a flood of them cannot fill it.

A refusal is a call the gateway answered itself without handing it on (unauthenticated, denied,
invalid, over a limit): nothing happened, so it needs no evidence one by one beyond a few. Refusals
are grouped by kind (direction, client, method, status); in each window of `window_seconds` from a
kind's first refusal, the first `each_per_window` are recorded one by one as usual, and the rest are
counted and recorded as one `refusals` record when the window ends: how many, the first and last
time, and the first one's reason. A flood from one caller (or from every anonymous one: they share a
client name) costs a handful of records a minute, however fast it comes.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.message_log import now_rfc3339

REFUSALS = "refusals"
MAX_KINDS = 10_000          # kinds tracked at once; beyond, new clients are counted under "*"


@dataclass(frozen=True)
class RefusalPolicy:
    each_per_window: int = 10
    window_seconds: float = 60.0


@dataclass(frozen=True)
class RefusalSummary:
    """The refusals of one kind counted in one window: one record."""

    direction: str
    client: str
    client_kind: str
    method: str
    status: str
    note: str
    count: int
    first_at: str
    last_at: str
    window_seconds: float

    def fields(self) -> dict[str, Any]:
        return {"kind": REFUSALS, **self.__dict__}


@dataclass
class _Window:
    opened: float
    seen: int = 0
    counted: int = 0
    first_at: str = ""
    last_at: str = ""
    note: str = ""
    client_kind: str = ""


Kind = tuple[str, str, str, str]       # direction, client, method, status


class RefusalCounter:
    def __init__(self, policy: RefusalPolicy, emit: Callable[[RefusalSummary], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._emit = emit
        self._clock = clock
        self._windows: dict[Kind, _Window] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-refusals", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Record what is counted so far."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush(everything=True)

    def admit(self, direction: str, client: str, client_kind: str, method: str, status: str, note: str) -> bool:
        """True: record this refusal on its own; False: it is counted in its kind's window."""
        now = self._clock()
        with self._lock:
            kind: Kind = (direction, client, method, status)
            window = self._windows.get(kind)
            if window is None and len(self._windows) >= MAX_KINDS:
                kind = (direction, "*", method, status)
                window = self._windows.get(kind)
            if window is None:
                window = self._windows[kind] = _Window(opened=now)
            window.seen += 1
            if window.seen <= self._policy.each_per_window:
                return True
            stamp = now_rfc3339()
            if window.counted == 0:
                window.first_at, window.note, window.client_kind = stamp, note, client_kind
            window.counted += 1
            window.last_at = stamp
            return False

    def flush(self, everything: bool = False) -> None:
        """Record the windows that have ended (all of them with `everything`)."""
        now = self._clock()
        with self._lock:
            ended = [k for k, w in self._windows.items()
                     if everything or now - w.opened >= self._policy.window_seconds]
            windows = [(kind, self._windows.pop(kind)) for kind in ended]
        for (direction, client, method, status), window in windows:
            if window.counted:
                self._emit(RefusalSummary(direction, client, window.client_kind, method, status, window.note,
                                          window.counted, window.first_at, window.last_at,
                                          self._policy.window_seconds))

    def _run(self) -> None:
        tick = min(1.0, self._policy.window_seconds / 4)
        while not self._stopping.wait(tick):
            self.flush()
