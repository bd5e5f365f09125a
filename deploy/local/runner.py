"""Runs a local stack's processes: start one and wait until it is ready, stop them in tiers, and
supervise them as an init system would (`make run`): a process that exits is restarted after a
back-off, which doubles while it keeps crashing; one that crashed `GIVE_UP_AFTER` times within
`CRASH_WINDOW` seconds stops the supervision.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
CRASH_WINDOW = 60.0
GIVE_UP_AFTER = 5


@dataclass(frozen=True)
class Component:
    """One process of a stack. `tier` orders stopping: higher tiers stop first (0: the database)."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    ready: Callable[[subprocess.Popen[bytes]], None] = lambda proc: None
    tier: int = 2


@dataclass
class _Crashes:
    times: list[float] = field(default_factory=list)
    restart_at: float = 0.0


class ProcessRunner:
    def __init__(self, cwd: Path, logs: Path) -> None:
        self.cwd = cwd
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.components: dict[str, Component] = {}
        self._crashes: dict[str, _Crashes] = {}

    def start(self, component: Component, wait: bool = True) -> subprocess.Popen[bytes]:
        running = self.processes.get(component.name)
        if running is not None and running.poll() is None:   # it would be orphaned, never stopped
            raise RuntimeError(f"{component.name} is already running (pid {running.pid})")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{component.name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(component.argv, cwd=self.cwd, env=dict(component.env), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes[component.name] = proc
        self.components[component.name] = component
        if wait:
            component.ready(proc)
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Higher tiers first (they finish what they hold while what they use is still up)."""
        for tier in sorted({c.tier for c in self.components.values()}, reverse=True):
            names = [n for n in self.processes if self.components[n].tier == tier]
            _terminate([self.processes[n] for n in reversed(names)])
        self.processes.clear()

    def supervise_once(self, say: Callable[[str], None], now: float | None = None) -> str | None:
        """Restart what exited (after its back-off); the name of a process that keeps crashing, if any."""
        now = time.monotonic() if now is None else now
        for name, proc in list(self.processes.items()):
            if proc.poll() is None:
                continue
            crashes = self._crashes.setdefault(name, _Crashes())
            if not crashes.restart_at:
                crashes.times = [t for t in crashes.times if now - t < CRASH_WINDOW] + [now]
                if len(crashes.times) >= GIVE_UP_AFTER:
                    say(f"{name} exited with code {proc.returncode} {len(crashes.times)} times within "
                        f"{CRASH_WINDOW:.0f} s: giving up")
                    return name
                backoff = min(FIRST_BACKOFF * 2 ** (len(crashes.times) - 1), MAX_BACKOFF)
                crashes.restart_at = now + backoff
                say(f"{name} exited with code {proc.returncode}; restarting in {backoff:.0f} s "
                    f"(crash {len(crashes.times)} within {CRASH_WINDOW:.0f} s)")
            elif now >= crashes.restart_at:
                crashes.restart_at = 0.0
                try:
                    restarted = self.start(self.components[name])
                    say(f"{name} restarted (pid {restarted.pid})")
                except Exception as exc:   # its next exit is handled like a crash
                    say(f"{name} did not come back: {exc}")
        return None


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
