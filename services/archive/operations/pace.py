"""At most `rate` actions per second, with time passed in (tests do not sleep)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Pace:
    rate: float | None
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = field(default=0.0, init=False)

    def __call__(self) -> None:
        if not self.rate:
            return
        now = self.monotonic()
        if self._next > now:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + 1.0 / self.rate
