"""The gateway finds the platform's contracts by itself: every service package is served, except the
gateway's own (served locally) and other agencies' systems marked external in their .proto."""

from gateway.event_types import event_types
from gateway.methods import build_method_table, gateway_method_table
from gateway.protos import event_modules, gateway_modules, platform_service_modules, proto_modules


def test_every_service_package_is_served_once_and_external_systems_are_not() -> None:
    served = {m.DESCRIPTOR.package for m in platform_service_modules()}
    assert {"egov.identity.v1", "egov.procedures.v1", "egov.payments.v1", "egov.postal.v1",
            "egov.notifications.v1"} <= served
    assert not served & {"egov.population.v1", "egov.businessregistry.v1", "egov.gateway.v1"}
    with_services = {m.DESCRIPTOR.package for m in proto_modules() if m.DESCRIPTOR.services_by_name}
    external = {"egov.population.v1", "egov.businessregistry.v1"}
    assert with_services == served | external | {"egov.gateway.v1"}
    assert {m.__name__ for m in gateway_modules()} >= {"egov.gateway.v1.metadata_pb2", "egov.gateway.v1.events_pb2"}


def test_the_tables_follow_the_discovered_modules() -> None:
    table = build_method_table()
    assert "/egov.procedures.v1.ProcedureService/SubmitDossier" in table
    assert not any(name.startswith("/egov.population.v1.") for name in table)
    assert "/egov.gateway.v1.MetadataService/ListMethods" in gateway_method_table()
    assert all(t.startswith(("egov.",)) for t in event_types())
    assert {m.DESCRIPTOR.package for m in event_modules()} >= {"egov.procedures.v1", "egov.payments.v1"}
