"""Replays sent through the broker with the windowed-confirm engine (the Sender port)."""

from collections.abc import Callable, Sequence
from typing import Any

from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.engine import ReplayResult, replay
from services.archive.replay.publisher import PublishStats
from services.archive.replay.sources import Source


class BrokerSender:
    def __init__(self, amqp_uri: str, stop_on_signals: bool = True) -> None:
        self.amqp_uri = amqp_uri
        self.stop_on_signals = stop_on_signals

    def send(self, queue: str, offsets: Sequence[int], read: Callable[[Sequence[int]], Source] | None, *,
             headers: dict[str, Any], rate: float | None, checkpoint: Checkpoint | None, window: int,
             on_tick: Callable[[PublishStats], None] | None) -> ReplayResult:
        return replay(self.amqp_uri, offsets, queue, read=read, extra_headers=headers, rate=rate,
                      checkpoint=checkpoint, window=window, on_tick=on_tick, stop_on_signals=self.stop_on_signals)
