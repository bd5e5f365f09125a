"""The notifications nameko service: tells citizens, by their chosen channels, what happens to
their dossiers. Entrypoints translate (translation.py: a request into its domain query, the answer
into the response) and delegate to handlers.py, delivery.py and queries.py."""

from typing import Any

from nameko.timer import timer

from egov.notifications.v1 import notifications_pb2 as pb
from services.common.caller import Caller
from services.common.config import env_float
from services.common.errors import DomainError
from services.common.events.envelope import decode
from services.common.protowire import dump, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store
from services.notifications import delivery, handlers, queries
from services.notifications import translation as tr
from services.notifications.dependencies import MessageProviders, NotificationIndexes

Wire = dict[str, Any]
# How often notifications left unsent (a crashed worker, a provider that was down) are retried.
RETRY_SWEEP_SECONDS = env_float("EGOV_NOTIFICATIONS_RETRY_SWEEP_SECONDS", 2.0)


class NotificationsService:
    name = "notifications"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)
    store = Store()
    providers = MessageProviders()
    indexes = NotificationIndexes()

    @consume_events("notifications")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        event = decode(body)
        # A redelivered event changes nothing: what it recorded is claimed by the worker that
        # recorded it, and if that one crashed before sending, the retry sweep sends it.
        if handlers.handle_event(self.store, event):
            delivery.send_recorded(self.store, self.providers, self.store.recorded)

    @timer(interval=RETRY_SWEEP_SECONDS)  # type: ignore[untyped-decorator]
    def send_due(self) -> None:
        delivery.send_due(self.store, self.providers)

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_notifications(self, request: Wire, caller: Wire) -> Wire:
        # The request parsed into its proto, translated once into a domain query (translation.py), the
        # service layer called with it, the notifications it answers translated into the response.
        query = tr.list_notifications_command(parse(pb.ListNotificationsRequest, request))
        return dump(tr.list_notifications_response(queries.list_notifications(self.store, query,
                                                                              Caller.from_wire(caller))))

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}
