"""The supervision service layer on its in-memory repositories (services/supervision/fakes.py): every
event handler folding a dossier's events into its facts and the counters of each scope it counts in
(commune → district → city, agency, desk, procedure), an event handled twice or in another order
moving nothing more, and the three queries reading the result, without nameko, RabbitMQ or MongoDB."""

import random
from datetime import date
from typing import Any

import pytest

from bench.dossier_history import Place, dossier_events
from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1.events_pb2 import (
    DossierAccepted,
    DossierApologyIssued,
    DossierCompleted,
    DossierExtended,
    DossierOverdue,
    DossierRef,
    DossierRejected,
    DossierResultIssued,
    DossierReturnedToDesk,
    DossierSubmitted,
    DossierSupplementProvided,
    DossierSupplementRequested,
    DossierTransferred,
)
from egov.supervision.v1 import supervision_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import PermissionDenied
from services.common.events.envelope import event_type, new_event
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.supervision import handlers, queries
from services.supervision.adapters.repository import CounterRepository, DossierFactsRepository
from services.supervision.adapters.units import load_units
from services.supervision.fakes import InMemoryCounters, InMemoryDossierFacts, in_memory_store
from services.supervision.projection import Projection

TREE = load_units()
# The edition procedures imports (2025-03): province → district → commune, and their committees.
PROVINCE, THUAN_HOA, VY_DA, PHUONG_DUC = "46", "474", "19777", "19780"
VY_DA_COMMITTEE, PHUONG_DUC_COMMITTEE, JUSTICE = "000.01.31.H57", "000.02.31.H57", "000.00.15.H57"
CODE = f"{VY_DA_COMMITTEE}-260302-0001"
TODAY = date(2026, 3, 31)


def ref(code: str = CODE, day: str = "2026-03-02", hour: int = 9, handling: str = VY_DA_COMMITTEE) -> DossierRef:
    return DossierRef(code=code, procedure_code="SYN.001", procedure_name="Thủ tục tổng hợp số 1",
                      agency_code=VY_DA_COMMITTEE, receiving_agency_code=VY_DA_COMMITTEE,
                      competent_agency_code=VY_DA_COMMITTEE, handling_agency_code=handling, unit_code=VY_DA,
                      units=[VY_DA, THUAN_HOA, PROVINCE], channel=caller_pb2.CHANNEL_ONLINE,
                      occurred_at=f"{day}T{hour:02d}:00:00+07:00")


def event(payload: Any) -> CloudEvent:
    return new_event(payload, source="/egov/procedures", subject=CODE)


def submitted(code: str = CODE, day: str = "2026-03-02", fee: int = 50_000, post: bool = False) -> CloudEvent:
    method = pp.DELIVERY_METHOD_POST if post else pp.DELIVERY_METHOD_PICKUP
    return event(DossierSubmitted(dossier=ref(code, day, 8), fee_vnd=fee, delivery=pp.Delivery(method=method),
                                  channel=caller_pb2.CHANNEL_ONLINE))


def accepted(code: str = CODE, day: str = "2026-03-02", due: str = "2026-03-10") -> CloudEvent:
    return event(DossierAccepted(dossier=ref(code, day), accepted_at=f"{day}T09:00:00+07:00", due_date=due))


def issued(code: str = CODE, day: str = "2026-03-06", timeliness: int = pp.TIMELINESS_EARLY) -> CloudEvent:
    return event(DossierResultIssued(dossier=ref(code, day, 15), timeliness=timeliness,
                                     delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP)))


def counters(store: InMemoryStore, scope: str, bucket: str) -> dict[str, Any]:
    found = store.repository(CounterRepository).find([scope], [bucket])
    doc = found.get(f"{scope}|{bucket}", {})
    return {k: v for k, v in doc.items() if k not in ("_id", "scope", "bucket")}


def handle(store: InMemoryStore, *events: CloudEvent) -> list[bool]:
    return [handlers.handle_event(store, e) for e in events]


def read_model(store: InMemoryStore) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every counter document without its zeros (a model built in another order may never have had
    them), and every dossier's facts."""
    def nonzero(doc: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in doc.items():
            if isinstance(v, dict):
                v = {n: c for n, c in v.items() if c}
            if v not in (0, {}):
                out[k] = v
        return out

    docs = {k: nonzero(v) for k, v in store.repository(CounterRepository).documents.items()}  # type: ignore[attr-defined]
    return ({k: v for k, v in docs.items() if set(v) - {"_id", "scope", "bucket"}},
            dict(store.repository(DossierFactsRepository).dossiers))  # type: ignore[attr-defined]


def test_a_received_dossier_counts_in_its_commune_district_city_agency_desk_and_procedure() -> None:
    store = in_memory_store()
    assert handle(store, submitted()) == [True]
    for scope in (f"unit:{VY_DA}", f"unit:{THUAN_HOA}", f"unit:{PROVINCE}", f"agency:{VY_DA_COMMITTEE}",
                  f"receiving:{VY_DA_COMMITTEE}", "procedure:SYN.001"):
        assert counters(store, scope, "2026-03") == {"received": 1, "received_online": 1, "fee_dossiers": 1}
        assert counters(store, scope, "open") == {"due": {"none": 1}}
    assert counters(store, f"unit:{PHUONG_DUC}", "2026-03") == {}
    facts = store.repository(DossierFactsRepository).find(CODE)
    assert facts is not None and (facts.submitted_on, facts.channel, facts.units) == (
        "2026-03-02", "online", (VY_DA, THUAN_HOA, PROVINCE))
    assert store.events() == []         # a projection emits nothing


def test_a_settled_dossier_leaves_the_open_snapshot_and_counts_its_working_days() -> None:
    store = in_memory_store()
    handle(store, submitted(), accepted(), issued())
    city = counters(store, f"unit:{PROVINCE}", "2026-03")
    assert city == {"received": 1, "received_online": 1, "fee_dossiers": 1, "settled": 1, "settled_early": 1,
                    "timed": 1, "days_sum": 4, "days": {"4": 1}}
    # moved from "not accepted" to its appointment date, then out when settled: zeros are kept
    assert counters(store, f"unit:{PROVINCE}", "open") == {"due": {"none": 0, "2026-03-10": 0}}


def test_an_event_delivered_twice_changes_nothing_the_second_time() -> None:
    store = in_memory_store()
    events = [submitted(), accepted(), issued()]
    handle(store, *events)
    before = read_model(store)
    assert handle(store, *events) == [False, False, False]
    assert read_model(store) == before


def test_an_event_applied_again_past_the_inbox_moves_nothing() -> None:
    """What `egov-events replay --rebuild` does: the handler runs again for an event the inbox has."""
    store = in_memory_store()
    events = [submitted(post=True), accepted(), issued()]
    handle(store, *events)
    before = read_model(store)
    store.transaction(lambda tx: handlers.project(tx, events))
    for e in events:
        store.transaction(lambda tx, once=[e]: handlers.project(tx, once))
    assert read_model(store) == before


def test_every_handler_adds_its_facts() -> None:
    store = in_memory_store()
    supplement = event(DossierSupplementRequested(dossier=ref(day="2026-03-03"), reason="bổ sung"))
    provided = event(DossierSupplementProvided(dossier=ref(day="2026-03-05"), due_date="2026-03-12",
                                               paused_working_days=2))
    moved = event(DossierTransferred(dossier=ref(day="2026-03-05", hour=10, handling=JUSTICE)))
    overdue = event(DossierOverdue(dossier=ref(day="2026-03-13", handling=JUSTICE), responsible_agency_code=JUSTICE))
    apology = event(DossierApologyIssued(dossier=ref(day="2026-03-11"), responsible_agency_code=JUSTICE,
                                         reason="cần xác minh", previous_due_date="2026-03-12",
                                         new_due_date="2026-03-17", reappointment=1, letter_number="1/TXL"))
    extended = event(DossierExtended(dossier=ref(day="2026-03-16"), previous_due_date="2026-03-17",
                                     new_due_date="2026-03-20"))
    paid = new_event(PaymentSettled(bill_id="B-1", dossier_code=CODE, amount_vnd=50_000), source="/egov/payments",
                     subject="B-1")
    done = event(DossierResultIssued(dossier=ref(day="2026-03-19", hour=15), timeliness=pp.TIMELINESS_LATE,
                                     delivery=pp.Delivery(method=pp.DELIVERY_METHOD_POST)))
    returned = event(DossierReturnedToDesk(dossier=ref(day="2026-03-21"), shipment_id="S-1"))
    completed = event(DossierCompleted(dossier=ref(day="2026-03-23", hour=16), timeliness=pp.TIMELINESS_LATE,
                                       completed_at="2026-03-23T16:00:00+07:00"))
    assert all(handle(store, submitted(), accepted(), paid, supplement, provided, moved))
    facts = store.repository(DossierFactsRepository).find(CODE)
    assert facts is not None and facts.handling_agency == JUSTICE       # transferred
    assert all(handle(store, overdue, apology, extended, done, returned, completed))
    facts = store.repository(DossierFactsRepository).find(CODE)
    assert facts is not None
    # the agency handling it is the latest event's; the one responsible when it went overdue stays
    assert (facts.paid_online, facts.supplement_requested, facts.pauses[0][1], facts.handling_agency,
            facts.overdue_responsible, facts.due_date, len(facts.apologies), len(facts.extensions),
            facts.settled_on, facts.timeliness, facts.by_post, facts.returned_to_desk, facts.completed_on) == (
        True, True, 2, VY_DA_COMMITTEE, JUSTICE, "2026-03-20", 1, 1, "2026-03-19", "late", True, True, "2026-03-23")
    city = counters(store, f"unit:{PROVINCE}", "2026-03")
    assert {k: city[k] for k in ("paid_online", "supplement", "settled_late", "apologies", "reappointments",
                                 "post_results", "post_returned")} == {
        "paid_online": 1, "supplement": 1, "settled_late": 1, "apologies": 1, "reappointments": 2,
        "post_results": 1, "post_returned": 1}


def test_a_rejection_counts_rejected_not_settled() -> None:
    store = in_memory_store()
    handle(store, submitted(fee=0), event(DossierRejected(dossier=ref(day="2026-03-02", hour=10), reason="thiếu")))
    assert counters(store, f"unit:{VY_DA}", "2026-03") == {"received": 1, "received_online": 1, "rejected": 1}
    assert counters(store, f"unit:{VY_DA}", "open") == {"due": {"none": 0}}


def test_a_failing_handler_leaves_nothing_and_the_event_can_come_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store = in_memory_store()
    handle(store, submitted())
    before = read_model(store)
    broken = dict(handlers.EVENT_HANDLERS)

    def fail_after_writing(p: Projection, payload: Any, e: CloudEvent) -> None:
        handlers.on_accepted(p, payload, e)
        raise RuntimeError("the database went away")

    broken[event_type(DossierAccepted)] = fail_after_writing
    monkeypatch.setattr(handlers, "EVENT_HANDLERS", broken)
    again = accepted()
    with pytest.raises(RuntimeError):
        handlers.handle_event(store, again)
    assert read_model(store) == before
    monkeypatch.undo()
    assert handle(store, again) == [True]
    assert counters(store, f"unit:{PROVINCE}", "open") == {"due": {"none": 0, "2026-03-10": 1}}


def test_a_years_events_in_any_order_give_the_same_read_model() -> None:
    """What a rebuild relies on: the workers handle events side by side, a replay in archive order."""
    places = [Place((VY_DA, THUAN_HOA, PROVINCE), VY_DA_COMMITTEE),
              Place((PHUONG_DUC, THUAN_HOA, PROVINCE), PHUONG_DUC_COMMITTEE), Place((PROVINCE,), JUSTICE)]
    events = list(dossier_events(60, places, date(2025, 4, 1), date(2026, 3, 31), "SYN-unit", seed=15))
    live, rebuilt = in_memory_store(), in_memory_store()
    handle(live, *events)
    shuffled = events[:]
    random.Random(15).shuffle(shuffled)
    handle(rebuilt, *shuffled)
    assert read_model(rebuilt) == read_model(live)
    city = counters(live, f"unit:{PROVINCE}", "2026-03")
    assert city.get("received", 0) == sum(counters(live, s, "2026-03").get("received", 0)
                                          for s in (f"unit:{THUAN_HOA}", f"receiving:{JUSTICE}"))


def test_batches_of_any_size_give_the_read_model_of_one_event_at_a_time() -> None:
    """What the batch consumer relies on: a batch's facts and counters summed in memory and written
    once equal its events applied one by one; events seen before, in the batch or an earlier one, are
    dropped by the inbox."""
    places = [Place((VY_DA, THUAN_HOA, PROVINCE), VY_DA_COMMITTEE), Place((PROVINCE,), JUSTICE)]
    events = list(dossier_events(40, places, date(2025, 4, 1), date(2026, 3, 31), "SYN-batch", seed=16))
    one_by_one, batched = in_memory_store(), in_memory_store()
    handle(one_by_one, *events)
    sizes, at, projected = random.Random(16), 0, 0
    while at < len(events):
        batch = events[at:at + sizes.randint(1, 60)]
        redelivered = events[max(0, at - 3):at]           # a crash before the acks: some come again
        projected += handlers.handle_events(batched, redelivered + batch + batch[:2])
        at += len(batch)
    assert projected == len(events)
    assert read_model(batched) == read_model(one_by_one)
    assert counter_documents(batched) == counter_documents(one_by_one)     # zeros too: the same documents


def counter_documents(store: InMemoryStore) -> dict[str, dict[str, Any]]:
    fake = store.repositories[CounterRepository]
    assert isinstance(fake, InMemoryCounters)
    return fake.documents


# -- the queries, on the same fakes ---------------------------------------------------------------------

def supervisor(*codes: str) -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject="gs-1",
                  appointments=tuple(Appointment(c, Role.SUPERVISOR) for c in codes))


def late_store() -> InMemoryStore:
    """One dossier settled in March, one overdue in progress at Vy Dạ with an apology, one at Phường Đúc."""
    store = in_memory_store()
    other = f"{PHUONG_DUC_COMMITTEE}-260302-0002"
    late = f"{VY_DA_COMMITTEE}-260302-0003"
    handle(store, submitted(), accepted(), issued(), submitted(late), accepted(late, due="2026-03-12"),
           event(DossierApologyIssued(dossier=ref(late, "2026-03-11"), responsible_agency_code=VY_DA_COMMITTEE,
                                      reason="cần xác minh", previous_due_date="2026-03-12",
                                      new_due_date="2026-03-16", reappointment=1, letter_number="3/TXL")))
    theirs = DossierSubmitted(dossier=ref(other, "2026-03-02", 8), channel=caller_pb2.CHANNEL_COUNTER)
    theirs.dossier.units[:] = [PHUONG_DUC, THUAN_HOA, PROVINCE]
    theirs.dossier.competent_agency_code = theirs.dossier.receiving_agency_code = PHUONG_DUC_COMMITTEE
    handle(store, event(theirs))
    return store


def test_get_index_reads_the_scope_its_months_and_its_children() -> None:
    store = late_store()
    request = pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=THUAN_HOA), from_month="2026-02",
                                 to_month="2026-03")
    answer = queries.get_index(store, TREE, request, supervisor(THUAN_HOA), on=TODAY)
    f = answer.index.figures
    assert (f.received, f.received_online, f.received_desk, f.settled, f.settled_early, f.in_progress_overdue,
            f.in_progress_on_time, f.apologies, f.on_time_rate) == (3, 2, 1, 1, 1, 1, 1, 1, 100.0)
    assert [m.month for m in answer.months] == ["2026-02", "2026-03"]
    assert answer.months[1].figures.received == 3 and answer.months[0].figures.received == 0
    children = {c.scope.code: c.figures.received for c in answer.children}
    assert children[VY_DA] == 2 and children[PHUONG_DUC] == 1
    procedure = queries.get_index(store, TREE, pb.GetIndexRequest(
        scope=pb.Scope(kind=pb.SCOPE_KIND_PROCEDURE, code="SYN.001"), from_month="2026-03", to_month="2026-03"),
        supervisor(PROVINCE), on=TODAY)
    assert procedure.index.name == "Thủ tục tổng hợp số 1" and procedure.index.figures.received == 3


def test_the_overdue_list_names_the_dossier_its_days_late_and_who_holds_it() -> None:
    store = late_store()
    request = pb.ListOverdueDossiersRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=VY_DA))
    answer = queries.list_overdue(store, TREE, request, supervisor(VY_DA_COMMITTEE), on=TODAY)
    assert answer.total == 1
    (late,) = answer.dossiers
    assert (late.dossier_code, late.due_date, late.responsible_agency_code, late.unit_code) == (
        f"{VY_DA_COMMITTEE}-260302-0003", "2026-03-16", VY_DA_COMMITTEE, VY_DA)
    assert late.days_late > 0 and late.responsible_agency_name
    with pytest.raises(PermissionDenied):
        queries.list_overdue(store, TREE, pb.ListOverdueDossiersRequest(
            scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PHUONG_DUC)), supervisor(VY_DA_COMMITTEE), on=TODAY)


def test_the_apologies_of_the_period_newest_first() -> None:
    store = late_store()
    request = pb.ListApologiesRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PROVINCE), from_month="2026-03",
                                      to_month="2026-03")
    answer = queries.list_apologies(store, TREE, request, supervisor(PROVINCE), on=TODAY)
    assert answer.total == 1
    assert (answer.apologies[0].letter_number, answer.apologies[0].new_due_date, answer.apologies[0].issued_on) == (
        "3/TXL", "2026-03-16", "2026-03-11")
    earlier = pb.ListApologiesRequest(scope=request.scope, from_month="2026-01", to_month="2026-02")
    assert queries.list_apologies(store, TREE, earlier, supervisor(PROVINCE), on=TODAY).total == 0


def test_the_store_holds_the_fakes_the_contract_suite_checks() -> None:
    store = in_memory_store()
    assert isinstance(store.repository(DossierFactsRepository), InMemoryDossierFacts)
    assert isinstance(store.repository(CounterRepository), InMemoryCounters)
