"""One replay: the selected offsets, read by a source, published by the windowed publisher, with a
checkpoint advanced as confirms arrive and Ctrl-C handled."""

import queue
import signal
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.publisher import WINDOW, Feed, Outgoing, PublishStats, WindowedPublisher
from services.archive.replay.sources import Source
from services.archive.replay.stream_reader import StreamSource


@dataclass
class ReplayResult:
    selected: int
    skipped: int
    stats: PublishStats

    def summary(self) -> dict[str, Any]:
        return {"selected": self.selected, "sent": self.stats.confirmed, "skipped": self.skipped,
                **{k: v for k, v in asdict(self.stats).items() if k not in ("confirmed", "started", "finished")},
                "seconds": round(self.stats.elapsed, 3), "rate_per_s": round(self.stats.rate, 1)}




def replay(amqp_uri: str, offsets: Sequence[int], routing_key: str, *,
           read: Callable[[Sequence[int]], Source] | None = None,
           extra_headers: dict[str, Any] | None = None, rate: float | None = None,
           checkpoint: Checkpoint | None = None, window: int = WINDOW,
           on_tick: Callable[[PublishStats], None] | None = None,
           stop_on_signals: bool = True) -> ReplayResult:
    """Publish the archived events at `offsets` (ascending) to `routing_key` through the default
    exchange, read by `read(offsets)` (default: the archive stream); skip those a checkpoint says
    were sent already."""
    done_through = checkpoint.through_offset if checkpoint else -1
    todo = [o for o in offsets if o > done_through]
    skipped = len(offsets) - len(todo)

    def confirmed(item: Outgoing) -> None:
        if checkpoint is not None:
            checkpoint.advance(item.offset)

    def tick(stats: PublishStats) -> None:
        if checkpoint is not None:
            checkpoint.save()
        if on_tick is not None:
            on_tick(stats)

    publisher = WindowedPublisher(amqp_uri, routing_key, window=window, rate=rate,
                                  extra_headers=extra_headers, on_confirmed=confirmed, on_tick=tick)
    if not todo:
        return ReplayResult(len(offsets), skipped, publisher.stats)
    feed: Feed = queue.Queue()
    source = read(todo) if read is not None else StreamSource(amqp_uri, todo)
    source.start(feed, publisher.wake)
    previous: dict[int, Any] = {}
    if stop_on_signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: publisher.stop())
    try:
        stats = publisher.run(feed)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        source.close()
        if checkpoint is not None:
            checkpoint.save()
    return ReplayResult(len(offsets), skipped, stats)


