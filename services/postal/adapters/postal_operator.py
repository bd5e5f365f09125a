"""The postal operator's booking API (VNPost-like), over HTTP with JSON.

Bookings are idempotent on `reference` (our shipment id): asking again after a crash or a retry
returns the tracking number already issued, so a result is never posted twice.
"""

import json
import urllib.error
import urllib.request
from typing import Any

from services.common.errors import Unavailable
from services.postal.domain.shipment import ShipmentOrder

TIMEOUT_SECONDS = 10.0


class PostalOperatorClient:
    def __init__(self, base_url: str, callback_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self._base_url = base_url.rstrip("/")
        self._callback_url = callback_url
        self._timeout = timeout

    def book(self, order: ShipmentOrder) -> str:
        """The tracking number the operator gives the order."""
        body = {
            "reference": order.shipment_id,
            "recipient_name": order.recipient_name,
            "recipient_phone": order.recipient_phone,
            "address": {"street": order.address.street, "commune": order.address.commune,
                        "district": order.address.district, "province": order.address.province},
            "callback_url": self._callback_url,
        }
        reply = self._post("/shipments", body)
        tracking_number = reply.get("tracking_number")
        if not isinstance(tracking_number, str) or not tracking_number:
            raise Unavailable("postal_operator", "the booking reply has no tracking_number")
        return tracking_number

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self._base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise Unavailable("postal_operator", f"{path} answered {exc.code}: {detail}") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise Unavailable("postal_operator", f"{path} failed: {exc}") from exc
        if not isinstance(reply, dict):
            raise Unavailable("postal_operator", f"{path} answered with something other than an object")
        return reply
