"""A level-4 dossier journey driven through the gateway's gRPC API only, as an agency's or a
citizen's app would: `make run` prints it step by step; the e2e tests assert on it."""

import hashlib
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import grpc
import pyotp

from egov.common.v1 import caller_pb2
from egov.identity.v1 import identity_pb2, identity_pb2_grpc
from egov.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from egov.payments.v1 import payments_pb2, payments_pb2_grpc
from egov.postal.v1 import postal_pb2, postal_pb2_grpc
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc

if TYPE_CHECKING:
    from deploy.local.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
POPULATION = ROOT / "simulators" / "data" / "population.json"
T = TypeVar("T")


def residents() -> list[dict[str, Any]]:
    """The simulated national population database's living residents who can register online: the
    database holds a phone or an e-mail address for them, where their one-time code goes (the
    first ones are well known)."""
    data = json.loads(POPULATION.read_text(encoding="utf-8"))
    people = data["residents"] if isinstance(data, dict) else data
    return [p for p in people if not p.get("deceased") and (p.get("phone") or p.get("email"))]


_CODE = re.compile(r"\b([0-9]{6})\b")


@dataclass(frozen=True)
class Phone:
    """What a person reads one-time codes on: the SMS gateway's and the mailbox's message lists,
    looked at for the phone or e-mail address the population database holds for them."""

    sms_url: str
    mailbox_url: str

    @classmethod
    def of(cls, stack: "Stack") -> "Phone":
        return cls(f"http://127.0.0.1:{stack.ports.sms}", f"http://127.0.0.1:{stack.ports.mailbox_http}")

    def messages(self, resident: dict[str, Any]) -> list[str]:
        if resident.get("phone"):
            return [m["text"] for m in _get_json(f"{self.sms_url}/messages?to="
                                                 f"{urllib.parse.quote(resident['phone'])}")["messages"]]
        return [m["body"] for m in read_mailbox(self.mailbox_url, resident["email"])]

    def wait_for_code(self, resident: dict[str, Any], seen: int, timeout: float = 15.0) -> str:
        """The code in the first message after the `seen` ones already there."""
        def arrived() -> str | None:
            fresh = self.messages(resident)[seen:]
            found = _CODE.search(fresh[0]) if fresh else None
            return found.group(1) if found else None

        return wait_until(arrived, "the one-time code on the phone or in the mailbox", timeout)


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        data: dict[str, Any] = json.loads(reply.read())
    return data


def document_for(code: str, name: str) -> pp.SubmittedDocument:
    content = f"{code} {name}".encode()
    return pp.SubmittedDocument(document_code=code, file_name=f"{code}.pdf",
                                sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content) + 1024)


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 30.0, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Clients:
    channel: grpc.Channel
    identity: identity_pb2_grpc.IdentityServiceStub = field(init=False)
    procedures: procedures_pb2_grpc.ProcedureServiceStub = field(init=False)
    payments: payments_pb2_grpc.PaymentServiceStub = field(init=False)
    postal: postal_pb2_grpc.PostalServiceStub = field(init=False)
    notifications: notifications_pb2_grpc.NotificationServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channel)
        self.procedures = procedures_pb2_grpc.ProcedureServiceStub(self.channel)
        self.payments = payments_pb2_grpc.PaymentServiceStub(self.channel)
        self.postal = postal_pb2_grpc.PostalServiceStub(self.channel)
        self.notifications = notifications_pb2_grpc.NotificationServiceStub(self.channel)


Channel: TypeAlias = caller_pb2.NotificationChannel.ValueType


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


PASSWORD = "mat-khau-an-toan-2026"


@dataclass
class Citizen:
    citizen_id: str
    full_name: str
    token: str


class TraceContext(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Sends `traceparent` with every call, so the whole journey is one trace."""

    def __init__(self) -> None:
        self.traceparent = ""

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        if self.traceparent:
            metadata = [*(client_call_details.metadata or ()), ("traceparent", self.traceparent)]
            client_call_details = client_call_details._replace(metadata=metadata)
        return continuation(client_call_details, request)


class Journey:
    """The citizen's and the civil servants' steps, each one gRPC call (or a wait on its outcome)."""

    def __init__(self, channel: grpc.Channel, paygate_url: str, phone: Phone | None = None) -> None:
        self.trace = TraceContext()
        self.api = Clients(grpc.intercept_channel(channel, self.trace))
        self.paygate_url = paygate_url.rstrip("/")
        self.phone = phone

    @classmethod
    def of(cls, stack: "Stack", channel: grpc.Channel) -> "Journey":
        """A journey against a local stack: its payment intermediary, SMS gateway and mailbox."""
        return cls(channel, f"http://127.0.0.1:{stack.ports.paygate}", Phone.of(stack))

    # -- citizen ------------------------------------------------------------------------------
    def request_code(self, resident: dict[str, Any], purpose: "identity_pb2.VerificationPurpose.ValueType" = (
            identity_pb2.VERIFICATION_PURPOSE_REGISTRATION), metadata: tuple[tuple[str, str], ...] = ()
                     ) -> tuple[str, str]:
        """(verification id, code): asks for a code, then reads it where the person would."""
        if self.phone is None:
            raise RuntimeError("this journey has no phone to read one-time codes from: build it with Journey.of")
        seen = len(self.phone.messages(resident))
        reply = self.api.identity.RequestVerificationCode(identity_pb2.RequestVerificationCodeRequest(
            citizen_id=resident["citizen_id"], full_name=resident["full_name"], birth_date=resident["birth_date"],
            purpose=purpose), timeout=10, metadata=metadata)
        return reply.verification_id, self.phone.wait_for_code(resident, seen)

    def register_citizen(self, resident: dict[str, Any], channels: tuple[Channel, ...] = (
            caller_pb2.NOTIFICATION_CHANNEL_EMAIL, caller_pb2.NOTIFICATION_CHANNEL_SMS)) -> Citizen:
        verification_id, code = self.request_code(resident)
        self.api.identity.RegisterCitizen(identity_pb2.RegisterCitizenRequest(
            citizen_id=resident["citizen_id"], full_name=resident["full_name"],
            birth_date=resident["birth_date"], phone=resident.get("phone") or "0905123456",
            email=f"{resident['citizen_id']}@example.vn", password=PASSWORD,
            address=caller_pb2.Address(street="12 Lê Lợi", commune="Phường Vĩnh Ninh",
                                       district="Thành phố Huế", province="Thừa Thiên Huế"),
            notification_channels=list(channels), verification_id=verification_id, verification_code=code),
            timeout=10)
        return self.sign_in(resident["citizen_id"], resident["full_name"])

    def sign_in(self, citizen_id: str, full_name: str = "") -> Citizen:
        reply = self.api.identity.SignIn(identity_pb2.SignInRequest(citizen_id=citizen_id, password=PASSWORD),
                                         timeout=10)
        return Citizen(citizen_id, full_name, reply.access_token)

    def pick_procedure(self, *, level: int = 4, with_fee: bool = True, agency_code: str = "") -> pp.Procedure:
        """The first such procedure; of one competent agency when `agency_code` is given."""
        found = self.api.procedures.ListProcedures(pp.ListProceduresRequest(service_level=level,
                                                                            agency_code=agency_code), timeout=10)
        for procedure in found.procedures:
            # agency_code is set when one agency settles it everywhere: filed without naming a unit
            if procedure.service_level == level and (procedure.fee_vnd > 0) == with_fee and procedure.agency_code:
                return procedure
        raise LookupError(f"no level-{level} procedure {'with' if with_fee else 'without'} a fee in the catalogue")

    def submit(self, citizen: Citizen, procedure: pp.Procedure, *,
               payment: int = pp.PAYMENT_METHOD_ONLINE, delivery: int = pp.DELIVERY_METHOD_POST,
               skip_document: str = "", street: str = "12 Lê Lợi") -> pp.Dossier:
        documents = [document_for(d.code, d.name) for d in procedure.required_documents
                     if d.mandatory and d.code != skip_document]
        request = pp.SubmitDossierRequest(
            procedure_code=procedure.code, documents=documents, payment_method=payment,  # type: ignore[arg-type]
            delivery=pp.Delivery(method=delivery, recipient_name=citizen.full_name,  # type: ignore[arg-type]
                                 recipient_phone="0905123456",
                                 address=caller_pb2.Address(street=street, commune="Phường Vĩnh Ninh",
                                                            district="Thành phố Huế",
                                                            province="Thừa Thiên Huế")))
        return self.api.procedures.SubmitDossier(request, metadata=bearer(citizen.token), timeout=10).dossier

    def pay(self, citizen: Citizen, dossier_code: str) -> payments_pb2.StartPaymentResponse:
        started: payments_pb2.StartPaymentResponse = wait_until(
            lambda: self.api.payments.StartPayment(payments_pb2.StartPaymentRequest(dossier_code=dossier_code),
                                                   metadata=bearer(citizen.token), timeout=10),
            "the fee bill")
        pay = urllib.request.Request(f"{self.paygate_url}/transactions/{started.transaction_id}/pay",
                                     data=b"{}", method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(pay, timeout=10) as reply:
            reply.read()
        return started

    def dossier(self, token: str, code: str) -> pp.Dossier:
        return self.api.procedures.GetDossier(pp.GetDossierRequest(code=code), metadata=bearer(token),
                                              timeout=10).dossier

    def wait_status(self, token: str, code: str, status: pp.DossierStatus.ValueType, timeout: float = 30) -> pp.Dossier:
        def reached() -> pp.Dossier | None:
            dossier = self.dossier(token, code)
            return dossier if dossier.status == status else None

        return wait_until(reached, f"dossier {code} to reach {pp.DossierStatus.Name(status)}", timeout)

    def shipment(self, token: str, code: str) -> postal_pb2.Shipment:
        return self.api.postal.GetShipment(postal_pb2.GetShipmentRequest(dossier_code=code),
                                           metadata=bearer(token), timeout=10).shipment

    def bill(self, token: str, code: str) -> payments_pb2.Bill:
        return self.api.payments.GetBill(payments_pb2.GetBillRequest(dossier_code=code), metadata=bearer(token),
                                         timeout=10).bill

    def notifications(self, token: str, code: str) -> list[notifications_pb2.Notification]:
        return list(self.api.notifications.ListNotifications(
            notifications_pb2.ListNotificationsRequest(dossier_code=code), metadata=bearer(token),
            timeout=10).notifications)

    # -- civil servant ------------------------------------------------------------------------
    def civil_servant_token(self, civil_servant_id: str, password: str, second_factor_uri: str) -> str:
        """Signs in with the password and the code the civil servant's authenticator app shows now,
        from the otpauth:// URI they scanned when registered. A code signs in once: sign in again
        within the same 30 s and the second is refused."""
        authenticator = pyotp.parse_uri(second_factor_uri)
        if not isinstance(authenticator, pyotp.TOTP):
            raise ValueError("a civil servant's second factor is a TOTP (otpauth://totp/...) URI")
        code = authenticator.now()
        return str(self.api.identity.SignInCivilServant(identity_pb2.SignInCivilServantRequest(
            civil_servant_id=civil_servant_id, password=password, totp_code=code), timeout=10).access_token)

    def receive(self, token: str, code: str, timeout: float = 30) -> pp.Dossier:
        """The receiving unit accepts the dossier once its online fee has settled: payment alone
        never accepts a dossier (the desk checks it first)."""
        self.wait_status(token, code, pp.DOSSIER_STATUS_SUBMITTED, timeout)
        return self.api.procedures.AcceptDossier(pp.AcceptDossierRequest(code=code), metadata=bearer(token),
                                                 timeout=10).dossier

    def work(self, token: str, code: str) -> pp.Dossier:
        meta = bearer(token)
        self.api.procedures.RecordStep(pp.RecordStepRequest(code=code, step="Thẩm định hồ sơ",
                                                            note="Hồ sơ hợp lệ", done=True), metadata=meta,
                                       timeout=10)
        self.api.procedures.ApproveDossier(pp.ApproveDossierRequest(code=code, note="Đồng ý"), metadata=meta,
                                           timeout=10)
        return self.api.procedures.IssueResult(pp.IssueResultRequest(code=code, result_document_number="123/GP"),
                                               metadata=meta, timeout=10).dossier


def read_mailbox(mailbox_url: str, to: str = "") -> list[dict[str, Any]]:
    query = f"?to={urllib.parse.quote(to)}" if to else ""
    with urllib.request.urlopen(f"{mailbox_url.rstrip('/')}/messages{query}", timeout=10) as reply:
        data = json.loads(reply.read())
    messages: list[dict[str, Any]] = data["messages"] if isinstance(data, dict) else data
    return messages



def one_stop_roles(agency_code: str) -> list[str]:
    """Every role of the one-stop chain in one agency, for a demo or test officer who works a dossier
    from reception to result alone."""
    return [f"{role}@{agency_code}" for role in ("receiver", "specialist", "leader", "result_desk")]
