"""Where third parties call in (the intermediary's and the postal operator's callbacks), a body over
the limit is refused 413 before it is read: a client that announces 100 MB and sends nothing gets
its answer at once, and the service keeps serving."""

import json
import socket
from collections.abc import Callable

import pytest

from deploy.local.stack import Stack
from services.common.runtime.web import CALLBACK_MAX_BYTES

ROUTES = {"payments": "/callbacks/paygate", "postal": "/callbacks/postal"}


def post(port: int, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str]:
    """A raw HTTP/1.1 POST: the status line and body of the answer (read within 10 s)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1].decode(errors="replace")


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(services=("payments", "postal"), gateway=False)


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_an_oversized_callback_is_refused_before_its_body_is_read(stack: Stack, service: str) -> None:
    port = {"payments": stack.ports.payments_http, "postal": stack.ports.postal_http}[service]
    path = ROUTES[service]
    json_type = {"Content-Type": "application/json"}

    # 100 MB announced, none of it sent: the answer comes without the service waiting for the body.
    status, body = post(port, path, {**json_type, "Content-Length": str(100 * 1024 * 1024)})
    assert status == 413, body
    assert json.loads(body) == {"error": f"body: more than {CALLBACK_MAX_BYTES} bytes"}

    # One byte over the limit, sent whole: refused the same way.
    over = b"x" * (CALLBACK_MAX_BYTES + 1)
    status, body = post(port, path, {**json_type, "Content-Length": str(len(over))}, over)
    assert status == 413, body

    # The service still serves: a body within the limit reaches the signature check.
    status, body = post(port, path, {**json_type, "Content-Length": "2"}, b"{}")
    assert status == 401, body
