"""`egov-gateway members | subsystems | certs | groups | grants | external | maintenance`:
each parses its arguments, calls one function of gateway.operations (or gateway.members_file) and
prints what it returns. JSON field names are those of the operations' rows (docs/AGENCIES.md)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway import operations
from gateway.cli.context import current
from gateway.operations import Change
from gateway.registry_admin import RegistryAdmin
from services.common.cli import REFUSED, Output, OutputOption, console, emit, emit_one, err_console, refuse
from services.common.errors import DomainError, InvalidArgument

Wait = Annotated[float, typer.Option("--wait", help="seconds to wait for running gateways to load the change")]
Rate = Annotated[float | None, typer.Option("--rate", help="calls/s (unset: the gateway's default)")]
Burst = Annotated[int | None, typer.Option("--burst", help="calls saved up for a burst")]
Concurrency = Annotated[int | None, typer.Option("--concurrency", help="calls in flight at once")]
SubsystemOpt = Annotated[str, typer.Option("--subsystem", help="VN/<class>/<member code>/<subsystem code>")]
GroupOpt = Annotated[str, typer.Option("--group", help="a group code")]


def add_commands(app: typer.Typer) -> None:
    for sub, name in ((members, "members"), (subsystems, "subsystems"), (certs, "certs"), (groups, "groups"),
                      (grants, "grants"), (external, "external"), (maintenance, "maintenance")):
        app.add_typer(sub, name=name)


members = typer.Typer(help="Member organisations (GOV agencies, COM enterprises).", no_args_is_help=True)
subsystems = typer.Typer(help="Member subsystems: the systems that call the gateway.", no_args_is_help=True)
certs = typer.Typer(help="Client certificates registered to subsystems.", no_args_is_help=True)
groups = typer.Typer(help="Groups of subsystems, to grant methods to many at once.", no_args_is_help=True)
grants = typer.Typer(help="Access rights: (subsystem or group) x gRPC method. Deny by default.", no_args_is_help=True)
external = typer.Typer(help="External systems the platform's services reach through the outbound exchange.",
                       no_args_is_help=True)
maintenance = typer.Typer(help="Maintenance (draining) mode.", no_args_is_help=True)


def registry_of(ctx: typer.Context) -> RegistryAdmin:
    return current(ctx).registry


def change(ctx: typer.Context, make: Any, wait: float, output: Output = Output.TABLE) -> None:
    """Run one change, then wait until every running gateway serves it, and say so."""
    registry = registry_of(ctx)
    try:
        change: Change = make(registry)
    except DomainError as exc:
        refuse(exc)
    confirmation = operations.wait_until_loaded(registry, change.version, wait)
    if output is not Output.TABLE:
        emit_one({"change": change.what, **confirmation.row()}, output)
    else:
        console.print(f"{change.what} (registry version {change.version})")
        if confirmation.confirmed and confirmation.in_force_on:
            console.print(f"in force on {len(confirmation.in_force_on)} gateway(s): "
                          f"{', '.join(confirmation.in_force_on)}")
        elif confirmation.confirmed:
            console.print("no gateway is running; it takes effect when one starts")
    if not confirmation.confirmed:
        err_console.print(f"not yet confirmed by: {', '.join(confirmation.behind)}")
        raise typer.Exit(code=REFUSED)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        refuse(InvalidArgument(what, f"cannot read {path}: {exc.strerror}"))


# -- members and subsystems -------------------------------------------------------------------------------

@members.command("add")
def members_add(ctx: typer.Context, member_class: Annotated[str, typer.Argument(help="GOV or COM")],
                member_code: Annotated[str, typer.Argument(help="for a state agency its agency code")],
                name: Annotated[str, typer.Option("--name", help="the organisation's name")],
                rate: Rate = None, burst: Burst = None, concurrency: Concurrency = None, wait: Wait = 10.0,
                output: OutputOption = Output.TABLE) -> None:
    """Register a member organisation."""
    change(ctx, lambda r: operations.add_member(r, f"{member_class}/{member_code}", name,
                                                 operations.limits(rate, burst, concurrency)), wait, output)


@members.command("limits")
def members_limits(ctx: typer.Context, member: Annotated[str, typer.Argument(help="VN/<class>/<member code>")],
                   rate: Rate = None, burst: Burst = None, concurrency: Concurrency = None, wait: Wait = 10.0,
                   output: OutputOption = Output.TABLE) -> None:
    """Set (or, given none, clear) a member's own rate and concurrency limits."""
    change(ctx, lambda r: operations.set_limits(r, member, operations.limits(rate, burst, concurrency)), wait, output)


@members.command("list")
def members_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """Members, their subsystems and limits. JSON: member, name, subsystems [{subsystem, channel}],
    rate_per_second, burst, concurrency (null: the gateway's default)."""
    rows = operations.members(registry_of(ctx))
    if output is Output.TABLE:
        rows = [{**r, "subsystems": [f"{s['subsystem'].rsplit('/', 1)[1]} ({s['channel']})" for s in r["subsystems"]],
                 **{k: "default" if r[k] is None else r[k] for k in ("rate_per_second", "burst", "concurrency")}}
                for r in rows]
    emit(rows, output, [("member", "member"), ("name", "name"), ("subsystems", "subsystems"),
                        ("rate_per_second", "rate/s"), ("burst", "burst"), ("concurrency", "concurrency")],
         key="members")


@subsystems.command("add")
def subsystems_add(ctx: typer.Context,
                   subsystem: Annotated[str, typer.Argument(help="VN/<class>/<member code>/<subsystem code>")],
                   channel: Annotated[str, typer.Option(help="none, counter (one-stop desk) or post-office")] = "none",
                   wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Register a subsystem of a member; `channel` is recorded on the dossiers it submits."""
    change(ctx, lambda r: operations.add_subsystem(r, subsystem, channel), wait, output)


@subsystems.command("list")
def subsystems_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """JSON: subsystem, member, channel, certificates_in_force, groups."""
    emit(operations.subsystems(registry_of(ctx)), output,
         [("subsystem", "subsystem"), ("channel", "channel"), ("certificates_in_force", "certificates in force"),
          ("groups", "groups")], key="subsystems")


# -- certificates -------------------------------------------------------------------------------------------

@certs.command("register")
def certs_register(ctx: typer.Context,
                   subsystem: Annotated[str, typer.Argument(help="VN/<class>/<member code>/<subsystem code>")],
                   certificate_file: Annotated[Path, typer.Argument(help="the subsystem's client certificate, PEM")],
                   wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Register a client certificate (by its SHA-256 fingerprint) to a subsystem; its CN must be the
    subsystem id."""
    pem = _read(certificate_file, "certificate")
    change(ctx, lambda r: operations.register_certificate(r, subsystem, pem), wait, output)


@certs.command("revoke")
def certs_revoke(ctx: typer.Context,
                 fingerprint: Annotated[str, typer.Argument(help="SHA-256 fingerprint (hex), or a PEM file")],
                 wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Revoke a certificate: its next call is refused UNAUTHENTICATED."""
    given: str | bytes = _read(Path(fingerprint), "certificate") if Path(fingerprint).is_file() else fingerprint
    change(ctx, lambda r: operations.revoke_certificate(r, given), wait, output)


@certs.command("list")
def certs_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """JSON: fingerprint, subsystem, subject, not_after, registered_at, revoked_at (null if in force)."""
    rows = operations.certificates(registry_of(ctx))
    if output is Output.TABLE:
        rows = [{**r, "not_after": r["not_after"][:10],
                 "revoked_at": f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else ""} for r in rows]
    emit(rows, output, [("fingerprint", "fingerprint (SHA-256)"), ("subsystem", "subsystem"),
                        ("not_after", "not after"), ("revoked_at", "revoked")], key="certificates")


# -- groups and grants ----------------------------------------------------------------------------------------

@groups.command("add")
def groups_add(ctx: typer.Context, code: str, description: Annotated[str, typer.Option()] = "", wait: Wait = 10.0,
               output: OutputOption = Output.TABLE) -> None:
    """Create a group of subsystems."""
    change(ctx, lambda r: operations.add_group(r, code, description), wait, output)


@groups.command("add-member")
def groups_add_member(ctx: typer.Context, code: str, subsystem: str, wait: Wait = 10.0,
                      output: OutputOption = Output.TABLE) -> None:
    """Put a subsystem in a group: it gets the group's grants."""
    change(ctx, lambda r: operations.add_to_group(r, code, subsystem), wait, output)


@groups.command("remove-member")
def groups_remove_member(ctx: typer.Context, code: str, subsystem: str, wait: Wait = 10.0,
                         output: OutputOption = Output.TABLE) -> None:
    change(ctx, lambda r: operations.remove_from_group(r, code, subsystem), wait, output)


@groups.command("list")
def groups_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """JSON: group, description, subsystems."""
    emit(operations.groups(registry_of(ctx)), output,
         [("group", "group"), ("description", "description"), ("subsystems", "subsystems")], key="groups")


@grants.command("add")
def grants_add(ctx: typer.Context, method: str, subsystem: SubsystemOpt = "", group: GroupOpt = "",
               wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Grant a full gRPC method name (see `grants methods`) to a subsystem or a group."""
    change(ctx, lambda r: operations.add_grant(r, method, subsystem, group), wait, output)


@grants.command("revoke")
def grants_revoke(ctx: typer.Context, method: str, subsystem: SubsystemOpt = "", group: GroupOpt = "",
                  wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Take a grant back: the next call is refused PERMISSION_DENIED."""
    change(ctx, lambda r: operations.revoke_grant(r, method, subsystem, group), wait, output)


@grants.command("list")
def grants_list(ctx: typer.Context, subsystem: SubsystemOpt = "", group: GroupOpt = "",
                output: OutputOption = Output.TABLE) -> None:
    """JSON: client (subsystem:<id> or group:<code>), method, granted_at."""
    rows = operations.grants(registry_of(ctx), subsystem, group)
    if output is Output.TABLE:
        rows = [{**r, "granted_at": f"{r['granted_at']:%Y-%m-%d %H:%M}"} for r in rows]
    emit(rows, output, [("client", "client"), ("method", "method"), ("granted_at", "granted")], key="grants")


@grants.command("methods")
def grants_methods(output: OutputOption = Output.TABLE) -> None:
    """What an agency system can be granted: methods its contract admits agency callers to, and
    event types (`event:<type>`, read with /egov.gateway.v1.EventService/Subscribe). JSON: name."""
    names = operations.grantable()
    if output is Output.TABLE:
        for name in names:
            console.print(name, markup=False, highlight=False)
        return
    emit([{"name": n} for n in names], output, key="grantable")


# -- external systems and maintenance ---------------------------------------------------------------------------

@external.command("add")
def external_add(
    ctx: typer.Context,
    subsystem: Annotated[str, typer.Argument(help="the external system's id, VN/<class>/<member code>/<code>")],
    address: Annotated[str, typer.Option("--address", help="host:port where it listens")],
    ca: Annotated[Path, typer.Option("--ca", help="CA certificate(s) that issue its server certificate, PEM")],
    server_name: Annotated[str, typer.Option("--server-name", help="the name its server certificate carries")],
    service: Annotated[list[str], typer.Option("--service", help="a full gRPC service name it serves (repeatable)")],
    wait: Wait = 10.0, output: OutputOption = Output.TABLE,
) -> None:
    """Register an external system (its member must be registered): calls of its services' methods on
    the outbound listener are forwarded to it over mutual TLS, for subsystems granted the method."""
    pem = _read(ca, "ca")
    change(ctx, lambda r: operations.add_external_system(
        r, operations.external_system(subsystem, address, pem, server_name, service)), wait, output)


@external.command("remove")
def external_remove(ctx: typer.Context, subsystem: str, wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Stop routing to an external system: calls of its methods answer UNIMPLEMENTED."""
    change(ctx, lambda r: operations.remove_external_system(r, subsystem), wait, output)


@external.command("list")
def external_list(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """JSON: external_system, address, server_name, services."""
    emit(operations.external_systems(registry_of(ctx)), output,
         [("external_system", "external system"), ("address", "address"), ("server_name", "server name"),
          ("services", "services")], key="external_systems")


@maintenance.command("on")
def maintenance_on(ctx: typer.Context, wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    """Health NOT_SERVING, new calls UNAVAILABLE, calls in flight finish."""
    change(ctx, lambda r: operations.set_maintenance(r, True), wait, output)


@maintenance.command("off")
def maintenance_off(ctx: typer.Context, wait: Wait = 10.0, output: OutputOption = Output.TABLE) -> None:
    change(ctx, lambda r: operations.set_maintenance(r, False), wait, output)


@maintenance.command("status")
def maintenance_status(ctx: typer.Context, output: OutputOption = Output.TABLE) -> None:
    """JSON: maintenance, version, gateways [{instance, loaded_version, seen_at}]."""
    status = operations.maintenance_status(registry_of(ctx))
    if output is not Output.TABLE:
        emit_one(status, output)
        return
    console.print(f"maintenance {'on' if status['maintenance'] else 'off'} (registry version {status['version']})")
    for gateway in status["gateways"]:
        console.print(f"  {gateway['instance']}: version {gateway['loaded_version']}")
