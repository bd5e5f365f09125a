"""SYNTHETIC dossier histories for the supervision index: the events procedures, payments and postal
would emit over a year, spread over the units of the catalogue. Nothing here is real data; every
procedure name and dossier code is made up (codes start with the unit's agency code, then "SYN").

Used by the supervision rebuild test (a few hundred dossiers) and by `make bench`'s supervision
phase (about a million). Deterministic for a seed.
"""

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from google.protobuf.message import Message

from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1.events_pb2 import (
    DossierAccepted,
    DossierApologyIssued,
    DossierCompleted,
    DossierExtended,
    DossierRef,
    DossierRejected,
    DossierResultIssued,
    DossierReturnedToDesk,
    DossierSubmitted,
    DossierSupplementProvided,
    DossierSupplementRequested,
)
from services.common.events.envelope import new_event
from services.procedures.domain.working_days import add_working_days

SOURCE = "/egov/procedures"
CHANNELS = (caller_pb2.CHANNEL_ONLINE, caller_pb2.CHANNEL_ONLINE, caller_pb2.CHANNEL_COUNTER,
            caller_pb2.CHANNEL_POST_OFFICE)


@dataclass(frozen=True)
class Place:
    """A unit that implements procedures: its chain up to the province and its agency."""

    units: tuple[str, ...]        # the unit, then every unit above it
    agency_code: str


@dataclass(frozen=True)
class SyntheticProcedure:
    code: str
    name: str
    days: int                     # the legal processing time in working days
    fee_vnd: int


def at(day: date, hour: int = 9) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+07:00"


def history(rng: random.Random, n: int, place: Place, procedure: SyntheticProcedure, start: date, end: date,
            correlation_id: str) -> Iterator[CloudEvent]:
    """The events of dossier `n`: received between start and end, then most settled, some late
    with an apology, some still in progress (a few overdue), some rejected, a few returned by post."""
    received = start + timedelta(days=rng.randrange(max(1, (end - start).days)))
    code = f"{place.agency_code}-SYN-{received:%y%m%d}-{n:07d}"
    channel = rng.choice(CHANNELS)
    ref = DossierRef(code=code, procedure_code=procedure.code, procedure_name=procedure.name,
                     agency_code=place.agency_code, receiving_agency_code=place.agency_code,
                     competent_agency_code=place.agency_code, handling_agency_code=place.agency_code,
                     unit_code=place.units[0], units=place.units, channel=channel)

    def event(payload: Message, day: date, hour: int = 9) -> CloudEvent:
        payload.dossier.occurred_at = at(day, hour)  # type: ignore[attr-defined]
        return new_event(payload, source=SOURCE, subject=code, correlation_id=correlation_id)

    post = rng.random() < 0.2
    delivery = pp.Delivery(method=pp.DELIVERY_METHOD_POST if post else pp.DELIVERY_METHOD_PICKUP)
    yield event(DossierSubmitted(dossier=ref, fee_vnd=procedure.fee_vnd, delivery=delivery, channel=channel,
                                 payment_method=pp.PAYMENT_METHOD_ONLINE if procedure.fee_vnd else
                                 pp.PAYMENT_METHOD_NO_FEE), received, 8)
    if rng.random() < 0.03:
        yield event(DossierRejected(dossier=ref, reason="không đủ điều kiện", at_reception=True), received)
        return
    due = add_working_days(received, procedure.days)
    yield event(DossierAccepted(dossier=ref, accepted_at=at(received), due_date=due.isoformat()), received)
    if procedure.fee_vnd and rng.random() < 0.6:
        yield new_event(PaymentSettled(bill_id=f"B-{code}", dossier_code=code, amount_vnd=procedure.fee_vnd,
                                       intermediary="paygate", paid_at=at(received, 10)),
                        source="/egov/payments", subject=f"B-{code}", correlation_id=correlation_id)
    day = received
    if rng.random() < 0.1:
        asked = add_working_days(day, 1)
        yield event(DossierSupplementRequested(dossier=ref, reason="bổ sung giấy tờ"), asked)
        paused = rng.randint(1, 3)
        day = add_working_days(asked, paused)
        due = add_working_days(due, paused)
        yield event(DossierSupplementProvided(dossier=ref, due_date=due.isoformat(), paused_working_days=paused), day)
    fate = rng.random()
    if fate < 0.12:                                         # late, with an apology before the deadline
        new_due = add_working_days(due, rng.randint(2, 5))
        yield event(DossierApologyIssued(dossier=ref, responsible_agency_code=place.agency_code,
                                         reason="cần xác minh thêm", previous_due_date=due.isoformat(),
                                         new_due_date=new_due.isoformat(), reappointment=1, signed_by="leader",
                                         letter_number=f"{n}/TXL"), due - timedelta(days=1))
        settled, timeliness = add_working_days(due, rng.randint(1, 4)), pp.TIMELINESS_LATE
    elif fate < 0.15 and procedure.days > 3:                # extended where the procedure allows it
        new_due = add_working_days(due, 3)
        yield event(DossierExtended(dossier=ref, previous_due_date=due.isoformat(), new_due_date=new_due.isoformat(),
                                    reason="gia hạn theo quy định", actor="leader"), day, 11)
        due = new_due
        settled, timeliness = add_working_days(day, procedure.days), pp.TIMELINESS_ON_TIME
    else:
        taken = rng.randint(max(1, procedure.days - 3), procedure.days)
        settled = add_working_days(day, taken)
        timeliness = pp.TIMELINESS_EARLY if settled < due else pp.TIMELINESS_ON_TIME
    if settled > end:                                       # still in progress at the end of the period
        return
    ref.due_date = due.isoformat()
    yield event(DossierResultIssued(dossier=ref, result_document_number=f"{n}/KQ", delivery=delivery,
                                    timeliness=timeliness), settled, 15)
    if post and rng.random() < 0.1:
        yield event(DossierReturnedToDesk(dossier=ref, shipment_id=f"S-{code}", reason="không có người nhận"),
                    settled + timedelta(days=2))
        return
    yield event(DossierCompleted(dossier=ref, timeliness=timeliness, completed_at=at(settled, 16),
                                 due_date=due.isoformat()), settled, 16)


def procedures(count: int) -> list[SyntheticProcedure]:
    return [SyntheticProcedure(f"SYN.{i:03d}", f"Thủ tục tổng hợp số {i}", days=(3, 5, 7, 10, 15)[i % 5],
                               fee_vnd=(0, 0, 20_000, 50_000, 100_000)[i % 5]) for i in range(count)]


def dossier_events(count: int, places: Sequence[Place], start: date, end: date, correlation_id: str,
                   seed: int = 766, procedure_count: int = 40) -> Iterator[CloudEvent]:
    rng = random.Random(seed)
    catalogue = procedures(procedure_count)
    for n in range(count):
        yield from history(rng, n, rng.choice(places), rng.choice(catalogue), start, end, correlation_id)
