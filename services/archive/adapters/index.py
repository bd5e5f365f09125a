"""The archive's search index in MongoDB (database `egov_archive`): one document per event, and
the stream offset through which the index is complete."""

from collections.abc import Iterator, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from services.archive.domain.query import EventQuery, FeedPage
from services.archive.domain.record import index_record
from services.common.config import database_name
from services.common.topology import ARCHIVE_STREAM

EVENTS = "events"
POSITION = "stream_position"
DUPLICATE_KEY = 11000
# Newest first for people, oldest first (stream order) for replays. Every index is one more entry
# written per archived event (about 30 events per journey): the source is not indexed, since its
# few values (one per service) pick out a large share of the archive; a search by source walks
# the time index, and with a type (each service's types are its own) the type's index.
SEARCH_INDEXES = ("type", "subject", "correlation_id")
# Indexed once, dropped where they exist: one index entry per event less (issue 14).
DROPPED_INDEXES = ("source_time",)


def archive_database(client: MongoClient[Any]) -> Database[Any]:
    return client[database_name("archive")]


class ArchiveIndex:
    def __init__(self, db: Database[Any]) -> None:
        self.db = db
        self.events = db[EVENTS]

    def ensure_indexes(self) -> None:
        for field in SEARCH_INDEXES:
            self.events.create_index([(field, ASCENDING), ("time", ASCENDING)], name=f"{field}_time")
        self.events.create_index([("time", ASCENDING)], name="time")
        self.events.create_index([("offset", ASCENDING)], name="offset", unique=True)
        existing = self.events.index_information()
        for name in DROPPED_INDEXES:
            if name in existing:
                self.events.drop_index(name)

    # -- writing (the archive service) ------------------------------------------------------------
    def record(self, batch: Sequence[tuple[int, bytes]]) -> int:
        """Index a batch of stream messages (offset, body); return how many were new. Indexing
        the same message again changes nothing; an event published twice (an outbox relay after
        a crash) keeps its first offset. The position moves only forward."""
        if not batch:
            return 0
        docs = [index_record(offset, body) for offset, body in batch]
        inserted = len(docs)
        try:
            self.events.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            inserted -= len(errors)
        self.db[POSITION].update_one({"_id": ARCHIVE_STREAM}, {"$max": {"offset": max(o for o, _ in batch)}},
                                     upsert=True)
        return inserted

    def position(self) -> int | None:
        """The offset of the last stream message indexed, or None before the first."""
        doc = self.db[POSITION].find_one({"_id": ARCHIVE_STREAM})
        return int(doc["offset"]) if doc else None

    # -- reading (the CLI) ------------------------------------------------------------------------
    def search(self, query: EventQuery, limit: int) -> list[dict[str, Any]]:
        return list(self.events.find(query.as_filter(), {"envelope": 0}).sort("time", DESCENDING).limit(limit))

    def get(self, event_id: str) -> dict[str, Any] | None:
        return self.events.find_one({"_id": event_id})

    def count(self, query: EventQuery) -> int:
        return int(self.events.count_documents(query.as_filter()))

    def counts_by_type(self, query: EventQuery) -> dict[str, int]:
        rows = self.events.aggregate([{"$match": query.as_filter()},
                                      {"$group": {"_id": "$type", "n": {"$sum": 1}}}])
        return {row["_id"]: int(row["n"]) for row in sorted(rows, key=lambda r: (-r["n"], r["_id"]))}

    def offsets(self, query: EventQuery) -> list[int]:
        """The stream offsets of the matching events, in stream order."""
        return [int(doc["offset"]) for doc in
                self.events.find(query.as_filter(), {"offset": 1, "_id": 0}).sort("offset", ASCENDING)]

    def envelopes(self, query: EventQuery, first: int, last: int, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """The matching documents with offsets first..last (offset, id, type, source, subject,
        envelope), in stream order, a batch at a time, from one cursor."""
        selection = {**query.as_filter(), "offset": {"$gte": first, "$lte": last}}
        cursor = self.events.find(selection, {"offset": 1, "type": 1, "source": 1, "subject": 1, "envelope": 1}
                                  ).sort("offset", ASCENDING).batch_size(batch)
        docs: list[dict[str, Any]] = []
        for doc in cursor:
            docs.append(doc)
            if len(docs) >= batch:
                yield docs
                docs = []
        if docs:
            yield docs

    def in_order(self, query: EventQuery, after: int = -1, limit: int | None = None) -> list[dict[str, Any]]:
        """Whole documents in stream order with offsets after `after` (export, tail)."""
        selection = query.as_filter()
        selection["offset"] = {**selection.get("offset", {}), "$gt": after}
        cursor = self.events.find(selection).sort("offset", ASCENDING)
        return list(cursor.limit(limit) if limit else cursor)

    def latest_by_subject(self, type_: str, subjects: Sequence[str] = ()) -> dict[str, bytes]:
        """The envelope of the latest event of `type_` (by stream offset) for each subject, of
        `subjects` or of every subject."""
        match: dict[str, Any] = {"type": type_}
        if subjects:
            match["subject"] = {"$in": list(subjects)}
        rows = self.events.aggregate([{"$match": match}, {"$sort": {"offset": DESCENDING}},
                                      {"$group": {"_id": "$subject", "envelope": {"$first": "$envelope"}}}])
        return {str(row["_id"]): bytes(row["envelope"]) for row in rows}

    # -- reading (agency subscriptions, through the gateway) ---------------------------------------
    def feed(self, page: FeedPage) -> tuple[list[dict[str, Any]], int]:
        """The page's events (offset, id, envelope) in stream order, and the next page's `after`."""
        through = self.position()
        if through is None:
            return [], page.after
        docs = list(self.events.find(page.as_filter(through), {"offset": 1, "envelope": 1})
                    .sort("offset", ASCENDING).limit(page.limit))
        return docs, page.next_after([int(d["offset"]) for d in docs], through)
