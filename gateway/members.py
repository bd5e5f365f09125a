"""The member registry as the gateway sees it at one moment: members, their subsystems and
certificates, groups, access rights (grants) and the maintenance switch. Pure data and rules; it is
read from MongoDB by gateway.registry_store and swapped in whole by gateway.registry_cache.

Identifiers follow X-Road: a member is `<instance>/<class>/<member code>`, a subsystem is
`<instance>/<class>/<member code>/<subsystem code>`, e.g. `VN/GOV/000.00.15.H57/one-stop-desk`.
The member code of a state agency is its agency code (the code procedures and dossiers carry), so an
agency caller's `agency_code` is its member code. Rights are granted to a subsystem or to a group of
subsystems, per full gRPC method name; there is no wildcard and nothing is granted by default.

External systems (other agencies' systems the platform's own services call through the gateway's
outbound exchange, e.g. the national population database `VN/GOV/BCA/population`) are registered
with where they listen, how to verify them and the gRPC services they serve; a method of one of
those services is routed to it, under the same grants as inbound calls.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from services.common.errors import InvalidArgument

INSTANCE = "VN"
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_METHOD = re.compile(r"/[a-z][a-z0-9_.]*\.[A-Z][A-Za-z0-9]*/[A-Z][A-Za-z0-9]*")
_EVENT_GRANT = re.compile(r"event:[a-z][a-z0-9_.]*\.[A-Z][A-Za-z0-9]*")
_SERVICE = re.compile(r"[a-z][a-z0-9_.]*\.[A-Z][A-Za-z0-9]*")
_ADDRESS = re.compile(r"[0-9A-Za-z.:\[\]-]+:[0-9]{1,5}")


class MemberClass(StrEnum):
    GOV = "GOV"   # state agencies
    COM = "COM"   # enterprises working for the state (VNPost)


class Channel(StrEnum):
    """How dossiers a subsystem submits entered the platform (egov.common.v1.Channel names)."""

    NONE = "CHANNEL_UNSPECIFIED"             # not a front-office system: it files nothing
    COUNTER = "CHANNEL_COUNTER"              # one-stop desk of a service center
    POST_OFFICE = "CHANNEL_POST_OFFICE"      # VNPost counter


def check_code(value: str, field_name: str) -> str:
    if not _CODE.fullmatch(value):
        raise InvalidArgument(field_name, "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                                          f"or digit, got {value!r}")
    return value


def check_fingerprint(value: str) -> str:
    value = value.lower().replace(":", "")
    if not _FINGERPRINT.fullmatch(value):
        raise InvalidArgument("fingerprint", "must be the certificate's SHA-256 in hex (64 digits)")
    return value


def check_method_name(value: str) -> str:
    """What a grant is of: a full gRPC method name, or `event:<event type>` (gateway.event_types)."""
    if not (_METHOD.fullmatch(value) or _EVENT_GRANT.fullmatch(value)):
        raise InvalidArgument("method", f"must be a full gRPC method name like "
                                        f"/egov.procedures.v1.ProcedureService/GetDossier or an event type like "
                                        f"event:egov.procedures.v1.DossierCompleted, got {value!r}")
    return value


def check_service_name(value: str) -> str:
    if not _SERVICE.fullmatch(value):
        raise InvalidArgument("service", f"must be a full gRPC service name like "
                                         f"egov.population.v1.PopulationRegistry, got {value!r}")
    return value


def check_address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise InvalidArgument("address", f"must be host:port, got {value!r}")
    return value


@dataclass(frozen=True, order=True)
class MemberId:
    member_class: MemberClass
    member_code: str

    @classmethod
    def parse(cls, text: str) -> "MemberId":
        parts = text.split("/")
        if len(parts) == 2:
            parts = [INSTANCE, *parts]
        if len(parts) != 3 or parts[0] != INSTANCE:
            raise InvalidArgument("member", f"expected {INSTANCE}/<GOV|COM>/<member code>, got {text!r}")
        return cls(_member_class(parts[1]), check_code(parts[2], "member_code"))

    def __str__(self) -> str:
        return f"{INSTANCE}/{self.member_class.value}/{self.member_code}"


@dataclass(frozen=True, order=True)
class SubsystemId:
    member: MemberId
    subsystem_code: str

    @classmethod
    def parse(cls, text: str) -> "SubsystemId":
        parts = text.split("/")
        if len(parts) != 4 or parts[0] != INSTANCE:
            raise InvalidArgument("subsystem", f"expected {INSTANCE}/<GOV|COM>/<member code>/<subsystem code>, "
                                               f"got {text!r}")
        member = MemberId(_member_class(parts[1]), check_code(parts[2], "member_code"))
        return cls(member, check_code(parts[3], "subsystem_code"))

    def __str__(self) -> str:
        return f"{self.member}/{self.subsystem_code}"


def _member_class(text: str) -> MemberClass:
    try:
        return MemberClass(text)
    except ValueError:
        raise InvalidArgument("member_class", f"must be GOV or COM, got {text!r}") from None


@dataclass(frozen=True)
class Limits:
    """Per-member limits; None means the gateway-wide default."""

    rate_per_second: float | None = None
    burst: int | None = None
    concurrency: int | None = None


@dataclass(frozen=True)
class Member:
    id: MemberId
    name: str
    limits: Limits = Limits()


@dataclass(frozen=True)
class Subsystem:
    id: SubsystemId
    channel: Channel = Channel.NONE


@dataclass(frozen=True)
class Certificate:
    fingerprint: str            # SHA-256 of the DER certificate, hex
    subsystem: SubsystemId
    subject: str
    not_after: str              # RFC 3339
    revoked: bool = False


@dataclass(frozen=True)
class Grant:
    """`client` is `subsystem:<subsystem id>` or `group:<group code>`."""

    client: str
    method: str

    @classmethod
    def for_subsystem(cls, subsystem: SubsystemId, method: str) -> "Grant":
        return cls(f"subsystem:{subsystem}", check_method_name(method))

    @classmethod
    def for_group(cls, group: str, method: str) -> "Grant":
        return cls(f"group:{check_code(group, 'group')}", check_method_name(method))


@dataclass(frozen=True)
class ExternalSystem:
    """Another agency's system the gateway calls on behalf of the platform's services. The gateway
    verifies its server certificate against `ca` under `server_name` and presents its own client
    certificate: mutual TLS on this leg too."""

    id: SubsystemId
    address: str                  # host:port
    server_name: str              # the name its certificate must carry
    ca: bytes                     # PEM of the CA(s) that issue its server certificate
    services: frozenset[str]      # full gRPC service names it serves


@dataclass(frozen=True)
class Registry:
    """One consistent snapshot; never changed after it is built."""

    version: int = 0
    members: Mapping[MemberId, Member] = field(default_factory=dict)
    subsystems: Mapping[SubsystemId, Subsystem] = field(default_factory=dict)
    certificates: Mapping[str, Certificate] = field(default_factory=dict)
    groups: Mapping[str, frozenset[SubsystemId]] = field(default_factory=dict)
    grants: frozenset[Grant] = frozenset()
    maintenance: bool = False
    external_systems: Mapping[SubsystemId, ExternalSystem] = field(default_factory=dict)
    _granted: Mapping[SubsystemId, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)
    _routes: Mapping[str, ExternalSystem] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, *, version: int, members: Iterable[Member], subsystems: Iterable[Subsystem],
              certificates: Iterable[Certificate], groups: Mapping[str, Iterable[SubsystemId]],
              grants: Iterable[Grant], maintenance: bool = False,
              external_systems: Iterable[ExternalSystem] = ()) -> "Registry":
        group_sets = {code: frozenset(ids) for code, ids in groups.items()}
        grant_set = frozenset(grants)
        subsystem_map = {s.id: s for s in subsystems}
        granted: dict[SubsystemId, set[str]] = {sid: set() for sid in subsystem_map}
        for grant in grant_set:
            kind, _, name = grant.client.partition(":")
            holders = group_sets.get(name, frozenset()) if kind == "group" else {SubsystemId.parse(name)}
            for holder in holders:
                granted.setdefault(holder, set()).add(grant.method)
        externals = {e.id: e for e in external_systems}
        return cls(version=version, members={m.id: m for m in members}, subsystems=subsystem_map,
                   certificates={c.fingerprint: c for c in certificates}, groups=group_sets, grants=grant_set,
                   maintenance=maintenance, external_systems=externals,
                   _granted={sid: frozenset(ms) for sid, ms in granted.items()},
                   _routes={service: e for e in externals.values() for service in e.services})

    def route(self, method: str) -> ExternalSystem | None:
        """The external system serving a full method name `/package.Service/Method`, if any."""
        return self._routes.get(method.lstrip("/").partition("/")[0])

    def is_granted(self, subsystem: SubsystemId, method: str) -> bool:
        return method in self._granted.get(subsystem, frozenset())

    def granted_methods(self, subsystem: SubsystemId) -> frozenset[str]:
        return self._granted.get(subsystem, frozenset())

    def member_of(self, subsystem: SubsystemId) -> Member | None:
        return self.members.get(subsystem.member)


class CertificateRefused(Exception):
    """Why a presented client certificate does not identify a subsystem (the text is for the caller)."""


def identify(registry: Registry, fingerprint: str) -> Subsystem:
    """The subsystem a client certificate belongs to, or CertificateRefused."""
    certificate = registry.certificates.get(fingerprint)
    if certificate is None:
        raise CertificateRefused(f"client certificate {fingerprint[:16]}… is not registered to any subsystem")
    if certificate.revoked:
        raise CertificateRefused(f"client certificate {fingerprint[:16]}… has been revoked")
    subsystem = registry.subsystems.get(certificate.subsystem)
    if subsystem is None or subsystem.id.member not in registry.members:
        raise CertificateRefused(f"subsystem {certificate.subsystem} is no longer registered")
    return subsystem
