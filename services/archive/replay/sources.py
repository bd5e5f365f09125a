"""Where a replay reads the selected events from: fills the feed in offset order, then None."""

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from services.archive.replay.publisher import Feed, Outgoing, ReplayFailed


class Source(Protocol):
    """Where a replay reads the selected events from: fills the feed in offset order, then None."""

    def start(self, feed: Feed, wake: Callable[[], None]) -> None: ...

    def close(self) -> None: ...



class BatchSource:
    """Batches from an iterator (a database cursor, a list), read on a thread of this process."""

    def __init__(self, batches: Iterable[list[Outgoing]]) -> None:
        self._batches = batches
        self._closed = False

    def start(self, feed: Feed, wake: Callable[[], None]) -> None:
        def pass_on() -> None:
            try:
                for batch in self._batches:
                    if self._closed:
                        return
                    feed.put(batch)
                    wake()
                feed.put(None)
            except Exception as exc:  # handed to the publisher, which reports it
                feed.put(ReplayFailed(f"reading the events failed: {exc}"))
            wake()

        threading.Thread(target=pass_on, daemon=True, name="egov-replay-feed").start()

    def close(self) -> None:
        self._closed = True


