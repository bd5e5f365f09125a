"""The order a Reaction's steps run in, which the services' crash safety rests on
(services/common/reactions.py): prepare, then the transaction with the inbox record, then the
follow-up, on a duplicate delivery too, and never after a transaction that did not commit."""

from typing import Any

import pytest

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.procedures.v1 import events_pb2 as procedures_events
from services.common.events.envelope import event_type, new_event
from services.common.memory_store import InMemoryStore
from services.common.mongo_store import Transaction
from services.common.reactions import Reaction, react

REJECTED = event_type(procedures_events.DossierRejected)


def rejected(code: str = "000.00.01.H57-260302-0001") -> CloudEvent:
    return new_event(procedures_events.DossierRejected(dossier=procedures_events.DossierRef(code=code)),
                     source="/egov/procedures", subject=code)


class Steps:
    """Each step's call, in order, with what it was given."""

    def __init__(self, refuse_apply: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse_apply = refuse_apply

    def prepare(self, store: Any, port: Any, payload: procedures_events.DossierRejected) -> str:
        self.calls.append(("prepare", (port, payload.dossier.code)))
        return f"prepared-{len(self.calls)}"

    def apply(self, tx: Transaction, payload: Any, event: CloudEvent, prepared: Any) -> None:
        self.calls.append(("apply", prepared))
        if self.refuse_apply:
            raise RuntimeError("the bill changed meanwhile")

    def follow_up(self, store: Any, port: Any, payload: procedures_events.DossierRejected) -> None:
        self.calls.append(("follow_up", payload.dossier.code))

    def reactions(self) -> dict[str, Reaction]:
        return {REJECTED: Reaction(prepare=self.prepare, apply=self.apply, follow_up=self.follow_up)}


def test_the_steps_run_in_order_and_a_duplicate_runs_only_those_outside_the_transaction() -> None:
    steps, store, event = Steps(), InMemoryStore("test", {}), rejected()
    assert react(store, "port", event, steps.reactions())
    assert steps.calls == [("prepare", ("port", "000.00.01.H57-260302-0001")), ("apply", "prepared-1"),
                           ("follow_up", "000.00.01.H57-260302-0001")]
    steps.calls.clear()
    assert not react(store, "port", event, steps.reactions())          # delivered again after a crash
    assert [name for name, _ in steps.calls] == ["prepare", "follow_up"]


def test_no_follow_up_after_a_transaction_that_did_not_commit() -> None:
    steps, store, event = Steps(refuse_apply=True), InMemoryStore("test", {}), rejected()
    with pytest.raises(RuntimeError):
        react(store, "port", event, steps.reactions())
    assert [name for name, _ in steps.calls] == ["prepare", "apply"] and store.inbox == set()


def test_an_event_without_a_reaction_is_not_ours_and_an_in_transaction_one_has_no_outside_steps() -> None:
    handled: list[str] = []
    store = InMemoryStore("test", {})
    assert not react(store, "port", rejected(), {})
    only_inside = {REJECTED: Reaction.in_transaction(lambda tx, payload, event: handled.append(event.id))}
    event = rejected()
    assert react(store, "port", event, only_inside)
    assert handled == [event.id]
