"""Operator work on identity (`egov-admin`, `make run`'s demo, the bench): registering civil servants,
as a plain function over a port. The real adapter calls the identity service over nameko RPC as the
operator; the in-memory one keeps the same rules for tests (tests/contract/test_identity_port.py).
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from egov.identity.v1 import identity_pb2 as pb
from services.common import errors
from services.common.operator_signing import sign_as_operator
from services.common.protowire import dump
from services.common.roles import Role

ROLES_HINT = "receiver, specialist, approver, result desk..."


@dataclass(frozen=True)
class CivilServant:
    civil_servant_id: str
    full_name: str
    agency_code: str
    role: str
    password: str = field(repr=False)
    ecard_serial: str = ""
    appointments: tuple[str, ...] = ()     # role@agency-code, beyond `role` in `agency_code`

    def request(self) -> dict[str, Any]:
        return dump(pb.RegisterCivilServantRequest(
            civil_servant_id=self.civil_servant_id, full_name=self.full_name, agency_code=self.agency_code,
            role=self.role, ecard_serial=self.ecard_serial, password=self.password,
            appointments=list(self.appointments)))


class IdentityAdmin(Protocol):
    def register_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        """The RegisterCivilServantResponse as a dict; a DomainError to refuse."""

    def reset_second_factor(self, request: dict[str, Any]) -> dict[str, Any]:
        """The ResetSecondFactorResponse as a dict; a DomainError to refuse."""

    def dismiss_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        """The DismissCivilServantResponse as a dict; a DomainError to refuse."""


class RpcIdentityAdmin:
    """The identity service over nameko RPC, as the operator."""

    def __init__(self, amqp_uri: str, timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.environ = environ      # where EGOV_OPERATOR_KEY_FILE is found: this process's environment by default

    def register_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("register_civil_servant", request)

    def reset_second_factor(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("reset_second_factor", request)

    def dismiss_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("dismiss_civil_servant", request)

    def _call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        warnings.filterwarnings("ignore", message="\nEventlet is deprecated")   # nameko's import, not ours
        from nameko.exceptions import RemoteError
        from nameko.standalone.rpc import ClusterRpcClient

        with ClusterRpcClient(uri=self.amqp_uri, timeout=self.timeout) as rpc:
            try:
                caller = sign_as_operator("identity", method, request, self.environ)   # the operators' own key
                response: dict[str, Any] = getattr(rpc.identity, method)(request=request, caller=caller)
            except RemoteError as exc:
                raise remote_refusal(exc.exc_type, str(exc.value)) from None
        return response


def remote_refusal(exc_type: str, value: str) -> errors.DomainError:
    """A service's DomainError as it crossed RPC ("<field>: <message>" under its class name)."""
    cls = getattr(errors, exc_type, None)
    field_name, _, message = value.partition(": ")
    if isinstance(cls, type) and issubclass(cls, errors.DomainError):
        return cls(field_name, message or value)
    return errors.Unavailable("identity", f"{exc_type}: {value}")


class InMemoryIdentityAdmin:
    def __init__(self) -> None:
        self.civil_servants: dict[str, dict[str, Any]] = {}
        self.resets: dict[str, int] = {}

    def register_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        for name in ("civil_servant_id", "full_name", "agency_code", "role", "password"):
            if not request.get(name):
                raise errors.InvalidArgument(name, "is required")
        servant_id = request["civil_servant_id"]
        if servant_id in self.civil_servants:
            raise errors.AlreadyExists("civil_servant_id", f"civil servant {servant_id} already exists")
        record = {k: v for k, v in request.items() if k != "password"}
        # As identity does: the home role is an appointment when it is a one-stop role.
        home = [f"{request['role']}@{request['agency_code']}"] if request["role"] in set(Role) else []
        record["appointments"] = sorted({*home, *request.get("appointments", [])})
        self.civil_servants[servant_id] = record
        return {"civil_servant": dict(self.civil_servants[servant_id]),
                "second_factor_uri": self._second_factor_uri(servant_id)}

    def reset_second_factor(self, request: dict[str, Any]) -> dict[str, Any]:
        servant_id = self._known(request)
        self.resets[servant_id] = self.resets.get(servant_id, 0) + 1
        return {"second_factor_uri": self._second_factor_uri(servant_id)}

    def dismiss_civil_servant(self, request: dict[str, Any]) -> dict[str, Any]:
        servant_id = self._known(request)
        if not request.get("reason"):
            raise errors.InvalidArgument("reason", "is required")
        self.civil_servants[servant_id]["dismissed"] = True
        return {"dismissed_at": "2026-01-01T00:00:00+07:00"}

    def _known(self, request: dict[str, Any]) -> str:
        servant_id = str(request.get("civil_servant_id", ""))
        if servant_id not in self.civil_servants:
            raise errors.NotFound("civil_servant_id", f"no civil servant {servant_id!r}")
        return servant_id

    def _second_factor_uri(self, servant_id: str) -> str:
        return f"otpauth://totp/egov:{servant_id}?secret=FAKE{self.resets.get(servant_id, 0)}&issuer=egov"


def register_civil_servant(identity: IdentityAdmin, servant: CivilServant) -> dict[str, Any]:
    """Register a civil servant who can then sign in (IdentityService/SignInCivilServant with a code of
    their second factor). JSON: civil_servant_id, full_name, agency_code, role, ecard_serial, appointments,
    second_factor_uri (the TOTP secret as an otpauth:// URI, shown this once)."""
    response = identity.register_civil_servant(servant.request())
    registered = response["civil_servant"]
    shown = {key: registered.get(key, "") for key in ("civil_servant_id", "full_name", "agency_code", "role",
                                                      "ecard_serial")}
    shown["appointments"] = list(registered.get("appointments", []))
    return {**shown, "second_factor_uri": response["second_factor_uri"]}


def reset_second_factor(identity: IdentityAdmin, civil_servant_id: str) -> dict[str, Any]:
    """A new second factor (a lost phone): the old one stops working, every session is revoked.
    JSON: civil_servant_id, second_factor_uri."""
    response = identity.reset_second_factor(dump(pb.ResetSecondFactorRequest(civil_servant_id=civil_servant_id)))
    return {"civil_servant_id": civil_servant_id, "second_factor_uri": response["second_factor_uri"]}


def dismiss_civil_servant(identity: IdentityAdmin, civil_servant_id: str, reason: str) -> dict[str, Any]:
    """The civil servant can no longer sign in; their tokens stop working within a gateway's revocation
    poll. JSON: civil_servant_id, dismissed_at."""
    response = identity.dismiss_civil_servant(dump(pb.DismissCivilServantRequest(
        civil_servant_id=civil_servant_id, reason=reason)))
    return {"civil_servant_id": civil_servant_id, "dismissed_at": response["dismissed_at"]}
