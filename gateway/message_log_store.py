"""Where message log records live: MongoDB (`egov_gateway.message_log`) or memory (tests).

One chain has one writer. The writer holds a lease on its chain (`log_leases`), renewed while it
runs; a second gateway configured with the same chain waits for the lease instead of interleaving
sequence numbers. A unique index on (chain, seq) is the last line of defence.

Archiving (after X-Road's archiver): sealed segments are exported to a JSON-lines file, the last
exported record becomes the chain's anchor (`log_anchors`, MACed), and the exported records are
deleted; verification then starts from the anchor, and the file verifies on its own from the previous
one.

Operators ask the running writer for things through `settings` documents (`<what>-request:<chain>`,
a count asked for and a count handled): `seal` (seal now) and `resume` (check a halted chain again).
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
    """What the writer needs."""

    def acquire(self, chain: str, holder: str, ttl: timedelta) -> bool: ...
    def release(self, chain: str, holder: str) -> None: ...
    def anchor(self, chain: str) -> Anchor: ...
    def last(self, chain: str, kind: str | None = None) -> Record | None: ...
    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]: ...
    def append(self, records: list[Record]) -> None: ...
    def requests(self, chain: str, what: str) -> tuple[int, int]: ...
    def handled(self, chain: str, what: str, count: int, outcome: str = "") -> None: ...


class ArchivableStore(Protocol):
    """What archiving needs."""

    def anchor(self, chain: str) -> Anchor: ...
    def last(self, chain: str, kind: str | None = None) -> Record | None: ...
    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]: ...
    def set_anchor(self, chain: str, anchor: Anchor, archive_file: str, file_sha256: str) -> None: ...
    def delete_through(self, chain: str, seq: int) -> int: ...


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
        return Anchor(int(doc["seq"]), str(doc["hash"]), str(doc.get("mac", ""))) if doc else Anchor()

    def set_anchor(self, chain: str, anchor: Anchor, archive_file: str, file_sha256: str) -> None:
        self.db["log_anchors"].replace_one({"_id": chain}, {
            "seq": anchor.seq, "hash": anchor.hash, "mac": anchor.mac, "archive_file": archive_file,
            "file_sha256": file_sha256, "archived_at": datetime.now(UTC)}, upsert=True)
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
        """Every chain with records or an anchor in the database."""
        names = {str(c) for c in self.log.distinct("chain")}
        names.update(str(doc["_id"]) for doc in self.db["log_anchors"].find({}, {"_id": True}))
        return sorted(names)

    def requests(self, chain: str, what: str) -> tuple[int, int]:
        """(requested, handled): `what` ("seal", "resume") asked for by the admin command, and done."""
        doc = self.db["settings"].find_one({"_id": f"{what}-request:{chain}"}) or {}
        return int(doc.get("requested", 0)), int(doc.get("handled", 0))

    def request(self, chain: str, what: str) -> int:
        doc = self.db["settings"].find_one_and_update({"_id": f"{what}-request:{chain}"}, {"$inc": {"requested": 1}},
                                                      upsert=True, return_document=ReturnDocument.AFTER)
        return int((doc or {})["requested"])

    def handled(self, chain: str, what: str, count: int, outcome: str = "") -> None:
        self.db["settings"].update_one({"_id": f"{what}-request:{chain}"},
                                       {"$max": {"handled": count}, "$set": {"outcome": outcome}}, upsert=True)

    def outcome(self, chain: str, what: str) -> str:
        doc = self.db["settings"].find_one({"_id": f"{what}-request:{chain}"}) or {}
        return str(doc.get("outcome", ""))


class DuplicateRecord(Exception):
    """The in-memory store's unique (chain, seq) index refused a record."""


class InMemoryLogStore:
    """The same behaviour in a list, for unit tests: (chain, seq) unique, inserts ordered."""

    def __init__(self) -> None:
        self.rows: list[Record] = []
        self.failing: Exception | None = None      # set to make every append fail
        self.fail_after: int | None = None         # set to make the next append fail after this many records
        self.anchors: dict[str, Anchor] = {}
        self._lock = threading.Lock()
        self._holders: dict[str, str] = {}
        self._requests: dict[tuple[str, str], list[int]] = {}
        self._outcomes: dict[tuple[str, str], str] = {}

    def acquire(self, chain: str, holder: str, ttl: timedelta) -> bool:
        return self._holders.setdefault(chain, holder) == holder

    def release(self, chain: str, holder: str) -> None:
        if self._holders.get(chain) == holder:
            del self._holders[chain]

    def anchor(self, chain: str) -> Anchor:
        return self.anchors.get(chain, Anchor())

    def last(self, chain: str, kind: str | None = None) -> Record | None:
        with self._lock:
            found = [r for r in self.rows if r["chain"] == chain and (kind is None or r["kind"] == kind)]
        return dict(max(found, key=lambda r: r["seq"])) if found else None

    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]:
        with self._lock:
            rows = [dict(r) for r in self.rows if r["chain"] == chain and r["seq"] > after_seq
                    and (through_seq is None or r["seq"] <= through_seq)]
        yield from sorted(rows, key=lambda r: r["seq"])

    def append(self, records: list[Record]) -> None:
        if self.failing is not None:
            raise self.failing
        with self._lock:
            taken = {(r["chain"], r["seq"]) for r in self.rows}
            for n, record in enumerate(records):
                if n == self.fail_after:
                    self.fail_after = None
                    raise OSError("connection reset in the middle of the insert")
                if (record["chain"], record["seq"]) in taken:
                    raise DuplicateRecord(f"duplicate key: chain {record['chain']!r} seq {record['seq']}")
                self.rows.append(dict(record))

    def chains(self) -> list[str]:
        return sorted({str(r["chain"]) for r in self.rows} | set(self.anchors))

    def set_anchor(self, chain: str, anchor: Anchor, archive_file: str, file_sha256: str) -> None:
        self.anchors[chain] = anchor

    def delete_through(self, chain: str, seq: int) -> int:
        with self._lock:
            kept = [r for r in self.rows if r["chain"] != chain or r["seq"] > seq]
            deleted, self.rows = len(self.rows) - len(kept), kept
        return deleted

    def requests(self, chain: str, what: str) -> tuple[int, int]:
        requested, handled = self._requests.get((chain, what), [0, 0])
        return requested, handled

    def request(self, chain: str, what: str) -> int:
        counts = self._requests.setdefault((chain, what), [0, 0])
        counts[0] += 1
        return counts[0]

    def handled(self, chain: str, what: str, count: int, outcome: str = "") -> None:
        counts = self._requests.setdefault((chain, what), [0, 0])
        counts[1] = max(count, counts[1])
        self._outcomes[(chain, what)] = outcome

    def outcome(self, chain: str, what: str) -> str:
        return self._outcomes.get((chain, what), "")

    def seals(self, chain: str) -> list[Record]:
        return [r for r in self.records(chain) if r["kind"] == SEAL]
