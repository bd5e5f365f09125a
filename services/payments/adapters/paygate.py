"""Client of the payment intermediary's merchant API (reached through the PayGov hub).

Every call carries a key the intermediary is idempotent on (the bill id), so a call repeated
after a crash or a timeout finds the first one's result instead of opening or refunding twice.
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from services.common.errors import FailedPrecondition, Unavailable

INTERMEDIARY = "paygate"


@dataclass(frozen=True)
class OpenedTransaction:
    transaction_id: str
    payment_url: str
    amount_vnd: int


class PaygateClient:
    def __init__(self, base_url: str, callback_url: str, notice_secret: str, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._callback_url = callback_url
        self._timeout = timeout
        # The intermediary signs its payment notices with this secret (see domain/notice.py).
        self.notice_secret = notice_secret

    def open_transaction(self, merchant_ref: str, amount_vnd: int, description: str) -> OpenedTransaction:
        reply = self._post("/transactions", {"merchant_ref": merchant_ref, "amount_vnd": amount_vnd,
                                             "description": description, "callback_url": self._callback_url})
        return OpenedTransaction(transaction_id=str(reply["transaction_id"]),
                                 payment_url=str(reply["payment_url"]), amount_vnd=int(reply["amount_vnd"]))

    def refund(self, merchant_ref: str, amount_vnd: int, idempotency_key: str) -> str:
        """The refund id; the same key always yields the same refund."""
        reply = self._post("/refunds", {"merchant_ref": merchant_ref, "amount_vnd": amount_vnd,
                                        "idempotency_key": idempotency_key})
        return str(reply["refund_id"])

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(self._base_url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                reply = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if 400 <= exc.code < 500:
                raise FailedPrecondition("paygate", f"{path} refused ({exc.code}): {detail}") from exc
            raise Unavailable("paygate", f"{path} failed ({exc.code}): {detail}") from exc
        except (OSError, ValueError) as exc:
            raise Unavailable("paygate", f"{path} unreachable: {exc}") from exc
        if not isinstance(reply, dict):
            raise Unavailable("paygate", f"{path} answered with something other than a JSON object")
        return reply
