"""The operator's work on the data-sharing layer, as plain functions over the registry port
(gateway.registry_admin.RegistryAdmin): register members, subsystems, certificates and external
systems, grant and revoke, set limits, maintenance, and wait until every running gateway serves a
change. `egov-gateway`, `make run`'s stack, compose's registration job and the bench all call these;
none of them writes to the registry another way.

Each change returns a `Change` (what, and the registry version that carries it); a refusal is a
DomainError naming the field, and changes nothing. Listings return plain rows whose field names are
the stable JSON of `egov-gateway ... --output json` (docs/AGENCIES.md).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from gateway.event_types import event_types, grant_name
from gateway.members import (
    Certificate,
    Channel,
    ExternalSystem,
    Grant,
    Limits,
    Member,
    MemberId,
    Registry,
    Subsystem,
    SubsystemId,
    check_address,
    check_code,
    check_service_name,
)
from gateway.methods import build_method_table, gateway_method_table
from gateway.registry_admin import RegistryAdmin
from services.common.caller import CallerKind
from services.common.errors import InvalidArgument

CHANNELS = {"none": Channel.NONE, "counter": Channel.COUNTER, "post-office": Channel.POST_OFFICE}
LIVE_WITHIN = timedelta(seconds=5)      # a gateway that beat this recently is running


@dataclass(frozen=True)
class Change:
    what: str
    version: int


# -- members, subsystems, certificates ----------------------------------------------------------------

def limits(rate: float | None = None, burst: int | None = None, concurrency: int | None = None) -> Limits:
    if rate is not None and rate <= 0:
        raise InvalidArgument("rate", "must be positive")
    for name, value in (("burst", burst), ("concurrency", concurrency)):
        if value is not None and value < 1:
            raise InvalidArgument(name, "must be at least 1")
    return Limits(rate, burst, concurrency)


def add_member(registry: RegistryAdmin, member: str, name: str, member_limits: Limits | None = None) -> Change:
    if not name.strip():
        raise InvalidArgument("name", "is required")
    added = Member(MemberId.parse(member), name.strip(), member_limits or Limits())
    return Change(f"member {added.id} added", registry.add_member(added))


def set_limits(registry: RegistryAdmin, member: str, member_limits: Limits) -> Change:
    member_id = MemberId.parse(member)
    return Change(f"limits of {member_id} set", registry.set_limits(member_id, member_limits))


def channel(name: str) -> Channel:
    if name not in CHANNELS:
        raise InvalidArgument("channel", f"must be one of {', '.join(CHANNELS)}, got {name!r}")
    return CHANNELS[name]


def channel_name(value: Channel) -> str:
    return next(name for name, known in CHANNELS.items() if known is value)


def add_subsystem(registry: RegistryAdmin, subsystem: str, channel_called: str = "none") -> Change:
    added = Subsystem(SubsystemId.parse(subsystem), channel(channel_called))
    return Change(f"subsystem {added.id} added", registry.add_subsystem(added))


def read_certificate(pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise InvalidArgument(what, f"not a PEM certificate: {exc}") from None


def fingerprint(pem: bytes) -> str:
    return read_certificate(pem).fingerprint(hashes.SHA256()).hex()


def certificate_of(subsystem: SubsystemId, pem: bytes, now: datetime | None = None) -> Certificate:
    """The registry's record of a subsystem's client certificate: its CN must be the subsystem id,
    and it must not have expired."""
    certificate = read_certificate(pem)
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if common_name != str(subsystem):
        raise InvalidArgument("certificate", f"its CN is {common_name!r}, not the subsystem id {subsystem}")
    if certificate.not_valid_after_utc <= (now or datetime.now(UTC)):
        raise InvalidArgument("certificate", f"expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
    return Certificate(certificate.fingerprint(hashes.SHA256()).hex(), subsystem, certificate.subject.rfc4514_string(),
                       certificate.not_valid_after_utc.isoformat())


def register_certificate(registry: RegistryAdmin, subsystem: str, pem: bytes) -> Change:
    record = certificate_of(SubsystemId.parse(subsystem), pem)
    return Change(f"certificate {record.fingerprint} registered to {record.subsystem}",
                  registry.register_certificate(record))


def revoke_certificate(registry: RegistryAdmin, fingerprint_or_pem: str | bytes) -> Change:
    """By its SHA-256 fingerprint (hex), or the certificate itself (PEM bytes)."""
    value = fingerprint(fingerprint_or_pem) if isinstance(fingerprint_or_pem, bytes) else fingerprint_or_pem
    return Change(f"certificate {value} revoked", registry.revoke_certificate(value))


# -- groups and grants ----------------------------------------------------------------------------------

def add_group(registry: RegistryAdmin, code: str, description: str = "") -> Change:
    return Change(f"group {code} added", registry.add_group(check_code(code, "group"), description))


def add_to_group(registry: RegistryAdmin, code: str, subsystem: str) -> Change:
    return Change(f"{subsystem} is in group {code}",
                  registry.add_to_group(check_code(code, "group"), SubsystemId.parse(subsystem)))


def remove_from_group(registry: RegistryAdmin, code: str, subsystem: str) -> Change:
    return Change(f"{subsystem} is no longer in group {code}",
                  registry.remove_from_group(check_code(code, "group"), SubsystemId.parse(subsystem)))


def grantable() -> list[str]:
    """What an agency system can be granted: the methods whose contract admits agency callers, then
    the event types (`event:<type>`, read with EventService/Subscribe)."""
    table = {**build_method_table(), **gateway_method_table()}
    methods = sorted(m.full_name for m in table.values() if CallerKind.AGENCY in m.access and m.grant_required)
    return methods + sorted(grant_name(t) for t in event_types())


def grant_of(registry: Registry, method: str, subsystem: str = "", group: str = "", check_method: bool = True) -> Grant:
    """The grant of `method` to exactly one of a subsystem or a group; a method must be grantable or
    served by a registered external system (whose methods the gateway forwards undecoded)."""
    if bool(subsystem) == bool(group):
        raise InvalidArgument("client", "give exactly one of --subsystem or --group")
    if check_method and method not in grantable() and registry.route(method) is None:
        if method in gateway_method_table():
            raise InvalidArgument("method", f"{method} is the gateway's own; every member may call it")
        raise InvalidArgument("method", f"{method} is not a method agency systems may call "
                                        "(see `egov-gateway grants methods`) nor one of a registered "
                                        "external system (see `egov-gateway external list`)")
    return Grant.for_subsystem(SubsystemId.parse(subsystem), method) if subsystem else Grant.for_group(group, method)


def add_grant(registry: RegistryAdmin, method: str, subsystem: str = "", group: str = "") -> Change:
    grant = grant_of(registry.load(), method, subsystem, group)
    return Change(f"{grant.method} granted to {grant.client}", registry.add_grant(grant))


def revoke_grant(registry: RegistryAdmin, method: str, subsystem: str = "", group: str = "") -> Change:
    grant = grant_of(Registry(), method, subsystem, group, check_method=False)
    return Change(f"{grant.method} revoked from {grant.client}", registry.revoke_grant(grant))


# -- external systems and maintenance ----------------------------------------------------------------------

def external_system(system: str, address: str, ca_pem: bytes, server_name: str, services: list[str]) -> ExternalSystem:
    try:
        x509.load_pem_x509_certificates(ca_pem)
    except ValueError as exc:
        raise InvalidArgument("ca", f"not PEM certificates: {exc}") from None
    if not services:
        raise InvalidArgument("service", "give at least one --service")
    if not server_name.strip():
        raise InvalidArgument("server_name", "is required")
    return ExternalSystem(SubsystemId.parse(system), check_address(address), server_name.strip(), ca_pem,
                          frozenset(check_service_name(s) for s in services))


def add_external_system(registry: RegistryAdmin, system: ExternalSystem) -> Change:
    return Change(f"external system {system.id} added at {system.address}", registry.add_external_system(system))


def remove_external_system(registry: RegistryAdmin, system: str) -> Change:
    return Change(f"external system {system} removed", registry.remove_external_system(SubsystemId.parse(system)))


def set_maintenance(registry: RegistryAdmin, on: bool) -> Change:
    return Change(f"maintenance mode {'on' if on else 'off'}", registry.set_maintenance(on))


# -- waiting until a change is in force ------------------------------------------------------------------

@dataclass(frozen=True)
class Confirmation:
    version: int
    in_force_on: tuple[str, ...] = ()      # live gateways serving the version
    behind: tuple[str, ...] = ()           # live gateways not (yet) serving it

    @property
    def confirmed(self) -> bool:
        return not self.behind

    def row(self) -> dict[str, Any]:
        return {"version": self.version, "in_force_on": list(self.in_force_on), "not_yet_on": list(self.behind),
                "confirmed": self.confirmed}


@dataclass
class Clock:
    """Time for the waiting functions; tests pass one that does not sleep."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll: float = field(default=0.05)


def wait_until_loaded(registry: RegistryAdmin, version: int, timeout: float, *, need_a_gateway: bool = False,
                      clock: Clock | None = None) -> Confirmation:
    """Wait until every running gateway serves `version` (at most `timeout` s). With no gateway
    running the change takes effect when one starts: confirmed at once, unless `need_a_gateway`
    (a stack that has just started one), which waits for it."""
    clock = clock or Clock()
    deadline = clock.monotonic() + timeout
    while True:
        live = registry.live_gateways(LIVE_WITHIN)
        serving = tuple(sorted(g.instance for g in live if g.loaded_version >= version))
        behind = tuple(sorted(g.instance for g in live if g.loaded_version < version))
        if (live or not need_a_gateway) and not behind:
            return Confirmation(version, serving)
        if clock.monotonic() >= deadline:
            return Confirmation(version, serving, behind or ("(no gateway running)",))
        clock.sleep(clock.poll)


# -- listings (the rows of `--output json`) ---------------------------------------------------------------

def members(registry: RegistryAdmin) -> list[dict[str, Any]]:
    snapshot = registry.load()
    return [{"member": str(m.id), "name": m.name,
             "subsystems": [{"subsystem": str(s.id), "channel": channel_name(s.channel)}
                            for s in sorted(snapshot.subsystems.values(), key=lambda s: s.id) if s.id.member == m.id],
             "rate_per_second": m.limits.rate_per_second, "burst": m.limits.burst,
             "concurrency": m.limits.concurrency}
            for m in sorted(snapshot.members.values(), key=lambda m: m.id)]


def subsystems(registry: RegistryAdmin) -> list[dict[str, Any]]:
    snapshot = registry.load()
    return [{"subsystem": str(s.id), "member": str(s.id.member), "channel": channel_name(s.channel),
             "certificates_in_force": sum(1 for c in snapshot.certificates.values()
                                          if c.subsystem == s.id and not c.revoked),
             "groups": sorted(code for code, ids in snapshot.groups.items() if s.id in ids)}
            for s in sorted(snapshot.subsystems.values(), key=lambda s: s.id)]


def certificates(registry: RegistryAdmin) -> list[dict[str, Any]]:
    return [{"fingerprint": c.fingerprint, "subsystem": c.subsystem, "subject": c.subject, "not_after": c.not_after,
             "registered_at": c.registered_at, "revoked_at": c.revoked_at} for c in registry.certificate_records()]


def groups(registry: RegistryAdmin) -> list[dict[str, Any]]:
    return [{"group": g.code, "description": g.description, "subsystems": list(g.subsystems)}
            for g in registry.group_records()]


def grants(registry: RegistryAdmin, subsystem: str = "", group: str = "") -> list[dict[str, Any]]:
    client = f"subsystem:{subsystem}" if subsystem else f"group:{group}" if group else ""
    return [{"client": g.client, "method": g.method, "granted_at": g.granted_at}
            for g in registry.grant_records() if not client or g.client == client]


def external_systems(registry: RegistryAdmin) -> list[dict[str, Any]]:
    return [{"external_system": str(e.id), "address": e.address, "server_name": e.server_name,
             "services": sorted(e.services)}
            for e in sorted(registry.load().external_systems.values(), key=lambda e: e.id)]


def maintenance_status(registry: RegistryAdmin) -> dict[str, Any]:
    snapshot = registry.load()
    return {"maintenance": snapshot.maintenance, "version": snapshot.version,
            "gateways": [{"instance": g.instance, "loaded_version": g.loaded_version, "seen_at": g.seen_at}
                         for g in sorted(registry.live_gateways(LIVE_WITHIN), key=lambda g: g.instance)]}
