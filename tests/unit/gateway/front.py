"""A real agency front (HAProxy with deploy/agency-front/haproxy.cfg) before an in-process gateway."""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local.agency_front import front_env, haproxy_command
from deploy.local.stack import free_port, wait_for_port
from gateway.config import TlsFiles


@contextmanager
def agency_front(workdir: Path, socket: str, tls: TlsFiles, max_message_bytes: int) -> Iterator[int]:
    """The front on a free port, forwarding to `socket` (whose gateway takes requests of at most
    `max_message_bytes`); yields its port."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gateway.pem").write_bytes(tls.certificate)
    (workdir / "gateway.key").write_bytes(tls.key)
    (workdir / "ca.pem").write_bytes(tls.client_ca)
    port = free_port()
    env = front_env({**os.environ, "EGOV_GATEWAY_TLS_CERT": str(workdir / "gateway.pem"),
                     "EGOV_GATEWAY_TLS_KEY": str(workdir / "gateway.key"),
                     "EGOV_GATEWAY_TLS_CLIENT_CA": str(workdir / "ca.pem"),
                     "EGOV_GATEWAY_AGENCY_ADDRESS": f"127.0.0.1:{port}", "EGOV_GATEWAY_AGENCY_SOCKET": socket,
                     "EGOV_GATEWAY_MAX_MESSAGE_BYTES": str(max_message_bytes)},
                    workdir / "front")
    with open(workdir / "front.log", "ab") as log:
        proc = subprocess.Popen(haproxy_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 10, proc, "agency front")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
