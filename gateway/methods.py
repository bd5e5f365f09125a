"""The gateway's method table, read from the proto descriptors of the platform's services (found by
gateway.protos, never listed by hand).

Each gRPC method `/egov.<service>.v1.<Name>Service/<Rpc>` is carried to nameko RPC
`<service>.<snake_case rpc>`; who may call it is the method option `(egov.common.v1.access)`.
A method without that option stays in the table with no allowed callers: deny by default.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from egov.common.v1 import options_pb2
from gateway.protos import gateway_modules, platform_service_modules
from services.common.caller import CallerKind

# The gateway's own methods every member may call without a grant (X-Road's metadata services).
OPEN_TO_MEMBERS = frozenset({"egov.gateway.v1.MetadataService"})


@dataclass(frozen=True)
class Method:
    full_name: str                    # "/egov.procedures.v1.ProcedureService/SubmitDossier"
    grpc_service: str                 # "egov.procedures.v1.ProcedureService"
    rpc_name: str                     # "SubmitDossier"
    service: str                      # nameko service: "procedures"
    method: str                       # nameko method: "submit_dossier"
    request_class: type[Message]
    response_class: type[Message]
    access: frozenset[CallerKind]     # empty: the gateway never serves it
    local: bool = False               # served by the gateway itself (metadata, events), not carried over RPC
    grant_required: bool = True       # agency callers need a grant; not for the metadata methods
    server_streaming: bool = False    # a stream of responses (served locally only)

    @property
    def exposed(self) -> bool:
        return bool(self.access)

    @property
    def needs_principal(self) -> bool:
        return CallerKind.ANONYMOUS not in self.access


def snake_case(rpc_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", rpc_name).lower()


def nameko_service_name(package: str) -> str:
    """`egov.procedures.v1` → `procedures`."""
    parts = package.split(".")
    if len(parts) != 3 or parts[0] != "egov" or not parts[2].startswith("v"):
        raise ValueError(f"proto package {package!r} is not egov.<service>.v<N>")
    return parts[1]


def access_of(method: MethodDescriptor) -> frozenset[CallerKind]:
    options = method.GetOptions()
    if not options.HasExtension(options_pb2.access):
        return frozenset()
    callers = options.Extensions[options_pb2.access].callers
    return frozenset(CallerKind(options_pb2.CallerKind.Name(kind)) for kind in callers)


def method_from_descriptor(service: ServiceDescriptor, method: MethodDescriptor, local: bool = False) -> Method:
    if method.client_streaming or (method.server_streaming and not local):
        raise ValueError(f"{service.full_name}/{method.name}: streaming methods are not carried over RPC")
    return Method(
        full_name=f"/{service.full_name}/{method.name}",
        grpc_service=service.full_name,
        rpc_name=method.name,
        service=nameko_service_name(service.file.package),
        method=snake_case(method.name),
        request_class=GetMessageClass(method.input_type),
        response_class=GetMessageClass(method.output_type),
        access=access_of(method),
        local=local,
        grant_required=not (local and service.full_name in OPEN_TO_MEMBERS),
        server_streaming=method.server_streaming,
    )


def build_method_table(modules: Iterable[ModuleType] | None = None, local: bool = False) -> Mapping[str, Method]:
    """The methods of `modules`' services (default: every platform service gateway.protos finds)."""
    table: dict[str, Method] = {}
    for module in platform_service_modules() if modules is None else modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                entry = method_from_descriptor(service, method, local)
                table[entry.full_name] = entry
    return table


def gateway_method_table() -> Mapping[str, Method]:
    """The methods the gateway serves itself (egov.gateway.v1)."""
    return build_method_table(gateway_modules(), local=True)


def grpc_service_names(table: Mapping[str, Method]) -> list[str]:
    return sorted({method.grpc_service for method in table.values()})
