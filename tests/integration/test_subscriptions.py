"""Agency subscriptions (EventService/Subscribe) end to end: events published on the real broker,
archived by the real archive service, streamed by the real gateway process over mutual TLS to a
member subsystem managed with the real admin command."""

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from deploy.certs import file_name
from egov.gateway.v1 import events_pb2 as ev
from egov.gateway.v1 import events_pb2_grpc
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.procedures.v1.events_pb2 import DossierRef, DossierSubmitted
from gateway.event_types import grant_name
from services.common.events.envelope import event_type, new_event
from tests.integration.test_archive_replay import indexed, publish
from tests.integration.test_gateway_agencies import DESK, AgencyPlatform, start_agency_platform
from tests.support import eventually

SUBSCRIBE = "/egov.gateway.v1.EventService/Subscribe"
SUBMITTED = event_type(DossierSubmitted)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyPlatform]:
    running = start_agency_platform(tmp_path_factory.mktemp("subscriptions"), services=("archive",),
                                    EGOV_GATEWAY_SUBSCRIBE_POLL_SECONDS="0.1")
    try:
        running.admin("members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp tỉnh Thừa Thiên Huế")
        running.admin("subsystems", "add", DESK, "--channel", "counter")
        running.admin("certs", "register", DESK, str(running.certs / "agencies" / f"{file_name(DESK)}.pem"))
        running.admin("grants", "add", SUBSCRIBE, "--subsystem", DESK)
        running.admin("grants", "add", grant_name(SUBMITTED), "--subsystem", DESK)
        yield running
    finally:
        running.mongo.close()
        running.stack.stop()


def submitted(code: str) -> Any:
    dossier = DossierRef(code=code, procedure_code="1.001612", agency_code="000.00.15.H57")
    return new_event(DossierSubmitted(dossier=dossier, fee_vnd=200_000), source="/egov/procedures", subject=code,
                     correlation_id=code)


def settled(code: str) -> Any:
    return new_event(PaymentSettled(bill_id=f"BILL-{code}", dossier_code=code, amount_vnd=200_000),
                     source="/egov/payments", subject=code, correlation_id=code)


def events_stub(platform: AgencyPlatform) -> Any:
    return events_pb2_grpc.EventServiceStub(platform.channel(platform.client_cert(DESK)))


def test_an_agency_follows_granted_events_from_the_archive_resumes_and_is_cut_off_on_revocation(
        platform: AgencyPlatform) -> None:
    codes = [f"000.00.15.H57-261127-{n:04d}" for n in range(1, 4)]
    archived = [submitted(codes[0]), settled(codes[0]), submitted(codes[1]), submitted(codes[2])]
    publish(platform.stack, archived)
    indexed(platform.stack, archived)

    # From the start of the archive: the granted type only, in archive order.
    stream = events_stub(platform).Subscribe(ev.SubscribeRequest(start=ev.START_POSITION_EARLIEST), timeout=30)
    first, second = next(stream).event, next(stream).event
    assert [first.subject, second.subject] == codes[:2]
    assert first.id == archived[0].id and first.data == archived[0].data
    stream.cancel()                                   # the agency's connection breaks

    # Resumed after the last event it received: the rest, nothing twice; then new events as they come.
    resumed = events_stub(platform).Subscribe(ev.SubscribeRequest(after_event_id=second.id), timeout=30)
    assert next(resumed).event.id == archived[3].id
    later = [settled(codes[2]), submitted("000.00.15.H57-261127-0004")]
    publish(platform.stack, later)
    assert next(resumed).event.id == later[1].id

    # A grant revoked at run time ends the open stream, and the refusal is in the message log.
    platform.admin("grants", "revoke", grant_name(SUBMITTED), "--subsystem", DESK)
    with pytest.raises(grpc.RpcError) as ended:
        next(resumed)
    assert ended.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ended.value.details() == f"access right: {DESK} no longer has a grant of event:{SUBMITTED}"
    with pytest.raises(grpc.RpcError) as refused:
        next(events_stub(platform).Subscribe(ev.SubscribeRequest(types=[SUBMITTED]), timeout=30))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    log = platform.mongo["egov_gateway"]["message_log"]
    records = eventually(lambda: (rows := list(log.find({"method": SUBSCRIBE}).sort("seq", 1))) and
                         len(rows) >= 3 and rows, "the subscriptions' message log records")
    assert [(r["client"], r["status"]) for r in records[-2:]] == [(DESK, "PERMISSION_DENIED"),
                                                                 (DESK, "PERMISSION_DENIED")]
    assert records[-2]["note"] == "2 message(s) streamed"
    platform.admin("grants", "add", grant_name(SUBMITTED), "--subsystem", DESK)    # as the module found it


def test_resuming_after_an_event_the_agency_may_not_see_is_not_found(platform: AgencyPlatform) -> None:
    hidden = settled("000.00.15.H57-261127-0009")
    publish(platform.stack, [hidden])
    indexed(platform.stack, [hidden])
    with pytest.raises(grpc.RpcError) as refused:
        next(events_stub(platform).Subscribe(ev.SubscribeRequest(after_event_id=hidden.id), timeout=30))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert refused.value.details().startswith("after_event_id: no archived event")


def test_the_admin_command_offers_event_types_and_refuses_what_is_not_one(platform: AgencyPlatform) -> None:
    grantable = platform.admin("grants", "methods").split()
    assert SUBSCRIBE in grantable and grant_name(SUBMITTED) in grantable
    assert "/egov.gateway.v1.MetadataService/ListClients" not in grantable      # open to every member
    refused = platform.admin("grants", "add", "event:egov.procedures.v1.DossierRef", "--subsystem", DESK, expect=1)
    assert "method: event:egov.procedures.v1.DossierRef is not a method agency systems may call" in refused
