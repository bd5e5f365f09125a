"""The broker topology: one topic exchange for events, one quorum queue per consuming service.

Declared before any service starts (`python -m services.common.events.broker`) and again by each
service at start-up, so no event is ever published before the queue that must receive it exists.
A handler that keeps failing is retried up to DELIVERY_LIMIT times by the quorum queue, then
dead-lettered to `<queue>.dlq` through the `egov.dlx` exchange, and the other messages keep flowing.
"""

from dataclasses import dataclass, field

EVENTS_EXCHANGE = "egov.events"
# Every event is also kept in a RabbitMQ stream bound to all types: so no event is ever unroutable,
# and the integration team can read the history back (see the archive and replay tool).
ARCHIVE_STREAM = "egov.events.archive"
ARCHIVE_ARGUMENTS: dict[str, object] = {"x-queue-type": "stream", "x-max-age": "90D"}
DEAD_LETTER_EXCHANGE = "egov.dlx"
DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class Subscription:
    service: str
    event_types: tuple[str, ...] = field(default_factory=tuple)

    @property
    def queue(self) -> str:
        return f"egov.{self.service}.events"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"


# Which service reacts to which event. Each service's handler table must match its line here
# (tests/unit/test_topology.py checks it).
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("identity", (
        "egov.procedures.v1.DossierSubmitted",      # whose records an agency's civil servants may read
    )),
    Subscription("procedures", (
        "egov.identity.v1.CitizenRegistered",
        "egov.identity.v1.CivilServantRegistered",
        "egov.payments.v1.PaymentSettled",
        "egov.postal.v1.ShipmentDelivered",
        "egov.postal.v1.ShipmentDeliveryFailed",    # the result goes back to the desk (awaiting pickup)
    )),
    Subscription("payments", (
        "egov.procedures.v1.DossierSubmitted",
        "egov.procedures.v1.DossierRejected",
    )),
    Subscription("postal", (
        "egov.procedures.v1.DossierResultIssued",
    )),
    Subscription("notifications", (
        "egov.identity.v1.CitizenRegistered",
        "egov.identity.v1.CitizenAccountRecovered",
        "egov.procedures.v1.DossierSubmitted",
        "egov.procedures.v1.DossierAccepted",
        "egov.procedures.v1.DossierSupplementRequested",
        "egov.procedures.v1.DossierRejected",
        "egov.procedures.v1.DossierResultIssued",
        "egov.procedures.v1.DossierCompleted",
        "egov.procedures.v1.DossierTransferred",
        "egov.procedures.v1.DossierApologyIssued",
        "egov.procedures.v1.DossierReturnedToDesk",
        "egov.payments.v1.BillIssued",
        "egov.payments.v1.PaymentSettled",
        "egov.payments.v1.PaymentRefunded",
        "egov.postal.v1.ShipmentCreated",
        "egov.postal.v1.ShipmentDelivered",
    )),
    Subscription("supervision", (                   # the Decision 766 index, a read model
        "egov.procedures.v1.DossierSubmitted",
        "egov.procedures.v1.DossierAccepted",
        "egov.procedures.v1.DossierSupplementRequested",
        "egov.procedures.v1.DossierSupplementProvided",
        "egov.procedures.v1.DossierRejected",
        "egov.procedures.v1.DossierResultIssued",
        "egov.procedures.v1.DossierCompleted",
        "egov.procedures.v1.DossierTransferred",
        "egov.procedures.v1.DossierOverdue",
        "egov.procedures.v1.DossierApologyIssued",
        "egov.procedures.v1.DossierExtended",
        "egov.procedures.v1.DossierReturnedToDesk",
        "egov.payments.v1.PaymentSettled",
    )),
)


def subscription(service: str) -> Subscription:
    for sub in SUBSCRIPTIONS:
        if sub.service == service:
            return sub
    raise KeyError(f"no subscription for service {service!r}")


def queue_arguments(sub: Subscription) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": sub.service,
    }
