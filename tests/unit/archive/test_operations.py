"""The integration team's operator functions on the in-memory archive, broker and dead letters:
export and replay from the file, replay by offset, rebuild headers, selective re-drive and purge
with dry runs, limits and a rate, and the status of the plumbing."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egov.notifications.v1.events_pb2 import NotificationSent
from egov.payments.v1.events_pb2 import PaymentSettled
from services.archive.domain.query import EventQuery
from services.archive.fakes import InMemoryArchive, InMemoryBroker, InMemoryDeadLetters, RecordingSender
from services.archive.operations import dead_letters, events, replaying
from services.archive.operations.pace import Pace
from services.archive.operations.status import status
from services.common.cli import plain
from services.common.errors import InvalidArgument, NotFound
from services.common.events.dlq import parked_headers
from services.common.events.envelope import REBUILD_HEADER, REPLAY_HEADER, encode, new_event

NOTIFICATIONS = "egov.notifications.events"


def settled(code: str) -> bytes:
    return encode(new_event(PaymentSettled(dossier_code=code, amount_vnd=1000), source="/egov/payments",
                            subject=code))


def sent(code: str) -> bytes:
    return encode(new_event(NotificationSent(notification_id=code), source="/egov/notifications", subject=code))


@pytest.fixture
def archive() -> InMemoryArchive:
    found = InMemoryArchive()
    found.record([(0, settled("A-1")), (1, sent("A-1")), (2, settled("A-2")), (3, settled("A-3"))])
    return found


def test_an_export_replays_to_a_service_only_the_types_it_consumes(archive: InMemoryArchive, tmp_path: Path) -> None:
    lines = [json.dumps(plain(row)) for row in events.export(archive, EventQuery(), batch=2)]
    assert [json.loads(line)["offset"] for line in lines] == [0, 1, 2, 3]
    broker = InMemoryBroker()
    selection = replaying.from_export(events.read_export(lines), replaying.target("procedures", None).types, "f")
    summary = replaying.replay(broker, RecordingSender(broker), selection, replaying.target("procedures", None),
                               replaying.Options())
    assert (summary["selected"], summary["sent"]) == (3, 3)               # NotificationSent is not procedures'
    delivered = broker.queues["egov.procedures.events"]
    assert [m.headers["ce_subject"] for m in delivered] == ["A-1", "A-2", "A-3"]
    assert REPLAY_HEADER in delivered[0].headers and REBUILD_HEADER not in delivered[0].headers


def test_a_broken_export_line_is_refused_by_number(archive: InMemoryArchive) -> None:
    good = json.dumps(plain(next(events.export(archive, EventQuery()))))
    with pytest.raises(InvalidArgument, match="line 2"):
        events.read_export([good, '{"offset": 1, "envelope": "AA=="}'])
    with pytest.raises(InvalidArgument, match="line 1"):
        events.read_export(["{}"])


def test_replay_by_offset_to_a_new_queue_resumes_from_its_checkpoint(archive: InMemoryArchive,
                                                                     tmp_path: Path) -> None:
    broker = InMemoryBroker()
    to = replaying.target(None, "agency-x.events")
    checkpoint = tmp_path / "x.ckpt"
    options = replaying.Options(checkpoint=checkpoint)
    first = replaying.replay(broker, RecordingSender(broker),
                             replaying.from_index(archive, EventQuery(from_offset=1, to_offset=2)), to, options)
    assert (first["declared_queue"], first["sent"]) == (True, 2)
    again = replaying.replay(broker, RecordingSender(broker),
                             replaying.from_index(archive, EventQuery(from_offset=1, to_offset=2)), to, options)
    assert (again["declared_queue"], again["sent"], again["skipped"]) == (False, 0, 2)
    with pytest.raises(InvalidArgument, match="after --to-offset"):
        EventQuery(from_offset=3, to_offset=1)


def test_a_service_queue_is_never_created_by_a_replay(archive: InMemoryArchive) -> None:
    broker = InMemoryBroker(queues={})
    with pytest.raises(NotFound, match="has its service ever started"):
        replaying.replay(broker, RecordingSender(broker), replaying.from_index(archive, EventQuery()),
                         replaying.target("payments", None), replaying.Options())
    with pytest.raises(InvalidArgument, match="exactly one target"):
        replaying.target("payments", "q")


def test_rebuild_marks_every_event_and_sends_only_the_service_types(archive: InMemoryArchive) -> None:
    broker = InMemoryBroker()
    summary = replaying.rebuild(broker, RecordingSender(broker), archive, "procedures", EventQuery(),
                                replaying.Options())
    assert summary["sent"] == 3
    assert all(m.headers[REBUILD_HEADER] is True for m in broker.queues["egov.procedures.events"])


def test_a_dry_run_counts_and_samples(archive: InMemoryArchive) -> None:
    plan = replaying.dry_run(replaying.from_index(archive, EventQuery(type="egov.payments.v1.PaymentSettled")), "q")
    assert (plan["selected"], plan["by_type"]) == (3, {"egov.payments.v1.PaymentSettled": 3})


def park(dlq: InMemoryDeadLetters, code: str, failed_at: datetime) -> None:
    body = settled(code)
    headers = parked_headers({"ce_type": "egov.payments.v1.PaymentSettled"}, service="procedures",
                             error="boom", attempts=5)
    headers["egov-failed-at"] = failed_at.isoformat()
    dlq.park("procedures", body, headers, code)


def test_redrive_chooses_by_type_time_and_limit_and_paces_itself() -> None:
    broker = InMemoryBroker()
    dlq = InMemoryDeadLetters(broker)
    noon = datetime(2026, 12, 6, 12, tzinfo=UTC)
    for i in range(4):
        park(dlq, f"A-{i}", noon + timedelta(hours=i))
    dry = dead_letters.redrive(dlq, "procedures", dead_letters.Selection(since=noon + timedelta(hours=1)),
                               dry_run=True)
    assert (dry["count"], broker.depth("egov.procedures.events.dlq")) == (3, 4)
    slept: list[float] = []
    clock = [0.0]
    pace = Pace(2.0, monotonic=lambda: clock[0], sleep=lambda s: (slept.append(s), clock.__setitem__(0, clock[0] + s)))
    done = dead_letters.redrive(dlq, "procedures", dead_letters.Selection(since=noon + timedelta(hours=1)),
                                limit=2, pace=pace)
    assert [m["subject"] for m in done["messages"]] == ["A-1", "A-2"]
    assert slept == [0.5]                                          # the second waited for the rate
    assert broker.depth("egov.procedures.events") == 2
    assert [m["subject"] for m in dead_letters.show(dlq, "procedures")] == ["A-0", "A-3"]    # order kept
    assert "egov-error" not in broker.queues["egov.procedures.events"][0].headers          # a fresh attempt count


def test_purge_by_event_id_and_status_shows_the_depths() -> None:
    broker = InMemoryBroker(stream=[0, 1, 2, 3, 4])
    dlq = InMemoryDeadLetters(broker)
    park(dlq, "A-1", datetime.now(UTC))
    park(dlq, "A-2", datetime.now(UTC))
    victim = dead_letters.show(dlq, "procedures")[1]["event_id"]
    done = dead_letters.purge(dlq, "procedures", dead_letters.Selection(event_ids=frozenset({victim})))
    assert done["count"] == 1 and broker.depth("egov.procedures.events.dlq") == 1
    archive = InMemoryArchive()
    archive.record([(0, settled("A-1")), (1, settled("A-2"))])
    found = status(broker, archive)
    assert (found["stream_last_offset"], found["index_position"], found["index_lag"]) == (4, 1, 3)
    assert {r["service"]: r["parked"] for r in found["services"]}["procedures"] == 1
    with pytest.raises(InvalidArgument, match="no service"):
        dead_letters.show(dlq, "nobody")


def test_tail_then_follow_new_events(archive: InMemoryArchive) -> None:
    rows, after = events.tail(archive, EventQuery(type="egov.payments.v1.PaymentSettled"), 2)
    assert ([r["subject"] for r in rows], after) == (["A-2", "A-3"], 3)
    rounds = iter([True, True, False])

    def later(_: float) -> None:
        archive.record([(4, settled("A-4"))])

    followed = list(events.follow(archive, EventQuery(), after, sleep=later, keep_going=lambda: next(rounds)))
    assert [r["subject"] for r in followed] == ["A-4"]
