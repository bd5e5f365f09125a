"""Client of the payment intermediary's merchant API (reached through the PayGov hub).

Every call carries our merchant code and is signed with the merchant's secret over its method,
path, time, a fresh request id and body (services/common/merchant_signature.py), as the intermediary
requires. Every call that changes something is keyed on our own reference (the bill's merchant
reference, or an idempotency key), so a call repeated after a crash or a timeout finds the first
one's result instead of opening, voiding or refunding twice.
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from services.common.errors import FailedPrecondition, Unavailable
from services.common.merchant_signature import sign_request
from services.payments.domain.reconciliation import IntermediaryTransaction

INTERMEDIARY = "paygate"


@dataclass(frozen=True)
class OpenedTransaction:
    transaction_id: str
    payment_url: str
    amount_vnd: int


class PaygateClient:
    def __init__(self, base_url: str, callback_url: str, merchant_code: str, secret: str,
                 timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._callback_url = callback_url
        self._merchant_code = merchant_code
        self._secret = secret
        self._timeout = timeout

    @property
    def notice_secret(self) -> str:
        """The intermediary signs its payment notices with the same merchant secret (see domain/notice.py)."""
        return self._secret

    def open_transaction(self, merchant_ref: str, amount_vnd: int, description: str) -> OpenedTransaction:
        _, reply = self._post("/transactions", {"merchant_ref": merchant_ref, "amount_vnd": amount_vnd,
                                                "description": description, "callback_url": self._callback_url})
        return OpenedTransaction(transaction_id=str(reply["transaction_id"]),
                                 payment_url=str(reply["payment_url"]), amount_vnd=int(reply["amount_vnd"]))

    def refund(self, merchant_ref: str, amount_vnd: int, idempotency_key: str) -> str:
        """The refund id; the same key always yields the same refund."""
        _, reply = self._post("/refunds", {"merchant_ref": merchant_ref, "amount_vnd": amount_vnd,
                                           "idempotency_key": idempotency_key})
        return str(reply["refund_id"])

    def void(self, merchant_ref: str) -> IntermediaryTransaction | None:
        """Void the transaction open under merchant_ref; what it is afterwards (VOIDED, or SUCCESS /
        REFUNDED if it was paid first and so cannot be voided), or None if none was opened."""
        status, reply = self._post("/transactions/void", {"merchant_ref": merchant_ref}, accept=(404, 409))
        if status == 404:
            return None
        if status == 409 and reply.get("status") in ("SUCCESS", "REFUNDED"):
            return self.query(merchant_ref)
        if status == 409:
            raise FailedPrecondition("paygate", f"/transactions/void refused: {reply.get('error', '')}")
        return IntermediaryTransaction(str(reply["transaction_id"]), merchant_ref, str(reply["status"]), 0, "", 0)

    def query(self, merchant_ref: str) -> IntermediaryTransaction | None:
        """The transaction opened under merchant_ref as the intermediary has it, or None."""
        status, reply = self._post("/transactions/query", {"merchant_ref": merchant_ref}, accept=(404,))
        if status == 404:
            return None
        return IntermediaryTransaction(
            transaction_id=str(reply["transaction_id"]), merchant_ref=merchant_ref, status=str(reply["status"]),
            amount_vnd=int(reply["amount_vnd"]), paid_at=str(reply.get("paid_at") or ""),
            refunded_vnd=int(reply.get("refunded_vnd") or 0))

    def _post(self, path: str, body: dict[str, Any], accept: tuple[int, ...] = ()) -> tuple[int, dict[str, Any]]:
        """POST a signed call; its status and JSON reply. A 4xx not in `accept` is a refusal."""
        data = json.dumps(body).encode()
        signed = sign_request(self._secret, "POST", path, self._merchant_code, str(int(time.time())),
                              uuid.uuid4().hex, data)
        request = urllib.request.Request(self._base_url + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json", **signed.headers()})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                status, reply = response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code in accept:
                return exc.code, _object(detail)
            if 400 <= exc.code < 500:
                raise FailedPrecondition("paygate", f"{path} refused ({exc.code}): {detail}") from exc
            raise Unavailable("paygate", f"{path} failed ({exc.code}): {detail}") from exc
        except (OSError, ValueError) as exc:
            raise Unavailable("paygate", f"{path} unreachable: {exc}") from exc
        if not isinstance(reply, dict):
            raise Unavailable("paygate", f"{path} answered with something other than a JSON object")
        return status, reply


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"error": text}
    return value if isinstance(value, dict) else {"error": text}
