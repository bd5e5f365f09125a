"""Closed-loop load: N callers each calling as fast as they can for a while; throughput and latency."""

import logging
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.local.stack import Stack


@dataclass
class Result:
    name: str
    concurrency: int
    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def row(self) -> dict[str, object]:
        return {"name": self.name, "concurrency": self.concurrency, "calls": self.calls, "errors": self.errors,
                "rate": round(self.rate, 1), "p50_ms": round(self.p50_ms, 2), "p95_ms": round(self.p95_ms, 2),
                "p99_ms": round(self.p99_ms, 2), **({"first_error": self.first_error} if self.first_error else {})}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def closed_loop(name: str, make_call: Callable[[], Callable[[], object]], concurrency: int,
                seconds: float, warmup: float = 0.5) -> Result:
    """`make_call` is run once per caller thread (to build per-thread clients) and returns the call."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    first_error: list[str] = []
    start_barrier = threading.Barrier(concurrency + 1)
    stop_at = [0.0]
    measure_from = [0.0]

    def caller(i: int) -> None:
        call = make_call()
        start_barrier.wait()
        mine = latencies[i]
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at[0]:
                return
            try:
                call()
            except Exception as exc:
                errors[i] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            t1 = time.perf_counter()
            if t0 >= measure_from[0]:
                mine.append(t1 - t0)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    now = time.perf_counter()
    measure_from[0] = now + warmup
    stop_at[0] = now + warmup + seconds
    start_barrier.wait()
    for t in threads:
        t.join()
    flat = sorted(x for lst in latencies for x in lst)
    return Result(name, concurrency, len(flat), sum(errors), seconds,
                  percentile(flat, 0.50) * 1000, percentile(flat, 0.95) * 1000, percentile(flat, 0.99) * 1000,
                  first_error[0] if first_error else "")


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING)
    for name in ("pika", "amqp", "kombu"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")


@contextmanager
def platform_for(stack: "Stack", what: str, say: Callable[[str], None]) -> Iterator["Stack"]:
    """A benchmark's own platform: stopped at the end; removed after a success, its logs kept
    (and said where) after a failure."""
    try:
        yield stack
    except BaseException:
        say(f"{what} failed; the platform's logs are kept in {stack.logs}")
        raise
    else:
        stack.remove()
    finally:
        stack.stop()
