"""Issue 12 item 8 in the local stack (what `make run` and the tests start): each component connects
to the shared broker as a user of its own, in the stack's vhost, with deploy/users.py's permissions
(the users go when the stack stops), and to SecantusDB, which runs with authentication, as a user
with readWrite on its own database only. Before, every process was `guest` with every right on the
broker, and anyone on the machine read and wrote every database without logging in."""

import subprocess
from pathlib import Path

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from deploy.local.stack import Stack
from services.common.topology import ARCHIVE_STREAM, EVENTS_EXCHANGE, subscription
from tests.support import eventually


def _connected_users(vhost: str) -> set[str]:
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "user", "vhost"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return {line.split("\t")[0] for line in out.splitlines() if line.endswith(f"\t{vhost}")}


def _node_users() -> set[str]:
    out = subprocess.run(["rabbitmqctl", "-q", "list_users"], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return {line.split("\t")[0] for line in out.splitlines()}


def test_each_component_connects_as_its_own_user_with_only_its_rights(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.start(services=("payments", "postal"), gateway=False)
    try:
        users = {f"{stack.vhost}.payments", f"{stack.vhost}.postal"}
        eventually(lambda: users <= _connected_users(stack.vhost), "payments and postal connected as themselves")
        payments = stack.component_amqp_uri("payments")
        assert payments.startswith(f"amqp://{stack.vhost}.payments:")
        for queue in (subscription("postal").queue, ARCHIVE_STREAM):          # another's queue, the stream
            with Connection(payments) as connection, pytest.raises(AccessRefused):
                channel = connection.channel()
                channel.basic_consume(queue, callback=lambda message: None,
                                      arguments={"x-stream-offset": "first"} if queue == ARCHIVE_STREAM else None)
        with Connection(payments, transport_options={"confirm_publish": True}) as connection, \
                pytest.raises(AccessRefused):                                  # another service's event
            connection.Producer().publish(b"{}", exchange=Exchange(EVENTS_EXCHANGE, type="topic", passive=True),
                                          routing_key="egov.procedures.v1.DossierApproved", declare=[], retry=False)
        _each_component_reads_and_writes_only_its_own_database(stack)
    finally:
        stack.stop()
    assert not {user for user in _node_users() if user.startswith(f"{stack.vhost}.")}, "users left on the broker"


def _each_component_reads_and_writes_only_its_own_database(stack: Stack) -> None:
    assert stack.service_env("payments")["EGOV_MONGO_URI"] == stack.component_mongo_uri("payments")
    payments: MongoClient = MongoClient(stack.component_mongo_uri("payments"))  # type: ignore[type-arg]
    anyone: MongoClient = MongoClient(f"mongodb://127.0.0.1:{stack.ports.mongo}/?directConnection=true")  # type: ignore[type-arg]
    try:
        assert payments["egov_payments"]["outbox"].count_documents({}) >= 0
        payments["egov_payments"]["probe"].insert_one({"_id": "written by payments"})
        for denied in (lambda: payments["egov_identity"]["citizens"].find_one(),
                       lambda: payments["egov_gateway"]["message_log"].insert_one({"forged": True}),
                       lambda: anyone["egov_payments"]["outbox"].find_one()):
            with pytest.raises(OperationFailure) as refused:
                denied()
            assert refused.value.code == 13                                   # Unauthorized
    finally:
        payments.close()
        anyone.close()


def test_separate_databases_put_each_component_on_a_server_of_its_own(tmp_path: Path) -> None:
    """`Stack(separate_databases=True)` (the bench's `--separate-databases`): procedures writes to
    its own server, where its user exists, and nothing of it reaches the stack's main server."""
    stack = Stack(tmp_path, separate_databases=True)
    stack.start(services=("procedures",), gateway=False)
    try:
        running = {name for name, proc in stack.processes.items() if proc.poll() is None}
        assert {"mongo", "mongo-procedures", "mongo-payments", "mongo-gateway"} <= running
        own = stack.database_uri("procedures")
        assert own != stack.mongo_uri and stack.database_server("procedures") == "mongo-procedures"
        assert stack.service_env("procedures")["EGOV_MONGO_URI"] == stack.component_mongo_uri("procedures")
        with MongoClient(own) as server, MongoClient(stack.mongo_uri) as main, \
                MongoClient(stack.component_mongo_uri("procedures")) as procedures:
            assert server["egov_procedures"]["catalogue_procedures"].count_documents({}) > 0   # the import
            eventually(lambda: "outbox" in server["egov_procedures"].list_collection_names(),
                       "procedures' own collections on its server")
            assert "egov_procedures" not in main.list_database_names()
            procedures["egov_procedures"]["probe"].insert_one({"_id": "written by procedures"})
            assert server["egov_procedures"]["probe"].count_documents({}) == 1
        assert set(stack.mongo_uris()) >= {stack.mongo_uri, own, stack.database_uri("archive")}
    finally:
        stack.stop()
