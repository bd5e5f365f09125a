"""notifications' translation at the entrypoint (services/notifications/translation.py): the request
becomes its domain query with the values as sent, which the rules refuse naming the field in the
words the service has always used, and the notifications answered become the response."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from egov.common.v1 import caller_pb2
from egov.notifications.v1 import notifications_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument
from services.common.protowire import parse
from services.notifications import queries
from services.notifications import translation as tr
from services.notifications.domain import commands, notices
from services.notifications.domain.contacts import Channel, Contact
from services.notifications.domain.notification import Notification, Status
from services.notifications.fakes import in_memory_store

CITIZEN = "046090001234"
CODE = "000.00.01.H57-260302-0001"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_request_becomes_its_query_with_the_values_as_sent() -> None:
    request = parse(pb.ListNotificationsRequest, {"citizen_id": CITIZEN, "dossier_code": f" {CODE} "})
    assert tr.list_notifications_command(request) == commands.ListNotifications(citizen_id=CITIZEN,
                                                                                 dossier_code=f" {CODE} ")
    assert tr.list_notifications_command(pb.ListNotificationsRequest()) == commands.ListNotifications("", "")


@pytest.mark.parametrize("request_fields, field, words", [
    ({"dossier_code": "X" * 65}, "dossier_code", "at most 64 characters"),
    ({}, "citizen_id", "is required for a civil servant"),
])
def test_what_the_rules_refuse_is_refused_naming_the_field(request_fields: dict[str, str], field: str,
                                                           words: str) -> None:
    query = tr.list_notifications_command(pb.ListNotificationsRequest(**request_fields))
    with pytest.raises(InvalidArgument) as refused:
        queries.list_notifications(in_memory_store(), query, Caller(CallerKind.CIVIL_SERVANT, subject="cb-1"))
    assert (refused.value.field, refused.value.message) == (field, words)


def test_notifications_become_the_response() -> None:
    contact = Contact.register(CITIZEN, "Nguyễn Văn An", "0905123456", "an@example.vn", [Channel.SMS, Channel.PUSH])
    notice = notices.citizen_welcome(contact.full_name)
    pending = Notification.compose(notice, contact, Channel.SMS, event_id="e-1", event_type="t", now=NOW)
    sent = Notification.compose(notice, contact, Channel.PUSH, event_id="e-1", event_type="t", now=NOW)
    sent = replace(sent, status=Status.SENT, sent_at=NOW)
    answer = tr.list_notifications_response([pending, sent])
    assert [(n.channel, n.status, n.sent_at) for n in answer.notifications] == [
        (caller_pb2.NOTIFICATION_CHANNEL_SMS, pb.NOTIFICATION_STATUS_PENDING, ""),
        (caller_pb2.NOTIFICATION_CHANNEL_PUSH, pb.NOTIFICATION_STATUS_SENT, "2026-03-02T09:30:00+00:00")]
    first = answer.notifications[0]
    assert (first.notification_id, first.citizen_id, first.template, first.subject, first.body, first.event_id,
            first.event_type, first.dossier_code) == (
        pending.notification_id, CITIZEN, pending.template, "", pending.body, "e-1", "t", "")
