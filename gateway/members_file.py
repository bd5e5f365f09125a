"""`egov-gateway apply -f members.yaml`: the registry declared in a file, and the steps that converge
the registry to it (GitOps). The same declaration, built in code, seeds `make run`'s stack, compose's
registration job and the bench, without pruning what else is registered.

The file (`egov-members/1`; paths are relative to the file):

    members:
      - member: VN/GOV/000.00.15.H57
        name: Sở Tư pháp tỉnh Thừa Thiên Huế
        limits: {rate_per_second: 100, burst: 200, concurrency: 16}     # optional; unset: the defaults
        subsystems:
          - subsystem: one-stop-desk
            channel: counter                    # none (default), counter, post-office
            certificates: [desk.pem]
            grants: [/egov.procedures.v1.ProcedureService/GetDossier]
    groups:
      - group: front-offices
        description: one-stop desks and post offices    # set when the group is created
        subsystems: [VN/GOV/000.00.15.H57/one-stop-desk]
        grants: [/egov.procedures.v1.ProcedureService/SubmitDossier]
    external_systems:                           # their member is one of `members`
      - external_system: VN/GOV/BCA/population
        address: population.example:443
        server_name: population.example
        ca: bca-ca.pem
        services: [egov.population.v1.PopulationRegistry]

Everything is checked before anything changes (ids, certificates' CN and expiry, grantable
methods); a certificate revoked in the registry cannot be declared again. With pruning (the
default of `apply`) what the file does not declare is taken away: grants revoked, certificates
revoked, group places, groups, external systems, subsystems and members removed, in that order.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway import operations
from gateway.members import Certificate, ExternalSystem, Grant, Member, MemberId, Registry, Subsystem, SubsystemId
from gateway.registry_admin import RegistryAdmin
from services.common.errors import InvalidArgument

Document = Mapping[str, Any]


@dataclass
class Declared:
    """The registry a file declares."""

    members: dict[MemberId, Member] = field(default_factory=dict)
    subsystems: dict[SubsystemId, Subsystem] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    groups: dict[str, tuple[str, frozenset[SubsystemId]]] = field(default_factory=dict)
    grants: set[Grant] = field(default_factory=set)
    externals: dict[SubsystemId, ExternalSystem] = field(default_factory=dict)


def read(path: Path, registry: Registry | None = None) -> Declared:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidArgument("file", f"cannot read {path}: {exc}") from None
    return declared(document or {}, path.parent, registry)


def declared(document: Document, base: Path, registry: Registry | None = None) -> Declared:
    """Check a document (the parsed file) whole; `base` is where its relative paths start."""
    if not isinstance(document, Mapping):
        raise InvalidArgument("file", "must be a mapping with members, groups and external_systems")
    unknown = set(document) - {"members", "groups", "external_systems"}
    if unknown:
        raise InvalidArgument("file", f"unknown key(s): {', '.join(sorted(unknown))}")
    result = Declared()
    for i, entry in enumerate(_list(document, "members")):
        _member(result, entry, f"members[{i}]", base)
    for i, entry in enumerate(_list(document, "external_systems")):
        where = f"external_systems[{i}]"
        system = operations.external_system(_text(entry, "external_system", where), _text(entry, "address", where),
                                            _bytes(base, _text(entry, "ca", where), f"{where}.ca"),
                                            _text(entry, "server_name", where), list(entry.get("services") or []))
        if system.id.member not in result.members:
            raise InvalidArgument(f"{where}.external_system", f"its member {system.id.member} is not in members")
        result.externals[system.id] = system
    routes = Registry.build(version=0, members=(), subsystems=(), certificates=(), groups={}, grants=(),
                            external_systems=[*result.externals.values(),
                                              *(registry.external_systems.values() if registry else ())])
    for i, entry in enumerate(_list(document, "groups")):
        where = f"groups[{i}]"
        code = _text(entry, "group", where)
        ids = frozenset(SubsystemId.parse(s) for s in entry.get("subsystems") or [])
        for subsystem in ids - set(result.subsystems):
            raise InvalidArgument(f"{where}.subsystems", f"{subsystem} is not declared in members")
        result.groups[code] = (str(entry.get("description", "")), ids)
        result.grants |= {operations.grant_of(routes, m, group=code) for m in entry.get("grants") or []}
    result.grants = {operations.grant_of(routes, g.method, subsystem=g.client.partition(":")[2])
                     if g.client.startswith("subsystem:") else g for g in result.grants}
    return result


def _member(result: Declared, entry: Document, where: str, base: Path) -> None:
    member_id = MemberId.parse(_text(entry, "member", where))
    given = entry.get("limits") or {}
    member_limits = operations.limits(given.get("rate_per_second"), given.get("burst"), given.get("concurrency"))
    result.members[member_id] = Member(member_id, _text(entry, "name", where), member_limits)
    for j, sub in enumerate(entry.get("subsystems") or []):
        at = f"{where}.subsystems[{j}]"
        subsystem_id = SubsystemId.parse(f"{member_id}/{_text(sub, 'subsystem', at)}")
        result.subsystems[subsystem_id] = Subsystem(subsystem_id, operations.channel(sub.get("channel", "none")))
        for k, path in enumerate(sub.get("certificates") or []):
            record = operations.certificate_of(subsystem_id, _bytes(base, path, f"{at}.certificates[{k}]"))
            result.certificates[record.fingerprint] = record
        # Checked against the routes once every external system is known (declared() above).
        result.grants |= {Grant(f"subsystem:{subsystem_id}", method) for method in sub.get("grants") or []}


def _list(document: Document, key: str) -> list[Document]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidArgument(key, "must be a list of mappings")
    return value


def _text(entry: Document, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{where}.{key}", "is required")
    return value.strip()


def _bytes(base: Path, name: str, where: str) -> bytes:
    try:
        return (base / name).read_bytes()
    except OSError as exc:
        raise InvalidArgument(where, f"cannot read {base / name}: {exc.strerror}") from None


# -- the steps ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    action: str        # "add", "change" or "remove"
    kind: str          # member, subsystem, certificate, group, group_place, external_system, grant
    target: str
    detail: str
    run: Callable[[RegistryAdmin], int] = field(compare=False, repr=False)

    def row(self) -> dict[str, str]:
        return {"action": self.action, "kind": self.kind, "target": self.target, "detail": self.detail}

    def line(self) -> str:
        sign = {"add": "+", "change": "~", "remove": "-"}[self.action]
        return f"{sign} {self.kind} {self.target}" + (f": {self.detail}" if self.detail else "")


def plan(registry: RegistryAdmin, wanted: Declared, prune: bool = True) -> list[Step]:
    """The steps from the registry as it is to `wanted`, in an order each of them can run in."""
    now = registry.load()
    revoked = {c.fingerprint for c in registry.certificate_records() if c.revoked_at is not None}
    for fingerprint, cert in wanted.certificates.items():
        if fingerprint in revoked:
            raise InvalidArgument("certificates", f"certificate {fingerprint} of {cert.subsystem} was revoked; "
                                                  "a revoked certificate cannot be registered again: issue a new one")
    described = {g.code: g.description for g in registry.group_records()}
    places = {(code, s) for code, ids in now.groups.items() for s in ids}
    wanted_places = {(code, s) for code, (_, ids) in wanted.groups.items() for s in ids}
    steps: list[Step] = []
    for m in wanted.members.values():
        old = now.members.get(m.id)
        if old is None:
            steps.append(Step("add", "member", str(m.id), m.name, _do("add_member", m)))
        elif old != m:
            steps.append(Step("change", "member", str(m.id), _member_change(old, m), _do("update_member", m)))
    for s in wanted.subsystems.values():
        old_sub = now.subsystems.get(s.id)
        if old_sub is None:
            steps.append(Step("add", "subsystem", str(s.id), f"channel {operations.channel_name(s.channel)}",
                              _do("add_subsystem", s)))
        elif old_sub.channel is not s.channel:
            steps.append(Step("change", "subsystem", str(s.id), f"channel {operations.channel_name(old_sub.channel)}"
                              f" -> {operations.channel_name(s.channel)}",
                              _do("set_channel", s.id, s.channel)))
    for c in wanted.certificates.values():
        if c.fingerprint not in now.certificates:
            steps.append(Step("add", "certificate", c.fingerprint, f"of {c.subsystem}",
                              _do("register_certificate", c)))
    for code, (description, _) in wanted.groups.items():
        if code not in described:
            steps.append(Step("add", "group", code, description, _do("add_group", code, description)))
    for code, sid in sorted(wanted_places - places):
        steps.append(Step("add", "group_place", code, str(sid), _do("add_to_group", code, sid)))
    changed = {i for i, e in now.external_systems.items() if i in wanted.externals and e != wanted.externals[i]}
    gone = {i for i in now.external_systems if i not in wanted.externals} if prune else set()
    for i in sorted(changed | gone):
        steps.append(Step("remove", "external_system", str(i), "changed" if i in changed else "",
                          _do("remove_external_system", i)))
    for e in wanted.externals.values():
        if e.id not in now.external_systems or e.id in changed:
            steps.append(Step("add", "external_system", str(e.id), f"{e.address}, {', '.join(sorted(e.services))}",
                              _do("add_external_system", e)))
    for g in sorted(wanted.grants - now.grants, key=lambda g: (g.client, g.method)):
        steps.append(Step("add", "grant", g.method, f"to {g.client}", _do("add_grant", g)))
    if prune:
        steps += _removals(registry, now, wanted, places - wanted_places)
    return steps


def _removals(registry: RegistryAdmin, now: Registry, wanted: Declared,
              places: set[tuple[str, SubsystemId]]) -> list[Step]:
    steps = [Step("remove", "grant", g.method, f"from {g.client}", _do("revoke_grant", g))
             for g in sorted(now.grants - wanted.grants, key=lambda g: (g.client, g.method))]
    steps += [Step("remove", "group_place", code, str(sid), _do("remove_from_group", code, sid))
              for code, sid in sorted(places)]
    steps += [Step("remove", "group", code, "", _do("remove_group", code))
              for code in sorted(now.groups) if code not in wanted.groups]
    steps += [Step("remove", "certificate", c.fingerprint, f"of {c.subsystem} (revoked)",
                   _do("revoke_certificate", c.fingerprint))
              for c in sorted(registry.certificate_records(), key=lambda c: (c.subsystem, c.fingerprint))
              if c.revoked_at is None and c.fingerprint not in wanted.certificates]
    steps += [Step("remove", "subsystem", str(i), "", _do("remove_subsystem", i))
              for i in sorted(now.subsystems) if i not in wanted.subsystems]
    steps += [Step("remove", "member", str(i), "", _do("remove_member", i))
              for i in sorted(now.members) if i not in wanted.members]
    return steps


def _do(method: str, *args: Any) -> Callable[[RegistryAdmin], int]:
    """One call of the registry port, run later (or never, in a dry run)."""
    return lambda registry: int(getattr(registry, method)(*args))


def _member_change(old: Member, new: Member) -> str:
    parts = [f"name {old.name!r} -> {new.name!r}"] if old.name != new.name else []
    for name in ("rate_per_second", "burst", "concurrency"):
        before, after = getattr(old.limits, name), getattr(new.limits, name)
        if before != after:
            parts.append(f"{name} {before if before is not None else 'default'} -> "
                         f"{after if after is not None else 'default'}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Applied:
    steps: list[Step]
    version: int           # the registry version carrying the last step (0: nothing changed)
    dry_run: bool


def apply(registry: RegistryAdmin, wanted: Declared, *, prune: bool = True, dry_run: bool = False) -> Applied:
    """Converge the registry to `wanted` (only add and change without `prune`)."""
    steps = plan(registry, wanted, prune)
    version = 0
    if not dry_run:
        for step in steps:
            version = step.run(registry)
    return Applied(steps, version, dry_run)
