"""Reading notifications back: the citizen's own, or, for the desk that received a dossier, a named
citizen's about it (domain/access.py)."""

from typing import Any

from pymongo.database import Database

from egov.common.v1 import caller_pb2
from egov.notifications.v1 import notifications_pb2 as pb
from services.common.caller import Caller
from services.common.errors import InvalidArgument
from services.notifications.adapters import repository
from services.notifications.domain.access import citizen_to_list

_CHANNEL = {"EMAIL": caller_pb2.NOTIFICATION_CHANNEL_EMAIL, "SMS": caller_pb2.NOTIFICATION_CHANNEL_SMS,
            "PUSH": caller_pb2.NOTIFICATION_CHANNEL_PUSH}
_STATUS = {"PENDING": pb.NOTIFICATION_STATUS_PENDING, "SENT": pb.NOTIFICATION_STATUS_SENT,
           "FAILED": pb.NOTIFICATION_STATUS_FAILED}


def list_notifications(db: Database[Any], request: pb.ListNotificationsRequest,
                       caller: Caller) -> pb.ListNotificationsResponse:
    if len(request.dossier_code) > 64:
        raise InvalidArgument("dossier_code", "at most 64 characters")
    listing = citizen_to_list(caller, request.citizen_id, request.dossier_code)
    docs = repository.list_notifications(db, listing.citizen_id, request.dossier_code)
    return pb.ListNotificationsResponse(notifications=[_to_proto(d) for d in docs
                                                       if listing.visible(d["dossier_code"])])


def _to_proto(doc: dict[str, Any]) -> pb.Notification:
    sent_at = doc.get("sent_at")
    return pb.Notification(
        notification_id=doc["_id"], citizen_id=doc["citizen_id"], channel=_CHANNEL[doc["channel"]],
        template=doc["template"], subject=doc["subject"], body=doc["body"], event_id=doc["event_id"],
        event_type=doc["event_type"], dossier_code=doc["dossier_code"],
        sent_at=sent_at.isoformat() if sent_at is not None else "", status=_STATUS[doc["status"]],
    )
