"""The local stack's SecantusDB servers: which server holds each component's database, their ports,
users and URIs, and the users' provisioning on a new data directory.

SecantusDB runs with authentication (--auth, SCRAM-SHA-256): a root user for the stack, tests and
operator commands, and one user per component with readWrite on its own database only
(deploy/users.py), as compose's stand-in and Kubernetes' MongoDB. Passwords are kept with the data
(mongo-users.json, 0600), so a restarted stack on the same directory logs in again.

One server (`mongo`) is the default. `separate=True` gives each component's database a server of its
own (`mongo-<component>`), as production may give each its own MongoDB; `mongo` keeps the rest (tests'
and the bench's scratch databases).
"""

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.local.ports import free_port, wait_for_port
from deploy.users import COMPONENTS

MAIN = "mongo"
BIN = Path(sys.executable).parent


class DatabaseServers:
    def __init__(self, workdir: Path, main_port: int, separate: bool = False) -> None:
        self.workdir = workdir
        self.separate = separate
        self._ports = {MAIN: main_port}
        self.passwords = self._passwords()

    def names(self) -> list[str]:
        """Every server, `mongo` first."""
        return [MAIN, *(self.server_of(c) for c in self._owners())]

    def server_of(self, component: str) -> str:
        """The server holding the component's database: `mongo` or `mongo-<component>`."""
        return f"{MAIN}-{component}" if component in self._owners() else MAIN

    def port_of(self, server: str) -> int:
        if server not in self._ports:
            self._ports[server] = free_port()
        return self._ports[server]

    def root_uri(self, component: str = "") -> str:
        """As root, on the server holding the component's database (the main one without a component)."""
        return self._uri("root", self.server_of(component) if component else MAIN)

    def root_uris(self) -> list[str]:
        """As root, on every server (what a meter reading server counters needs)."""
        return [self._uri("root", server) for server in self.names()]

    def user_uri(self, component: str) -> str:
        """As the component's own user on its server; as root on the main server for any other name."""
        if component not in self.passwords or component == "root":
            return self.root_uri()
        return self._uri(component, self.server_of(component))

    def argv(self, server: str, auth: bool = True) -> list[str]:
        argv = [str(BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(self.port_of(server)),
                "--storage-path", str(self.workdir / server), "--log-level", "WARNING"]
        return [*argv, "--auth"] if auth else argv

    def provision_users(self, database_name: Callable[[str], str]) -> None:
        """SecantusDB makes users only while it runs without --auth: the first start on a data directory
        runs it once without, on loopback, to create them (as deploy/docker/mongodb_standin.py does).
        Every server gets the root user; a component's user is made on the server of its database,
        with readWrite on `database_name(component)`."""
        pending = [s for s in self.names() if not (self.workdir / s / ".egov-users").exists()]
        if not pending:
            return
        from pymongo import MongoClient

        processes = {}
        for server in pending:                  # side by side: each takes seconds to open its store
            (self.workdir / server).mkdir(parents=True, exist_ok=True)
            processes[server] = subprocess.Popen(self.argv(server, auth=False), stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL)
        try:
            for server, process in processes.items():
                wait_for_port(self.port_of(server), 60, process, f"{server} (provisioning users)")
                client: MongoClient[dict[str, Any]] = MongoClient(
                    f"mongodb://127.0.0.1:{self.port_of(server)}/?directConnection=true",
                    serverSelectionTimeoutMS=10000)
                try:
                    client.admin.command("createUser", "root", pwd=self.passwords["root"],
                                         roles=[{"role": "root", "db": "admin"}])
                    for component in COMPONENTS:
                        if self.server_of(component) == server:
                            client.admin.command("createUser", component, pwd=self.passwords[component],
                                                 roles=[{"role": "readWrite", "db": database_name(component)}])
                finally:
                    client.close()
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                process.wait(timeout=60)
        descriptor = os.open(self.workdir / "mongo-users.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as stored:          # never readable by others, not even briefly
            json.dump(self.passwords, stored)
        for server in pending:
            (self.workdir / server / ".egov-users").write_text("users created\n")

    def _owners(self) -> tuple[str, ...]:
        """The components whose database has a server of its own."""
        return COMPONENTS if self.separate else ()

    def _uri(self, user: str, server: str) -> str:
        # Retryable writes off for the local SecantusDB only: it scans its table of remembered writes
        # on every write and slows down as the table grows (measured in bench/). Production keeps them.
        return (f"mongodb://{user}:{self.passwords[user]}@127.0.0.1:{self.port_of(server)}/"
                "?directConnection=true&retryWrites=false&authSource=admin")

    def _passwords(self) -> dict[str, str]:
        stored = self.workdir / "mongo-users.json"
        if stored.exists():
            return dict(json.loads(stored.read_text()))
        return {name: secrets.token_hex(16) for name in ("root", *COMPONENTS)}
