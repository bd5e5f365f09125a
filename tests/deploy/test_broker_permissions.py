"""Each component's broker user (deploy/users.py) can do what its code does and nothing of the
others': checked on the real broker, in a vhost of the test's own, with users made from the same
boot definitions compose and the dev overlay import (python -m deploy.rabbitmq.definitions boot)."""

import json
import secrets
import uuid
from collections.abc import Iterator

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue

from deploy.rabbitmq.definitions import boot_definitions, service_user_definitions, user_definitions
from deploy.users import COMPONENTS
from services.common.events.broker import declare_topology, declare_topology_where_allowed
from services.common.topology import ARCHIVE_STREAM, EVENTS_EXCHANGE
from tests.deploy.test_rabbitmq_definitions import _rabbitmqctl, _wait_for_queues


@pytest.fixture(scope="module")
def broker() -> Iterator[dict[str, str]]:
    """A vhost with the topology and every component's user; the URI of each, by component."""
    vhost, prefix = f"egov-perms-{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:6]}-"
    passwords = {c: secrets.token_hex(8) for c in COMPONENTS}
    admin_password = secrets.token_hex(8)
    defs = boot_definitions(user_definitions(f"amqp://{prefix}admin:{admin_password}@h:5672/{vhost}", []),
                            service_user_definitions(passwords, vhost))
    for user in defs["users"]:
        user["name"] = user["name"] if user["name"].startswith(prefix) else prefix + user["name"]
    for permission in [*defs["permissions"], *defs["topic_permissions"]]:
        if not permission["user"].startswith(prefix):
            permission["user"] = prefix + permission["user"]
        permission["vhost"] = vhost
    for section in ("queues", "exchanges", "bindings"):
        for item in defs[section]:
            item["vhost"] = vhost
    defs["vhosts"] = [{"name": vhost}]
    _rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(defs))
    _wait_for_queues(vhost, {queue["name"] for queue in defs["queues"]})
    uris = {c: f"amqp://{prefix}{c}:{passwords[c]}@127.0.0.1:5672/{vhost}" for c in COMPONENTS}
    uris["admin"] = f"amqp://{prefix}admin:{admin_password}@127.0.0.1:5672/{vhost}"
    yield uris
    _rabbitmqctl("delete_vhost", vhost, check=False)
    for user in defs["users"]:
        _rabbitmqctl("delete_user", user["name"], check=False)


def _consume_once(uri: str, queue: str, arguments: dict[str, object] | None = None) -> None:
    with Connection(uri) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 1, False)
        channel.basic_consume(queue, callback=lambda message: None, arguments=arguments)
        channel.close()


def _publish(uri: str, exchange: str, routing_key: str) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        producer.publish(b"{}", exchange=Exchange(exchange, type="topic", passive=True), routing_key=routing_key,
                         declare=[], retry=False)


def test_a_service_consumes_its_own_queue_and_publishes_events(broker: dict[str, str]) -> None:
    _consume_once(broker["payments"], "egov.payments.events")
    _publish(broker["payments"], EVENTS_EXCHANGE, "egov.payments.v1.PaymentSettled")
    # and re-declares its own queue with its bindings at start-up, as its consumer does
    with Connection(broker["payments"]) as connection:
        Queue("egov.payments.events", exchange=Exchange(EVENTS_EXCHANGE, type="topic"),
              routing_key="egov.procedures.v1.DossierSubmitted", durable=True,
              queue_arguments={"x-queue-type": "quorum", "x-delivery-limit": 5, "x-dead-letter-exchange": "egov.dlx",
                               "x-dead-letter-routing-key": "payments"})(connection.channel()).declare()


@pytest.mark.parametrize(("component", "queue"), [("payments", "egov.identity.events"),
                                                  ("notifications", "egov.payments.events.dlq"),
                                                  ("gateway", "egov.procedures.events"),
                                                  ("identity", ARCHIVE_STREAM)])
def test_no_component_reads_another_s_queue(broker: dict[str, str], component: str, queue: str) -> None:
    with pytest.raises(AccessRefused):
        _consume_once(broker[component], queue, {"x-stream-offset": "first"} if queue == ARCHIVE_STREAM else None)


def test_the_gateway_publishes_its_anchors_and_no_other_event(broker: dict[str, str]) -> None:
    _publish(broker["gateway"], EVENTS_EXCHANGE, "egov.gateway.v1.MessageLogAnchored")
    with pytest.raises(AccessRefused):
        _publish(broker["gateway"], EVENTS_EXCHANGE, "egov.payments.v1.PaymentSettled")


@pytest.mark.parametrize(("component", "routing_key"), [("procedures", "egov.payments.v1.PaymentSettled"),
                                                        ("postal", "egov.procedures.v1.DossierCompleted"),
                                                        ("identity", "egov.gateway.v1.MessageLogAnchored")])
def test_a_service_publishes_only_its_own_events(broker: dict[str, str], component: str, routing_key: str) -> None:
    with pytest.raises(AccessRefused):
        _publish(broker[component], EVENTS_EXCHANGE, routing_key)


def test_the_archive_reads_the_stream_and_the_dead_letters(broker: dict[str, str]) -> None:
    _consume_once(broker["archive"], ARCHIVE_STREAM, {"x-stream-offset": "first"})
    _consume_once(broker["archive"], "egov.procedures.events.dlq")


def test_only_the_administrator_declares_the_whole_topology(broker: dict[str, str]) -> None:
    declare_topology(broker["admin"])
    for component in COMPONENTS:
        assert declare_topology_where_allowed(broker[component]) is False, component
