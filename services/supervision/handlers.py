"""The service layer: each dossier, payment and postal event becomes new facts about one dossier,
and the counters move by what the facts add (services/supervision/domain/index.py). The consumer
hands over a batch of events at a time, projected in one transaction (projection.py).

Every handler is safe to run again (a redelivery, or `egov-events replay --rebuild`): facts are
only ever added, and the counters move by the difference the event made, which is nothing the
second time. So the projection may be rebuilt from the archive into a live database as well as
into an empty one.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.procedures.v1 import procedures_pb2
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
from services.common.events.envelope import event_type, unpack
from services.common.mongo_store import Transaction
from services.supervision.adapters.repository import CounterRepository, DossierFactsRepository
from services.supervision.domain.facts import Apology, Channel, DossierFacts, Ref
from services.supervision.projection import Projection

EventHandler = Callable[[Projection, Any, CloudEvent], None]

_CHANNEL = {caller_pb2.CHANNEL_ONLINE: Channel.ONLINE, caller_pb2.CHANNEL_COUNTER: Channel.DESK,
            caller_pb2.CHANNEL_POST_OFFICE: Channel.POST}
_TIMELINESS = {procedures_pb2.TIMELINESS_EARLY: "early", procedures_pb2.TIMELINESS_ON_TIME: "on_time",
               procedures_pb2.TIMELINESS_LATE: "late"}


def ref(r: DossierRef) -> Ref:
    return Ref(code=r.code, procedure_code=r.procedure_code, procedure_name=r.procedure_name,
               competent_agency=r.competent_agency_code or r.agency_code, receiving_agency=r.receiving_agency_code,
               handling_agency=r.handling_agency_code, units=tuple(r.units or ([r.unit_code] if r.unit_code else [])),
               channel=_CHANNEL.get(r.channel, ""), occurred_at=r.occurred_at)


class EventStore(Protocol):
    """What the handlers need of a store: the worker's (services/common/runtime/store.py) or the
    in-memory one of the unit tests (services/common/memory_store.py)."""

    def handle_events(self, events: Sequence[CloudEvent],
                      project: Callable[[Transaction, list[CloudEvent]], None]) -> int: ...


def handle_events(store: EventStore, events: Sequence[CloudEvent]) -> int:
    """The consumer's entrypoint delegates here: a batch in one transaction, each event once (by the
    store's inbox). Returns how many were projected."""
    return store.handle_events([e for e in events if e.type in EVENT_HANDLERS], project)


def handle_event(store: EventStore, event: CloudEvent) -> bool:
    """One event on its own: a batch of one."""
    return handle_events(store, [event]) == 1


def project(tx: Transaction, events: list[CloudEvent]) -> None:
    projection = Projection(tx.repository(DossierFactsRepository), tx.repository(CounterRepository))
    projection.load(e.subject for e in events)    # every event here has its dossier's code as subject
    for event in events:
        EVENT_HANDLERS[event.type](projection, unpack(event), event)
    projection.flush()


def _on(r: Ref, fallback: str = "") -> str:
    return (fallback or r.occurred_at)[:10]


def on_submitted(p: Projection, e: DossierSubmitted, event: CloudEvent) -> None:
    r = ref(e.dossier)
    channel = _CHANNEL.get(e.channel, "") or r.channel or Channel.ONLINE

    def fn(f: DossierFacts) -> DossierFacts:
        if f.submitted_on:
            return f
        return _replace(f, submitted_on=r.on, channel=channel, has_fee=e.fee_vnd > 0,
                        by_post=f.by_post or e.delivery.method == procedures_pb2.DELIVERY_METHOD_POST)
    p.change(r.code, r, fn)


def on_accepted(p: Projection, e: DossierAccepted, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: (f if f.accepted_on else _replace(f, accepted_on=_on(r, e.accepted_at)))
           .with_due_date(e.due_date or e.dossier.due_date, r.occurred_at))


def on_supplement_requested(p: Projection, e: DossierSupplementRequested, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f if e.at_reception or f.supplement_requested
           else _replace(f, supplement_requested=True))


def on_supplement_provided(p: Projection, e: DossierSupplementProvided, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f.with_pause(event.id, e.paused_working_days)
           .with_due_date(e.due_date, r.occurred_at))


def on_rejected(p: Projection, e: DossierRejected, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f if f.rejected_on else _replace(f, rejected_on=r.on))


def on_result_issued(p: Projection, e: DossierResultIssued, event: CloudEvent) -> None:
    r = ref(e.dossier)
    by_post = e.delivery.method == procedures_pb2.DELIVERY_METHOD_POST
    p.change(r.code, r, lambda f: _replace(f.settle(r.on, _TIMELINESS.get(e.timeliness, "on_time")),
                                             by_post=f.by_post or by_post))


def on_completed(p: Projection, e: DossierCompleted, event: CloudEvent) -> None:
    """Completion settles a dossier whose result-issued event was not seen (an older archive)."""
    r = ref(e.dossier)
    on = _on(r, e.completed_at)
    p.change(r.code, r, lambda f: _replace(f.settle(on, _TIMELINESS.get(e.timeliness, "on_time")),
                                             completed_on=f.completed_on or on))


def on_transferred(p: Projection, e: DossierTransferred, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f)


def on_overdue(p: Projection, e: DossierOverdue, event: CloudEvent) -> None:
    r = ref(e.dossier)
    responsible = e.responsible_agency_code or r.handling_agency
    p.change(r.code, r, lambda f: f if f.overdue_responsible else _replace(f, overdue_responsible=responsible))


def on_apology(p: Projection, e: DossierApologyIssued, event: CloudEvent) -> None:
    r = ref(e.dossier)
    apology = Apology(event_id=event.id, on=r.on, responsible_agency=e.responsible_agency_code or r.handling_agency,
                      reason=e.reason, previous_due_date=e.previous_due_date, new_due_date=e.new_due_date,
                      reappointment=e.reappointment, letter_number=e.letter_number)
    p.change(r.code, r, lambda f: f.with_apology(apology).with_due_date(e.new_due_date, r.occurred_at))


def on_extended(p: Projection, e: DossierExtended, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f.with_extension(event.id, r.on).with_due_date(e.new_due_date, r.occurred_at))


def on_returned_to_desk(p: Projection, e: DossierReturnedToDesk, event: CloudEvent) -> None:
    r = ref(e.dossier)
    p.change(r.code, r, lambda f: f if f.returned_to_desk else _replace(f, returned_to_desk=True, by_post=True))


def on_payment_settled(p: Projection, e: PaymentSettled, event: CloudEvent) -> None:
    """Paid through the payment hub: online (Decision 766's online payment)."""
    p.change(e.dossier_code, None, lambda f: f if f.paid_online else _replace(f, paid_online=True))


def _replace(f: DossierFacts, **changes: Any) -> DossierFacts:
    return replace(f, **changes)


EVENT_HANDLERS: dict[str, EventHandler] = {
    event_type(DossierSubmitted): on_submitted,
    event_type(DossierAccepted): on_accepted,
    event_type(DossierSupplementRequested): on_supplement_requested,
    event_type(DossierSupplementProvided): on_supplement_provided,
    event_type(DossierRejected): on_rejected,
    event_type(DossierResultIssued): on_result_issued,
    event_type(DossierCompleted): on_completed,
    event_type(DossierTransferred): on_transferred,
    event_type(DossierOverdue): on_overdue,
    event_type(DossierApologyIssued): on_apology,
    event_type(DossierExtended): on_extended,
    event_type(DossierReturnedToDesk): on_returned_to_desk,
    event_type(PaymentSettled): on_payment_settled,
}
