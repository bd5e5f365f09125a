"""Proto messages across nameko RPC: JSON-able dicts with the proto field names.

The gateway sends `dump(request)`; the service `parse`s it back into the same proto class, so the
proto stays the one definition of the contract on both sides.
"""

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from services.common.errors import InvalidArgument

M = TypeVar("M", bound=Message)


def parse(cls: type[M], data: dict[str, Any] | None) -> M:
    try:
        return json_format.ParseDict(data or {}, cls())
    except json_format.ParseError as exc:
        raise InvalidArgument("request", str(exc)) from exc


def dump(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
