"""How the simulated national population database delivers one-time codes to the people it holds:
an SMS through an SMS gateway's HTTP API (`POST /messages {to, text, client_ref}`, as
simulators/sms.py speaks it) to the phone on file, else an e-mail over SMTP to the address on file.

Deliveries are queued and sent by one background thread, so the registry's answer does not wait
for them (nor take longer for a person who matched than for one who did not).
"""

import argparse
import json
import logging
import os
import queue
import re
import smtplib
import threading
import urllib.request
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

from egov.population.v1 import population_pb2 as pb

log = logging.getLogger("simulators.population.codes")

CODE = re.compile(r"[0-9]{6,10}")
SENDER = "Cơ sở dữ liệu quốc gia về dân cư <khong-tra-loi@dancu.example.vn>"
VALID_MINUTES = 10      # what the message tells the person; the platform enforces its own expiry
_PURPOSES = {
    pb.CODE_PURPOSE_REGISTRATION: "đăng ký tài khoản dịch vụ công trực tuyến",
    pb.CODE_PURPOSE_ACCOUNT_RECOVERY: "khôi phục tài khoản dịch vụ công trực tuyến",
}
SEND_TIMEOUT_SECONDS = 5.0


def message_text(code: str, purpose: "pb.CodePurpose.ValueType") -> str:
    what = _PURPOSES.get(purpose, "xác thực")
    return (f"Mã xác thực {what} của bạn là {code}, có hiệu lực {VALID_MINUTES} phút. "
            f"Tuyệt đối không cung cấp mã này cho người khác. Nếu bạn không yêu cầu, hãy bỏ qua tin này.")


class CodeCourier:
    def __init__(self, sms_url: str = "", smtp_host: str = "", smtp_port: int = 0) -> None:
        self._sms_url = sms_url.rstrip("/")
        self._smtp = (smtp_host, smtp_port) if smtp_host and smtp_port else None
        self._queue: queue.Queue[tuple[str, str, str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="code-courier", daemon=True)
        self._thread.start()

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> "CodeCourier | None":
        if not args.sms_url and not args.smtp_host:
            return None
        return cls(args.sms_url, args.smtp_host, args.smtp_port)

    @staticmethod
    def refusal(code: str) -> str:
        """Why a code cannot be sent as given, or ""."""
        return "" if CODE.fullmatch(code) else "one_time_code: must be 6 to 10 digits"

    def send(self, phone: str, email: str, code: str,
             purpose: "pb.CodePurpose.ValueType") -> "pb.CodeDelivery.ValueType":
        """Queue the code for the phone if there is one and an SMS gateway, else the e-mail address."""
        text = message_text(code, purpose)
        if phone and self._sms_url:
            self._queue.put(("sms", phone, text, ""))
            return pb.CODE_DELIVERY_SMS
        if email and self._smtp:
            self._queue.put(("email", email, text, "Mã xác thực tài khoản dịch vụ công"))
            return pb.CODE_DELIVERY_EMAIL
        return pb.CODE_DELIVERY_NO_CONTACT

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=SEND_TIMEOUT_SECONDS * 2)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            channel, to, text, subject = item
            try:
                if channel == "sms":
                    self._sms(to, text)
                else:
                    self._email(to, subject, text)
            except (OSError, smtplib.SMTPException) as exc:
                # The recipient is personal data: the log names the channel only.
                log.warning("could not deliver a one-time code by %s: %s", channel, exc)

    def _sms(self, to: str, text: str) -> None:
        body = json.dumps({"to": to, "text": text, "client_ref": uuid.uuid4().hex}).encode()
        request = urllib.request.Request(f"{self._sms_url}/messages", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as reply:
            reply.read()

    def _email(self, to: str, subject: str, text: str) -> None:
        if self._smtp is None:   # send() queues e-mail only with an SMTP server
            raise RuntimeError("no SMTP server")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, to, subject
        message["Message-ID"] = make_msgid(domain="dancu.example.vn")
        message.set_content(text)
        with smtplib.SMTP(*self._smtp, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)


def add_courier_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sms-url", default=os.environ.get("EGOV_SMS_URL", ""),
                        help="SMS gateway for one-time codes (default: EGOV_SMS_URL)")
    parser.add_argument("--smtp-host", default=os.environ.get("EGOV_SMTP_HOST", ""),
                        help="SMTP server for one-time codes to people without a phone (default: EGOV_SMTP_HOST)")
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("EGOV_SMTP_PORT") or 25))
