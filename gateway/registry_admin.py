"""The member registry as the operator layer sees it (gateway.operations): a port with two adapters
that pass one contract suite (tests/contract/test_registry_port.py): gateway.registry_store's
MongoDB store, and `InMemoryRegistry` below for unit tests and anything that needs no database.

Every change returns the registry version that carries it (running gateways report the version they
serve; `gateway.operations.wait_until_loaded` waits for them). Refusals are DomainErrors naming what
is wrong: AlreadyExists, NotFound, FailedPrecondition.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

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
    check_code,
    check_fingerprint,
)
from services.common.errors import AlreadyExists, FailedPrecondition, NotFound


@dataclass(frozen=True)
class GatewayInstance:
    instance: str
    loaded_version: int
    seen_at: datetime


@dataclass(frozen=True)
class CertificateRecord:
    fingerprint: str
    subsystem: str
    subject: str
    not_after: str
    registered_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class GrantRecord:
    client: str          # subsystem:<id> or group:<code>
    method: str
    granted_at: datetime


@dataclass(frozen=True)
class GroupRecord:
    code: str
    description: str
    subsystems: tuple[str, ...]


class RegistryAdmin(ABC):
    """What the operator functions read and change."""

    # -- reading ----------------------------------------------------------------------------------
    @abstractmethod
    def load(self) -> Registry: ...
    @abstractmethod
    def live_gateways(self, within: timedelta) -> list[GatewayInstance]: ...
    @abstractmethod
    def heartbeat(self, instance: str, loaded_version: int) -> None: ...
    @abstractmethod
    def certificate_records(self) -> list[CertificateRecord]: ...
    @abstractmethod
    def grant_records(self) -> list[GrantRecord]: ...
    @abstractmethod
    def group_records(self) -> list[GroupRecord]: ...

    # -- changes ----------------------------------------------------------------------------------
    @abstractmethod
    def add_member(self, member: Member) -> int: ...
    @abstractmethod
    def update_member(self, member: Member) -> int:
        """Its name and limits."""
    @abstractmethod
    def remove_member(self, member: MemberId) -> int:
        """Refused while it has subsystems or external systems."""
    @abstractmethod
    def add_subsystem(self, subsystem: Subsystem) -> int: ...
    @abstractmethod
    def set_channel(self, subsystem: SubsystemId, channel: Channel) -> int: ...
    @abstractmethod
    def remove_subsystem(self, subsystem: SubsystemId) -> int:
        """Refused while it holds grants, certificates in force or group places."""
    @abstractmethod
    def register_certificate(self, certificate: Certificate) -> int: ...
    @abstractmethod
    def revoke_certificate(self, fingerprint: str) -> int: ...
    @abstractmethod
    def add_group(self, code: str, description: str) -> int: ...
    @abstractmethod
    def remove_group(self, code: str) -> int:
        """Refused while it holds grants."""
    @abstractmethod
    def add_to_group(self, code: str, subsystem: SubsystemId) -> int: ...
    @abstractmethod
    def remove_from_group(self, code: str, subsystem: SubsystemId) -> int: ...
    @abstractmethod
    def add_grant(self, grant: Grant) -> int: ...
    @abstractmethod
    def revoke_grant(self, grant: Grant) -> int: ...
    @abstractmethod
    def add_external_system(self, system: ExternalSystem) -> int: ...
    @abstractmethod
    def remove_external_system(self, system: SubsystemId) -> int: ...
    @abstractmethod
    def set_maintenance(self, on: bool) -> int: ...

    def set_limits(self, member: MemberId, limits: Limits) -> int:
        current = self.load().members.get(member)
        if current is None:
            raise NotFound("member", f"no member {member}")
        return self.update_member(replace(current, limits=limits))


@dataclass
class InMemoryRegistry(RegistryAdmin):
    """The registry in this process's memory, with the store's rules (the contract suite holds both)."""

    members: dict[MemberId, Member] = field(default_factory=dict)
    subsystems: dict[SubsystemId, Subsystem] = field(default_factory=dict)
    certificates: dict[str, CertificateRecord] = field(default_factory=dict)
    groups: dict[str, GroupRecord] = field(default_factory=dict)
    grants: dict[tuple[str, str], GrantRecord] = field(default_factory=dict)
    externals: dict[SubsystemId, ExternalSystem] = field(default_factory=dict)
    maintenance: bool = False
    version: int = 0
    gateways: dict[str, GatewayInstance] = field(default_factory=dict)

    def load(self) -> Registry:
        return Registry.build(
            version=self.version, members=self.members.values(), subsystems=self.subsystems.values(),
            certificates=[Certificate(c.fingerprint, SubsystemId.parse(c.subsystem), c.subject, c.not_after,
                                      revoked=c.revoked_at is not None) for c in self.certificates.values()],
            groups={g.code: [SubsystemId.parse(s) for s in g.subsystems] for g in self.groups.values()},
            grants=[Grant(g.client, g.method) for g in self.grants.values()], maintenance=self.maintenance,
            external_systems=self.externals.values())

    def live_gateways(self, within: timedelta) -> list[GatewayInstance]:
        since = datetime.now(UTC) - within
        return [g for g in self.gateways.values() if g.seen_at >= since]

    def heartbeat(self, instance: str, loaded_version: int) -> None:
        self.gateways[instance] = GatewayInstance(instance, loaded_version, datetime.now(UTC))

    def certificate_records(self) -> list[CertificateRecord]:
        return sorted(self.certificates.values(), key=lambda c: c.fingerprint)

    def grant_records(self) -> list[GrantRecord]:
        return sorted(self.grants.values(), key=lambda g: (g.client, g.method))

    def group_records(self) -> list[GroupRecord]:
        return sorted(self.groups.values(), key=lambda g: g.code)

    def add_member(self, member: Member) -> int:
        _absent(member.id in self.members, "member", f"member {member.id}")
        self.members[member.id] = member
        return self._bump()

    def update_member(self, member: Member) -> int:
        _present(member.id in self.members, "member", f"member {member.id}")
        self.members[member.id] = member
        return self._bump()

    def remove_member(self, member: MemberId) -> int:
        _present(member in self.members, "member", f"member {member}")
        if any(s.member == member for s in [*self.subsystems, *self.externals]):
            raise FailedPrecondition("member", f"member {member} still has subsystems or external systems")
        del self.members[member]
        return self._bump()

    def add_subsystem(self, subsystem: Subsystem) -> int:
        _present(subsystem.id.member in self.members, "member", f"member {subsystem.id.member} is registered")
        _absent(subsystem.id in self.subsystems, "subsystem", f"subsystem {subsystem.id}")
        self.subsystems[subsystem.id] = subsystem
        return self._bump()

    def set_channel(self, subsystem: SubsystemId, channel: Channel) -> int:
        _present(subsystem in self.subsystems, "subsystem", f"subsystem {subsystem}")
        self.subsystems[subsystem] = Subsystem(subsystem, channel)
        return self._bump()

    def remove_subsystem(self, subsystem: SubsystemId) -> int:
        _present(subsystem in self.subsystems, "subsystem", f"subsystem {subsystem}")
        name = str(subsystem)
        if (any(g.client == f"subsystem:{name}" for g in self.grants.values())
                or any(c.subsystem == name and c.revoked_at is None for c in self.certificates.values())
                or any(name in g.subsystems for g in self.groups.values())):
            raise FailedPrecondition("subsystem", f"subsystem {name} still has grants, certificates in force "
                                                  "or group places")
        del self.subsystems[subsystem]
        return self._bump()

    def register_certificate(self, certificate: Certificate) -> int:
        _present(certificate.subsystem in self.subsystems, "subsystem",
                 f"subsystem {certificate.subsystem} is registered")
        _absent(certificate.fingerprint in self.certificates, "certificate", f"certificate {certificate.fingerprint}")
        self.certificates[certificate.fingerprint] = CertificateRecord(
            certificate.fingerprint, str(certificate.subsystem), certificate.subject, certificate.not_after,
            datetime.now(UTC), None)
        return self._bump()

    def revoke_certificate(self, fingerprint: str) -> int:
        fingerprint = check_fingerprint(fingerprint)
        record = self.certificates.get(fingerprint)
        if record is None:
            raise NotFound("fingerprint", f"no certificate {fingerprint} is registered")
        if record.revoked_at is not None:
            raise FailedPrecondition("fingerprint", f"certificate {fingerprint} is already revoked")
        self.certificates[fingerprint] = replace(record, revoked_at=datetime.now(UTC))
        return self._bump()

    def add_group(self, code: str, description: str) -> int:
        _absent(check_code(code, "group") in self.groups, "group", f"group {code}")
        self.groups[code] = GroupRecord(code, description, ())
        return self._bump()

    def remove_group(self, code: str) -> int:
        _present(code in self.groups, "group", f"group {code}")
        if any(g.client == f"group:{code}" for g in self.grants.values()):
            raise FailedPrecondition("group", f"group {code} still holds grants")
        del self.groups[code]
        return self._bump()

    def add_to_group(self, code: str, subsystem: SubsystemId) -> int:
        _present(subsystem in self.subsystems, "subsystem", f"subsystem {subsystem} is registered")
        _present(code in self.groups, "group", f"group {code}")
        group = self.groups[code]
        self.groups[code] = replace(group, subsystems=tuple(sorted({*group.subsystems, str(subsystem)})))
        return self._bump()

    def remove_from_group(self, code: str, subsystem: SubsystemId) -> int:
        _present(code in self.groups, "group", f"group {code}")
        group = self.groups[code]
        self.groups[code] = replace(group, subsystems=tuple(s for s in group.subsystems if s != str(subsystem)))
        return self._bump()

    def add_grant(self, grant: Grant) -> int:
        kind, _, name = grant.client.partition(":")
        if kind == "group":
            _present(name in self.groups, "group", f"group {name} is registered")
        else:
            _present(SubsystemId.parse(name) in self.subsystems, "subsystem", f"subsystem {name} is registered")
        key = (grant.client, grant.method)
        _absent(key in self.grants, "grant", f"grant of {grant.method} to {grant.client}")
        self.grants[key] = GrantRecord(grant.client, grant.method, datetime.now(UTC))
        return self._bump()

    def revoke_grant(self, grant: Grant) -> int:
        if self.grants.pop((grant.client, grant.method), None) is None:
            raise NotFound("grant", f"{grant.client} has no grant of {grant.method}")
        return self._bump()

    def add_external_system(self, system: ExternalSystem) -> int:
        _present(system.id.member in self.members, "member", f"member {system.id.member} is registered")
        for other in self.externals.values():
            if other.services & system.services:
                raise AlreadyExists("service", f"{', '.join(sorted(other.services & system.services))} "
                                               f"is already served by {other.id}")
        _absent(system.id in self.externals, "external_system", f"external system {system.id}")
        self.externals[system.id] = system
        return self._bump()

    def remove_external_system(self, system: SubsystemId) -> int:
        if self.externals.pop(system, None) is None:
            raise NotFound("external_system", f"no external system {system} is registered")
        return self._bump()

    def set_maintenance(self, on: bool) -> int:
        self.maintenance = on
        return self._bump()

    def _bump(self) -> int:
        self.version += 1
        return self.version


def _absent(present: bool, field_name: str, what: str) -> None:
    if present:
        raise AlreadyExists(field_name, f"{what} already exists")


def _present(present: bool, field_name: str, what: str) -> None:
    if not present:
        raise NotFound(field_name, f"no {what}")
