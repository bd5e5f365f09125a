"""make run's supervision (deploy/local/runner.py) with real processes and time passed in: a process
that exits is restarted after a back-off that doubles, and one that keeps crashing ends it."""

import sys
from pathlib import Path

from deploy.local.run import shorten
from deploy.local.runner import GIVE_UP_AFTER, Component, ProcessRunner


def test_a_crashed_process_is_restarted_with_back_off_then_given_up(tmp_path: Path) -> None:
    runner = ProcessRunner(tmp_path, tmp_path / "logs")
    said: list[str] = []
    runner.start(Component("crasher", [sys.executable, "-c", "raise SystemExit(3)"], {}), wait=False)
    now = 0.0
    restarts = 0
    while True:
        runner.processes["crasher"].wait(timeout=30)
        gave_up = runner.supervise_once(said.append, now=now)
        if gave_up:
            break
        backoff = float(said[-1].split("restarting in ")[1].split(" s")[0])
        assert runner.supervise_once(said.append, now=now + backoff / 2) is None      # not yet
        runner.supervise_once(said.append, now=now + backoff)
        assert said[-1].startswith("crasher restarted (pid ")
        restarts += 1
        now += backoff
    assert gave_up == "crasher" and restarts == GIVE_UP_AFTER - 1
    assert [m.split("restarting in ")[1].split(" s")[0] for m in said if "restarting in" in m] == ["1", "2", "4", "8"]
    assert said[-1] == f"crasher exited with code 3 {GIVE_UP_AFTER} times within 60 s: giving up"
    assert (tmp_path / "logs" / "crasher.log").exists()


def test_a_running_process_is_left_alone_and_stopped_in_tiers(tmp_path: Path) -> None:
    runner = ProcessRunner(tmp_path, tmp_path / "logs")
    runner.start(Component("db", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tier=0), wait=False)
    runner.start(Component("app", [sys.executable, "-c", "import time; time.sleep(60)"], {}), wait=False)
    said: list[str] = []
    assert runner.supervise_once(said.append) is None and said == []
    processes = dict(runner.processes)
    runner.stop()
    assert all(p.poll() is not None for p in processes.values()) and runner.processes == {}


def test_the_journey_table_shortens_a_name_at_a_word() -> None:
    name = "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam"
    assert shorten(name) == "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người…"
    assert shorten("Đăng ký khai sinh") == "Đăng ký khai sinh"
