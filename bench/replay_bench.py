"""Replay against the broker's raw limit, measured in one run on one broker.

    python -m bench.replay_bench [--events 10000] [--rounds 3]

Raw: the same windowed-confirm publisher the replay uses, publishing envelopes already in memory
to a durable quorum queue (no reading at all). Replay: `egov-events replay`'s engine sending the
same number of archived events to a queue of the same kind, read from the index's copy of the
envelopes (the default) and from the archive stream itself. Rounds alternate raw and replay so drift in
the machine's load hits both; the ratio is of the medians.
"""

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
from pymongo import MongoClient

from bench.limits import BENCH_ENV
from deploy.local.stack import Stack
from egov.notifications.v1.events_pb2 import NotificationSent
from services.archive.adapters.index import ArchiveIndex, archive_database
from services.archive.domain.query import EventQuery
from services.archive.replay.engine import replay
from services.archive.replay.publisher import Outgoing, PublishStats, WindowedPublisher, memory_feed
from services.archive.replay.sources import BatchSource
from services.common.events.envelope import CONTENT_TYPE, encode, new_event
from services.common.topology import EVENTS_EXCHANGE

TARGET = "bench.replay-target"
BENCH_SOURCE = "/egov/bench"


def start_archive(stack: Stack) -> None:
    """The archive service, unless the stack started it already (`Stack.start()` does by default)."""
    if "archive" not in stack.pids():
        stack.start_service("archive")


def synthetic_events(count: int, tag: str) -> list[Outgoing]:
    """Envelopes the size of the platform's (NotificationSent: nobody consumes it)."""
    events = []
    for i in range(count):
        event = new_event(NotificationSent(notification_id=f"{tag}-{i}", citizen_id="046200001234",
                                           template="dossier_accepted", dossier_code=f"000.00.15.H57-260101-{i:04d}",
                                           cause_event_id=f"{tag}-cause-{i}"),
                          source=BENCH_SOURCE, subject=f"000.00.15.H57-260101-{i:04d}", correlation_id=tag)
        events.append(Outgoing(i, event.id, {"ce_type": event.type, "ce_source": event.source,
                                             "ce_subject": event.subject}, encode(event)))
    return events


def archive(amqp_uri: str, mongo_uri: str, events: list[Outgoing], timeout: float = 120) -> None:
    """Publish the events to the events exchange (so into the archive stream) and wait until the
    archive service has indexed them all."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    for item in events:
        channel.basic_publish(EVENTS_EXCHANGE, item.headers["ce_type"], item.body, pika.BasicProperties(
            content_type=CONTENT_TYPE, content_encoding="binary", delivery_mode=2, message_id=item.message_id,
            headers=item.headers))
    connection.close()
    index = ArchiveIndex(archive_database(MongoClient(mongo_uri, tz_aware=True)))
    last = events[-1].message_id
    deadline = time.monotonic() + timeout
    while index.get(last) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the archive did not index {len(events)} events within {timeout:.0f} s")
        time.sleep(0.1)


def fresh_target(amqp_uri: str, queue: str = TARGET) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_purge(queue)
    connection.close()


def raw_publish_rate(amqp_uri: str, events: list[Outgoing], queue: str = TARGET) -> PublishStats:
    """The broker's raw windowed-confirm publish rate into `queue`, with nothing to read."""
    fresh_target(amqp_uri, queue)
    stats = WindowedPublisher(amqp_uri, queue).run(memory_feed(events))
    if stats.error or stats.confirmed != len(events):
        raise RuntimeError(f"raw publish failed: {stats}")
    return stats


def replay_rate(amqp_uri: str, mongo_uri: str, query: EventQuery, read_from: str = "stream",
                queue: str = TARGET) -> PublishStats:
    """The replay engine sending the archived events matching `query` to `queue`."""
    fresh_target(amqp_uri, queue)
    index = ArchiveIndex(archive_database(MongoClient(mongo_uri, tz_aware=True)))
    offsets = index.offsets(query)
    read = None
    if read_from == "index":
        def read(todo: Any) -> BatchSource:
            return BatchSource([Outgoing(d["offset"], d["_id"], {"ce_type": d["type"]}, bytes(d["envelope"]))
                                for d in docs] for docs in index.envelopes(query, todo[0], todo[-1]))
    result = replay(amqp_uri, offsets, queue, read=read, stop_on_signals=False)
    if result.stats.error or result.stats.confirmed != len(offsets):
        raise RuntimeError(f"replay failed: {result.summary()}")
    return result.stats


@dataclass
class Comparison:
    raw: list[float]
    stream: list[float]
    index: list[float]

    def ratio(self, rates: list[float]) -> float:
        return statistics.median(rates) / statistics.median(self.raw)

    def report(self, events: int) -> str:
        def rates(values: list[float]) -> str:
            return ", ".join(f"{v:,.0f}" for v in values)
        return "\n".join([
            f"replay benchmark: {events} archived events per run, {len(self.raw)} rounds",
            f"  raw windowed-confirm publish  {statistics.median(self.raw):>9,.0f} events/s  ({rates(self.raw)})",
            f"  replay, read from the index   {statistics.median(self.index):>9,.0f} events/s  "
            f"({rates(self.index)})  ratio {self.ratio(self.index):.2f}",
            f"  replay, read from the stream  {statistics.median(self.stream):>9,.0f} events/s  "
            f"({rates(self.stream)})  ratio {self.ratio(self.stream):.2f}",
        ])


def compare(amqp_uri: str, mongo_uri: str, events: list[Outgoing], query: EventQuery, rounds: int = 3) -> Comparison:
    result = Comparison([], [], [])
    for _ in range(rounds):
        result.raw.append(raw_publish_rate(amqp_uri, events).rate)
        result.stream.append(replay_rate(amqp_uri, mongo_uri, query, "stream").rate)
        result.index.append(replay_rate(amqp_uri, mongo_uri, query, "index").rate)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="egov-replay-bench-") as workdir:
        stack = Stack(Path(workdir), extra_env=BENCH_ENV)
        try:
            stack.start(services=(), gateway=False)
            start_archive(stack)
            tag = f"bench-{time.time_ns()}"
            events = synthetic_events(args.events, tag)
            archive_uri = stack.database_uri("archive")
            archive(stack.amqp_uri, archive_uri, events)
            comparison = compare(stack.amqp_uri, archive_uri, events, EventQuery(correlation_id=tag), args.rounds)
            print(comparison.report(args.events))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
