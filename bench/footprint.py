"""Resident memory of the platform's processes, read from /proc (no psutil): idle, and the peak
while a benchmark runs."""

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from subprocess import Popen
from types import TracebackType

KIB_PER_MB = 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """VmRSS of a live process in MB (0.0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / KIB_PER_MB
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (0.0 once it has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()   # the command name may hold spaces; it ends at ")"
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


OTHER = "other (RabbitMQ, anything else)"


class CpuMeter:
    """CPU seconds each process used between `start()` and `stop()`, and what the rest of the machine
    used meanwhile: RabbitMQ (shared, outside the stack), and any other load that would skew the run."""

    def __init__(self, processes: Mapping[str, Popen[bytes]]) -> None:
        # This process too: the load generator shares the machine's two cores with the platform.
        self._pids = {**{name: proc.pid for name, proc in processes.items()}, "bench (load)": os.getpid()}
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> "CpuMeter":
        self._before = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._machine_before = machine_busy_seconds()
        return self

    def stop(self) -> dict[str, float]:
        self.used = {name: round(cpu_seconds(pid) - self._before[name], 2) for name, pid in self._pids.items()}
        machine = machine_busy_seconds() - self._machine_before
        self.used[OTHER] = round(max(0.0, machine - sum(self.used.values())), 2)
        return self.used


def snapshot(processes: Mapping[str, Popen[bytes]]) -> dict[str, float]:
    return {name: round(rss_mb(proc.pid), 1) for name, proc in processes.items()}


class PeakSampler:
    """Samples every process's RSS in a background thread; `peaks` holds each one's maximum."""

    def __init__(self, processes: Mapping[str, Popen[bytes]], interval: float = 0.25) -> None:
        self._processes = dict(processes)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peaks: dict[str, float] = {name: 0.0 for name in self._processes}

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        for name, now in snapshot(self._processes).items():
            self.peaks[name] = max(self.peaks[name], now)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
