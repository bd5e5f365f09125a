"""Reading notifications back: the citizen's own, or, for the desk that received a dossier, a named
citizen's about it (domain/access.py). Takes the query (domain/commands.py) the entrypoint translated
and answers in domain values (translation.py makes the response); reads through the records' port,
so the unit tests run it on the in-memory twin (fakes.py)."""

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from services.common.caller import Caller
from services.common.errors import InvalidArgument
from services.notifications.adapters.repository import NotificationRecords
from services.notifications.domain import commands
from services.notifications.domain.access import citizen_to_list
from services.notifications.domain.notification import Notification

R = TypeVar("R")


class Reader(Protocol):
    """The worker's store for reads outside a transaction (services/common/runtime/store.py); the
    in-memory store hands the fake instead."""

    def repository(self, kind: Callable[[Database[Any]], R]) -> R: ...


def list_notifications(store: Reader, query: commands.ListNotifications, caller: Caller) -> list[Notification]:
    if len(query.dossier_code) > 64:
        raise InvalidArgument("dossier_code", "at most 64 characters")
    listing = citizen_to_list(caller, query.citizen_id, query.dossier_code)
    found = store.repository(NotificationRecords).notifications_of(listing.citizen_id, query.dossier_code)
    return [n for n in found if listing.visible(n.dossier_code)]
