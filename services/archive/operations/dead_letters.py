"""Dead letters: list, show, and re-drive or purge them selectively (by event id, type, the time
they were parked, at most a number), with a dry run and a rate."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from services.archive.operations.pace import Pace
from services.archive.ports import Broker, DeadLetterQueues
from services.common.errors import InvalidArgument
from services.common.events.dlq import ParkedMessage
from services.common.topology import SUBSCRIPTIONS, subscription

NO_PACE = Pace(None)


def service_name(name: str) -> str:
    try:
        return subscription(name).service
    except KeyError:
        raise InvalidArgument("service", f"no service {name!r} (one of: "
                                         f"{', '.join(s.service for s in SUBSCRIPTIONS)})") from None


@dataclass(frozen=True)
class Selection:
    """Parked messages chosen by every filter given (none given: all of them)."""

    event_ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    since: datetime | None = None           # parked at or after
    until: datetime | None = None           # parked before

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InvalidArgument("since", f"{self.since.isoformat()} is after --until {self.until.isoformat()}")

    def __call__(self, message: ParkedMessage) -> bool:
        failed = message.failed_time()
        return ((not self.event_ids or message.event_id in self.event_ids)
                and (not self.types or message.type in self.types)
                and (self.since is None or (failed is not None and failed >= self.since))
                and (self.until is None or (failed is not None and failed < self.until)))


def depths(broker: Broker) -> list[dict[str, Any]]:
    """JSON: service, queue, waiting, dead_letter_queue, parked (null: the queue does not exist yet)."""
    return [{"service": sub.service, "queue": sub.queue, "waiting": broker.depth(sub.queue),
             "dead_letter_queue": sub.dead_letter_queue, "parked": broker.depth(sub.dead_letter_queue)}
            for sub in SUBSCRIPTIONS]


def parked_row(message: ParkedMessage) -> dict[str, Any]:
    """JSON: event_id, type, subject, error, attempts, failed_at."""
    return asdict(message)


def show(dead_letters: DeadLetterQueues, service: str, limit: int = 100) -> list[dict[str, Any]]:
    return [parked_row(m) for m in dead_letters.parked(service_name(service), limit)]


def _act(dead_letters: DeadLetterQueues, action: str, service: str, selection: Selection, limit: int | None,
         dry_run: bool, pace: Callable[[], None]) -> dict[str, Any]:
    name = service_name(service)
    if limit is not None and limit < 1:
        raise InvalidArgument("limit", "must be at least 1")
    chosen = dead_letters.sweep(name, selection, None if dry_run else action, limit, pace)
    sub = subscription(name)
    return {"service": name, "action": action, "dry_run": dry_run, "count": len(chosen),
            "from_queue": sub.dead_letter_queue, "to_queue": sub.queue if action == "redrive" else None,
            "messages": [parked_row(m) for m in chosen]}


def redrive(dead_letters: DeadLetterQueues, service: str, selection: Selection = Selection(), *,
            limit: int | None = None, dry_run: bool = False, pace: Callable[[], None] = NO_PACE) -> dict[str, Any]:
    """Chosen parked messages back to the service's queue with a fresh attempt count. JSON: service,
    action, dry_run, count, from_queue, to_queue, messages."""
    return _act(dead_letters, "redrive", service, selection, limit, dry_run, pace)


def purge(dead_letters: DeadLetterQueues, service: str, selection: Selection = Selection(), *,
          limit: int | None = None, dry_run: bool = False, pace: Callable[[], None] = NO_PACE) -> dict[str, Any]:
    """Chosen parked messages deleted (they stay in the archive). JSON as redrive's."""
    return _act(dead_letters, "purge", service, selection, limit, dry_run, pace)
