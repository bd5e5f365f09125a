"""The ports the archive's operator functions (services/archive/operations/) work over. Each has a
real adapter (MongoDB, RabbitMQ) and an in-memory one (services/archive/fakes.py) passing the same
contract suite (tests/contract/test_archive_ports.py).
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from services.archive.domain.query import EventQuery
from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.engine import ReplayResult
from services.archive.replay.publisher import PublishStats
from services.archive.replay.sources import Source
from services.common.events.dlq import ParkedMessage

Doc = dict[str, Any]


class EventArchive(Protocol):
    """The archive's index: one document per event (services/archive/domain/record.py)."""

    def record(self, batch: Sequence[tuple[int, bytes]]) -> int: ...
    def position(self) -> int | None: ...
    def search(self, query: EventQuery, limit: int) -> list[Doc]:
        """Newest first, without the envelope."""
    def count(self, query: EventQuery) -> int: ...
    def counts_by_type(self, query: EventQuery) -> dict[str, int]: ...
    def get(self, event_id: str) -> Doc | None: ...
    def offsets(self, query: EventQuery) -> list[int]: ...
    def envelopes(self, query: EventQuery, first: int, last: int, batch: int = 1000) -> Iterator[list[Doc]]: ...
    def in_order(self, query: EventQuery, after: int = -1, limit: int | None = None) -> list[Doc]:
        """Whole documents in stream order, offsets after `after`."""


class Broker(Protocol):
    def depth(self, queue: str) -> int | None:
        """Messages ready in the queue; None if there is no such queue."""
    def ensure_queue(self, queue: str, create: bool) -> bool:
        """True if the queue was declared now (durable, quorum); NotFound if missing and not `create`."""
    def stream_end(self) -> int | None:
        """The offset of the archive stream's last message; None while it is empty."""


Choose = Callable[[ParkedMessage], bool]


class DeadLetterQueues(Protocol):
    def parked(self, service: str, limit: int) -> list[ParkedMessage]:
        """Read, in queue order, without removing."""
    def sweep(self, service: str, choose: Choose, action: str | None, limit: int | None,
              before_each: Callable[[], None]) -> list[ParkedMessage]:
        """Go once through what is parked now; for each message chosen (at most `limit`) call
        `before_each` then act: "redrive" (back to the service's queue with a fresh attempt count,
        removed only once the copy is confirmed), "purge" (deleted) or None (nothing: a dry run).
        Messages not chosen stay parked, in order."""


class Sender(Protocol):
    def send(self, queue: str, offsets: Sequence[int], read: Callable[[Sequence[int]], Source] | None, *,
             headers: dict[str, Any], rate: float | None, checkpoint: Checkpoint | None, window: int,
             on_tick: Callable[[PublishStats], None] | None) -> ReplayResult:
        """Publish the events at `offsets` (read by `read`, default the archive stream) to `queue`."""
