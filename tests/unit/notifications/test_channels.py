"""Which channels a citizen is reached by, and what each channel carries."""

from datetime import UTC, datetime

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.roles import Appointment, Role
from services.notifications.domain import notices
from services.notifications.domain.access import citizen_to_list
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import (
    Notification,
    email_message_id,
    gives_up,
    notification_id,
    retry_delay,
)

CITIZEN = "046095001234"


def contact(phone: str = "0905 123 456", email: str = "hung@example.vn", *chosen: Channel) -> Contact:
    return Contact.register(CITIZEN, "Trần Văn Hùng", phone, email, list(chosen))


def test_chosen_channels_in_order_without_duplicates() -> None:
    c = contact("0905123456", "hung@example.vn", Channel.SMS, Channel.EMAIL, Channel.SMS, Channel.PUSH)
    assert c.channels() == [Channel.SMS, Channel.EMAIL, Channel.PUSH]


def test_email_is_dropped_without_an_address() -> None:
    assert contact("0905123456", "", Channel.EMAIL, Channel.SMS).channels() == [Channel.SMS]
    assert contact("0905123456", "not-an-address", Channel.EMAIL).channels() == []


def test_sms_needs_a_valid_phone_and_goes_to_e164() -> None:
    c = contact("0905 123 456", "", Channel.SMS)
    assert c.address(Channel.SMS) == "+84905123456"
    assert contact("12345", "", Channel.SMS).channels() == []


def test_push_goes_to_the_citizens_devices() -> None:
    assert contact("", "", Channel.PUSH).address(Channel.PUSH) == CITIZEN


def test_nothing_chosen_means_nothing_sent() -> None:
    assert contact("0905123456", "hung@example.vn").channels() == []


def test_a_malformed_citizen_id_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        Contact.register("12345", "X", "", "", [Channel.SMS])


def test_each_channel_carries_the_notice_in_its_own_shape() -> None:
    c = contact("0905123456", "hung@example.vn", Channel.EMAIL, Channel.SMS, Channel.PUSH)
    notice = notices.dossier_accepted("H57-250310-0042", "Cấp phiếu lý lịch tư pháp", "2025-03-24")
    now = datetime.now(UTC)
    mail, sms, push = (Notification.compose(notice, c, ch, event_id="ev-1", event_type="t", now=now)
                       for ch in (Channel.EMAIL, Channel.SMS, Channel.PUSH))
    assert mail.recipient == "hung@example.vn" and mail.subject == notice.title
    assert mail.body.startswith("Kính gửi Ông/Bà Trần Văn Hùng,") and notice.text in mail.body
    assert sms.recipient == "+84905123456" and sms.subject == "" and sms.body == notice.text
    assert "Ngày hẹn trả kết quả: 24/03/2025" in sms.body  # Vietnamese kept whole, diacritics and all
    assert push.recipient == CITIZEN and push.subject == notice.title and push.body == notice.text


def test_notification_id_is_one_per_event_and_channel() -> None:
    assert notification_id("ev-1", Channel.SMS) == notification_id("ev-1", Channel.SMS)
    assert notification_id("ev-1", Channel.SMS) != notification_id("ev-1", Channel.EMAIL)
    assert notification_id("ev-1", Channel.SMS) != notification_id("ev-2", Channel.SMS)
    assert email_message_id(notification_id("ev-1", Channel.EMAIL)).startswith("<")


def test_retries_back_off_and_end() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == sorted(delays) and delays[0] == 10 and delays[-1] == 600
    assert not gives_up(9) and gives_up(10)


def test_citizens_list_their_own_and_civil_servants_name_the_citizen() -> None:
    citizen = Caller(CallerKind.CITIZEN, subject=CITIZEN)
    servant = Caller(CallerKind.CIVIL_SERVANT, subject="cb-1",
                     appointments=(Appointment("000.00.15.H57", Role.RECEIVER),))
    assert citizen_to_list(citizen, "").citizen_id == CITIZEN
    assert citizen_to_list(citizen, CITIZEN).citizen_id == CITIZEN
    with pytest.raises(PermissionDenied):
        citizen_to_list(citizen, "001095009999")
    assert citizen_to_list(servant, CITIZEN).citizen_id == CITIZEN
    with pytest.raises(InvalidArgument):
        citizen_to_list(servant, "")
    with pytest.raises(PermissionDenied):
        citizen_to_list(Caller(CallerKind.AGENCY, subject="VN/GOV/X/y"), CITIZEN)
