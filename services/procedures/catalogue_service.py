"""The catalogue's entrypoints, mixed into the procedures service (services/procedures/service.py):
they translate and delegate to catalogue_api over the catalogue in force."""

from typing import Any

from nameko.rpc import rpc

from egov.procedures.v1 import catalogue_pb2 as cpb
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.errors import DomainError
from services.common.protowire import dump, parse
from services.procedures import catalogue_api as api
from services.procedures.catalogue_dependency import CatalogueInForce
from services.procedures.domain.catalogue import Catalogue

Wire = dict[str, Any]


class CatalogueEntrypoints:
    catalogue: Catalogue = CatalogueInForce()

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_procedures(self, request: Wire, caller: Wire | None = None) -> Wire:
        return api.list_procedures(self.catalogue, parse(pb.ListProceduresRequest, request))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_procedure(self, request: Wire, caller: Wire | None = None) -> Wire:
        return api.get_procedure(self.catalogue, parse(pb.GetProcedureRequest, request))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def list_units(self, request: Wire, caller: Wire | None = None) -> Wire:
        return dump(api.list_units(self.catalogue, parse(cpb.ListUnitsRequest, request)))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_unit(self, request: Wire, caller: Wire | None = None) -> Wire:
        return dump(api.get_unit(self.catalogue, parse(cpb.GetUnitRequest, request)))
