"""A RabbitMQ node of our own, for tests that stop or restart the broker.

The shared node on 5672 is never touched: this one has its own node name, AMQP and distribution
ports, data and log directories, no plugins and its own Erlang cookie (HOME points at its
directory), so `rabbitmqctl -n <node>` can only ever reach this node.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from deploy.local.stack import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tool(name: str) -> str:
    """The real script, not Debian's /usr/sbin wrapper (which switches to the rabbitmq user and
    its cookie when run as root)."""
    path = RABBITMQ_BIN / name
    return str(path) if path.exists() else name


class PrivateBroker:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.node = f"egov-test-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in [k for k in env if k.startswith("RABBITMQ_")]:
            del env[key]
        env.update({
            "HOME": str(self.workdir),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "rabbitmq-env.conf"),
        })
        return env

    def start(self, timeout: float = 60) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "enabled_plugins").write_text("[].\n")
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen([_tool("rabbitmq-server")], env=self.env(), cwd=self.workdir,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"private RabbitMQ exited with {self.process.returncode}; "
                                   f"see {self.workdir / 'server.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"private RabbitMQ did not listen on {self.port} within {timeout:.0f} s")
            time.sleep(0.1)

    def ctl(self, *args: str) -> str:
        done = subprocess.run([_tool("rabbitmqctl"), "-n", self.node, "-q", *args], env=self.env(),
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.ctl("stop")
            except subprocess.SubprocessError:
                self.process.kill()
            self.process.wait(timeout=60)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
