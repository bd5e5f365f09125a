"""Request normalisation and validation from the `(egov.common.v1.rules)` field options, before any
service sees a request.

Normalisation (`normalize`): every text field, at any depth and in every repeated item, becomes NFC,
so "Nguyễn" typed with combining accents (NFD, as some keyboards and macOS send it) and with
precomposed letters are the same text: stored the same, found the same, and counted the same by
the length rules, which `validate` checks after it.

Rules (protos/egov/common/v1/options.proto): `required` (strings and bytes non-empty, messages
present, enums not 0, repeated fields not empty), `pattern` (full match, strings and each item of
repeated strings), `min_len`/`max_len` (characters for strings, bytes for bytes, items for repeated
fields), `item_max_len` (each item of a repeated string; every repeated string field must have
one, checked at start-up), `min`/`max` with `has_min`/`has_max` (integers). Enum values the proto
does not define are refused wherever they appear. Sub-messages and repeated messages are checked
too; the first violation is raised as `InvalidArgument` naming its path, e.g. `documents[2].sha256`.

Each message type is planned once (its rules read, its patterns compiled) and the plan reused.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from egov.common.v1 import options_pb2
from services.common.errors import InvalidArgument

_INTEGERS = frozenset({FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64,
                       FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64})
_MESSAGE = FieldDescriptor.CPPTYPE_MESSAGE
_ENUM = FieldDescriptor.CPPTYPE_ENUM
_STRING = FieldDescriptor.CPPTYPE_STRING


class RuleError(ValueError):
    """A rule in the protos that cannot apply to its field: a contract bug, raised at start-up."""


@dataclass(frozen=True)
class _FieldPlan:
    field: FieldDescriptor
    rules: options_pb2.FieldRules
    pattern: re.Pattern[str] | None
    enum_name: str = ""
    enum_numbers: frozenset[int] = frozenset()

    @property
    def is_bytes(self) -> bool:
        return self.field.type == FieldDescriptor.TYPE_BYTES

    @property
    def is_text(self) -> bool:
        return self.field.cpp_type == _STRING and not self.is_bytes


_plans: dict[str, tuple[_FieldPlan, ...]] = {}


def validate(message: Message) -> None:
    """Raise `InvalidArgument("<path>", "<what is wrong>")` for the first broken rule."""
    _check_message(message, "")


def normalize(message: Message) -> Message:
    """Every text field of `message` in NFC, in place; returns the message."""
    for plan in _plan(_descriptor(message)):
        name = plan.field.name
        if plan.field.cpp_type == _MESSAGE:
            if plan.field.is_repeated:
                for item in getattr(message, name):
                    normalize(item)
            elif message.HasField(name):
                normalize(getattr(message, name))
        elif plan.is_text:
            if plan.field.is_repeated:
                items = getattr(message, name)
                for index, item in enumerate(items):
                    if not unicodedata.is_normalized("NFC", item):
                        items[index] = unicodedata.normalize("NFC", item)
            else:
                value = getattr(message, name)
                if not unicodedata.is_normalized("NFC", value):
                    setattr(message, name, unicodedata.normalize("NFC", value))
    return message


def prepare(message_class: type[Message]) -> None:
    """Plan a message type and every type it contains now, so a bad rule fails at start-up."""
    seen: set[str] = set()
    todo = [_descriptor(message_class)]
    while todo:
        current = todo.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        _plan(current)
        todo.extend(f.message_type for f in current.fields if f.message_type is not None)


def _plan(descriptor: Descriptor) -> tuple[_FieldPlan, ...]:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = tuple(p for p in map(_plan_field, descriptor.fields) if p is not None)
        _plans[descriptor.full_name] = plan
    return plan


def _plan_field(field: FieldDescriptor) -> _FieldPlan | None:
    options = field.GetOptions()
    has_rules = options.HasExtension(options_pb2.rules)
    if not has_rules and field.cpp_type not in (_MESSAGE, _ENUM, _STRING):
        return None
    rules = options.Extensions[options_pb2.rules] if has_rules else options_pb2.FieldRules()
    _check_rules_apply(field, rules)
    pattern = re.compile(rules.pattern) if rules.pattern else None
    enum = field.enum_type
    if enum is None:
        return _FieldPlan(field, rules, pattern)
    return _FieldPlan(field, rules, pattern, enum.name, frozenset(enum.values_by_number))


def _check_rules_apply(field: FieldDescriptor, rules: options_pb2.FieldRules) -> None:
    def refuse(what: str) -> None:
        raise RuleError(f"{field.full_name}: {what}")

    scalar_length = field.cpp_type == _STRING
    if rules.pattern and (field.cpp_type != _STRING or field.type == FieldDescriptor.TYPE_BYTES):
        refuse("pattern applies to strings only")
    if (rules.min_len or rules.max_len) and not (field.is_repeated or scalar_length):
        refuse("min_len/max_len apply to strings, bytes and repeated fields only")
    if (rules.has_min or rules.has_max) and field.cpp_type not in _INTEGERS:
        refuse("min/max apply to integers only")
    if rules.required and not (field.is_repeated or field.cpp_type in (_STRING, _MESSAGE, _ENUM)):
        refuse("required applies to strings, bytes, messages, enums and repeated fields only")
    if rules.has_min and rules.has_max and rules.min > rules.max:
        refuse("min is greater than max")
    if rules.max_len and rules.min_len > rules.max_len:
        refuse("min_len is greater than max_len")
    if rules.item_max_len and not (field.is_repeated and field.cpp_type == _STRING):
        refuse("item_max_len applies to repeated strings and bytes only")
    if field.is_repeated and field.cpp_type == _STRING and not rules.item_max_len:
        refuse("a repeated string field needs item_max_len: every item's length must be capped")


def _check_message(message: Message, prefix: str) -> None:
    for plan in _plan(_descriptor(message)):
        name = plan.field.name
        path = prefix + name
        value = getattr(message, name)
        if plan.field.is_repeated:
            _check_repeated(plan, value, path)
        elif plan.field.cpp_type == _MESSAGE:
            if message.HasField(name):
                _check_message(value, path + ".")
            elif plan.rules.required:
                raise InvalidArgument(path, "is required")
        else:
            _check_scalar(plan, value, path)


def _check_repeated(plan: _FieldPlan, items: Sequence[Any], path: str) -> None:
    rules = plan.rules
    if rules.required and not items:
        raise InvalidArgument(path, "is required")
    if len(items) < rules.min_len:
        raise InvalidArgument(path, f"must have at least {rules.min_len} item{_plural(rules.min_len)}")
    if rules.max_len and len(items) > rules.max_len:
        raise InvalidArgument(path, f"must have at most {rules.max_len} item{_plural(rules.max_len)}")
    cpp_type = plan.field.cpp_type
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        if cpp_type == _MESSAGE:
            _check_message(item, item_path + ".")
        elif cpp_type == _ENUM:
            _check_enum_defined(plan, item, item_path)
        elif cpp_type == _STRING:
            if len(item) > rules.item_max_len:
                unit = "byte" if plan.is_bytes else "character"
                raise InvalidArgument(item_path,
                                      f"must be at most {rules.item_max_len} {unit}{_plural(rules.item_max_len)}")
            if plan.pattern is not None and not plan.pattern.fullmatch(item):
                raise InvalidArgument(item_path, f"must match {plan.pattern.pattern}")


def _check_scalar(plan: _FieldPlan, value: Any, path: str) -> None:
    rules = plan.rules
    cpp_type = plan.field.cpp_type
    if cpp_type == _ENUM:
        _check_enum_defined(plan, value, path)
        if rules.required and value == 0:
            raise InvalidArgument(path, "is required")
    elif cpp_type == _STRING:
        unit = "byte" if plan.is_bytes else "character"
        if rules.required and not value:
            raise InvalidArgument(path, "is required")
        if len(value) < rules.min_len:
            raise InvalidArgument(path, f"must be at least {rules.min_len} {unit}{_plural(rules.min_len)}")
        if rules.max_len and len(value) > rules.max_len:
            raise InvalidArgument(path, f"must be at most {rules.max_len} {unit}{_plural(rules.max_len)}")
        if plan.pattern is not None and not plan.pattern.fullmatch(value):
            raise InvalidArgument(path, f"must match {plan.pattern.pattern}")
    elif cpp_type in _INTEGERS:
        if rules.has_min and value < rules.min:
            raise InvalidArgument(path, f"must be at least {rules.min}")
        if rules.has_max and value > rules.max:
            raise InvalidArgument(path, f"must be at most {rules.max}")


def _check_enum_defined(plan: _FieldPlan, value: int, path: str) -> None:
    if value not in plan.enum_numbers:
        raise InvalidArgument(path, f"{value} is not a value of {plan.enum_name}")


def _descriptor(message: Message | type[Message]) -> Descriptor:
    # The stubs type the C implementation's descriptor apart; it is the same interface.
    return cast(Descriptor, message.DESCRIPTOR)


def _plural(count: int) -> str:
    return "" if count == 1 else "s"
