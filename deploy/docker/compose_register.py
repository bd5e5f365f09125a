"""One-shot registration of the outbound exchange for docker compose (the `register-outbound`
service, run once the gateway is healthy): identity as the subsystem VN/GOV/HUE/identity with its
client certificate, the two simulated national databases as external systems, and identity's grants
of their methods, as `egov-gateway members|subsystems|certs|external|grants add` would (docs/DEVOPS.md).

What is already registered is kept, so every `docker compose up` may run it again. In Kubernetes the
operator runs the `egov-gateway` commands instead.
"""

import argparse
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pymongo import MongoClient

from deploy.local.stack import EXTERNAL_SYSTEMS, IDENTITY_SUBSYSTEM
from gateway.members import Certificate, ExternalSystem, Grant, Member, Subsystem, SubsystemId
from gateway.registry_store import RegistryStore
from services.common.config import database_name, mongo_uri
from services.common.errors import AlreadyExists

IDENTITY_MEMBER_NAME = "Ủy ban nhân dân tỉnh Thừa Thiên Huế"
EXTERNAL_PORT = 50051       # where compose's simulators listen


def register(registry: RegistryStore, certs: Path) -> int:
    """Register everything; the registry version the gateways must load."""
    versions = [0]

    def apply(change: Callable[[], int]) -> None:
        with contextlib.suppress(AlreadyExists):
            versions.append(change())

    ca = (certs / "ca.pem").read_bytes()
    identity = SubsystemId.parse(IDENTITY_SUBSYSTEM)
    certificate = x509.load_pem_x509_certificate((certs / "services" / "GOV_HUE_identity.pem").read_bytes())
    apply(lambda: registry.add_member(Member(identity.member, IDENTITY_MEMBER_NAME)))
    apply(lambda: registry.add_subsystem(Subsystem(identity)))
    apply(lambda: registry.register_certificate(Certificate(
        certificate.fingerprint(hashes.SHA256()).hex(), identity, certificate.subject.rfc4514_string(),
        certificate.not_valid_after_utc.isoformat())))
    for system_id, member_name, host, service, method in EXTERNAL_SYSTEMS:
        # The compose service is named like the certificate, whose SAN carries that name.
        system = ExternalSystem(SubsystemId.parse(system_id), f"{host}:{EXTERNAL_PORT}", host, ca,
                                frozenset({service}))
        grant = Grant.for_subsystem(identity, f"/{service}/{method}")
        apply(lambda: registry.add_member(Member(system.id.member, member_name)))  # noqa: B023
        apply(lambda: registry.add_external_system(system))  # noqa: B023
        apply(lambda: registry.add_grant(grant))  # noqa: B023
    return max(versions)


def wait_until_loaded(registry: RegistryStore, version: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(g.loaded_version >= version for g in registry.live_gateways(timedelta(seconds=5))):
        if time.monotonic() > deadline:
            raise SystemExit(f"no running gateway loaded registry version {version} within {timeout:.0f} s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certs", type=Path, required=True, help="deploy/certs.py's output (the certs volume)")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the gateway to load it")
    args = parser.parse_args(argv)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000)
    try:
        registry = RegistryStore(client, database_name("gateway"))
        version = register(registry, args.certs)
        wait_until_loaded(registry, version, args.wait)
    finally:
        client.close()
    print(f"outbound exchange registered (registry version {version})")


if __name__ == "__main__":
    main()
