from pathlib import Path

import pytest

from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.publisher import ReplayFailed

REPLAY = {"query": {"type": "egov.payments.v1.PaymentSettled"}, "queue": "egov.procedures.events",
          "rebuild": False}


def test_a_checkpoint_remembers_through_which_offset_everything_was_sent(tmp_path: Path) -> None:
    path = tmp_path / "replay.ckpt"
    checkpoint = Checkpoint.open(path, REPLAY)
    assert checkpoint.through_offset == -1 and not path.exists()
    for offset in (3, 8, 12):
        checkpoint.advance(offset)
    checkpoint.save()
    again = Checkpoint.open(path, REPLAY)
    assert (again.through_offset, again.sent) == (12, 3)


def test_a_checkpoint_of_another_replay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "replay.ckpt"
    checkpoint = Checkpoint.open(path, REPLAY)
    checkpoint.advance(1)
    checkpoint.save()
    with pytest.raises(ReplayFailed, match="another replay"):
        Checkpoint.open(path, {**REPLAY, "rebuild": True})


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "replay.ckpt"
    checkpoint = Checkpoint.open(path, REPLAY)
    checkpoint.advance(5)
    checkpoint.save()
    checkpoint.advance(6)
    checkpoint.save()
    assert [p.name for p in tmp_path.iterdir()] == ["replay.ckpt"]
    assert Checkpoint.open(path, REPLAY).through_offset == 6
