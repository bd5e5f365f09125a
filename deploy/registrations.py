"""What the platform's own deployments register in the gateway's member registry, declared as
members files (the format of `egov-gateway apply -f`, gateway/members_file.py) and applied without
pruning by one function: `make run`'s stack, compose's `register-outbound` job and the bench all
seed the registry through `register`, as an operator's `egov-gateway apply --no-prune` would.

- The outbound exchange: identity, a subsystem of the province, reaches the national databases
  (external systems of their ministries) through the gateway, with grants of their methods.
- The one-stop desk of `make run`'s demo and the bench: a counter system granted GetDossier.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from deploy.certs import file_name
from gateway import members_file, operations
from gateway.registry_store import RegistryStore

PROVINCE = ("VN/GOV/HUE", "Ủy ban nhân dân tỉnh Thừa Thiên Huế")
IDENTITY_SUBSYSTEM = "VN/GOV/HUE/identity"
# (external system, member name, its certificate's name in certs/external, gRPC service, method)
EXTERNAL_SYSTEMS = (
    ("VN/GOV/BCA/population", "Bộ Công an", "population", "egov.population.v1.PopulationRegistry",
     "VerifyCitizen"),
    ("VN/GOV/BKHDT/business-registry", "Bộ Kế hoạch và Đầu tư", "business-registry",
     "egov.businessregistry.v1.BusinessRegistry", "VerifyBusiness"),
)
DESK = "VN/GOV/000.00.15.H57/one-stop-desk"
DESK_MEMBER_NAME = "Sở Tư pháp tỉnh Thừa Thiên Huế"
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"

Document = dict[str, Any]


def outbound_exchange(addresses: Mapping[str, str]) -> Document:
    """`addresses`: where each external system listens, by its certificate name (population,
    business-registry); its server name is that certificate name. Paths are relative to the
    certificates directory of deploy/certs.py."""
    member, name = PROVINCE
    identity = IDENTITY_SUBSYSTEM.rsplit("/", 1)[1]
    return {
        "members": [
            {"member": member, "name": name, "subsystems": [{
                "subsystem": identity, "certificates": [f"services/{file_name(IDENTITY_SUBSYSTEM)}.pem"],
                "grants": [f"/{service}/{method}" for *_, service, method in EXTERNAL_SYSTEMS]}]},
            *({"member": system.rsplit("/", 1)[0], "name": member_name}
              for system, member_name, *_ in EXTERNAL_SYSTEMS)],
        "external_systems": [
            {"external_system": system, "address": addresses[host], "server_name": host, "ca": "ca.pem",
             "services": [service]} for system, _, host, service, _ in EXTERNAL_SYSTEMS],
    }


def one_stop_desk(limits: Mapping[str, float] | None = None, grants: tuple[str, ...] = (GET_DOSSIER,)) -> Document:
    member, _, code = DESK.rpartition("/")
    return {"members": [{"member": member, "name": DESK_MEMBER_NAME, "limits": dict(limits or {}), "subsystems": [{
        "subsystem": code, "channel": "counter", "certificates": [f"agencies/{file_name(DESK)}.pem"],
        "grants": list(grants)}]}]}


def register(mongo_uri: str, db: str, document: Document, certs: Path, timeout: float = 15) -> int:
    """Add (never remove) what `document` declares and wait until a running gateway serves it;
    the registry version it is in. TimeoutError if no gateway loaded it in time."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=10000, tz_aware=True)
    try:
        registry = RegistryStore(client, db)
        applied = members_file.apply(registry, members_file.declared(document, certs, registry.load()), prune=False)
        version = applied.version or registry.load().version
        confirmation = operations.wait_until_loaded(registry, version, timeout, need_a_gateway=True)
        if not confirmation.confirmed:
            raise TimeoutError(f"registry version {version} not loaded within {timeout:.0f} s by: "
                               f"{', '.join(confirmation.behind)}")
        return version
    finally:
        client.close()
