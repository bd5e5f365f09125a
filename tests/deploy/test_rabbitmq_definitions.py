"""deploy/rabbitmq/definitions.json is what services/common/topology.py declares, and a real broker
that imported it accepts the services' own declarations unchanged."""

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.rabbitmq.definitions import (
    rabbitmq_password_hash,
    render,
    topology_definitions,
    user_definitions,
)
from services.common.events.broker import declare_topology

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"


def test_committed_definitions_equal_the_topology_in_code() -> None:
    assert DEFINITIONS.read_text() == render(topology_definitions()), (
        "deploy/rabbitmq/definitions.json is stale: run "
        "`python -m deploy.rabbitmq.definitions > deploy/rabbitmq/definitions.json`")


def test_dev_overlay_loads_the_same_rabbitmq_files() -> None:
    # kustomize may only read files under k8s/, so the dev overlay keeps copies.
    copies = ROOT / "k8s" / "overlays" / "dev" / "rabbitmq"
    for name in ("rabbitmq.conf", "enabled_plugins"):
        assert (copies / name).read_text() == (ROOT / "deploy" / "rabbitmq" / name).read_text(), name


def test_password_hash_is_rabbitmqs_sha256_scheme() -> None:
    # The guest/guest hash from RabbitMQ's own documentation: same salt, same password, same hash.
    documented = "9/1i+jKFRpbTRV1PtRnzFFYibT3cEpP92JeZ8YKGtflf4e/u"
    salt = base64.b64decode(documented)[:4]
    assert rabbitmq_password_hash("guest", salt) == documented
    assert rabbitmq_password_hash("guest") != rabbitmq_password_hash("guest")  # fresh salt each time


def test_user_definitions_come_from_the_amqp_uri() -> None:
    defs = user_definitions("amqp://egov:p%40ss%2Fword@rabbitmq:5672/egov%2Fprod", ["management"])
    (user,) = defs["users"]
    assert user["name"] == "egov" and user["tags"] == ["management"]
    salt = base64.b64decode(user["password_hash"])[:4]
    assert user["password_hash"] == rabbitmq_password_hash("p@ss/word", salt)
    assert defs["permissions"] == [{"user": "egov", "vhost": "egov/prod", "configure": ".*", "write": ".*",
                                    "read": ".*"}]
    assert user_definitions("amqp://a:b@h:5672/", [])["vhosts"] == [{"name": "/"}]


@pytest.mark.parametrize("uri", ["", "amqp://rabbitmq:5672/", "amqp://egov@rabbitmq:5672/", "http://a:b@h/"])
def test_user_definitions_refuse_a_uri_without_credentials(uri: str) -> None:
    with pytest.raises(ValueError, match="EGOV_AMQP_URI"):
        user_definitions(uri, [])


# -- against the real broker ------------------------------------------------------------------------

def _rabbitmqctl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is not on PATH: run deploy/local/ensure-rabbitmq.sh")
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60,
                          input=stdin)
    if check and done.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


@pytest.fixture
def vhosts() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for vhost in made:
        _rabbitmqctl("delete_vhost", vhost, check=False)


def _new_vhost(made: list[str]) -> str:
    vhost = f"egov-deploy-{uuid.uuid4().hex[:8]}"
    made.append(vhost)
    return vhost


def _uri(vhost: str) -> str:
    base = os.environ.get("EGOV_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    return base.rsplit("/", 1)[0] + "/" + vhost


def _state(vhost: str) -> dict[str, Any]:
    """What the broker holds in a vhost, without argument types (the wire types differ between a
    JSON import and a client declaration; the broker's own equivalence check covers them)."""
    def args(raw: list[list[Any]]) -> dict[str, Any]:
        return {key: value for key, _type, value in raw}

    queues = json.loads(_rabbitmqctl("list_queues", "-p", vhost, "name", "durable", "auto_delete", "arguments",
                                     "--formatter", "json"))
    exchanges = json.loads(_rabbitmqctl("list_exchanges", "-p", vhost, "name", "type", "durable", "auto_delete",
                                        "internal", "--formatter", "json"))
    bindings = json.loads(_rabbitmqctl("list_bindings", "-p", vhost, "source_name", "destination_name",
                                       "destination_kind", "routing_key", "--formatter", "json"))
    return {
        "queues": sorted((q["name"], q["durable"], q["auto_delete"], sorted(args(q["arguments"]).items()))
                         for q in queues),
        "exchanges": sorted((e["name"], e["type"], e["durable"], e["auto_delete"], e["internal"])
                            for e in exchanges if e["name"].startswith("egov.")),
        # The default exchange binds every queue by its name; kombu also binds a queue declared with an
        # exchange under the empty key, which routes nothing (events go out under their type).
        "bindings": sorted((b["source_name"], b["destination_name"], b["destination_kind"], b["routing_key"])
                           for b in bindings if b["source_name"] and b["routing_key"]),
    }


def _wait_for_queues(vhost: str, names: set[str], timeout: float = 30) -> None:
    """rabbitmqctl import_definitions returns before the import has finished."""
    deadline = time.monotonic() + timeout
    while True:
        listed = _rabbitmqctl("list_queues", "-p", vhost, "name", "--formatter", "json", check=False)
        if listed.strip() and names <= {queue["name"] for queue in json.loads(listed)}:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the definitions import into {vhost} did not finish within {timeout:.0f} s")
        time.sleep(0.1)


def test_broker_that_imported_the_definitions_holds_what_the_services_declare(vhosts: list[str]) -> None:
    imported, declared = _new_vhost(vhosts), _new_vhost(vhosts)
    text = DEFINITIONS.read_text().replace('"vhost": "/"', f'"vhost": "{imported}"')
    defs = json.loads(text)
    defs["vhosts"] = [{"name": imported}]
    # Through standard input: rabbitmqctl may run as the rabbitmq user, who cannot read pytest's tmp_path.
    _rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(defs))
    _wait_for_queues(imported, {queue["name"] for queue in defs["queues"]})
    _rabbitmqctl("add_vhost", declared)
    user = os.environ.get("EGOV_AMQP_URI", "amqp://guest:guest@").split("//", 1)[1].split(":", 1)[0]
    for vhost in (imported, declared):
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")

    declare_topology(_uri(declared))
    assert _state(imported) == _state(declared)
    # Every service re-declares the topology at start-up: on the imported broker that must not fail
    # with PRECONDITION_FAILED (different arguments) nor change anything.
    declare_topology(_uri(imported))
    assert _state(imported) == _state(declared)
