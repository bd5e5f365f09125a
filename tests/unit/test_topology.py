"""The broker topology declares exactly the events each service handles: nothing bound that no one
handles (it would be acknowledged unhandled), nothing handled that is never bound (it would never arrive)."""

import importlib

import pytest

from services.common.events.envelope import event_type
from services.common.topology import SUBSCRIPTIONS

CONSUMERS = [s for s in SUBSCRIPTIONS if s.event_types]


@pytest.mark.parametrize("sub", CONSUMERS, ids=lambda s: s.service)
def test_each_service_handles_exactly_what_it_subscribes_to(sub) -> None:  # type: ignore[no-untyped-def]
    handlers = importlib.import_module(f"services.{sub.service}.handlers").EVENT_HANDLERS
    assert set(handlers) == set(sub.event_types)


@pytest.mark.parametrize("sub", CONSUMERS, ids=lambda s: s.service)
def test_every_subscribed_type_is_a_proto_message(sub) -> None:  # type: ignore[no-untyped-def]
    from google.protobuf import symbol_database

    for name in sub.event_types:
        module = importlib.import_module(f"egov.{name.split('.')[1]}.v1.events_pb2")
        assert module is not None
        cls = symbol_database.Default().GetSymbol(name)
        assert event_type(cls) == name
