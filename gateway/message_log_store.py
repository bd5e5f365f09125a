"""Where message log records live: MongoDB (`egov_gateway.message_log`) or memory (tests).

One chain has one writer. The writer holds a lease on its chain (`log_leases`), renewed while it
runs; a second gateway configured with the same chain waits for the lease instead of interleaving
sequence numbers. A unique index on (chain, seq) is the last line of defence.

Archiving (after X-Road's archiver): sealed segments are exported to a JSON-lines file, the last
exported record becomes the chain's anchor (`log_anchors`), and the exported records are deleted;
verification then starts from the anchor, and the file verifies on its own from the previous one.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from gateway.message_log import SEAL, Anchor, Record


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


class LogStore(Protocol):
    def acquire(self, chain: str, holder: str, ttl: timedelta) -> bool: ...
    def release(self, chain: str, holder: str) -> None: ...
    def anchor(self, chain: str) -> Anchor: ...
    def last(self, chain: str, kind: str | None = None) -> Record | None: ...
    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]: ...
    def append(self, records: list[Record]) -> None: ...
    def seal_requests(self, chain: str) -> tuple[int, int]: ...
    def seal_handled(self, chain: str, count: int) -> None: ...


class MongoLogStore:
    def __init__(self, client: MongoClient[Record], db_name: str) -> None:
        self.db: Database[Record] = client[db_name]
        self.log = self.db["message_log"]
        self._indexed = False

    def ensure_indexes(self) -> None:
        self.log.create_index([("chain", ASCENDING), ("seq", ASCENDING)], unique=True)
        self.log.create_index([("chain", ASCENDING), ("kind", ASCENDING), ("seq", ASCENDING)])
        self.log.create_index([("request_id", ASCENDING)])
        self.log.create_index([("trace_id", ASCENDING)])
        self._indexed = True

    def acquire(self, chain: str, holder: str, ttl: timedelta) -> bool:
        if not self._indexed:
            self.ensure_indexes()   # before the first record: (chain, seq) must be unique
        now = datetime.now(UTC)
        try:
            self.db["log_leases"].update_one(
                {"_id": chain, "$or": [{"holder": holder}, {"expires_at": {"$lt": now}}]},
                {"$set": {"holder": holder, "expires_at": now + ttl}}, upsert=True)
        except DuplicateKeyError:
            return False     # held by another live writer: the upsert collided with its document
        return True

    def release(self, chain: str, holder: str) -> None:
        self.db["log_leases"].delete_one({"_id": chain, "holder": holder})

    def holder(self, chain: str) -> str:
        doc = self.db["log_leases"].find_one({"_id": chain})
        return str(doc["holder"]) if doc else ""

    def anchor(self, chain: str) -> Anchor:
        doc = self.db["log_anchors"].find_one({"_id": chain})
        return Anchor(int(doc["seq"]), str(doc["hash"])) if doc else Anchor()

    def set_anchor(self, chain: str, anchor: Anchor, archive_file: str, file_sha256: str) -> None:
        self.db["log_anchors"].replace_one({"_id": chain}, {
            "seq": anchor.seq, "hash": anchor.hash, "archive_file": archive_file, "file_sha256": file_sha256,
            "archived_at": datetime.now(UTC)}, upsert=True)
        self.db["log_archives"].insert_one({"chain": chain, "through_seq": anchor.seq, "hash": anchor.hash,
                                            "file": archive_file, "file_sha256": file_sha256,
                                            "archived_at": datetime.now(UTC)})

    def delete_through(self, chain: str, seq: int) -> int:
        return int(self.log.delete_many({"chain": chain, "seq": {"$lte": seq}}).deleted_count)

    def last(self, chain: str, kind: str | None = None) -> Record | None:
        query: dict[str, Any] = {"chain": chain}
        if kind is not None:
            query["kind"] = kind
        return self.log.find_one(query, sort=[("seq", DESCENDING)])

    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]:
        bounds: dict[str, int] = {"$gt": after_seq}
        if through_seq is not None:
            bounds["$lte"] = through_seq
        yield from self.log.find({"chain": chain, "seq": bounds}, {"_id": False}).sort("seq", ASCENDING)

    def append(self, records: list[Record]) -> None:
        # insert_many adds an _id to each dict; the writer's copies must stay as they were hashed.
        self.log.insert_many([dict(r) for r in records], ordered=True)

    def chains(self) -> list[str]:
        return sorted(str(c) for c in self.log.distinct("chain"))

    def seal_requests(self, chain: str) -> tuple[int, int]:
        """(requested, handled): seals asked for by the admin command, and those done."""
        doc = self.db["settings"].find_one({"_id": f"seal-request:{chain}"}) or {}
        return int(doc.get("requested", 0)), int(doc.get("handled", 0))

    def request_seal(self, chain: str) -> int:
        doc = self.db["settings"].find_one_and_update({"_id": f"seal-request:{chain}"}, {"$inc": {"requested": 1}},
                                                      upsert=True, return_document=ReturnDocument.AFTER)
        return int((doc or {})["requested"])

    def seal_handled(self, chain: str, count: int) -> None:
        self.db["settings"].update_one({"_id": f"seal-request:{chain}"}, {"$max": {"handled": count}}, upsert=True)


class InMemoryLogStore:
    """The same behaviour in a list, for unit tests."""

    def __init__(self) -> None:
        self.rows: list[Record] = []
        self.failing: Exception | None = None      # set to make every append fail
        self._lock = threading.Lock()
        self._holders: dict[str, str] = {}
        self._requested: dict[str, int] = {}
        self._handled: dict[str, int] = {}

    def acquire(self, chain: str, holder: str, ttl: timedelta) -> bool:
        return self._holders.setdefault(chain, holder) == holder

    def release(self, chain: str, holder: str) -> None:
        if self._holders.get(chain) == holder:
            del self._holders[chain]

    def anchor(self, chain: str) -> Anchor:
        return Anchor()

    def last(self, chain: str, kind: str | None = None) -> Record | None:
        with self._lock:
            found = [r for r in self.rows if r["chain"] == chain and (kind is None or r["kind"] == kind)]
        return dict(found[-1]) if found else None

    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]:
        with self._lock:
            rows = [dict(r) for r in self.rows if r["chain"] == chain and r["seq"] > after_seq
                    and (through_seq is None or r["seq"] <= through_seq)]
        yield from sorted(rows, key=lambda r: r["seq"])

    def append(self, records: list[Record]) -> None:
        if self.failing is not None:
            raise self.failing
        with self._lock:
            self.rows.extend(dict(r) for r in records)

    def seal_requests(self, chain: str) -> tuple[int, int]:
        return self._requested.get(chain, 0), self._handled.get(chain, 0)

    def request_seal(self, chain: str) -> None:
        self._requested[chain] = self._requested.get(chain, 0) + 1

    def seal_handled(self, chain: str, count: int) -> None:
        self._handled[chain] = max(count, self._handled.get(chain, 0))

    def seals(self, chain: str) -> list[Record]:
        return [r for r in self.records(chain) if r["kind"] == SEAL]
