"""Replay and rebuild: archived events (chosen from the index, or from an export file) sent again,
in archive order, to exactly one queue; never to the exchange, so no other consumer sees them."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.archive.domain.query import EventQuery
from services.archive.operations.events import event_row
from services.archive.ports import Broker, EventArchive, Sender
from services.archive.replay.checkpoint import Checkpoint
from services.archive.replay.publisher import WINDOW, Outgoing, PublishStats, ReplayFailed
from services.archive.replay.sources import BatchSource, Source
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.events.envelope import REBUILD_HEADER, REPLAY_HEADER
from services.common.topology import SUBSCRIPTIONS, subscription


@dataclass(frozen=True)
class Target:
    queue: str
    types: tuple[str, ...] | None       # the types the target consumes; None: every type
    create: bool                        # a named queue is declared if missing; a service's must exist


def target(to_service: str | None, to_queue: str | None) -> Target:
    if (to_service is None) == (to_queue is None):
        raise InvalidArgument("target", "give exactly one target: --to-service <service> or --to-queue <queue>")
    if to_service is not None:
        try:
            sub = subscription(to_service)
        except KeyError:
            services = ", ".join(s.service for s in SUBSCRIPTIONS)
            raise InvalidArgument("to_service", f"no service {to_service!r} (one of: {services})") from None
        return Target(sub.queue, sub.event_types, create=False)
    if not to_queue or to_queue.startswith("amq."):
        raise InvalidArgument("to_queue", "a queue name not starting with 'amq.' is required")
    return Target(to_queue, None, create=True)


@dataclass(frozen=True)
class Options:
    rate: float | None = None
    window: int = WINDOW
    checkpoint: Path | None = None
    rebuild: bool = False
    read_from: str = "index"            # index, stream; an export file is read from itself
    on_start: Callable[[dict[str, Any]], None] = field(default=lambda plan: None)
    on_tick: Callable[[PublishStats], None] | None = None


@dataclass(frozen=True)
class Selection:
    """What a replay sends: offsets in stream order, how to read them, what they are (dry runs)."""

    offsets: list[int]
    read: Callable[[Sequence[int]], Source] | None
    counts: dict[str, int]
    sample: list[dict[str, Any]]
    describe: dict[str, Any]


def from_index(archive: EventArchive, query: EventQuery, read_from: str = "index") -> Selection:
    def read(offsets: Sequence[int]) -> Source:
        def batches() -> Iterator[list[Outgoing]]:
            for docs in archive.envelopes(query, offsets[0], offsets[-1]):
                yield [Outgoing(d["offset"], d["_id"], {"ce_type": d["type"], "ce_source": d["source"],
                                                        "ce_subject": d["subject"]}, bytes(d["envelope"]))
                       for d in docs]
        return BatchSource(batches())

    if read_from not in ("index", "stream"):
        raise InvalidArgument("read_from", f"must be index or stream, got {read_from!r}")
    return Selection(archive.offsets(query), read if read_from == "index" else None, archive.counts_by_type(query),
                     [event_row(d) for d in archive.search(query, 5)], {"query": query.describe()})


def from_export(rows: list[dict[str, Any]], types: tuple[str, ...] | None, source_name: str) -> Selection:
    """Rows of an export file (services.archive.operations.events.read_export), of the target's types."""
    chosen = [r for r in rows if types is None or r["type"] in types]
    by_offset = {r["offset"]: r for r in chosen}

    def read(offsets: Sequence[int]) -> Source:
        return BatchSource([[Outgoing(o, by_offset[o]["id"], {"ce_type": by_offset[o]["type"],
                                                              "ce_source": by_offset[o]["source"],
                                                              "ce_subject": by_offset[o]["subject"]},
                                      by_offset[o]["envelope"]) for o in offsets]])

    counts: dict[str, int] = {}
    for row in chosen:
        counts[row["type"]] = counts.get(row["type"], 0) + 1
    sample = [{k: v for k, v in r.items() if k != "envelope"} for r in chosen[-5:]][::-1]
    return Selection(sorted(by_offset), read, counts, sample, {"file": source_name})


def dry_run(selection: Selection, queue: str) -> dict[str, Any]:
    """JSON: queue, selected, by_type {type: count}, sample (newest first)."""
    return {"queue": queue, "selected": len(selection.offsets), "by_type": selection.counts,
            "sample": selection.sample}


def replay(broker: Broker, sender: Sender, selection: Selection, to: Target, options: Options,
           now: datetime | None = None) -> dict[str, Any]:
    """Send the selection to the target. JSON: queue, declared_queue, selected, sent, skipped,
    republished, reconnects, interrupted, error, seconds, rate_per_s."""
    declared = broker.ensure_queue(to.queue, create=to.create)
    key = {**selection.describe, "queue": to.queue, "rebuild": options.rebuild}
    checkpoint = Checkpoint.open(options.checkpoint, key) if options.checkpoint else None
    headers: dict[str, Any] = {REPLAY_HEADER: (now or datetime.now().astimezone()).isoformat(timespec="seconds")}
    if options.rebuild:
        headers[REBUILD_HEADER] = True
    already = len([o for o in selection.offsets if checkpoint and o <= checkpoint.through_offset])
    options.on_start({"queue": to.queue, "declared_queue": declared, "selected": len(selection.offsets),
                      "already_sent": already, "rebuild": options.rebuild, "rate": options.rate})
    read = selection.read
    if read is None and "file" in selection.describe:
        raise ReplayFailed("an export file is read from itself")
    result = sender.send(to.queue, selection.offsets, read, headers=headers, rate=options.rate,
                         checkpoint=checkpoint, window=options.window, on_tick=options.on_tick)
    if options.on_tick is not None:
        options.on_tick(result.stats)       # the last word on progress: where it ended
    return {"queue": to.queue, "declared_queue": declared, **result.summary()}


def rebuild(broker: Broker, sender: Sender, archive: EventArchive, service: str, query: EventQuery,
            options: Options) -> dict[str, Any]:
    """Replay to one service in rebuild mode: its handlers run again even for events its inbox
    has, and the events they emit are dropped (docs/INTEGRATION.md, rebuild mode)."""
    to = target(service, None)
    if query.type and to.types is not None and query.type not in to.types:
        raise FailedPrecondition("type", f"{service} does not consume {query.type}")
    narrowed = EventQuery(query.type, query.source, query.subject, query.correlation_id, query.since, query.until,
                          to.types, query.from_offset, query.to_offset)
    return replay(broker, sender, from_index(archive, narrowed, options.read_from), to,
                  Options(options.rate, options.window, options.checkpoint, True, options.read_from,
                          options.on_start, options.on_tick))
