"""The compose stack under test, brought up and down with the Makefile's own targets (`make up`,
`make down`), under a project name and host ports of its own so it never meets a developer's stack.

It talks to the stack only as an operator would: the published ports on 127.0.0.1, `docker compose
exec/logs/ps`, and `docker cp` of the test CA and the demo agencies' certificates out of the `certs`
volume (through the exited register-outbound container, which mounts it).
"""

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import grpc

from deploy.certs import file_name
from deploy.local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_BIN = "/usr/local/lib/docker/cli-plugins/docker-compose"
PORTS = ("GATEWAY", "AGENCY", "DASHBOARD", "BROKER_UI", "MAILBOX", "PAYGATE", "JAEGER", "POPULATION_SMS")


class ComposeStack:
    def __init__(self) -> None:
        self.project = f"egov-test-{uuid.uuid4().hex[:8]}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.project}-"))
        self.env_file = self.workdir / "compose.env"
        self.ports = {name: free_port() for name in PORTS}
        self.environment = {**os.environ, "COMPOSE_PROJECT_NAME": self.project,
                            **{f"EGOV_COMPOSE_{name}_PORT": str(port) for name, port in self.ports.items()}}
        self.up_seconds = 0.0
        self.first_call_seconds = 0.0
        self.left_by_interrupted_up = 0

    # -- lifecycle, through the Makefile -------------------------------------------------------------
    def up(self) -> str:
        started = time.monotonic()
        done = subprocess.run(["make", "--no-print-directory", "up", f"COMPOSE_ENV={self.env_file}"], cwd=ROOT,
                              env=self.environment, capture_output=True, text=True, timeout=1500)
        self.up_seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        (self.workdir / "make-up.log").write_text(output)
        if done.returncode != 0:
            logs = self.compose("logs", "--no-color", "--tail", "40", check=False).stdout
            (self.workdir / "logs.txt").write_text(logs)
            raise AssertionError(f"make up failed ({done.returncode}):\n{output[-3000:]}\n{self.ps()}\n"
                                 f"last log lines: {self.workdir / 'logs.txt'}\n{logs[-6000:]}")
        return output

    def interrupted_up(self, timeout: float = 1500) -> int:
        """`make up` stopped with Ctrl-C (SIGINT to its process group) as soon as its first container
        exists, as a developer would; how many containers it left behind for the next `make up`."""
        log = self.workdir / "make-up-interrupted.log"
        with log.open("w") as out:
            process = subprocess.Popen(["make", "--no-print-directory", "up", f"COMPOSE_ENV={self.env_file}"],
                                       cwd=ROOT, env=self.environment, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while not self.leftovers()["containers"]:
                assert process.poll() is None, \
                    f"make up ended ({process.returncode}) before creating any container:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "make up created no container in time"
                time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=120)
        self.left_by_interrupted_up = len(self.leftovers()["containers"])
        return self.left_by_interrupted_up

    def down(self) -> str:
        done = subprocess.run(["make", "--no-print-directory", "down", f"COMPOSE_ENV={self.env_file}"], cwd=ROOT,
                              env=self.environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, argv in (("containers", ["docker", "ps", "--all", "--quiet"]),
                           ("networks", ["docker", "network", "ls", "--quiet"]),
                           ("volumes", ["docker", "volume", "ls", "--quiet"])):
            listed = subprocess.run([*argv, "--filter", label], capture_output=True, text=True, check=True)
            found[kind] = listed.stdout.split()
        return found

    # -- what an operator runs -------------------------------------------------------------------------
    def compose(self, *argv: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [COMPOSE_BIN, "--env-file", str(self.env_file), "-f", "docker-compose.yml",
                   "-f", "deploy/docker/compose.standin.yml", *argv]
        done = subprocess.run(command, cwd=ROOT, env=self.environment, input=stdin, capture_output=True,
                              timeout=300)
        result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                             done.stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def exec(self, service: str, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *argv, stdin=stdin)

    def operator_command(self, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """An operator command run in a service's container, signed with the operators' private key,
        which no container holds: the operator hands it to the command on its standard input."""
        key = (self.certs() / "operator.key").read_bytes()
        return self.compose("exec", "-T", "-e", "EGOV_OPERATOR_KEY_FILE=/dev/stdin", service, *argv, stdin=key)

    def ps(self) -> str:
        return self.compose("ps", "--all", check=False).stdout

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service).stdout

    def container_id(self, service: str) -> str:
        return self.compose("ps", "--all", "--quiet", service).stdout.strip()

    def inspect(self, container: str, template: str) -> str:
        return subprocess.run(["docker", "inspect", "--format", template, container], capture_output=True,
                              text=True, check=True).stdout.strip()

    def exit_codes(self, service: str) -> list[int]:
        """The exit codes the service's container reported when it stopped, from its events in the log."""
        container = self.container_id(service)
        events = subprocess.run(["docker", "events", "--since", "30m", "--until", "0s", "--format", "{{json .}}",
                                 "--filter", f"container={container}", "--filter", "event=die"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        return [int(json.loads(line)["Actor"]["Attributes"]["exitCode"]) for line in events]

    # -- reaching it from the host ---------------------------------------------------------------------
    def address(self, port: str) -> str:
        return f"127.0.0.1:{self.ports[port.upper()]}"

    def url(self, port: str) -> str:
        return f"http://{self.address(port)}"

    def certs(self) -> Path:
        target = self.workdir / "certs"
        if not target.exists():
            container = self.container_id("register-outbound")
            subprocess.run(["docker", "cp", f"{container}:/etc/egov/certs", str(target)], check=True,
                           capture_output=True)
        return target

    def ca_certificate(self) -> bytes:
        return (self.certs() / "ca.pem").read_bytes()

    def certificate_files(self, subsystem: str) -> tuple[Path, Path]:
        folder = self.certs() / "agencies"
        return folder / f"{file_name(subsystem)}.pem", folder / f"{file_name(subsystem)}.key"

    def gateway_channel(self) -> grpc.Channel:
        return grpc.secure_channel(self.address("gateway"), grpc.ssl_channel_credentials(self.ca_certificate()))
