"""The archive nameko service: indexes every event of the archive stream in MongoDB for search.

The stream (`egov.events.archive`, bound to every event type) is the durable, ordered log and
what replays read; this index is how people and tools find events in it (docs/INTEGRATION.md),
and what the gateway's agency subscriptions (EventService/Subscribe) read, a page at a time.
"""

import base64
from typing import Any

from nameko.rpc import rpc

from services.archive.adapters.index import ArchiveIndex
from services.archive.dependencies import Index, indexed_through
from services.archive.domain.query import FeedPage
from services.archive.stream import archive_stream
from services.common.errors import NotFound
from services.common.runtime import event_metrics
from services.common.runtime.probes import PodProbes


class ArchiveService:
    name = "archive"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)
    index: ArchiveIndex = Index()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.index.db.command("ping")
        return {"status": "ok"}

    @rpc  # type: ignore[untyped-decorator]
    def position(self) -> dict[str, int]:
        """The stream offset through which the index is complete (-1 before the first event)."""
        last = self.index.position()
        return {"offset": -1 if last is None else last}

    @rpc  # type: ignore[untyped-decorator]
    def feed_start(self, types: list[str], after_event_id: str = "", earliest: bool = False) -> dict[str, int]:
        """Where a subscription starts: after the event it names (one of `types`, else it is not
        found: a caller learns nothing of events it may not read), at the first event, or now."""
        if after_event_id:
            doc = self.index.get(after_event_id)
            if doc is None or doc["type"] not in types:
                raise NotFound("after_event_id", f"no archived event {after_event_id!r} of the types subscribed to")
            return {"after": int(doc["offset"])}
        last = self.index.position()
        return {"after": -1 if earliest or last is None else last}

    @rpc  # type: ignore[untyped-decorator]
    def feed(self, types: list[str], after: int, correlation_id: str = "", limit: int = 100) -> dict[str, Any]:
        """The next page of a subscription: envelopes (base64) in stream order, and where the page after starts."""
        docs, next_after = self.index.feed(FeedPage(tuple(types), after, correlation_id, limit))
        return {"events": [base64.b64encode(d["envelope"]).decode() for d in docs], "after": next_after}

    @rpc  # type: ignore[untyped-decorator]
    def latest_by_subject(self, type: str, subjects: list[str] | None = None) -> dict[str, str]:
        """The latest archived event of `type` per subject (envelopes, base64): how the gateway reads
        back its message log's anchors (egov.gateway.v1.MessageLogAnchored, one subject per chain)."""
        latest = self.index.latest_by_subject(type, subjects or [])
        return {subject: base64.b64encode(envelope).decode() for subject, envelope in latest.items()}

    @archive_stream(resume_after=indexed_through)  # type: ignore[untyped-decorator]
    def record(self, batch: list[tuple[int, bytes]]) -> None:
        self.index.record(batch)
        event_metrics.archived.add(len(batch))
