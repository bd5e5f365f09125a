"""The deadline watch (service layer): a sweep over the dossiers whose clock runs, emitting
DossierDueSoon and DossierOverdue once per dossier, deadline, due date and alert.

Exactly once, with any number of replicas and across restarts: each alert is recorded under its key
(domain/deadlines.py) in the same transaction that writes its event to the outbox. A replica that
finds the record skips the alert; two replicas racing on one dossier conflict in MongoDB, and the one
retried finds the other's record (or, if its insert is refused as a duplicate, leaves the dossier to
the next sweep, which finds it). A crash before commit loses both, and the next sweep emits it.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import partial

from pymongo.errors import DuplicateKeyError

from egov.procedures.v1 import events_pb2
from services.common.mongo_store import Transaction
from services.procedures import messages
from services.procedures.adapters.repository import DeadlineAlerts, DossierRepository
from services.procedures.domain import deadlines
from services.procedures.domain.application import local_date
from services.procedures.domain.working_days import add_working_days

log = logging.getLogger(__name__)
PAGE = 200

RunInTransaction = Callable[[Callable[[Transaction], int]], int]


def sweep(list_codes: Callable[[date, str, int], list[str]], run: RunInTransaction, now: datetime,
          lead_working_days: int) -> int:
    """Every dossier due on or before the lead's horizon is looked at in its own transaction; returns
    the alerts emitted."""
    today = local_date(now)
    horizon = add_working_days(today, lead_working_days)
    emitted, after = 0, ""
    while True:
        codes = list_codes(horizon, after, PAGE)
        for code in codes:
            try:
                emitted += run(partial(watch_dossier, code=code, now=now, lead_working_days=lead_working_days))
            except DuplicateKeyError:
                log.info("deadline alert for %s recorded by another replica meanwhile; next sweep checks", code)
        if len(codes) < PAGE:
            return emitted
        after = codes[-1]


def watch_dossier(tx: Transaction, code: str, now: datetime, lead_working_days: int) -> int:
    """The alerts this dossier is due, each emitted with its record; 0 when all were emitted before."""
    dossier = DossierRepository.within(tx).get(code)
    if dossier is None:
        return 0
    recorded = DeadlineAlerts.within(tx)
    count = 0
    for alert in deadlines.alerts(dossier.watched_deadlines(), local_date(now), lead_working_days):
        key = alert.key(dossier.code)
        if recorded.emitted(key):
            continue
        recorded.record(key, dossier.code, now)
        d = alert.deadline
        kind = events_pb2.WatchedDeadline.Value(d.kind.value)
        ref = messages.dossier_ref(dossier, now)
        # The step is the one whose deadline it is; for the dossier's own, the step it is at.
        step = d.step or (dossier.current_step.name if dossier.current_step else "")
        payload = (events_pb2.DossierDueSoon(dossier=ref, kind=kind, due_date=d.due_date.isoformat(), step=step)
                   if alert.alert is deadlines.Alert.DUE_SOON else
                   events_pb2.DossierOverdue(dossier=ref, kind=kind, due_date=d.due_date.isoformat(), step=step,
                                             responsible_agency_code=dossier.handling_agency_code))
        tx.emit(payload, subject=dossier.code, correlation_id=dossier.code)
        count += 1
    return count
