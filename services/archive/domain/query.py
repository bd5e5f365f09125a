"""Which archived events a search or a replay is about: the filters, checked, as plain data."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class EventQuery:
    """Every filter is optional; the ones given must all match. `types` narrows further (a replay
    to one service sends only the types that service consumes)."""

    type: str = ""
    source: str = ""
    subject: str = ""
    correlation_id: str = ""
    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] | None = None
    from_offset: int | None = None      # stream offsets, both inclusive
    to_offset: int | None = None

    def __post_init__(self) -> None:
        if self.from_offset is not None and self.from_offset < 0:
            raise InvalidArgument("from_offset", f"must be 0 or more, got {self.from_offset}")
        if self.from_offset is not None and self.to_offset is not None and self.from_offset > self.to_offset:
            raise InvalidArgument("from_offset", f"{self.from_offset} is after --to-offset {self.to_offset}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))   # the archive keeps UTC
        if self.since and self.until and self.since > self.until:
            raise InvalidArgument("since", f"{self.since.isoformat()} is after --until {self.until.isoformat()}")
        if self.type and self.types is not None and self.type not in self.types:
            raise InvalidArgument("type", f"{self.type} is not one of the types the target consumes")

    def as_filter(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field in ("type", "source", "subject", "correlation_id"):
            if value := getattr(self, field):
                found[field] = value
        if self.types is not None and not self.type:
            found["type"] = {"$in": list(self.types)}
        if self.since or self.until:
            window: dict[str, datetime] = {}
            if self.since:
                window["$gte"] = self.since
            if self.until:
                window["$lt"] = self.until
            found["time"] = window
        if self.from_offset is not None or self.to_offset is not None:
            offsets: dict[str, int] = {}
            if self.from_offset is not None:
                offsets["$gte"] = self.from_offset
            if self.to_offset is not None:
                offsets["$lte"] = self.to_offset
            found["offset"] = offsets
        return found

    def matches(self, doc: dict[str, Any]) -> bool:
        """The same selection as `as_filter`, on one indexed document (the in-memory archive)."""
        for name in ("type", "source", "subject", "correlation_id"):
            if getattr(self, name) and doc[name] != getattr(self, name):
                return False
        return ((self.types is None or self.type or doc["type"] in self.types)
                and (self.since is None or doc["time"] >= self.since)
                and (self.until is None or doc["time"] < self.until)
                and (self.from_offset is None or doc["offset"] >= self.from_offset)
                and (self.to_offset is None or doc["offset"] <= self.to_offset))

    def describe(self) -> dict[str, Any]:
        """The filters as JSON-ready data (a checkpoint remembers which replay it belongs to)."""
        return {k: v for k, v in {
            "type": self.type, "source": self.source, "subject": self.subject,
            "correlation_id": self.correlation_id,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "types": sorted(self.types) if self.types is not None else None,
            "from_offset": self.from_offset, "to_offset": self.to_offset,
        }.items() if v not in ("", None)}


@dataclass(frozen=True)
class FeedPage:
    """Where an agency subscription reads next: the events of `types` (and of one journey, if
    `correlation_id`) after stream offset `after`, at most `limit` of them."""

    types: tuple[str, ...]
    after: int                       # -1: from the first archived event
    correlation_id: str = ""
    limit: int = 100

    def __post_init__(self) -> None:
        if not self.types:
            raise InvalidArgument("types", "name at least one event type")
        if self.after < -1:
            raise InvalidArgument("after", f"must be -1 or a stream offset, got {self.after}")
        if not 1 <= self.limit <= 1000:
            raise InvalidArgument("limit", f"must be 1..1000, got {self.limit}")

    def as_filter(self, through: int) -> dict[str, Any]:
        """Offsets after `after` up to `through`, the position the index was complete at when the
        page was asked for: every event up to it is indexed, so none is skipped by moving past it."""
        found: dict[str, Any] = {"offset": {"$gt": self.after, "$lte": through}, "type": {"$in": list(self.types)}}
        if self.correlation_id:
            found["correlation_id"] = self.correlation_id
        return found

    def next_after(self, offsets: list[int], through: int) -> int:
        """The next page's `after`: past everything examined, which is up to `through` unless the
        page was full."""
        return offsets[-1] if len(offsets) >= self.limit else max(self.after, through)
