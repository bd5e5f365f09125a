"""Sampling profiles of live processes with py-spy (an optional tool: `pip install py-spy`), taken
while a benchmark runs: a flame graph (SVG) to look at, and the stacks summarised as the functions
that hold the most samples, by themselves (self) and with what they call (inclusive).

Only samples where a thread holds the GIL count (`--gil`): what uses the CPU, not threads waiting
(in a multi-threaded process such as the gateway, most threads wait most of the time).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.flamegraph import render

RATE_HZ = 67   # low, so that sampling takes little of the two cores from what it measures
_LOCATION = re.compile(r" \((?P<file>[^:()]+)(:\d+)?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass
class Recording:
    name: str
    svg: Path
    raw: Path
    processes: list[subprocess.Popen[bytes]]


class Profiler:
    """`start(name, pid)` attaches to a process; `stop()` ends every recording and summarises it."""

    def __init__(self, outdir: Path, phase: str) -> None:
        self.exe = py_spy()
        self.outdir = outdir
        self.phase = phase
        self.recordings: list[Recording] = []

    @property
    def available(self) -> bool:
        return self.exe is not None

    def start(self, name: str, pid: int) -> None:
        if self.exe is None:
            return
        base = self.outdir / f"{self.phase}-{name}".replace(" ", "-")
        recording = Recording(name, base.with_suffix(".svg"), base.with_suffix(".txt"), [])
        recording.processes.append(subprocess.Popen(
            [self.exe, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--nonblocking", "--gil",
             "--format", "raw", "--output", str(recording.raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.recordings.append(recording)

    def stop(self) -> dict[str, dict[str, object]]:
        for recording in self.recordings:
            for proc in recording.processes:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGINT)
        summaries = {}
        for recording in self.recordings:
            for proc in recording.processes:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if recording.raw.exists():
                stacks = read_stacks(recording.raw)
                render(stacks, f"{recording.name} during the {self.phase} benchmark (py-spy --gil)", recording.svg)
                summaries[recording.name] = {"flamegraph": str(recording.svg), **summarise(stacks)}
        return summaries


def read_stacks(raw: Path) -> list[tuple[list[str], int]]:
    """py-spy's collapsed stacks ("frame;frame;... count" per line), frames without line numbers."""
    stacks = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_function(f) for f in stack.split(";")
                  if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            stacks.append((frames, int(count_text)))
    return stacks


def summarise(stacks: list[tuple[list[str], int]], top: int = 12) -> dict[str, object]:
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        total += count
        self_samples[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        match = _LOCATION.search(frames[-1])
        by_file[match["file"] if match else frames[-1]] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / total, 1)) for frame, n in counter.most_common(top)] if total else []

    return {"samples": total, "self": share(self_samples), "inclusive": share(inclusive),
            "self_by_file": share(by_file)}


def _function(frame: str) -> str:
    """`handle (/work/main/gateway/handlers.py:57)` -> `handle (gateway/handlers.py)`."""
    match = _LOCATION.search(frame)
    if match is None:
        return frame
    return f"{frame[:match.start()]} ({_short(match['file'])})"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
