"""Database operations per journey, per service and per kind, read from the database servers' own
counters, and checked against the budget written in docs/BENCHMARKS.md.

The counters are MongoDB's `top` command (SecantusDB implements it): per namespace (`db.collection`),
how many find, insert, update, remove, getMore and other commands the server ran. Each service owns
its database (`egov_<service>`), so a namespace's database names the service that paid for it. So
nothing in the services counts anything: what the bench reads is what the server did, whatever the
client. A transaction's commit names no collection and is counted apart (`serverStatus`' command
opcounter, all services together).

"Server ms" is the time the server spent in those commands (top's `time`), a clock, not a count:
where the database's time goes, collection by collection, not a figure to compare between runs.

"Index entries written" is documents inserted x the collection's indexes (`_id` included): every
inserted document writes one entry per index. Documents inserted are the growth of the collection's
count plus its removes (an `insert_many` is one insert command for many documents). Updates rewrite
only the entries of the indexed fields they change, which the counters cannot see; they are left
out of that column.
"""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from deploy.local.stack import Stack
from deploy.users import database

KINDS = ("find", "insert", "update", "remove", "getmore", "commands")
_TOP_SECTION = {"queries": "find", "insert": "insert", "update": "update", "remove": "remove",
                "getmore": "getmore", "commands": "commands"}
BUDGET_HEADING = "### The budget"
Counts = dict[str, dict[str, int]]   # namespace -> kind -> commands


def service_of(namespace: str) -> str | None:
    db = namespace.split(".", 1)[0]
    return db.removeprefix("egov_") if db.startswith("egov_") else None


class StackDatabases:
    """Each component's database on whichever server the stack put it (`Stack.database_uri`): one
    server, or one per component with `separate_databases`. Called with a component's name."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._clients: dict[str, MongoClient[Any]] = {}

    def __call__(self, component: str) -> Database[Any]:
        uri = self._stack.database_uri(component)
        if uri not in self._clients:
            self._clients[uri] = MongoClient(uri, tz_aware=True)
        return self._clients[uri][database(component)]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


class DatabaseCounters:
    """`snapshot()` before and after a phase; `per_journey()` turns the difference into the table."""

    def __init__(self, uris: Iterable[str]) -> None:
        self.clients: list[MongoClient[Any]] = [MongoClient(u, serverSelectionTimeoutMS=5000) for u in set(uris)]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def snapshot(self) -> tuple[Counts, int]:
        counts: Counts = {}
        commits = 0
        for client in self.clients:
            totals = client.admin.command("top")["totals"]
            for ns, sections in totals.items():
                if ns == "note" or service_of(ns) is None:
                    continue
                row = counts.setdefault(ns, dict.fromkeys(KINDS, 0))
                for section, kind in _TOP_SECTION.items():
                    row[kind] += int(sections.get(section, {}).get("count", 0))
                row["micros"] = row.get("micros", 0) + int(sections.get("total", {}).get("time", 0))
                db, coll = ns.split(".", 1)
                row["documents"] = row.get("documents", 0) + client[db][coll].estimated_document_count()
            commits += int(client.admin.command("serverStatus")["opcounters"].get("command", 0))
        return counts, commits

    def index_counts(self, namespaces: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for ns in namespaces:
            db, coll = ns.split(".", 1)
            for client in self.clients:
                if coll in client[db].list_collection_names():
                    found[ns] = len(list(client[db][coll].list_indexes()))
                    break
        return found

    def per_journey(self, before: tuple[Counts, int], after: tuple[Counts, int], journeys: int) -> dict[str, Any]:
        """Per service: each kind, the total, index entries written; and per collection, for the reader."""
        (b, b_commands), (a, a_commands) = before, after
        diff = {ns: {k: a[ns][k] - b.get(ns, {}).get(k, 0) for k in KINDS} for ns in a}
        micros = {ns: a[ns].get("micros", 0) - b.get(ns, {}).get("micros", 0) for ns in a}
        grown = {ns: a[ns].get("documents", 0) - b.get(ns, {}).get("documents", 0) for ns in a}
        diff = {ns: row for ns, row in diff.items() if any(row.values())}
        indexes = self.index_counts(diff)
        n = max(journeys, 1)
        services: dict[str, dict[str, float]] = {}
        collections: dict[str, dict[str, float]] = {}
        for ns, row in sorted(diff.items()):
            service = service_of(ns) or "?"
            inserted = max(row["insert"], grown.get(ns, 0) + row["remove"]) if row["insert"] else 0
            entries = inserted * indexes.get(ns, 1)
            per = {k: round(v / n, 2) for k, v in row.items() if v}
            collections[ns] = {**per, "documents_inserted": round(inserted / n, 2), "indexes": indexes.get(ns, 0),
                               "index_entries": round(entries / n, 2),
                               "server_ms": round(micros.get(ns, 0) / 1000 / n, 2)}
            s = services.setdefault(service, {**dict.fromkeys(KINDS, 0.0), "total": 0.0, "index_entries": 0.0})
            for k in KINDS:
                s[k] += row[k] / n
            s["total"] += sum(row.values()) / n
            s["index_entries"] += entries / n
            s["server_ms"] = s.get("server_ms", 0.0) + micros.get(ns, 0) / 1000 / n
        return {"journeys": journeys,
                "services": {s: {k: round(v, 2) for k, v in row.items()} for s, row in sorted(services.items())},
                "collections": collections,
                "other_commands_per_journey": round((a_commands - b_commands) / n, 2)}


def read_budget(doc: Path) -> dict[str, dict[str, float]]:
    """The budget table under BUDGET_HEADING in docs/BENCHMARKS.md: service -> {total, index_entries}."""
    text = doc.read_text()
    start = text.find(BUDGET_HEADING)
    if start < 0:
        return {}
    budget: dict[str, dict[str, float]] = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[\d.]+", cells[1]) and re.fullmatch(r"[\d.]+", cells[2]):
            budget[cells[0]] = {"total": float(cells[1]), "index_entries": float(cells[2])}
    return budget


def over_budget(measured: Mapping[str, Mapping[str, float]], budget: Mapping[str, Mapping[str, float]]) -> list[str]:
    """One line per service whose operations or index entries per journey exceed its budget, or that
    has no budget at all."""
    missed = []
    for service, row in measured.items():
        limit = budget.get(service)
        if limit is None:
            missed.append(f"{service}: {row['total']:.1f} operations per journey and no budget in docs/BENCHMARKS.md")
            continue
        for key, label in (("total", "operations"), ("index_entries", "index entries")):
            if row[key] > limit[key]:
                missed.append(f"{service}: {row[key]:.1f} {label} per journey, budget {limit[key]:.0f}")
    return missed
