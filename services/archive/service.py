"""The archive nameko service: indexes every event of the archive stream in MongoDB for search.

The stream (`egov.events.archive`, bound to every event type) is the durable, ordered log and
what replays read; this index is how people and tools find events in it (docs/INTEGRATION.md).
"""

from nameko.rpc import rpc

from services.archive.adapters.index import ArchiveIndex
from services.archive.dependencies import Index, indexed_through
from services.archive.stream import archive_stream


class ArchiveService:
    name = "archive"
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

    @archive_stream(resume_after=indexed_through)  # type: ignore[untyped-decorator]
    def record(self, batch: list[tuple[int, bytes]]) -> None:
        self.index.record(batch)
