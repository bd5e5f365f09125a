"""EventService/Subscribe in-process: a real gateway with mutual TLS, a registry and message log in
memory, and an in-memory archive answering the `archive` service's feed RPCs. The same stream
against the real archive service is in tests/integration/test_subscriptions.py.

Over 300 lines: one stream's behaviours (grants, resumption, rechecked rights, ends) on one gateway setup."""

import base64
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egov.gateway.v1 import events_pb2 as ev
from egov.gateway.v1 import events_pb2_grpc
from egov.gateway.v1 import metadata_pb2 as md
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.procedures.v1.events_pb2 import DossierCompleted, DossierRef, DossierSubmitted
from gateway.config import GatewayConfig, TlsFiles
from gateway.event_types import event_types, grant_name, readable_types
from gateway.members import Grant, Registry, check_method_name
from gateway.message_log_store import InMemoryLogStore
from gateway.registry_cache import FixedRegistry
from gateway.rpc_client import RemoteError
from gateway.server import Gateway, build_gateway
from gateway.subscriptions import SUBSCRIBE
from services.archive.domain.query import FeedPage
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.events.envelope import encode, event_type, new_event
from tests.support import eventually
from tests.unit.gateway.front import agency_front
from tests.unit.gateway.test_agencies import CA, DESK, DESK_CERT, SERVER, rights
from tests.unit.gateway.test_server import PUBLIC_KEY, InMemoryBus

SUBMITTED, COMPLETED, SETTLED = event_type(DossierSubmitted), event_type(DossierCompleted), event_type(PaymentSettled)
GRANTS = (Grant.for_subsystem(DESK, SUBSCRIBE), Grant.for_subsystem(DESK, grant_name(SUBMITTED)),
          Grant.for_subsystem(DESK, grant_name(COMPLETED)))


# -- the rules, no server ------------------------------------------------------------------------------
def test_event_types_are_the_messages_marked_as_events() -> None:
    assert {SUBMITTED, COMPLETED, SETTLED} <= event_types()
    assert DossierRef.DESCRIPTOR.full_name not in event_types()     # a part of events, not an event
    assert check_method_name(grant_name(SUBMITTED)) == f"event:{SUBMITTED}"


def test_a_subscription_reads_the_granted_types_it_asks_for_or_all_granted() -> None:
    grants = frozenset({SUBSCRIBE, grant_name(SUBMITTED), grant_name(COMPLETED)})
    assert readable_types([], grants) == (COMPLETED, SUBMITTED)
    assert readable_types([COMPLETED], grants) == (COMPLETED,)
    with pytest.raises(PermissionDenied) as refused:
        readable_types([COMPLETED, SETTLED], grants)
    assert (refused.value.field, str(refused.value)) == ("types[1]", f"types[1]: no grant of event:{SETTLED}")
    with pytest.raises(InvalidArgument) as invalid:
        readable_types(["egov.procedures.v1.DossierRef"], grants)
    assert invalid.value.field == "types[0]"
    with pytest.raises(PermissionDenied) as none:
        readable_types([], frozenset({SUBSCRIBE}))
    assert none.value.field == "types"


def test_a_feed_page_moves_past_everything_examined_unless_it_was_full() -> None:
    page = FeedPage((SUBMITTED,), after=10, limit=3)
    assert page.as_filter(through=50) == {"offset": {"$gt": 10, "$lte": 50}, "type": {"$in": [SUBMITTED]}}
    assert page.next_after([12, 40], through=50) == 50       # nothing else of these types up to 50
    assert page.next_after([12, 13, 14], through=50) == 14   # full: more may follow 14
    assert page.next_after([], through=5) == 10               # never backwards
    with pytest.raises(InvalidArgument):
        FeedPage((), after=-1)


# -- the stream through a real gateway ----------------------------------------------------------------
class ArchiveBus(InMemoryBus):
    """Answers the archive's feed RPCs from a list, in stream order, as services/archive does."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, Any]] = []
        self.lock = threading.Lock()

    def append(self, *payloads: Any) -> list[str]:
        with self.lock:
            first = len(self.log)
            events = [new_event(p, source="/egov/procedures", subject=f"D-{first + i}", correlation_id=f"D-{first + i}")
                      for i, p in enumerate(payloads)]
            self.log.extend((first + i, e) for i, e in enumerate(events))
        return [e.id for e in events]

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        assert service == "archive"
        with self.lock:
            log, through = list(self.log), len(self.log) - 1
        if method == "feed_start":
            if kwargs["after_event_id"]:
                found = [o for o, e in log if e.id == kwargs["after_event_id"]]
                if not found:     # as the archive service answers an id it does not have
                    raise RemoteError("NotFound", f"after_event_id: no archived event {kwargs['after_event_id']!r}")
                return {"after": found[0]}
            return {"after": -1 if kwargs["earliest"] else through}
        page = FeedPage(tuple(kwargs["types"]), kwargs["after"], kwargs["correlation_id"], kwargs["limit"])
        found = [(o, e) for o, e in log if page.after < o <= through and e.type in page.types][:page.limit]
        return {"events": [base64.b64encode(encode(e)).decode() for _, e in found],
                "after": page.next_after([o for o, _ in found], through)}


@dataclass
class Running:
    gateway: Gateway
    archive: ArchiveBus
    registry: FixedRegistry
    log: InMemoryLogStore
    front_port: int

    def desk_channel(self) -> grpc.Channel:
        return grpc.secure_channel(f"127.0.0.1:{self.front_port}", grpc.ssl_channel_credentials(
            CA.certificate_pem, DESK_CERT.key_pem, DESK_CERT.certificate_pem))

    def events(self) -> Any:
        return events_pb2_grpc.EventServiceStub(self.desk_channel())

    def change(self, registry: Registry) -> None:
        self.registry.registry = registry
        assert self.gateway.registry.refresh()

    def records(self, count: int) -> list[dict[str, Any]]:
        """The stream's message log records, once `count` are written (after the answer)."""
        def written() -> list[dict[str, Any]] | None:
            rows = [r for r in self.log.rows if r["kind"] == "exchange" and r["method"] == SUBSCRIBE]
            return rows if len(rows) >= count else None
        return eventually(written, f"{count} message log records")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    archive, registry, log = ArchiveBus(), FixedRegistry(rights(grants=GRANTS)), InMemoryLogStore()
    config = GatewayConfig(
        address="127.0.0.1:0", agency_socket=str(tmp_path / "agency.sock"), workers=8, max_message_bytes=64 * 1024,
        default_deadline=10, max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=PUBLIC_KEY,
        tls=TlsFiles(SERVER.certificate_pem, SERVER.key_pem, CA.certificate_pem),
        max_subscriptions=2, subscribe_poll_seconds=0.05)
    gateway = build_gateway(config, archive, registry_source=registry, log_store=log)
    gateway.start()
    assert config.tls is not None
    try:
        with agency_front(tmp_path, config.agency_socket, config.tls, config.max_message_bytes) as front_port:
            yield Running(gateway, archive, registry, log, front_port)
    finally:
        gateway.stop(0)


def dossier(code: str) -> DossierRef:
    return DossierRef(code=code, procedure_code="1.001612")


def test_a_subscription_streams_only_granted_types_then_resumes_after_the_last_event(running: Running) -> None:
    submitted, settled, completed = running.archive.append(
        DossierSubmitted(dossier=dossier("A")), PaymentSettled(dossier_code="A"),
        DossierCompleted(dossier=dossier("A")))
    stream = running.events().Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=10)
    first = next(stream).event
    assert (first.id, first.type) == (submitted, SUBMITTED)
    stream.cancel()                               # the connection breaks after one event
    resumed = running.events().Subscribe(ev.SubscribeRequest(after_event_id=first.id), timeout=10)
    assert next(resumed).event.id == completed    # the payment is not granted: never seen
    [later] = running.archive.append(DossierSubmitted(dossier=dossier("B")))
    assert next(resumed).event.id == later        # followed as it is archived
    resumed.cancel()
    assert settled not in {first.id, completed, later}
    # Each stream is one message log record, written when it ends: here both abandoned by the client.
    # (What was sent, which may be more than the client read before it went.)
    records = running.records(2)
    assert [r["status"] for r in records] == ["CANCELLED", "CANCELLED"]
    assert all(r["note"].endswith("message(s) streamed") and r["response_bytes"] > 0 for r in records)


def test_refusals_name_the_field_and_are_logged(running: Running) -> None:
    running.archive.append(DossierSubmitted(dossier=dossier("A")))
    cases = [
        (ev.SubscribeRequest(types=[SETTLED]), grpc.StatusCode.PERMISSION_DENIED,
         f"types[0]: no grant of event:{SETTLED}"),
        (ev.SubscribeRequest(types=["egov.procedures.v1.Nothing"]), grpc.StatusCode.INVALID_ARGUMENT, "types[0]: "),
        (ev.SubscribeRequest(after_event_id=str(uuid.uuid4()), start=ev.START_POSITION_EARLIEST),
         grpc.StatusCode.INVALID_ARGUMENT, "start: give after_event_id or start, not both"),
    ]
    for request, code, details in cases:
        with pytest.raises(grpc.RpcError) as refused:
            list(running.events().Subscribe(request, timeout=10))
        assert refused.value.code() == code and refused.value.details().startswith(details)
    running.change(rights(version=2, grants=GRANTS[1:]))     # no grant of Subscribe itself
    with pytest.raises(grpc.RpcError) as refused:
        list(running.events().Subscribe(ev.SubscribeRequest(), timeout=10))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == f"access right: {DESK} has no grant of {SUBSCRIBE}"
    assert running.archive.sent == []      # nothing refused reached the archive
    assert [r["status"] for r in running.records(4)] == [
        "PERMISSION_DENIED", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "PERMISSION_DENIED"]


def test_a_grant_revoked_while_streaming_ends_the_stream(running: Running) -> None:
    first, _ = running.archive.append(DossierSubmitted(dossier=dossier("A")), DossierSubmitted(dossier=dossier("B")))
    stream = running.events().Subscribe(ev.SubscribeRequest(types=[SUBMITTED], start=ev.START_POSITION_EARLIEST),
                                        timeout=10)
    assert [next(stream).event.id, next(stream).event.id][0] == first
    running.change(rights(version=2, grants=(GRANTS[0], GRANTS[2])))     # DossierSubmitted revoked
    with pytest.raises(grpc.RpcError) as ended:
        next(stream)
    assert ended.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ended.value.details() == f"access right: {DESK} no longer has a grant of event:{SUBMITTED}"
    [record] = running.records(1)
    assert (record["status"], record["note"]) == ("PERMISSION_DENIED", "2 message(s) streamed")
    assert record["response_digest"] and record["response_bytes"] > 0


def test_maintenance_ends_open_streams_unavailable_and_the_cap_refuses_more(running: Running) -> None:
    running.archive.append(DossierSubmitted(dossier=dossier("A")))
    open_streams = [running.events().Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=10)
                    for _ in range(2)]
    for stream in open_streams:
        next(stream)
    with pytest.raises(grpc.RpcError) as refused:
        list(running.events().Subscribe(ev.SubscribeRequest(), timeout=10))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    running.change(rights(version=2, grants=GRANTS, maintenance=True))
    for stream in open_streams:
        with pytest.raises(grpc.RpcError) as ended:
            next(stream)
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_stopping_gateway_ends_open_streams_so_the_agency_resumes_elsewhere(running: Running) -> None:
    running.archive.append(DossierSubmitted(dossier=dossier("A")))
    stream = running.events().Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=30)
    next(stream)
    stopping = threading.Thread(target=running.gateway.stop, args=(10,))
    stopping.start()
    with pytest.raises(grpc.RpcError) as ended:
        next(stream)
    stopping.join()
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE        # not cut off by the grace period
    assert ended.value.details().startswith("gateway is draining")


def test_allowed_methods_lists_the_granted_event_types(running: Running) -> None:
    from egov.gateway.v1 import metadata_pb2_grpc
    channel = running.desk_channel()
    allowed = metadata_pb2_grpc.MetadataServiceStub(channel).AllowedMethods(md.AllowedMethodsRequest(), timeout=10)
    assert SUBSCRIBE in [m.full_name for m in allowed.methods]
    assert list(allowed.event_types) == [COMPLETED, SUBMITTED]


# -- bad input: never UNKNOWN or INTERNAL, the gateway still serving ------------------------------------
NEVER = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
type_names = st.sampled_from([SUBMITTED, SETTLED, "egov.procedures.v1.DossierRef", "", "x" * 65]) | st.text(max_size=80)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.builds(lambda types, after, start, corr: ev.SubscribeRequest(
        types=types, after_event_id=after, start=start, correlation_id=corr).SerializeToString(),
        st.lists(type_names, max_size=70), st.text(max_size=80), st.integers(0, 2**31 - 1), st.text(max_size=80)),
    st.binary(max_size=300),
))
def test_malformed_subscriptions_get_a_status_a_client_can_act_on(running: Running, body: bytes) -> None:
    channel = running.desk_channel()
    stream = channel.unary_stream(SUBSCRIBE)(body, timeout=0.5)
    try:
        for _ in stream:
            pass
    except grpc.RpcError as exc:
        assert exc.code() not in NEVER, f"{exc.code()}: {exc.details()}"
    finally:
        channel.close()


def test_one_member_cannot_take_every_stream(tmp_path: Path) -> None:
    """Issue 12 item 11: the cap is per member as well as per gateway."""
    from deploy.certs import issue
    from gateway.auth import certificate_fingerprint
    from gateway.members import Certificate, Member, Subsystem, SubsystemId

    other = SubsystemId.parse("VN/GOV/000.00.31.H57/records")
    other_cert = issue(CA, str(other))
    base = rights(grants=(*GRANTS, Grant.for_subsystem(other, SUBSCRIBE),
                          Grant.for_subsystem(other, grant_name(SUBMITTED))))
    registry = Registry.build(
        version=1, members=[*base.members.values(), Member(other.member, "UBND thành phố Huế")],
        subsystems=[*base.subsystems.values(), Subsystem(other)],
        certificates=[*base.certificates.values(), Certificate(certificate_fingerprint(other_cert.certificate_pem),
                                                               other, "CN=records", "2030-01-01")],
        groups={}, grants=base.grants, maintenance=False)
    archive, log = ArchiveBus(), InMemoryLogStore()
    archive.append(DossierSubmitted(dossier=dossier("A")))
    config = GatewayConfig(
        address="127.0.0.1:0", agency_socket=str(tmp_path / "agency.sock"), workers=8, max_message_bytes=64 * 1024,
        default_deadline=10, max_deadline=30, grace=0.1, amqp_uri="unused", token_public_key=PUBLIC_KEY,
        tls=TlsFiles(SERVER.certificate_pem, SERVER.key_pem, CA.certificate_pem),
        max_subscriptions=3, member_subscriptions=2, subscribe_poll_seconds=0.05)
    gateway = build_gateway(config, archive, registry_source=FixedRegistry(registry), log_store=log)
    gateway.start()
    assert config.tls is not None
    try:
        with agency_front(tmp_path, config.agency_socket, config.tls, config.max_message_bytes) as port:
            running = Running(gateway, archive, FixedRegistry(registry), log, port)
            desk = [running.events().Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=10)
                    for _ in range(2)]
            for stream in desk:
                next(stream)
            with pytest.raises(grpc.RpcError) as refused:
                next(running.events().Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=10))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert refused.value.details() == (f"member {DESK.member} already has 2 subscription(s) open on this "
                                               "gateway, its limit; close one or retry later")
            channel = grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(
                CA.certificate_pem, other_cert.key_pem, other_cert.certificate_pem))
            theirs = events_pb2_grpc.EventServiceStub(channel).Subscribe(
                ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=10)
            assert next(theirs).event.type == SUBMITTED          # another member still gets its stream
            for stream in (*desk, theirs):
                stream.cancel()
    finally:
        gateway.stop(0)
