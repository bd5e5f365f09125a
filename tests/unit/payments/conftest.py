"""The payments handler tests' fixtures: the in-memory store (services/payments/fakes.py) and the
intermediary simulator (simulators/paygate.py) served in-process, with our callback endpoint."""

import threading
from collections.abc import Iterator

import pytest

from services.common.memory_store import InMemoryStore
from services.payments.adapters.paygate import PaygateClient
from services.payments.fakes import in_memory_store
from simulators.paygate import PaygateServer
from simulators.paygate_books import Paygate
from tests.unit.payments.factories import SECRET, Notices, serve


@pytest.fixture
def intermediary() -> Iterator[tuple[PaygateClient, Paygate, Notices]]:
    stopping = threading.Event()
    books = Paygate(SECRET, stopping, callback_attempts=1)
    server, notices = PaygateServer(("127.0.0.1", 0), books), Notices()
    serve(server)
    serve(notices)
    client = PaygateClient(f"http://127.0.0.1:{server.server_address[1]}",
                           f"http://127.0.0.1:{notices.server_address[1]}/callbacks/paygate", "HUEGOV", SECRET)
    try:
        yield client, books, notices
    finally:
        stopping.set()
        for s in (server, notices):
            s.shutdown()
            s.server_close()


@pytest.fixture
def paygate(intermediary: tuple[PaygateClient, Paygate, Notices]) -> PaygateClient:
    return intermediary[0]


@pytest.fixture
def store() -> InMemoryStore:
    return in_memory_store()
