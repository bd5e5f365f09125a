"""egov.gateway.v1.MetadataService, answered by the gateway from its method table and the member
registry (X-Road's listClients, listMethods and allowedMethods)."""

from collections.abc import Callable, Iterable, Mapping

from egov.common.v1 import caller_pb2, options_pb2
from egov.gateway.v1 import metadata_pb2 as pb
from gateway.event_types import event_types as all_event_types
from gateway.event_types import granted_types
from gateway.handlers import LocalFunction
from gateway.members import Registry, SubsystemId
from gateway.message_log import LogKey
from gateway.methods import Method
from services.common.caller import Caller, CallerKind

SERVICE = "egov.gateway.v1.MetadataService"


class MetadataService:
    def __init__(self, table: Mapping[str, Method], registry: Callable[[], Registry], log_key: LogKey) -> None:
        self._table = table
        self._registry = registry
        self._log_key = log_key

    def functions(self) -> Mapping[str, LocalFunction]:
        return {f"/{SERVICE}/ListClients": self.list_clients, f"/{SERVICE}/ListMethods": self.list_methods,
                f"/{SERVICE}/AllowedMethods": self.allowed_methods}

    def list_clients(self, request: pb.ListClientsRequest, caller: Caller) -> pb.ListClientsResponse:
        registry = self._registry()
        wanted_class = pb.MemberClass.Name(request.member_class).removeprefix("MEMBER_CLASS_")
        clients = []
        for subsystem in sorted(registry.subsystems.values(), key=lambda s: s.id):
            member = registry.member_of(subsystem.id)
            if member is None:
                continue
            if request.member_class and subsystem.id.member.member_class.value != wanted_class:
                continue
            if request.member_code and subsystem.id.member.member_code != request.member_code:
                continue
            clients.append(pb.Client(
                id=str(subsystem.id), member_class=pb.MemberClass.Value(f"MEMBER_CLASS_{member.id.member_class}"),
                member_code=member.id.member_code, member_name=member.name,
                subsystem_code=subsystem.id.subsystem_code, channel=caller_pb2.Channel.Value(subsystem.channel.value)))
        return pb.ListClientsResponse(clients=clients)

    def list_methods(self, request: pb.ListMethodsRequest, caller: Caller) -> pb.ListMethodsResponse:
        return pb.ListMethodsResponse(methods=self._describe(self._served(request.service)))

    def allowed_methods(self, request: pb.AllowedMethodsRequest, caller: Caller) -> pb.AllowedMethodsResponse:
        allowed = [m for m in self._served(request.service) if caller.kind in m.access]
        event_types: list[str] = []
        if caller.kind is CallerKind.AGENCY:
            granted = self._registry().granted_methods(SubsystemId.parse(caller.subject))
            allowed = [m for m in allowed if not m.grant_required or m.full_name in granted]
            event_types = sorted(granted_types(granted) & all_event_types())
        return pb.AllowedMethodsResponse(client=self._log_key.client_id(caller),
                                         caller_kind=options_pb2.CallerKind.Value(caller.kind.value),
                                         methods=self._describe(allowed), event_types=event_types)

    def _served(self, service: str) -> list[Method]:
        return sorted((m for m in self._table.values() if m.exposed and (not service or m.grpc_service == service)),
                      key=lambda m: m.full_name)

    @staticmethod
    def _describe(methods: Iterable[Method]) -> list[pb.MethodDescription]:
        return [pb.MethodDescription(full_name=m.full_name, service=m.grpc_service, method=m.rpc_name,
                                     access=sorted(options_pb2.CallerKind.Value(k.value) for k in m.access),
                                     grant_required=m.grant_required) for m in methods]
