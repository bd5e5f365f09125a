"""RabbitMQ definitions, generated from services/common/topology.py so the broker and the code agree.

    python -m deploy.rabbitmq.definitions > deploy/rabbitmq/definitions.json
    python -m deploy.rabbitmq.definitions users --tags management --output /defs/users.json
    python -m deploy.rabbitmq.definitions boot --tags management --output /defs/boot.json

The first writes the topology a fresh broker imports at boot (tests/deploy checks the committed file
equals it). The second writes the broker user that EGOV_AMQP_URI names, with its password hashed as
RabbitMQ stores it: a node that imports definitions at boot creates no default user, and the
password must never be in the repository, so compose and the dev overlay write this file at start-up
from the same secret the services read. The third writes the one file a broker boots from
(rabbitmq.conf's definitions.local.path; RabbitMQ 3.10 reads a file, not a folder): the topology,
that administrator, and one user per component (deploy/users.py) with only the permissions its code
needs, each password from EGOV_<COMPONENT>_BROKER_PASSWORD.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from deploy.users import COMPONENTS, broker_permissions, broker_topic_permissions, password_variable
from services.common.topology import (
    ARCHIVE_ARGUMENTS,
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SUBSCRIPTIONS,
    queue_arguments,
)

VHOST = "/"
# Must equal what services.common.events.broker.declare_topology passes, or a service re-declaring
# its queue at start-up gets PRECONDITION_FAILED.
DEAD_LETTER_QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}


def _exchange(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "vhost": VHOST, "type": kind, "durable": True, "auto_delete": False,
            "internal": False, "arguments": {}}


def _queue(name: str, arguments: dict[str, object]) -> dict[str, Any]:
    return {"name": name, "vhost": VHOST, "durable": True, "auto_delete": False, "arguments": arguments}


def _binding(source: str, queue: str, routing_key: str) -> dict[str, Any]:
    return {"source": source, "vhost": VHOST, "destination": queue, "destination_type": "queue",
            "routing_key": routing_key, "arguments": {}}


def topology_definitions() -> dict[str, Any]:
    """Exchanges, queues and bindings exactly as declare_topology declares them."""
    queues = [_queue(ARCHIVE_STREAM, dict(ARCHIVE_ARGUMENTS))]
    bindings = [_binding(EVENTS_EXCHANGE, ARCHIVE_STREAM, "#")]
    for sub in SUBSCRIPTIONS:
        queues.append(_queue(sub.queue, queue_arguments(sub)))
        queues.append(_queue(sub.dead_letter_queue, dict(DEAD_LETTER_QUEUE_ARGUMENTS)))
        bindings.extend(_binding(EVENTS_EXCHANGE, sub.queue, event_type) for event_type in sub.event_types)
        bindings.append(_binding(DEAD_LETTER_EXCHANGE, sub.dead_letter_queue, sub.service))
    return {
        "vhosts": [{"name": VHOST}],
        "exchanges": [_exchange(EVENTS_EXCHANGE, "topic"), _exchange(DEAD_LETTER_EXCHANGE, "direct")],
        "queues": queues,
        "bindings": bindings,
    }


def rabbitmq_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + utf-8 password))."""
    salt = os.urandom(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError("a RabbitMQ password salt is 4 bytes")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def user_definitions(amqp_uri: str, tags: list[str]) -> dict[str, Any]:
    """The user and vhost permissions that an AMQP URI (amqp://user:password@host:port/vhost) needs."""
    parts = urllib.parse.urlsplit(amqp_uri)
    if parts.scheme not in ("amqp", "amqps") or not parts.username or not parts.password:
        raise ValueError("EGOV_AMQP_URI must look like amqp://user:password@host:5672/ with both a user and a password")
    user = urllib.parse.unquote(parts.username)
    vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else VHOST
    return {
        "users": [{"name": user, "password_hash": rabbitmq_password_hash(urllib.parse.unquote(parts.password)),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
    }


def service_user_definitions(passwords: dict[str, str], vhost: str = VHOST) -> dict[str, Any]:
    """One user per component with its own permissions (deploy/users.py); passwords by component."""
    users, permissions, topic_permissions = [], [], []
    for component in COMPONENTS:
        rights = broker_permissions(component)
        users.append({"name": component, "password_hash": rabbitmq_password_hash(passwords[component]),
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
        permissions.append({"user": component, "vhost": vhost, "configure": rights.configure, "write": rights.write,
                            "read": rights.read})
        topic_permissions += [{"user": component, "vhost": vhost, "exchange": t.exchange, "write": t.write,
                               "read": t.read} for t in broker_topic_permissions(component)]
    return {"users": users, "vhosts": [{"name": vhost}], "permissions": permissions,
            "topic_permissions": topic_permissions}


def boot_definitions(*users: dict[str, Any]) -> dict[str, Any]:
    """The topology and the given users' definitions in one document."""
    merged = topology_definitions()
    merged["users"], merged["permissions"], merged["topic_permissions"] = [], [], []
    for part in users:
        merged["users"] += part["users"]
        merged["permissions"] += part["permissions"]
        merged["topic_permissions"] += part.get("topic_permissions", [])
    return merged


def render(definitions: dict[str, Any]) -> str:
    return json.dumps(definitions, indent=2) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.rabbitmq.definitions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("topology", "users", "boot"), default="topology")
    parser.add_argument("--tags", default="", help="comma-separated user tags, e.g. management")
    parser.add_argument("--output", type=Path, help="write here (mode 0644) instead of standard output")
    args = parser.parse_args(argv)
    if args.what == "topology":
        text = render(topology_definitions())
    elif args.what == "boot":
        variables = {c: password_variable(c, "BROKER") for c in COMPONENTS}
        missing = [name for name in ("EGOV_AMQP_URI", *variables.values()) if not os.environ.get(name)]
        if missing:
            print(f"error: environment variable {missing[0]} is required", file=sys.stderr)
            return 2
        try:
            admin = user_definitions(os.environ["EGOV_AMQP_URI"], [tag for tag in args.tags.split(",") if tag])
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        text = render(boot_definitions(admin, service_user_definitions(
            {c: os.environ[name] for c, name in variables.items()})))
    else:
        uri = os.environ.get("EGOV_AMQP_URI", "")
        try:
            text = render(user_definitions(uri, [tag for tag in args.tags.split(",") if tag]))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        # Read by the RabbitMQ container's own user, not by the one that wrote it.
        args.output.chmod(0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
