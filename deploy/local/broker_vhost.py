"""A local stack's own RabbitMQ virtual host, so stacks never see each other's messages, and in it a
broker user per component with deploy/users.py's permissions, as in compose and Kubernetes (the stack
itself, tests and operator commands use the administrator's). RabbitMQ's users are node-wide, hence
the vhost prefix in their names."""

import contextlib
import json
import secrets
import subprocess
import urllib.parse

from deploy.users import COMPONENTS, broker_permissions, broker_topic_permissions


def rabbitmqctl(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60, input=stdin,
                   text=stdin is not None)


class BrokerVhost:
    def __init__(self, admin_uri: str, vhost: str) -> None:
        """`admin_uri`: the administrator's URI on this vhost."""
        self.admin_uri = admin_uri
        self.name = vhost
        self.users = {c: (f"{vhost}.{c}", secrets.token_hex(16)) for c in COMPONENTS}

    def create(self) -> None:
        """The vhost, the administrator's rights on it, and every component's user and permissions in
        one definitions import (one rabbitmqctl call)."""
        from deploy.rabbitmq.definitions import rabbitmq_password_hash

        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        users, permissions, topics = [], [], []
        for component, (user, password) in self.users.items():
            rights = broker_permissions(component)
            users.append({"name": user, "password_hash": rabbitmq_password_hash(password),
                          "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
            permissions.append({"user": user, "vhost": self.name, "configure": rights.configure,
                                "write": rights.write, "read": rights.read})
            topics += [{"user": user, "vhost": self.name, "exchange": t.exchange, "write": t.write, "read": t.read}
                       for t in broker_topic_permissions(component)]
        rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(
            {"users": users, "permissions": permissions, "topic_permissions": topics}))

    def delete(self) -> None:
        """The vhost and its users, as far as they exist."""
        with contextlib.suppress(subprocess.SubprocessError):
            rabbitmqctl("delete_vhost", self.name)
        names = ", ".join(f'<<"{user}">>' for user, _ in self.users.values())
        try:      # one call for all of them; one per user if this broker's internals differ
            rabbitmqctl("eval", f'[rabbit_auth_backend_internal:delete_user(U, <<"egov-stack">>) || U <- [{names}]].')
        except subprocess.SubprocessError:
            for user, _ in self.users.values():
                with contextlib.suppress(subprocess.SubprocessError):
                    rabbitmqctl("delete_user", user)

    def component_uri(self, component: str) -> str:
        """The component's own user on this vhost; the administrator's for any other name."""
        if component not in self.users:
            return self.admin_uri
        user, password = self.users[component]
        parsed = urllib.parse.urlsplit(self.admin_uri)
        netloc = f"{urllib.parse.quote(user, safe='')}:{password}@{parsed.hostname}:{parsed.port or 5672}"
        return parsed._replace(netloc=netloc).geturl()
