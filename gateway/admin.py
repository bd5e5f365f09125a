"""egov-gateway: manage the data-sharing layer's member registry, access rights, message log and
maintenance mode, in the gateway's database (EGOV_MONGO_URI, EGOV_GATEWAY_DB).

    egov-gateway members add GOV 000.00.15.H57 --name "Sở Tư pháp tỉnh Thừa Thiên Huế"
    egov-gateway subsystems add VN/GOV/000.00.15.H57/one-stop-desk --channel counter
    egov-gateway certs register VN/GOV/000.00.15.H57/one-stop-desk desk.pem
    egov-gateway grants add /egov.procedures.v1.ProcedureService/SubmitDossier \
        --subsystem VN/GOV/000.00.15.H57/one-stop-desk
    egov-gateway external add VN/GOV/BCA/population --address population.example:443 \
        --ca bca-ca.pem --server-name population.example --service egov.population.v1.PopulationRegistry
    egov-gateway log verify

A change is in force once every running gateway has loaded it; the command waits for that (at most
--wait seconds) and says which gateways confirmed.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pymongo import MongoClient
from rich.console import Console
from rich.table import Table

from gateway import log_archive
from gateway.event_types import event_types, grant_name
from gateway.members import (
    Certificate,
    Channel,
    ExternalSystem,
    Grant,
    Limits,
    Member,
    MemberId,
    Subsystem,
    SubsystemId,
    check_address,
    check_code,
    check_service_name,
)
from gateway.message_log import SEAL, Verdict, public_key_from_pem, verify
from gateway.message_log_store import MongoLogStore
from gateway.methods import build_method_table, gateway_method_table
from gateway.registry_store import RegistryStore
from services.common.caller import CallerKind
from services.common.config import database_name, mongo_uri
from services.common.errors import DomainError, InvalidArgument

app = typer.Typer(help="Manage the gateway's member registry, access rights, message log and maintenance mode "
                       "(in EGOV_MONGO_URI, database EGOV_GATEWAY_DB). A change is in force once every "
                       "running gateway has loaded it; commands wait for that. See docs/AGENCIES.md.",
                  no_args_is_help=True, rich_markup_mode=None)
members_app = typer.Typer(help="Member organisations (GOV agencies, COM enterprises).", no_args_is_help=True)
subsystems_app = typer.Typer(help="Member subsystems: the systems that call the gateway.", no_args_is_help=True)
certs_app = typer.Typer(help="Client certificates registered to subsystems.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups of subsystems, to grant methods to many at once.", no_args_is_help=True)
grants_app = typer.Typer(help="Access rights: (subsystem or group) x gRPC method. Deny by default.",
                         no_args_is_help=True)
log_app = typer.Typer(help="The message log: verify, seal, archive.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Maintenance (draining) mode.", no_args_is_help=True)
external_app = typer.Typer(help="External systems the platform's services reach through the outbound exchange.",
                           no_args_is_help=True)
for sub, name in ((members_app, "members"), (subsystems_app, "subsystems"), (certs_app, "certs"),
                  (groups_app, "groups"), (grants_app, "grants"), (log_app, "log"),
                  (maintenance_app, "maintenance"), (external_app, "external")):
    app.add_typer(sub, name=name)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
CHANNELS = {"none": Channel.NONE, "counter": Channel.COUNTER, "post-office": Channel.POST_OFFICE}
Wait = Annotated[float, typer.Option("--wait", help="seconds to wait for running gateways to load the change")]


class _Context:
    def __init__(self, uri: str, db: str) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000,
                                                               appname="egov-gateway admin")
        self.registry = RegistryStore(self.client, db)
        self.log = MongoLogStore(self.client, db)


_context: dict[str, _Context] = {}


@app.callback()
def main(
    ctx: typer.Context,
    mongo: Annotated[str, typer.Option("--mongo-uri", help="default: EGOV_MONGO_URI")] = "",
    db: Annotated[str, typer.Option("--db", help="default: EGOV_GATEWAY_DB or egov_gateway")] = "",
) -> None:
    context = _Context(mongo or mongo_uri(), db or database_name("gateway"))
    _context["current"] = context
    ctx.call_on_close(context.client.close)


def _ctx() -> _Context:
    return _context["current"]


def _refuse(exc: DomainError) -> typer.Exit:
    err.print(f"refused: {exc}")
    return typer.Exit(code=1)


def _confirm(version: int, wait: float, what: str) -> None:
    """Wait until every running gateway serves `version`, and say so."""
    console.print(f"{what} (registry version {version})")
    deadline = time.monotonic() + wait
    while True:
        live = _ctx().registry.live_gateways(timedelta(seconds=5))
        behind = [g.instance for g in live if g.loaded_version < version]
        if not live:
            console.print("no gateway is running; it takes effect when one starts")
            return
        if not behind:
            console.print(f"in force on {len(live)} gateway(s): {', '.join(sorted(g.instance for g in live))}")
            return
        if time.monotonic() >= deadline:
            err.print(f"not yet confirmed by: {', '.join(sorted(behind))}")
            raise typer.Exit(code=2)
        time.sleep(0.05)


# -- members ----------------------------------------------------------------------------------------

@members_app.command("add")
def members_add(
    member_class: Annotated[str, typer.Argument(help="GOV or COM")],
    member_code: Annotated[str, typer.Argument(help="for a state agency its agency code, e.g. 000.00.15.H57")],
    name: Annotated[str, typer.Option("--name", help="the organisation's name")],
    rate: Annotated[float | None, typer.Option(help="calls/s (default: the gateway's)")] = None,
    burst: Annotated[int | None, typer.Option(help="calls saved up for a burst")] = None,
    concurrency: Annotated[int | None, typer.Option(help="calls in flight at once")] = None,
    wait: Wait = 10.0,
) -> None:
    """Register a member organisation."""
    try:
        member = Member(MemberId.parse(f"{member_class}/{member_code}"), _required(name, "name"),
                        _limits(rate, burst, concurrency))
        version = _ctx().registry.add_member(member)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"member {member.id} added")


@members_app.command("limits")
def members_limits(
    member: Annotated[str, typer.Argument(help="VN/<class>/<member code>")],
    rate: Annotated[float | None, typer.Option(help="calls/s (unset: the gateway's default)")] = None,
    burst: Annotated[int | None, typer.Option(help="calls saved up for a burst")] = None,
    concurrency: Annotated[int | None, typer.Option(help="calls in flight at once")] = None,
    wait: Wait = 10.0,
) -> None:
    """Set (or, given none, clear) a member's own rate and concurrency limits."""
    try:
        member_id = MemberId.parse(member)
        version = _ctx().registry.set_limits(member_id, _limits(rate, burst, concurrency))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"limits of {member_id} set")


@members_app.command("list")
def members_list() -> None:
    """Members, their subsystems and limits."""
    registry = _ctx().registry.load()
    table = Table("member", "name", "subsystems", "rate/s", "burst", "concurrency")
    for member in sorted(registry.members.values(), key=lambda m: m.id):
        subsystems = sorted(f"{s.id.subsystem_code} ({_channel_name(s.channel)})"
                            for s in registry.subsystems.values() if s.id.member == member.id)
        limits = member.limits
        table.add_row(str(member.id), member.name, "\n".join(subsystems) or "-",
                      *(str(v) if v is not None else "default"
                        for v in (limits.rate_per_second, limits.burst, limits.concurrency)))
    console.print(table)


# -- subsystems -------------------------------------------------------------------------------------

@subsystems_app.command("add")
def subsystems_add(
    subsystem: Annotated[str, typer.Argument(help="VN/<class>/<member code>/<subsystem code>")],
    channel: Annotated[str, typer.Option(help="none, counter (one-stop desk) or post-office (VNPost)")] = "none",
    wait: Wait = 10.0,
) -> None:
    """Register a subsystem of a member; `channel` is recorded on the dossiers it submits."""
    try:
        if channel not in CHANNELS:
            raise InvalidArgument("channel", f"must be one of {', '.join(CHANNELS)}")
        version = _ctx().registry.add_subsystem(Subsystem(SubsystemId.parse(subsystem), CHANNELS[channel]))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"subsystem {subsystem} added")


@subsystems_app.command("list")
def subsystems_list() -> None:
    registry = _ctx().registry.load()
    table = Table("subsystem", "channel", "certificates in force", "groups")
    for subsystem in sorted(registry.subsystems.values(), key=lambda s: s.id):
        certificates = sum(1 for c in registry.certificates.values()
                           if c.subsystem == subsystem.id and not c.revoked)
        groups = sorted(code for code, ids in registry.groups.items() if subsystem.id in ids)
        table.add_row(str(subsystem.id), _channel_name(subsystem.channel), str(certificates), ", ".join(groups))
    console.print(table)


# -- certificates -----------------------------------------------------------------------------------

@certs_app.command("register")
def certs_register(
    subsystem: Annotated[str, typer.Argument(help="VN/<class>/<member code>/<subsystem code>")],
    certificate_file: Annotated[Path, typer.Argument(help="the subsystem's client certificate, PEM")],
    wait: Wait = 10.0,
) -> None:
    """Register a client certificate (by its SHA-256 fingerprint) to a subsystem; its CN must be the
    subsystem id."""
    try:
        subsystem_id = SubsystemId.parse(subsystem)
        certificate = _read_certificate(certificate_file)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        if common_name != str(subsystem_id):
            raise InvalidArgument("certificate", f"its CN is {common_name!r}, not the subsystem id {subsystem_id}")
        if certificate.not_valid_after_utc <= datetime.now(UTC):
            raise InvalidArgument("certificate", f"expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        version = _ctx().registry.register_certificate(Certificate(
            fingerprint, subsystem_id, certificate.subject.rfc4514_string(),
            certificate.not_valid_after_utc.isoformat()))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"certificate {fingerprint} registered to {subsystem_id}")


@certs_app.command("revoke")
def certs_revoke(
    fingerprint: Annotated[str, typer.Argument(help="SHA-256 fingerprint (hex), or a PEM file")],
    wait: Wait = 10.0,
) -> None:
    """Revoke a certificate: its next call is refused UNAUTHENTICATED."""
    try:
        if Path(fingerprint).is_file():
            fingerprint = _read_certificate(Path(fingerprint)).fingerprint(hashes.SHA256()).hex()
        version = _ctx().registry.revoke_certificate(fingerprint)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"certificate {fingerprint} revoked")


@certs_app.command("list")
def certs_list() -> None:
    table = Table("fingerprint (SHA-256)", "subsystem", "not after", "revoked")
    for doc in _ctx().registry.find("certificates"):
        revoked = doc.get("revoked_at")
        table.add_row(doc["_id"], doc["subsystem"], doc["not_after"][:10],
                      f"{revoked:%Y-%m-%d %H:%M}" if revoked else "")
    console.print(table)


def _read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidArgument("certificate", f"cannot read a PEM certificate from {path}: {exc}") from None


# -- groups -----------------------------------------------------------------------------------------

@groups_app.command("add")
def groups_add(code: str, description: Annotated[str, typer.Option()] = "", wait: Wait = 10.0) -> None:
    """Create a group of subsystems."""
    try:
        version = _ctx().registry.add_group(code, description)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"group {code} added")


@groups_app.command("add-member")
def groups_add_member(code: str, subsystem: str, wait: Wait = 10.0) -> None:
    """Put a subsystem in a group: it gets the group's grants."""
    try:
        version = _ctx().registry.add_to_group(check_code(code, "group"), SubsystemId.parse(subsystem))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"{subsystem} is in group {code}")


@groups_app.command("remove-member")
def groups_remove_member(code: str, subsystem: str, wait: Wait = 10.0) -> None:
    try:
        version = _ctx().registry.remove_from_group(check_code(code, "group"), SubsystemId.parse(subsystem))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"{subsystem} is no longer in group {code}")


@groups_app.command("list")
def groups_list() -> None:
    table = Table("group", "description", "subsystems")
    for doc in _ctx().registry.find("groups"):
        table.add_row(doc["_id"], doc.get("description", ""), "\n".join(sorted(doc["subsystems"])) or "-")
    console.print(table)


# -- grants -----------------------------------------------------------------------------------------

Subsystem_ = Annotated[str, typer.Option("--subsystem", help="VN/<class>/<member code>/<subsystem code>")]
Group_ = Annotated[str, typer.Option("--group", help="a group code")]


@grants_app.command("add")
def grants_add(method: str, subsystem: Subsystem_ = "", group: Group_ = "", wait: Wait = 10.0) -> None:
    """Grant a full gRPC method name (see `grants methods`) to a subsystem or a group."""
    try:
        grant = _grant(method, subsystem, group)
        version = _ctx().registry.add_grant(grant)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"{grant.method} granted to {grant.client}")


@grants_app.command("revoke")
def grants_revoke(method: str, subsystem: Subsystem_ = "", group: Group_ = "", wait: Wait = 10.0) -> None:
    """Take a grant back: the next call is refused PERMISSION_DENIED."""
    try:
        grant = _grant(method, subsystem, group, check_method=False)
        version = _ctx().registry.revoke_grant(grant)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"{grant.method} revoked from {grant.client}")


@grants_app.command("list")
def grants_list(subsystem: Subsystem_ = "", group: Group_ = "") -> None:
    query: dict[str, Any] = {}
    if subsystem or group:
        query["client"] = f"subsystem:{subsystem}" if subsystem else f"group:{group}"
    table = Table("client", "method", "granted")
    for doc in _ctx().registry.find("grants", query):
        table.add_row(doc["client"], doc["method"], f"{doc['granted_at']:%Y-%m-%d %H:%M}")
    console.print(table)


@grants_app.command("methods")
def grants_methods() -> None:
    """What an agency system can be granted: methods its contract admits agency callers to, and
    event types (`event:<type>`, read with /egov.gateway.v1.EventService/Subscribe)."""
    for name in _grantable():
        console.print(name)


def _grantable() -> list[str]:
    """Methods whose contract admits agency callers, then the event types they may subscribe to."""
    table = {**build_method_table(), **gateway_method_table()}
    methods = sorted(m.full_name for m in table.values() if CallerKind.AGENCY in m.access and m.grant_required)
    return methods + sorted(grant_name(t) for t in event_types())


def _external_method(method: str) -> bool:
    """A method of a service some registered external system serves (their methods are not known here:
    the gateway forwards them without decoding)."""
    return _ctx().registry.load().route(method) is not None


def _grant(method: str, subsystem: str, group: str, check_method: bool = True) -> Grant:
    if bool(subsystem) == bool(group):
        raise InvalidArgument("client", "give exactly one of --subsystem or --group")
    if check_method and method not in _grantable() and not _external_method(method):
        if method in gateway_method_table():
            raise InvalidArgument("method", f"{method} is the gateway's own; every member may call it")
        raise InvalidArgument("method", f"{method} is not a method agency systems may call "
                                        "(see `egov-gateway grants methods`) nor one of a registered "
                                        "external system (see `egov-gateway external list`)")
    return Grant.for_subsystem(SubsystemId.parse(subsystem), method) if subsystem else Grant.for_group(group, method)


# -- external systems -------------------------------------------------------------------------------

@external_app.command("add")
def external_add(
    subsystem: Annotated[str, typer.Argument(help="the external system's id, VN/<class>/<member code>/<code>")],
    address: Annotated[str, typer.Option("--address", help="host:port where it listens")],
    ca: Annotated[Path, typer.Option("--ca", help="CA certificate(s) that issue its server certificate, PEM")],
    server_name: Annotated[str, typer.Option("--server-name", help="the name its server certificate carries")],
    service: Annotated[list[str], typer.Option("--service", help="a full gRPC service name it serves "
                                                                 "(repeatable)")],
    wait: Wait = 10.0,
) -> None:
    """Register an external system (its member must be registered): calls of its services' methods on
    the outbound listener are forwarded to it over mutual TLS, for subsystems granted the method."""
    try:
        try:
            pem = ca.read_bytes()
            x509.load_pem_x509_certificates(pem)
        except (OSError, ValueError) as exc:
            raise InvalidArgument("ca", f"cannot read PEM certificates from {ca}: {exc}") from None
        if not service:
            raise InvalidArgument("service", "give at least one --service")
        system = ExternalSystem(SubsystemId.parse(subsystem), check_address(address),
                                _required(server_name, "server_name"), pem,
                                frozenset(check_service_name(s) for s in service))
        version = _ctx().registry.add_external_system(system)
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"external system {system.id} added at {system.address}")


@external_app.command("remove")
def external_remove(subsystem: str, wait: Wait = 10.0) -> None:
    """Stop routing to an external system: calls of its methods answer UNIMPLEMENTED."""
    try:
        version = _ctx().registry.remove_external_system(SubsystemId.parse(subsystem))
    except DomainError as exc:
        raise _refuse(exc) from None
    _confirm(version, wait, f"external system {subsystem} removed")


@external_app.command("list")
def external_list() -> None:
    table = Table("external system", "address", "server name", "services")
    for doc in _ctx().registry.find("external_systems"):
        table.add_row(doc["_id"], doc["address"], doc["server_name"], "\n".join(doc["services"]))
    console.print(table)


# -- message log ------------------------------------------------------------------------------------

Chain = Annotated[str, typer.Option("--chain", help="default: EGOV_GATEWAY_LOG_CHAIN or gateway")]
PublicKeys = Annotated[list[Path] | None, typer.Option(
    "--public-key", help="trusted seal key (PEM, public or private; repeatable); "
                         "default: EGOV_GATEWAY_SEAL_KEY_FILE")]


@log_app.command("verify")
def log_verify(chain: Chain = "", public_key: PublicKeys = None,
               file: Annotated[Path | None, typer.Option("--file", help="verify an archive file instead")] = None,
               every_chain: Annotated[bool, typer.Option("--all", help="every chain in the database")] = False,
               ) -> None:
    """Recompute the hash chain and check every seal; name the first broken record."""
    keys = _trusted_keys(public_key)
    if file is not None:
        _report(log_archive.verify_file(file, keys), str(file))
        return
    store = _ctx().log
    broken = False
    for name in store.chains() if every_chain else [_chain(chain)]:
        anchor = store.anchor(name)
        try:
            verdict = verify(store.records(name, anchor.seq), keys, anchor)
            _report(verdict, f"chain {name!r} from record {anchor.seq + 1}")
        except typer.Exit:
            broken = True
    if broken:
        raise typer.Exit(code=1)


def _report(verdict: Verdict, what: str) -> None:
    for note in verdict.notes:
        console.print(f"note: {note}")
    if verdict.problem is not None:
        console.print(f"BROKEN: {what}: first broken record {verdict.problem.seq}: {verdict.problem.reason}")
        raise typer.Exit(code=1)
    console.print(f"intact: {what}: {verdict.records} records, {verdict.seals} seals, "
                  f"last record {verdict.last_seq}")


@log_app.command("seal")
def log_seal(chain: Chain = "", timeout: Annotated[float, typer.Option()] = 10.0) -> None:
    """Ask the running gateway to seal its chain now, and wait for the seal."""
    chain = _chain(chain)
    store = _ctx().log
    count = store.request_seal(chain)
    deadline = time.monotonic() + timeout
    while store.seal_requests(chain)[1] < count:
        if time.monotonic() > deadline:
            err.print(f"no gateway holding chain {chain!r} answered within {timeout:g} s")
            raise typer.Exit(code=2)
        time.sleep(0.05)
    seal = store.last(chain, SEAL)
    if seal is None:
        console.print(f"nothing to seal: chain {chain!r} is empty")
        return
    console.print(f"sealed: chain {chain!r} records {seal['first_seq']}..{seal['last_seq']} by seal "
                  f"{seal['seq']} ({seal['hash']})")


@log_app.command("archive")
def log_archive_command(out: Annotated[Path, typer.Option("--out", help="directory for the archive file")],
                        chain: Chain = "", public_key: PublicKeys = None) -> None:
    """Move every sealed record into a file that verifies on its own, then delete them from the database."""
    try:
        archived = log_archive.archive(_ctx().log, _chain(chain), out, _trusted_keys(public_key))
    except log_archive.NothingToArchive as exc:
        console.print(str(exc))
        return
    except log_archive.ChainBroken as exc:
        _report(exc.verdict, "not archived")
        return
    console.print(f"archived records {archived.first_seq}..{archived.last_seq} ({archived.records}) to "
                  f"{archived.file}; {archived.deleted} deleted from the database")


def _chain(chain: str) -> str:
    return chain or os.environ.get("EGOV_GATEWAY_LOG_CHAIN", "") or "gateway"


def _trusted_keys(files: list[Path] | None) -> list[bytes]:
    paths = list(files or [])
    if not paths and os.environ.get("EGOV_GATEWAY_SEAL_KEY_FILE"):
        paths = [Path(os.environ["EGOV_GATEWAY_SEAL_KEY_FILE"])]
    try:
        return [public_key_from_pem(p.read_bytes()) for p in paths]
    except (OSError, ValueError) as exc:
        err.print(f"cannot read a seal key: {exc}")
        raise typer.Exit(code=1) from None


# -- maintenance ------------------------------------------------------------------------------------

@maintenance_app.command("on")
def maintenance_on(wait: Wait = 10.0) -> None:
    """Health NOT_SERVING, new calls UNAVAILABLE, calls in flight finish."""
    _confirm(_ctx().registry.set_maintenance(True), wait, "maintenance mode on")


@maintenance_app.command("off")
def maintenance_off(wait: Wait = 10.0) -> None:
    _confirm(_ctx().registry.set_maintenance(False), wait, "maintenance mode off")


@maintenance_app.command("status")
def maintenance_status() -> None:
    registry = _ctx().registry.load()
    console.print(f"maintenance {'on' if registry.maintenance else 'off'} (registry version {registry.version})")
    for gateway in _ctx().registry.live_gateways(timedelta(seconds=5)):
        console.print(f"  {gateway.instance}: version {gateway.loaded_version}")


# -- helpers ----------------------------------------------------------------------------------------

def _limits(rate: float | None, burst: int | None, concurrency: int | None) -> Limits:
    if rate is not None and rate <= 0:
        raise InvalidArgument("rate", "must be positive")
    for name, value in (("burst", burst), ("concurrency", concurrency)):
        if value is not None and value < 1:
            raise InvalidArgument(name, "must be at least 1")
    return Limits(rate, burst, concurrency)


def _required(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidArgument(field, "is required")
    return value.strip()


def _channel_name(channel: Channel) -> str:
    return next(name for name, value in CHANNELS.items() if value is channel)


if __name__ == "__main__":
    sys.exit(app())
