"""Ports for the processes of a local stack, and waiting until one listens."""

import random
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_handed_out: set[int] = set()


def _ephemeral_ports() -> range:
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port from bind(0) is an ephemeral one,
    which any outgoing connection may take before the server that was given it binds it."""
    ephemeral = _ephemeral_ports()
    for _ in range(1000):
        port = random.randrange(10000, 65536)
        if port in _handed_out or port in ephemeral:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{name or 'server'} did not listen on port {port} within {timeout:.0f} s")


@dataclass
class Ports:
    mongo: int = field(default_factory=free_port)
    gateway: int = field(default_factory=free_port)
    agency: int = field(default_factory=free_port)          # the agency front (mutual TLS)
    payments_http: int = field(default_factory=free_port)
    postal_http: int = field(default_factory=free_port)
    gateway_outbound: int = field(default_factory=free_port)
    population: int = field(default_factory=free_port)
    business_registry: int = field(default_factory=free_port)
    paygate: int = field(default_factory=free_port)
    postal_operator: int = field(default_factory=free_port)
    sms: int = field(default_factory=free_port)
    push: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)
    mailbox_http: int = field(default_factory=free_port)
    dashboard: int = field(default_factory=free_port)      # the supervisors' dashboard (HTTP)
