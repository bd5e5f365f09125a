"""The CloudEvents envelope around every proto payload (egov.events.v1.CloudEvent).

`type` is the payload's full proto name, so the payload class is found in the descriptor pool
without a registry of our own. On the wire the envelope is binary protobuf with the content type
below; the AMQP routing key is the type.
"""

import importlib
import uuid
from datetime import UTC, datetime

from google.protobuf import symbol_database
from google.protobuf.message import Message

from egov.events.v1.cloud_event_pb2 import CloudEvent

CONTENT_TYPE = "application/cloudevents+protobuf"
SPEC_VERSION = "1.0"
# AMQP headers a replayed event carries (`egov-events replay`): when it was replayed, and whether a
# consumer must run its handler again even for an event its inbox has (rebuild mode).
REPLAY_HEADER = "egov-replay"
REBUILD_HEADER = "egov-rebuild"


def event_type(payload_class: type[Message]) -> str:
    return str(payload_class.DESCRIPTOR.full_name)


def new_event(
    payload: Message,
    *,
    source: str,
    subject: str,
    correlation_id: str = "",
    causation_id: str = "",
    traceparent: str = "",
    event_id: str | None = None,
) -> CloudEvent:
    event = CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        spec_version=SPEC_VERSION,
        type=payload.DESCRIPTOR.full_name,
        subject=subject,
        data_content_type="application/protobuf",
        correlation_id=correlation_id or subject,
        causation_id=causation_id,
        traceparent=traceparent,
    )
    event.time.FromDatetime(datetime.now(UTC))
    event.data.Pack(payload)
    return event


def payload_class(type_name: str) -> type[Message]:
    """The message class of an event type; platform events live in `egov.<service>.v1.events_pb2`,
    imported on first use so a consumer needs no import list of its own."""
    try:
        return symbol_database.Default().GetSymbol(type_name)
    except KeyError:
        package = type_name.rsplit(".", 1)[0]
        try:
            importlib.import_module(f"{package}.events_pb2")
        except ImportError as exc:
            raise ValueError(f"unknown event type {type_name!r}") from exc
        return symbol_database.Default().GetSymbol(type_name)


def unpack(event: CloudEvent) -> Message:
    """The payload as its own message class."""
    cls = payload_class(event.type)
    payload: Message = cls()
    if not event.data.Unpack(payload):
        raise ValueError(f"event {event.id}: data is not a {event.type}")
    return payload


def encode(event: CloudEvent) -> bytes:
    return event.SerializeToString()


def decode(body: bytes) -> CloudEvent:
    event = CloudEvent()
    event.ParseFromString(body)
    if not event.id or not event.type:
        raise ValueError("not a CloudEvent: id and type are required")
    return event
