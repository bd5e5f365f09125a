"""The message providers' clients against the simulators with TLS and credentials on, as production
runs them: SMTP submission with STARTTLS and AUTH, SMS and push gateways over https with an API key.
Each simulator is a real server process; each test asserts what the citizen would (not) receive."""

import json
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.certs import issue, make_ca
from deploy.local.stack import free_port
from services.common.config import ConfigError
from services.notifications.adapters.providers import (
    HttpMessageSender,
    SendFailed,
    SmtpLogin,
    SmtpSecurity,
    SmtpSender,
    parse_sender_address,
)
from services.notifications.dependencies import MessageProviders, provider_tls
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import Notification
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]
SENDER = parse_sender_address("Trung tâm Phục vụ hành chính công <khong-tra-loi@hue.gov.vn>")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("providers")
    ca = make_ca("providers test CA")
    (folder / "ca.pem").write_bytes(ca.certificate_pem)
    issue(ca, "providers", server_names=("127.0.0.1", "localhost"), client=False).write(folder, "server")
    stranger = make_ca("some other CA")
    (folder / "other-ca.pem").write_bytes(stranger.certificate_pem)
    (folder / "smtp-password").write_text("smtp-password-1\n")
    (folder / "api-key").write_text("sms-and-push-key\n")
    return folder


def _start(argv: list[str], ready: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert ready in line, line
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def mailbox(pki: Path) -> Iterator[tuple[int, int]]:
    smtp, http = free_port(), free_port()
    process = _start(["simulators.mailbox", "--smtp-port", str(smtp), "--http-port", str(http),
                      "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
                      "--auth-user", "egov-notifications", "--auth-password-file", str(pki / "smtp-password")],
                     "mailbox simulator")
    yield smtp, http
    _stop(process)


@pytest.fixture(scope="module")
def sms(pki: Path) -> Iterator[int]:
    port = free_port()
    process = _start(["simulators.sms", "--port", str(port), "--tls-cert", str(pki / "server.pem"),
                      "--tls-key", str(pki / "server.key"), "--api-key-file", str(pki / "api-key")], "https://")
    yield port
    _stop(process)


def _notification(recipient: str, channel: Channel, tag: str) -> Notification:
    return Notification(notification_id=f"n-{tag}-{datetime.now(UTC).timestamp()}", citizen_id="046090012345",
                        channel=channel, recipient=recipient, template="test", dossier_code="",
                        subject=f"Hồ sơ {tag} đã được tiếp nhận", body=f"Kính gửi công dân: hồ sơ {tag}.",
                        event_id=f"e-{tag}", event_type="test", created_at=datetime.now(UTC))


def _mails(http_port: int, to: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/messages?to={to}", timeout=5) as response:
        return list(json.loads(response.read())["messages"])


def _smtp(port: int, pki: Path, *, security: SmtpSecurity = SmtpSecurity.STARTTLS, ca: str = "ca.pem",
          password: str = "smtp-password-1") -> SmtpSender:
    return SmtpSender("127.0.0.1", port, SENDER, timeout=5, security=security,
                      tls=ssl.create_default_context(cafile=str(pki / ca)),
                      login=SmtpLogin("egov-notifications", password) if security is not SmtpSecurity.NONE else None)


def test_mail_goes_over_starttls_with_a_login(mailbox: tuple[int, int], pki: Path) -> None:
    smtp, http = mailbox
    n = _notification("an.nguyen@example.vn", Channel.EMAIL, "tls-ok")
    message_id = _smtp(smtp, pki).send(n)
    (mail,) = eventually(lambda: _mails(http, "an.nguyen@example.vn"), "the e-mail")
    assert mail["message_id"] == message_id and mail["subject"] == n.subject


def test_a_wrong_password_is_refused_and_retried_later_not_given_up(mailbox: tuple[int, int], pki: Path) -> None:
    smtp, http = mailbox
    with pytest.raises(SendFailed) as refused:
        _smtp(smtp, pki, password="sai").send(_notification("wrong.password@example.vn", Channel.EMAIL, "pw"))
    assert "refused our login" in str(refused.value) and not refused.value.permanent
    assert _mails(http, "wrong.password@example.vn") == []


def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(mailbox: tuple[int, int], pki: Path) -> None:
    smtp, http = mailbox
    with pytest.raises(SendFailed) as refused:
        _smtp(smtp, pki, ca="other-ca.pem").send(_notification("untrusted@example.vn", Channel.EMAIL, "ca"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) and not refused.value.permanent
    assert _mails(http, "untrusted@example.vn") == []


def test_a_relay_that_requires_starttls_takes_nothing_in_clear(mailbox: tuple[int, int], pki: Path) -> None:
    smtp, http = mailbox
    with pytest.raises(SendFailed):
        _smtp(smtp, pki, security=SmtpSecurity.NONE).send(_notification("clear@example.vn", Channel.EMAIL, "clear"))
    assert _mails(http, "clear@example.vn") == []


def test_a_login_over_a_clear_connection_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="in clear"):
        SmtpSender("127.0.0.1", 25, SENDER, security=SmtpSecurity.NONE, login=SmtpLogin("u", "p"))


def test_sms_goes_over_https_with_the_api_key(sms: int, pki: Path) -> None:
    tls = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    sender = HttpMessageSender(f"https://127.0.0.1:{sms}", Channel.SMS, timeout=5, api_key="sms-and-push-key", tls=tls)
    sender.send(_notification("+84905123456", Channel.SMS, "sms"))
    with pytest.raises(SendFailed) as refused:
        HttpMessageSender(f"https://127.0.0.1:{sms}", Channel.SMS, timeout=5, api_key="wrong", tls=tls).send(
            _notification("+84905999888", Channel.SMS, "sms-bad-key"))
    assert "HTTP 401" in str(refused.value) and not refused.value.permanent
    with urllib.request.urlopen(f"https://127.0.0.1:{sms}/messages", timeout=5, context=tls) as response:
        delivered = {m["to"] for m in json.loads(response.read())["messages"]}
    assert "+84905123456" in delivered and "+84905999888" not in delivered


def test_an_api_key_is_never_sent_over_plain_http() -> None:
    with pytest.raises(ValueError, match="https only"):
        HttpMessageSender("http://sms.example.vn", Channel.SMS, api_key="k")


def test_the_service_stops_at_start_naming_a_missing_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EGOV_SMTP_PORT", "587")
    monkeypatch.setenv("EGOV_SMTP_USERNAME", "egov-notifications")
    monkeypatch.setenv("EGOV_SMTP_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="EGOV_SMTP_PASSWORD_FILE: cannot read"):
        MessageProviders().setup()
    monkeypatch.setenv("EGOV_NOTIFICATIONS_CA_FILE", str(tmp_path / "no-ca.pem"))
    with pytest.raises(ConfigError, match="EGOV_NOTIFICATIONS_CA_FILE"):
        provider_tls()
