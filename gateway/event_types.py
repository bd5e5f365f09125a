"""The platform's event types, as agencies are granted them: every message an `events.proto` marks
with `option (egov.common.v1.event) = true` (its full name is the CloudEvent `type`), in any module
gateway.protos finds.

A grant of an event type reads `event:<type>`, next to the method grants in the same registry, so one
`egov-gateway grants` command manages both and a revocation takes effect the same way.
"""

from collections.abc import Sequence
from functools import cache

from egov.common.v1 import options_pb2
from gateway.protos import event_modules
from services.common.errors import InvalidArgument, PermissionDenied

GRANT_PREFIX = "event:"


@cache
def event_types() -> frozenset[str]:
    return frozenset(
        message.full_name
        for module in event_modules()
        for message in module.DESCRIPTOR.message_types_by_name.values()
        if message.GetOptions().Extensions[options_pb2.event]
    )


def grant_name(event_type: str) -> str:
    """`egov.procedures.v1.DossierCompleted` → `event:egov.procedures.v1.DossierCompleted`."""
    return f"{GRANT_PREFIX}{event_type}"


def granted_types(grants: frozenset[str]) -> frozenset[str]:
    """The event types among a subsystem's grants."""
    return frozenset(g.removeprefix(GRANT_PREFIX) for g in grants if g.startswith(GRANT_PREFIX))


def readable_types(requested: Sequence[str], grants: frozenset[str]) -> tuple[str, ...]:
    """The event types a subscription reads: those requested, each a platform event type granted
    to the caller; none requested means every type granted to it. Refusals name the field."""
    granted = granted_types(grants) & event_types()
    for index, name in enumerate(requested):
        if name not in event_types():
            raise InvalidArgument(f"types[{index}]", f"{name!r} is not an event type of the platform "
                                                     "(see `egov-gateway grants methods`)")
        if name not in granted:
            raise PermissionDenied(f"types[{index}]", f"no grant of {grant_name(name)}")
    if not requested and not granted:
        raise PermissionDenied("types", "no event type is granted to the caller")
    return tuple(sorted(set(requested) if requested else granted))
