"""The supervision nameko service: the Decision 766/QĐ-TTg index, a read model of the dossier,
payment and postal events, and the queries supervisors ask of it. Entrypoints translate and
delegate to handlers.py and queries.py."""

from typing import Any

from egov.supervision.v1 import supervision_pb2 as pb
from services.common.caller import Caller
from services.common.errors import DomainError
from services.common.events.envelope import decode
from services.common.protowire import dump, parse
from services.common.runtime.batches import consume_event_batches
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store
from services.supervision import handlers, queries
from services.supervision.dependencies import SupervisionIndexes, Units

Wire = dict[str, Any]
class SupervisionService:
    name = "supervision"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)
    store = Store()
    indexes = SupervisionIndexes()
    units = Units()

    # A batch of events per transaction (services/supervision/projection.py), one batch at a time:
    # nearly every event moves the city's counters, so two transactions side by side conflict.
    @consume_event_batches("supervision")  # type: ignore[untyped-decorator]
    def on_events(self, bodies: list[bytes]) -> None:
        handlers.handle_events(self.store, [decode(b) for b in bodies])

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_index(self, request: Wire, caller: Wire) -> Wire:
        return dump(queries.get_index(self.store, self.units, parse(pb.GetIndexRequest, request),
                                      Caller.from_wire(caller)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_overdue_dossiers(self, request: Wire, caller: Wire) -> Wire:
        return dump(queries.list_overdue(self.store, self.units, parse(pb.ListOverdueDossiersRequest, request),
                                         Caller.from_wire(caller)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_apologies(self, request: Wire, caller: Wire) -> Wire:
        return dump(queries.list_apologies(self.store, self.units, parse(pb.ListApologiesRequest, request),
                                           Caller.from_wire(caller)))

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}
