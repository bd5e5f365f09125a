"""The platform's contracts as the gateway finds them: every generated `egov.<name>.v1.*_pb2` module,
discovered by walking the `egov` package (`make proto` output), so a new service's protos reach the
gateway without a line of gateway code (docs/ADDING_A_SERVICE.md).

- platform services: the gRPC services of every package but the gateway's own (`egov.gateway.v1`),
  except files marked `option (egov.common.v1.external_system) = true` (other agencies' systems the
  platform calls out to, such as the national population database);
- the gateway's own services: those of `egov.gateway.v1`;
- event types: every message marked `option (egov.common.v1.event) = true`, in any package.
"""

import importlib
import pkgutil
from functools import cache
from types import ModuleType

import egov
from egov.common.v1 import options_pb2

GATEWAY_PACKAGE = "egov.gateway.v1"


@cache
def proto_modules() -> tuple[ModuleType, ...]:
    found = []
    for info in pkgutil.walk_packages(egov.__path__, prefix="egov."):
        if info.name.endswith("_pb2") and not info.ispkg:
            found.append(importlib.import_module(info.name))
    return tuple(sorted(found, key=lambda m: m.__name__))


def _external(module: ModuleType) -> bool:
    return bool(module.DESCRIPTOR.GetOptions().Extensions[options_pb2.external_system])


def platform_service_modules() -> tuple[ModuleType, ...]:
    return tuple(m for m in proto_modules() if m.DESCRIPTOR.services_by_name and not _external(m)
                 and m.DESCRIPTOR.package != GATEWAY_PACKAGE)


def gateway_modules() -> tuple[ModuleType, ...]:
    return tuple(m for m in proto_modules() if m.DESCRIPTOR.package == GATEWAY_PACKAGE)


def event_modules() -> tuple[ModuleType, ...]:
    def has_events(module: ModuleType) -> bool:
        messages = module.DESCRIPTOR.message_types_by_name.values()
        return any(t.GetOptions().Extensions[options_pb2.event] for t in messages)

    return tuple(m for m in proto_modules() if has_events(m))
