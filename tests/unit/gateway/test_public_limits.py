"""Issue 12 item 6, the gateway's side: limits per address and per account on the public port, a
worker pool of its own for agency calls, and refusals aggregated in the message log. The gateway
in-process behind a real agency front, with an in-memory bus, registry and log store."""

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.config import GatewayConfig, TlsFiles
from gateway.limits import address_key
from gateway.message_log_store import InMemoryLogStore
from gateway.message_log_verify import verify
from gateway.refusals import REFUSALS, RefusalPolicy
from gateway.registry_cache import FixedRegistry
from gateway.server import Gateway, build_gateway
from services.common.caller import Caller, CallerKind
from tests.unit.gateway.front import agency_front
from tests.unit.gateway.test_agencies import CA, DESK_CERT, SERVER, rights
from tests.unit.gateway.test_server import PUBLIC_KEY, InMemoryBus, bearer, code_of

REQUEST = pp.GetProcedureRequest(procedure_code="1.001612")
SLOW = 1e-6          # calls/s: a bucket that does not refill during a test


class PublicHeldBus(InMemoryBus):
    """Holds every call but agencies' until released."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Semaphore(0)
        self.release = threading.Event()

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        if kwargs["caller"]["kind"] != "CALLER_KIND_AGENCY":
            self.held.release()
            self.release.wait(timeout)
        return super().call(service, method, kwargs, timeout, context_data)


class Running:
    def __init__(self, gateway: Gateway, bus: PublicHeldBus, log: InMemoryLogStore, front_port: int) -> None:
        self.gateway, self.bus, self.log, self.front_port = gateway, bus, log, front_port

    def procedures(self, agency: bool = False) -> Any:
        if agency:
            credentials = grpc.ssl_channel_credentials(CA.certificate_pem, DESK_CERT.key_pem,
                                                       DESK_CERT.certificate_pem)
            return procedures_pb2_grpc.ProcedureServiceStub(
                grpc.secure_channel(f"127.0.0.1:{self.front_port}", credentials))
        credentials = grpc.ssl_channel_credentials(CA.certificate_pem)
        return procedures_pb2_grpc.ProcedureServiceStub(
            grpc.secure_channel(f"127.0.0.1:{self.gateway.port}", credentials))


CONFIG = GatewayConfig(
    address="127.0.0.1:0", workers=2, agency_workers=4, max_subscriptions=2, max_message_bytes=64 * 1024,
    default_deadline=10, max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=PUBLIC_KEY,
    tls=TlsFiles(SERVER.certificate_pem, SERVER.key_pem, CA.certificate_pem), seal_every_records=1000)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Starts the gateway and its front with `settings` over CONFIG."""
    with ExitStack() as stack:
        def starting(**settings: Any) -> Running:
            bus, log = PublicHeldBus(), InMemoryLogStore()
            bus.release.set()
            config = replace(CONFIG, agency_socket=str(tmp_path / "agency.sock"), **settings)
            gateway = build_gateway(config, bus, registry_source=FixedRegistry(rights()), log_store=log)
            gateway.start()
            stack.callback(gateway.stop, 0)
            stack.callback(bus.release.set)
            assert config.tls is not None
            port = stack.enter_context(agency_front(tmp_path, config.agency_socket, config.tls,
                                                    config.max_message_bytes))
            return Running(gateway, bus, log, port)

        yield starting


def test_agency_calls_are_served_while_the_public_port_is_saturated(start: Callable[..., Running]) -> None:
    running = start()
    running.bus.release.clear()
    public = running.procedures()
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(public.GetProcedure, REQUEST, timeout=20) for _ in range(2)]
        for _ in held:
            assert running.bus.held.acquire(timeout=5)          # both public workers busy
        assert code_of(public.GetProcedure, REQUEST, timeout=5)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED  # full...
        reply = running.procedures(agency=True).GetProcedure(REQUEST, timeout=5)
        assert reply.procedure.code == "1.001612"               # ...and agencies are still served
        running.bus.release.set()
        assert all(f.result(timeout=10).procedure.code == "1.001612" for f in held)


def test_an_anonymous_address_over_its_rate_is_refused_and_counted_apart_from_accounts(
        start: Callable[..., Running]) -> None:
    running = start(address_rate=SLOW, address_burst=3)
    public = running.procedures()
    for _ in range(3):
        public.GetProcedure(REQUEST, timeout=5)
    code, details = code_of(public.GetProcedure, REQUEST, timeout=5)
    assert (code, details) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "this address: over its rate of 1e-06 calls/s")
    # The same address with a citizen's token is limited per account instead; agencies per member.
    public.GetProcedure(REQUEST, metadata=bearer(), timeout=5)
    running.procedures(agency=True).GetProcedure(REQUEST, timeout=5)


def test_an_account_over_its_rate_is_refused_and_another_account_is_not(start: Callable[..., Running]) -> None:
    running = start(account_rate=SLOW, account_burst=2)
    public = running.procedures()
    first = bearer(Caller(CallerKind.CITIZEN, subject="046099001234"))
    for _ in range(2):
        public.GetProcedure(REQUEST, metadata=first, timeout=5)
    code, details = code_of(public.GetProcedure, REQUEST, metadata=first, timeout=5)
    assert (code, details) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "this account: over its rate of 1e-06 calls/s")
    public.GetProcedure(REQUEST, metadata=bearer(Caller(CallerKind.CITIZEN, subject="046099005678")), timeout=5)
    # An account's limit follows the account, not its token: a fresh token does not reset it.
    again = bearer(Caller(CallerKind.CITIZEN, subject="046099001234"), ttl=timedelta(minutes=9))
    assert code_of(public.GetProcedure, REQUEST, metadata=again, timeout=5)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_flood_of_refusals_is_a_few_records_and_a_count(start: Callable[..., Running]) -> None:
    running = start(refusals=RefusalPolicy(each_per_window=3, window_seconds=3600))
    public = running.procedures()
    servant_only = pp.AcceptDossierRequest(code="000.00.15.H57-260101-0001")
    for _ in range(50):
        assert code_of(public.AcceptDossier, servant_only, timeout=5)[0] == grpc.StatusCode.UNAUTHENTICATED
    public.GetProcedure(REQUEST, timeout=5)          # an exchange that reached a service: recorded as ever
    running.gateway.stop(0)                          # the window's count is written before the log stops
    rows = running.log.rows
    refused = [r for r in rows if r["kind"] == "exchange" and r["status"] == "UNAUTHENTICATED"]
    [summary] = [r for r in rows if r["kind"] == REFUSALS]
    assert len(refused) == 3
    assert (summary["count"], summary["status"], summary["client"], summary["method"]) == (
        47, "UNAUTHENTICATED", "anonymous", "/egov.procedures.v1.ProcedureService/AcceptDossier")
    assert summary["note"].startswith("authorization:") and summary["first_at"] <= summary["last_at"]
    assert any(r["kind"] == "exchange" and r["status"] == "OK" for r in rows)
    verdict = verify(running.log.records(running.gateway.message_log.chain),
                     [running.gateway.message_log._sealer.public_raw])
    assert verdict.intact and verdict.unsealed == 0


@pytest.mark.parametrize("peer, key", [
    ("ipv4:203.0.113.7:51234", "203.0.113.7"),
    ("ipv6:[2001:db8:1:2:a:b:c:d]:443", "2001:db8:1:2::/64"),
    ("ipv6:[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),     # the same subscriber's /64
    ("unix:/run/egov/agency/gateway.sock", "unix:/run/egov/agency/gateway.sock"),
])
def test_addresses_are_limited_by_ipv4_address_or_ipv6_network(peer: str, key: str) -> None:
    assert address_key(peer) == key


def test_the_limiter_forgets_idle_keys_so_a_flood_of_addresses_cannot_grow_it() -> None:
    from gateway import limits
    limiter = limits.Limiter(limits.EffectiveLimits(1e9, 1, 1))
    for n in range(limits.PRUNE_ABOVE_KEYS + 10):
        with limiter.admit(f"198.51.100.{n}"):
            pass
    with limiter.admit("203.0.113.1"):
        pass
    assert len(limiter) < limits.PRUNE_ABOVE_KEYS


def test_the_anonymous_status_lookup_is_limited_per_address_like_every_anonymous_call(
        start: Callable[..., Running]) -> None:
    """LookupDossierStatus (anonymous: a dossier code and four identity digits) is the public port's
    guessing target; its per-code lockout is procedures', and the gateway's per-address bucket is shared
    with every other anonymous call, so an address cannot spread its guesses over methods."""
    running = start(address_rate=SLOW, address_burst=3)
    running.bus.reply = {"status": "DOSSIER_STATUS_SUBMITTED", "due_date": "2026-12-31"}
    public = running.procedures()
    lookup = pp.LookupDossierStatusRequest(code="000.00.15.H57-261127-0001", id_last4="1234")
    for _ in range(2):
        assert public.LookupDossierStatus(lookup, timeout=5).status == pp.DOSSIER_STATUS_SUBMITTED
    running.bus.reply = {"procedure": {"code": "1.001612"}}
    public.GetProcedure(REQUEST, timeout=5)                 # the third call of the address's burst
    code, details = code_of(public.LookupDossierStatus, lookup, timeout=5)
    assert (code, details) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "this address: over its rate of 1e-06 calls/s")
    lookups = [s for s in running.bus.sent if s.method == "lookup_dossier_status"]
    assert len(lookups) == 2                                # the refused lookup never reached procedures
