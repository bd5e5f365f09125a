"""The platform's principals: one MongoDB user and one RabbitMQ user per component, each with only the
rights that component's code uses. Compose creates them (deploy/docker/database_users.py, and
`python -m deploy.rabbitmq.definitions users`), the prod overlay declares the same MongoDB users
(k8s/overlays/prod/mongodb.yaml) and docs/DEVOPS.md the same broker permissions; tests/deploy keeps
all of them equal to this table.

MongoDB: each component reads and writes its own database only (`readWrite` on egov_<component>);
the gateway's database (member registry, grants, message log) is reachable by the gateway alone.

RabbitMQ permissions are three regular expressions over resource names (configure: declare/delete,
write: publish/bind to, read: consume/bind from). A service may (re)declare the shared exchanges, its
own queues and its RPC queue, publish events and park its own dead letters, and consume only its own
queues; it cannot read another service's queue or the archive stream, and it publishes only its own
package's event types (topic permissions on egov.events). The archive reads the stream
and the dead-letter queues and publishes to the default exchange (egov-events replay and redrive run
in its pod). The gateway is an RPC client, and publishes its message log's anchors (those two event
types only). The topology job's user (EGOV_AMQP_URI of compose's
init jobs) declares everything: it is the administrator.
"""

import re
from dataclasses import dataclass

# Every component that connects to MongoDB and RabbitMQ with a user of its own.
SERVICES = ("identity", "procedures", "payments", "postal", "notifications", "supervision")
COMPONENTS = (*SERVICES, "archive", "gateway")


@dataclass(frozen=True)
class BrokerPermissions:
    configure: str
    write: str
    read: str


def _alternatives(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$"


def broker_permissions(component: str) -> BrokerPermissions:
    if component not in COMPONENTS:
        raise KeyError(f"unknown component {component!r}")
    rpc_server = ("nameko-rpc", f"rpc-{re.escape(component)}")
    # nameko's RPC replies: the component's own reply queues, and those of its standalone clients
    # (the admin CLI run in its pod).
    replies = (rf"rpc\.reply-{re.escape(component)}-.*", r"rpc\.reply-standalone_rpc_client-.*")
    if component == "gateway":
        # An RPC client, and the publisher of its message log's anchors into the archive stream (the
        # only event types it may publish: broker_topic_permissions).
        names = ("nameko-rpc", *replies)
        return BrokerPermissions(_alternatives(*names), _alternatives(*names, r"egov\.events"), _alternatives(*names))
    if component == "archive":
        return BrokerPermissions(
            configure=_alternatives(*rpc_server, *replies),
            write=_alternatives(*rpc_server, *replies, r"amq\.default", r"egov\.events"),
            read=_alternatives(*rpc_server, *replies, r"egov\.events\.archive", r"egov\.[a-z]+\.events\.dlq"))
    own = (rf"egov\.{component}\.events", rf"egov\.{component}\.events\.dlq")
    exchanges = (r"egov\.events", r"egov\.dlx")
    return BrokerPermissions(
        configure=_alternatives(*exchanges, *rpc_server, *own, *replies),
        write=_alternatives(*exchanges, *rpc_server, *own, *replies),
        read=_alternatives(r"egov\.events", *rpc_server, *own, *replies))


def database(component: str) -> str:
    return f"egov_{component}"


def mongo_roles(component: str) -> list[dict[str, str]]:
    if component not in COMPONENTS:
        raise KeyError(f"unknown component {component!r}")
    return [{"role": "readWrite", "db": database(component)}]


def password_variable(component: str, system: str) -> str:
    """The compose env file's variable holding a component's password: system is MONGO or BROKER."""
    return f"EGOV_{component.upper()}_{system}_PASSWORD"


@dataclass(frozen=True)
class TopicPermission:
    """Which routing keys a user may publish to (write) or bind from (read) on a topic exchange."""

    exchange: str
    write: str
    read: str


EVENTS = "egov.events"
GATEWAY_EVENT_TYPES = (r"egov\.gateway\.v1\.MessageLogAnchored", r"egov\.gateway\.v1\.MessageLogArchived")


def broker_topic_permissions(component: str) -> list[TopicPermission]:
    """On the events exchange each service publishes only its own package's events
    (`egov.<service>.v1.*`) and the gateway only its anchors, so a compromised component cannot
    publish a PaymentSettled or a DossierApproved; the archive re-publishes any type (replay,
    redrive). Binding (read) is left to the queue permissions above."""
    if component not in COMPONENTS:
        raise KeyError(f"unknown component {component!r}")
    if component == "archive":
        return []
    if component == "gateway":
        return [TopicPermission(EVENTS, _alternatives(*GATEWAY_EVENT_TYPES), ".*")]
    return [TopicPermission(EVENTS, rf"^egov\.{re.escape(component)}\.v1\.[A-Za-z]+$", ".*")]
