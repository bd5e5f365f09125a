"""Which environment variables the code reads, per deployable component, found in the source.

A component's code is its entry modules and every project module they import (transitively). A
module reads a variable when the name appears as a whole string literal ("EGOV_X"), or when it calls
the helpers of services/common/config.py that read one (amqp_uri(), mongo_uri(), database_name()).
deploy/nameko.yaml's ${EGOV_X:default} placeholders are read by every nameko service.
"""

import ast
import re
from functools import cache
from pathlib import Path

from deploy.local.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("services", "gateway", "simulators", "deploy")
NAME = re.compile(r"^(EGOV|OTEL)_[A-Z0-9_]+$")
CONFIG_HELPERS = {"amqp_uri": "EGOV_AMQP_URI", "mongo_uri": "EGOV_MONGO_URI"}


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


@cache
def _parse(module: str) -> ast.Module:
    path = _module_path(module)
    if path is None:
        raise LookupError(module)
    return ast.parse(path.read_text(), filename=str(path))


def _imports(module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(_parse(module)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PROJECT_PACKAGES and _module_path(name) is not None:
                found.add(name)
                # importing a.b.c runs a/__init__ and a/b/__init__ too
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts)) if _module_path(".".join(parts[:i])))
    return found


def closure(entry_modules: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(entry_modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imports(module) - seen)
    return seen


def module_reads(module: str, service: str | None) -> set[str]:
    reads: set[str] = set()
    if module == "services.common.config":
        return reads  # its helpers count where they are called
    for node in ast.walk(_parse(module)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.match(node.value):
            reads.add(node.value)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in CONFIG_HELPERS:
                reads.add(CONFIG_HELPERS[name])
            elif name == "database_name":
                reads.update(_database_reads(node, service))
    return reads


def _database_reads(call: ast.Call, service: str | None) -> set[str]:
    """database_name("gateway") reads EGOV_GATEWAY_DB; with a computed argument, the service's own
    (or, outside any service, every service's)."""
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return {f"EGOV_{call.args[0].value.upper()}_DB"}
    return {f"EGOV_{service.upper()}_DB"} if service else {f"EGOV_{s.upper()}_DB" for s in SERVICES}


def nameko_config_reads() -> set[str]:
    return set(re.findall(r"\$\{(EGOV_[A-Z0-9_]+)", (ROOT / "deploy" / "nameko.yaml").read_text()))


def agency_front_reads() -> set[str]:
    """The agency front's HAProxy configuration: its "${EGOV_X}" placeholders."""
    return set(re.findall(r"\$\{(EGOV_[A-Z0-9_]+)\}", (ROOT / "deploy" / "agency-front" / "haproxy.cfg").read_text()))


# The processes a deployment runs, by component name (compose service / Deployment name).
ENTRY_MODULES: dict[str, tuple[str, ...]] = {
    **{svc: (path.split(":")[0],) for svc, path in SERVICES.items()},
    "gateway": ("gateway.__main__",),
    "dashboard": ("services.supervision.dashboard.__main__",),
    "topology": ("services.common.events.broker",),
}


def component_reads(component: str) -> set[str]:
    service = component if component in SERVICES else None
    reads = set().union(*(module_reads(m, service) for m in closure(ENTRY_MODULES[component])))
    if service:
        reads |= nameko_config_reads()
    return reads


def all_reads() -> set[str]:
    """Every variable any component, tool or module of services/ and gateway/ reads, or the agency front."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for package in ("services", "gateway") for p in (ROOT / package).rglob("*.py")}
    return set().union(*(module_reads(m, None) for m in modules)) | nameko_config_reads() | agency_front_reads()
