"""The supervision index is a projection of the event stream: the figures the live service reached
are exactly the ones `egov-events replay --rebuild --to-service supervision` reaches, both over the
live read model (every event applied a second time changes nothing) and into an emptied one. And
the service projecting batches of queued events, killed or stopped mid-stream, loses none of them.

Real processes: SecantusDB, the broker (a vhost of its own), the archive and supervision services,
and the CLI as operators run it. The events are SYNTHETIC (bench/dossier_history.py).
"""

import signal
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pymongo import MongoClient

from bench.dossier_history import Place, dossier_events
from deploy.local.stack import Stack
from services.archive.replay.publisher import Outgoing, WindowedPublisher, memory_feed
from services.common.events.envelope import encode
from services.common.mongo_store import INBOX, inbox_key
from services.common.topology import subscription
from services.supervision import handlers
from services.supervision.adapters.repository import DossierFactsRepository
from services.supervision.fakes import InMemoryDossierFacts, in_memory_store
from tests.integration.test_archive_replay import egov_events, indexed, publish
from tests.support import eventually

PLACES = [Place(("19900", "46"), "000.00.41.H57"), Place(("20014", "46"), "000.00.42.H57"),
          Place(("46",), "000.00.15.H57")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("supervision"))
    try:
        stack.start(services=("supervision", "archive"), gateway=False)
        yield stack
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[Any]:
    client: MongoClient[Any] = MongoClient(stack.mongo_uri)
    yield client["egov_supervision"]
    client.close()


def read_model(db: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every counter document (zero counters left out: an emptied model never had them) and every
    dossier's facts."""
    counters = []
    for doc in db["counters"].find().sort("_id"):
        kept = {k: v for k, v in doc.items() if v != 0 and v != {}}
        for nested in ("days", "due"):
            if isinstance(kept.get(nested), dict):
                kept[nested] = {k: v for k, v in kept[nested].items() if v}
                if not kept[nested]:
                    kept.pop(nested)
        if set(kept) - {"_id", "scope", "bucket"}:
            counters.append(kept)
    return counters, list(db["dossiers"].find().sort("_id"))


def test_a_rebuild_from_the_archive_gives_exactly_the_live_figures(stack: Stack, db: Any) -> None:
    journey = f"SYN-{uuid.uuid4().hex[:8]}"
    events = list(dossier_events(150, PLACES, date(2026, 1, 5), date(2026, 11, 27), journey, seed=11))
    publish(stack, events)
    indexed(stack, events)
    inbox = db[INBOX]
    eventually(lambda: inbox.count_documents({"_id": {"$regex": "^supervision:"}}) == len(events),
               "the supervision service to project every event", timeout=120)
    live = read_model(db)
    province = next(c for c in live[0] if c["_id"] == "unit:46|2026-03")
    assert province["received"] > 0 and province["received"] == sum(
        c.get("received", 0) for c in live[0] if c["bucket"] == "2026-03" and c["scope"] in ("unit:19900",
                                                                                             "unit:20014"))\
        + next((c.get("received", 0) for c in live[0] if c["_id"] == "receiving:000.00.15.H57|2026-03"), 0)

    def rebuilt_all() -> bool:
        return inbox.count_documents({"_id": {"$regex": "^supervision:"}, "rebuilt_at": {"$gt": since}}) \
            == len(events)

    # 1. Over the live read model: every event handled a second time, nothing moves.
    since = db.command("serverStatus").get("localTime") or _now()
    out = egov_events(stack, "replay", "--to-service", "supervision", "--rebuild", "--correlation-id", journey).stdout
    assert "rebuild mode" in out and f"sent {len(events)}" in out
    eventually(rebuilt_all, "the rebuild to reprocess every event", timeout=120)
    assert same(read_model(db), live) == []

    # 2. Into an emptied read model (docs/SUPERVISION.md, rebuilding the index).
    db["counters"].delete_many({})
    db["dossiers"].delete_many({})
    since = _now()
    egov_events(stack, "replay", "--to-service", "supervision", "--rebuild", "--correlation-id", journey)
    eventually(rebuilt_all, "the rebuild into the emptied model", timeout=120)
    assert same(read_model(db), live) == []


def test_the_service_stopped_mid_stream_loses_no_event(stack: Stack, db: Any) -> None:
    """Thousands of events queued at once, projected a batch at a time; the process is stopped
    (SIGTERM, as a rolling update does) while it works through them, with a batch in its transaction
    and more waiting in its buffer, and started again. Every event ends up projected: each dossier's
    facts are those the handlers give on the in-memory twins."""
    journey = f"SYN-{uuid.uuid4().hex[:8]}"
    events = list(dossier_events(600, PLACES, date(2026, 1, 5), date(2026, 11, 27), journey, seed=12))
    sent = WindowedPublisher(stack.amqp_uri, subscription("supervision").queue).run(
        memory_feed([Outgoing(i, e.id, {}, encode(e)) for i, e in enumerate(events)]))
    assert sent.confirmed == len(events)
    keys = [inbox_key("supervision", e.id) for e in events]

    def projected() -> int:
        return int(db[INBOX].count_documents({"_id": {"$in": keys}}))

    eventually(lambda: projected() > 0, "the first batch to be projected", timeout=60)
    stack.kill("supervision", signal.SIGTERM)
    assert 0 < projected() < len(events), "the service went away before the stream was through"
    time.sleep(1)
    stack.start_service("supervision")
    # The broker may hand back what the stopped process held only once it notices the old connection is
    # gone (observed: about a minute for the last few hundred events), hence the generous wait.
    eventually(lambda: projected() == len(events), "every event to be projected after the restart", timeout=300)

    expected = in_memory_store()     # one batch: the in-memory store copies itself per transaction
    handlers.handle_events(expected, events)
    fake = expected.repositories[DossierFactsRepository]
    assert isinstance(fake, InMemoryDossierFacts)
    found = DossierFactsRepository(db).find_many(sorted(fake.dossiers))
    assert [code for code in fake.dossiers if found.get(code) != fake.dossiers[code]] == []


def same(a: tuple[list[dict[str, Any]], list[dict[str, Any]]],
         b: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> list[str]:
    """What differs between two read models, named (empty when equal)."""
    found = []
    for name, x, y in (("counters", a[0], b[0]), ("dossiers", a[1], b[1])):
        xs, ys = {d["_id"]: d for d in x}, {d["_id"]: d for d in y}
        found += [f"{name} {k}: only in one" for k in xs.keys() ^ ys.keys()]
        found += [f"{name} {k}.{f}: {xs[k].get(f)!r} != {ys[k].get(f)!r}" for k in xs.keys() & ys.keys()
                  for f in xs[k].keys() | ys[k].keys() if xs[k].get(f) != ys[k].get(f)]
    return sorted(found)


def _now() -> Any:
    from datetime import UTC, datetime
    return datetime.now(UTC)
