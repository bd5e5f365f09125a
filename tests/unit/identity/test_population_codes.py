"""The population database simulator delivers one-time codes to the contacts it holds: by SMS through
the SMS gateway's HTTP protocol, else by e-mail over SMTP; never for a person who does not match."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from aiosmtpd.controller import Controller

from deploy.local.stack import free_port
from egov.population.v1 import population_pb2 as pb
from egov.population.v1 import population_pb2_grpc as pb_grpc
from simulators.http_inbox import Inbox, make_gateway
from simulators.mailbox import Mailbox, SmtpHandler
from simulators.population import DEFAULT_DATA, build_server, load_residents
from simulators.population_codes import CodeCourier
from simulators.sms import check_phone
from tests.support import eventually

AN = {"citizen_id": "046090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-14"}
CUONG = {"citizen_id": "046201004567", "full_name": "Lê Hoàng Cường", "birth_date": "2001-03-20"}
NO_CONTACT = "046064596705"


@dataclass
class Registry:
    stub: pb_grpc.PopulationRegistryStub
    sms: Inbox
    mailbox: Mailbox

    def verify(self, code: str = "", **person: Any) -> pb.VerifyCitizenResponse:
        return self.stub.VerifyCitizen(pb.VerifyCitizenRequest(
            one_time_code=code, code_purpose=pb.CODE_PURPOSE_REGISTRATION, **person), timeout=5)


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    import threading

    sms_inbox, mailbox = Inbox(), Mailbox()
    sms = make_gateway("127.0.0.1", 0, sms_inbox, check_phone, "sms")
    threading.Thread(target=sms.serve_forever, daemon=True).start()
    smtp_port = free_port()
    smtp = Controller(SmtpHandler(mailbox), hostname="127.0.0.1", port=smtp_port, enable_SMTPUTF8=True)
    smtp.start()
    courier = CodeCourier(f"http://127.0.0.1:{sms.server_address[1]}", "127.0.0.1", smtp_port)
    server = build_server(load_residents(DEFAULT_DATA), courier)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield Registry(pb_grpc.PopulationRegistryStub(channel), sms_inbox, mailbox)
    channel.close()
    server.stop(0).wait()
    courier.close()
    smtp.stop()
    sms.shutdown()


def test_a_code_for_a_match_goes_by_sms_to_the_phone_on_file(registry: Registry) -> None:
    answer = registry.verify("482913", **AN)
    assert (answer.result, answer.code_delivery) == (pb.VERIFICATION_RESULT_MATCH, pb.CODE_DELIVERY_SMS)
    texts = eventually(lambda: [m["text"] for m in registry.sms.messages("+84905000001") if "482913" in m["text"]],
                       "the SMS with the code")
    assert "đăng ký tài khoản" in texts[0]


def test_without_a_phone_the_code_goes_by_e_mail(registry: Registry) -> None:
    answer = registry.verify("730155", **CUONG)
    assert answer.code_delivery == pb.CODE_DELIVERY_EMAIL
    mails = eventually(lambda: [m for m in registry.mailbox.messages("cuong.lehoang@thu.example.vn")
                                if "730155" in m["body"]], "the e-mail with the code")
    assert "dancu.example.vn" in mails[0]["from"]


def test_no_code_leaves_for_a_person_who_does_not_match(registry: Registry) -> None:
    wrong_name = registry.verify("111222", **{**AN, "full_name": "Nguyễn Văn Ân"})
    unknown = registry.verify("333444", **{**AN, "citizen_id": "046090000000"})
    assert (wrong_name.result, wrong_name.code_delivery) == (pb.VERIFICATION_RESULT_MISMATCH,
                                                             pb.CODE_DELIVERY_UNSPECIFIED)
    assert unknown.code_delivery == pb.CODE_DELIVERY_UNSPECIFIED
    registry.verify("555666", **AN)   # a later delivery proves the queue ran past the refused ones
    eventually(lambda: any("555666" in m["text"] for m in registry.sms.messages()), "the later code")
    delivered = " ".join(m["text"] for m in registry.sms.messages()) + " ".join(
        m["body"] for m in registry.mailbox.messages())
    assert "111222" not in delivered and "333444" not in delivered


def test_a_resident_without_any_contact_gets_nothing_and_says_so(registry: Registry) -> None:
    from simulators.population import load_residents as residents

    person = residents(DEFAULT_DATA)[NO_CONTACT]
    answer = registry.verify("909090", citizen_id=person.citizen_id, full_name=person.full_name,
                             birth_date=person.birth_date)
    assert (answer.result, answer.code_delivery) == (pb.VERIFICATION_RESULT_MATCH, pb.CODE_DELIVERY_NO_CONTACT)


def test_a_malformed_code_is_refused_for_everyone_alike(registry: Registry) -> None:
    for person in (AN, {**AN, "citizen_id": "046090000000"}):
        with pytest.raises(grpc.RpcError) as refused:
            registry.verify("12ab", **person)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "one_time_code" in (refused.value.details() or "")
