"""One message to one citizen on one channel, caused by one event: its identity, its words per
channel and how its delivery is retried.

The notification ID is derived from (cause event ID, channel), so however often an event is
redelivered or a send is retried, the same notification carries the same ID: it is the unique
key of the record, the `client_ref` the SMS and push providers dedupe on, and the e-mail's
Message-ID.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notices import Notice

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://dichvucong.thuathienhue.gov.vn/notifications")
MAIL_DOMAIN = "thongbao.hue.gov.vn"
SENDER_NAME = "Trung tâm Phục vụ hành chính công tỉnh Thừa Thiên Huế"

# The worker that records a notification holds it, claimed as attempt 1, for this long and sends it
# right after commit; then the retry sweep may take it (so a worker that crashed before sending
# delays its notifications this long). Two provider timeouts: a first send in progress is not tried
# again beside it.
FIRST_SEND_LEASE = timedelta(seconds=20)
# How long a claimed send may take before another attempt is allowed (provider timeouts are shorter).
SEND_LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10


class Status(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


def notification_id(event_id: str, channel: Channel) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{event_id}/{channel.value}"))


def email_message_id(notification_id: str) -> str:
    return f"<{notification_id}@{MAIL_DOMAIN}>"


@dataclass(frozen=True)
class Notification:
    notification_id: str
    citizen_id: str
    channel: Channel
    recipient: str
    template: str
    dossier_code: str
    subject: str
    body: str
    event_id: str
    event_type: str
    created_at: datetime
    status: Status = Status.PENDING
    sent_at: datetime | None = None          # when the provider took it (status SENT)

    @classmethod
    def compose(cls, notice: Notice, contact: Contact, channel: Channel, *, event_id: str, event_type: str,
                now: datetime) -> "Notification":
        subject, body = words_for(notice, contact, channel)
        return cls(
            notification_id=notification_id(event_id, channel),
            citizen_id=contact.citizen_id,
            channel=channel,
            recipient=contact.address(channel),
            template=notice.template.value,
            dossier_code=notice.dossier_code,
            subject=subject,
            body=body,
            event_id=event_id,
            event_type=event_type,
            created_at=now,
        )


def words_for(notice: Notice, contact: Contact, channel: Channel) -> tuple[str, str]:
    """(subject or title, body) as the channel carries them: an e-mail is a letter, an SMS only
    the text (in Vietnamese with its diacritics: providers send it as Unicode), a push a title and text."""
    if channel is Channel.EMAIL:
        letter = (
            f"Kính gửi Ông/Bà {contact.full_name},\n\n"
            f"{notice.text}\n\n"
            "Ông/Bà có thể tra cứu hồ sơ trên Cổng dịch vụ công tỉnh Thừa Thiên Huế "
            "hoặc ứng dụng Hue-S.\n\n"
            f"Trân trọng,\n{SENDER_NAME}\n\n"
            "Thư này được gửi tự động, vui lòng không trả lời."
        )
        return notice.title, letter
    if channel is Channel.SMS:
        return "", notice.text
    return notice.title, notice.text


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the given number of failed attempts: 10 s, 20 s, 40 s ... capped at 10 min."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 600))


def gives_up(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS
