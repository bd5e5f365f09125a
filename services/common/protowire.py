"""Proto messages across nameko RPC: JSON-able dicts with the proto field names.

The gateway sends `dump(request)`; the service `parse`s it back into the same proto class, so the
proto stays the one definition of the contract on both sides.

A reply on a hot read path may instead cross as the serialized message (`encoded`): a dict with
the one key ENCODED, which no proto field can be named. `parse` takes either form, so callers do
not care; the gateway then skips the dict → message conversion, most of its CPU on a page of the
catalogue (docs/BENCHMARKS.md, "The catalogue at the seed's scale").
"""

import base64
import binascii
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from services.common.errors import InvalidArgument

M = TypeVar("M", bound=Message)
ENCODED = "$protobuf"


def parse(cls: type[M], data: dict[str, Any] | None) -> M:
    if data is not None and ENCODED in data:
        return decode(cls, data)
    try:
        return json_format.ParseDict(data or {}, cls())
    except json_format.ParseError as exc:
        raise InvalidArgument("request", str(exc)) from exc


def encoded(serialized: bytes) -> dict[str, Any]:
    """A message already serialized, as a JSON-able reply `parse` reads back."""
    return {ENCODED: base64.b64encode(serialized).decode("ascii")}


def decode(cls: type[M], data: dict[str, Any]) -> M:
    if len(data) != 1 or not isinstance(data[ENCODED], str):
        raise InvalidArgument("request", f"an encoded {cls.__name__} carries {ENCODED} alone, as base64 text")
    try:
        return cls.FromString(base64.b64decode(data[ENCODED], validate=True))
    except (binascii.Error, DecodeError) as exc:
        raise InvalidArgument("request", f"not a valid encoded {cls.__name__}: {exc}") from exc


def dump(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
