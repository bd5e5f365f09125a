"""In-memory twins of the archive's ports (services/archive/ports.py), with the real adapters' rules
(tests/contract/test_archive_ports.py holds both): for unit tests of the operator functions."""

import queue
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.archive.domain.query import EventQuery
from services.archive.domain.record import index_record
from services.archive.ports import Choose, Doc
from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.engine import ReplayResult
from services.archive.replay.publisher import Feed, Outgoing, PublishStats, ReplayFailed
from services.archive.replay.sources import Source
from services.common.errors import NotFound
from services.common.events.dlq import ParkedMessage, describe, redriven_headers
from services.common.topology import SUBSCRIPTIONS, subscription


class InMemoryArchive:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.through: int | None = None

    def record(self, batch: Sequence[tuple[int, bytes]]) -> int:
        new = 0
        for offset, body in batch:
            doc = index_record(offset, body)
            if doc["_id"] not in self.docs:
                self.docs[doc["_id"]] = doc
                new += 1
        if batch:
            self.through = max(self.through if self.through is not None else -1, *(o for o, _ in batch))
        return new

    def position(self) -> int | None:
        return self.through

    def _matching(self, query: EventQuery) -> list[Doc]:
        return sorted((d for d in self.docs.values() if query.matches(d)), key=lambda d: d["offset"])

    def search(self, query: EventQuery, limit: int) -> list[Doc]:
        newest = sorted(self._matching(query), key=lambda d: d["time"], reverse=True)[:limit]
        return [{k: v for k, v in d.items() if k != "envelope"} for d in newest]

    def count(self, query: EventQuery) -> int:
        return len(self._matching(query))

    def counts_by_type(self, query: EventQuery) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self._matching(query):
            counts[doc["type"]] = counts.get(doc["type"], 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def get(self, event_id: str) -> Doc | None:
        return self.docs.get(event_id)

    def offsets(self, query: EventQuery) -> list[int]:
        return [d["offset"] for d in self._matching(query)]

    def envelopes(self, query: EventQuery, first: int, last: int, batch: int = 1000) -> Iterator[list[Doc]]:
        docs = [d for d in self._matching(query) if first <= d["offset"] <= last]
        for start in range(0, len(docs), batch):
            yield docs[start:start + batch]

    def in_order(self, query: EventQuery, after: int = -1, limit: int | None = None) -> list[Doc]:
        docs = [d for d in self._matching(query) if d["offset"] > after]
        return docs[:limit] if limit else docs


@dataclass
class Message:
    body: bytes
    headers: dict[str, Any]
    message_id: str


@dataclass
class InMemoryBroker:
    """Queues (each service's and its dead-letter queue exist, as the topology declares them) and
    the archive stream as a list of offsets."""

    queues: dict[str, list[Message]] = field(default_factory=lambda: {
        name: [] for sub in SUBSCRIPTIONS for name in (sub.queue, sub.dead_letter_queue)})
    stream: list[int] = field(default_factory=list)

    def depth(self, queue_name: str) -> int | None:
        found = self.queues.get(queue_name)
        return None if found is None else len(found)

    def ensure_queue(self, queue_name: str, create: bool) -> bool:
        if queue_name in self.queues:
            return False
        if not create:
            raise NotFound("queue", f"queue {queue_name} does not exist; has its service ever started?")
        self.queues[queue_name] = []
        return True

    def stream_end(self) -> int | None:
        return self.stream[-1] if self.stream else None


class InMemoryDeadLetters:
    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker

    def park(self, service: str, body: bytes, headers: dict[str, Any], message_id: str) -> None:
        self.broker.queues[subscription(service).dead_letter_queue].append(Message(body, headers, message_id))

    def parked(self, service: str, limit: int) -> list[ParkedMessage]:
        return self.sweep(service, lambda message: True, None, limit, lambda: None)

    def sweep(self, service: str, choose: Choose, action: str | None, limit: int | None,
              before_each: Callable[[], None]) -> list[ParkedMessage]:
        sub = subscription(service)
        kept: list[Message] = []
        acted: list[ParkedMessage] = []
        parked = self.broker.queues[sub.dead_letter_queue]
        for message in parked:
            described = describe(message.headers, message.message_id, message.body)
            if (limit is not None and len(acted) >= limit) or not choose(described):
                kept.append(message)
                continue
            before_each()
            acted.append(described)
            if action == "redrive":
                self.broker.queues[sub.queue].append(Message(message.body, redriven_headers(message.headers),
                                                             message.message_id))
            elif action != "purge":
                kept.append(message)
        self.broker.queues[sub.dead_letter_queue] = kept
        return acted


class RecordingSender:
    """Sends into InMemoryBroker queues what a source reads, honouring checkpoints."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker

    def send(self, queue_name: str, offsets: Sequence[int], read: Callable[[Sequence[int]], Source] | None, *,
             headers: dict[str, Any], rate: float | None, checkpoint: Checkpoint | None, window: int,
             on_tick: Callable[[PublishStats], None] | None) -> ReplayResult:
        done_through = checkpoint.through_offset if checkpoint else -1
        todo = [o for o in offsets if o > done_through]
        stats = PublishStats()
        if todo:
            if read is None:
                raise ReplayFailed("the in-memory sender reads no stream: give a source")
            feed: Feed = queue.Queue()
            read(todo).start(feed, lambda: None)
            while (batch := feed.get(timeout=10)) is not None:
                if isinstance(batch, Exception):
                    raise batch
                for item in batch:
                    self._deliver(queue_name, item, headers)
                    stats.confirmed += 1
                    if checkpoint is not None:
                        checkpoint.advance(item.offset)
        if checkpoint is not None:
            checkpoint.save()
        if on_tick is not None:
            on_tick(stats)
        return ReplayResult(len(offsets), len(offsets) - len(todo), stats)

    def _deliver(self, queue_name: str, item: Outgoing, headers: dict[str, Any]) -> None:
        if queue_name not in self.broker.queues:
            raise ReplayFailed(f"the broker returned a message: no queue named {queue_name!r}")
        self.broker.queues[queue_name].append(Message(item.body, {**item.headers, **headers}, item.message_id))
