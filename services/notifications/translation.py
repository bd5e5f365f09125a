"""Translation between notifications' contract (protos) and its domain: nothing else.

The entrypoints (service.py) use it once per call, both ways: a request becomes a domain query
(domain/commands.py) for the service layer, and the notifications it returns become the response.
Nothing here checks a value: the rules refuse what they do not accept.
"""

from collections.abc import Iterable

from egov.common.v1 import caller_pb2
from egov.notifications.v1 import notifications_pb2 as pb
from services.notifications.domain import commands
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import Notification, Status

_CHANNEL = {Channel.EMAIL: caller_pb2.NOTIFICATION_CHANNEL_EMAIL, Channel.SMS: caller_pb2.NOTIFICATION_CHANNEL_SMS,
            Channel.PUSH: caller_pb2.NOTIFICATION_CHANNEL_PUSH}
_STATUS = {Status.PENDING: pb.NOTIFICATION_STATUS_PENDING, Status.SENT: pb.NOTIFICATION_STATUS_SENT,
           Status.FAILED: pb.NOTIFICATION_STATUS_FAILED}


# -- requests in: one query per RPC --------------------------------------------------------------------
def list_notifications_command(message: pb.ListNotificationsRequest) -> commands.ListNotifications:
    return commands.ListNotifications(citizen_id=message.citizen_id, dossier_code=message.dossier_code)


# -- results out: one response per RPC ---------------------------------------------------------------
def notification_message(n: Notification) -> pb.Notification:
    return pb.Notification(
        notification_id=n.notification_id, citizen_id=n.citizen_id, channel=_CHANNEL[n.channel],
        template=n.template, subject=n.subject, body=n.body, event_id=n.event_id, event_type=n.event_type,
        dossier_code=n.dossier_code, sent_at=n.sent_at.isoformat() if n.sent_at is not None else "",
        status=_STATUS[n.status],
    )


def list_notifications_response(notifications: Iterable[Notification]) -> pb.ListNotificationsResponse:
    return pb.ListNotificationsResponse(notifications=[notification_message(n) for n in notifications])
