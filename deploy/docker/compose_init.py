"""One-shot set-up for docker compose (the `init-secrets` service), run before the broker starts.

- the token signing key pair, made once and kept in the `token-keys` volume (identity signs with the
  private key; the gateway gets only the public key, in the `token-public-key` volume);
- the broker user that EGOV_AMQP_URI names, written as RabbitMQ definitions into the
  `rabbitmq-definitions` volume on every start, so a password changed in deploy/compose.env applies;
- the gateway's test CA, certificates and message log keys (deploy/certs.py), made once into the
  `certs` volume (agency client certificates included, for trying the mutual TLS port), and copied
  under the names the gateway reads into `gateway-tls` (tls.crt, tls.key, ca.crt) and
  `gateway-log-keys` (message-log.key, gateway-seal.key), and the CA alone into `gateway-ca` (ca.crt),
  for the clients of the gateway's TLS port inside the stack (the supervisors' dashboard);
- for the outbound exchange, from the same `certs`: identity's client certificate with the CA
  (`identity-outbound`: tls.crt, tls.key, ca.crt), the gateway's client certificate towards external
  systems (`gateway-outbound-client`: tls.crt, tls.key), and the simulated external systems' server
  certificates with the CA of the gateway's (`external-systems`: <name>.crt, <name>.key, ca.crt).

Kubernetes takes these from Secrets instead (docs/DEVOPS.md). Runs as root to hand the files to the
users that read them: the platform's (10001) and RabbitMQ's (999).
"""

import argparse
import os
import shutil
from pathlib import Path

from deploy.certs import DEMO_EXTERNAL, make_all
from deploy.rabbitmq.definitions import render, user_definitions
from services.common.tokens import generate_key_pair

PLATFORM_UID = 10001
PRIVATE_KEY = "token-signing.pem"
PUBLIC_KEY = "token-signing.pub.pem"


def make_token_keys(keys: Path, public_keys: Path) -> None:
    if not (keys / PRIVATE_KEY).exists():
        private, public = generate_key_pair()
        (keys / PRIVATE_KEY).write_bytes(private)
        (keys / PUBLIC_KEY).write_bytes(public)
        print(f"made a new token signing key pair in {keys}")
    # Replaced rather than overwritten: the old copy belongs to 10001, and this runs without DAC_OVERRIDE.
    (public_keys / PUBLIC_KEY).unlink(missing_ok=True)
    shutil.copyfile(keys / PUBLIC_KEY, public_keys / PUBLIC_KEY)
    for path, mode in ((keys / PRIVATE_KEY, 0o600), (keys / PUBLIC_KEY, 0o644), (public_keys / PUBLIC_KEY, 0o644)):
        os.chown(path, PLATFORM_UID, PLATFORM_UID)
        path.chmod(mode)


def copy_for_platform(source: Path, target: Path, mode: int) -> None:
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.chown(target, PLATFORM_UID, PLATFORM_UID)
    target.chmod(mode)


def make_gateway_material(certs: Path, tls: Path, log_keys: Path, gateway_ca: Path) -> None:
    make_all(certs)
    for source, target in (("gateway.pem", "tls.crt"), ("gateway.key", "tls.key"), ("ca.pem", "ca.crt")):
        copy_for_platform(certs / source, tls / target, 0o400 if target.endswith(".key") else 0o444)
    # Never the gateway's key: the dashboard only verifies whom it talks to.
    copy_for_platform(certs / "ca.pem", gateway_ca / "ca.crt", 0o444)
    for name in ("message-log.key", "gateway-seal.key"):
        copy_for_platform(certs / name, log_keys / name, 0o400)


def make_caller_material(certs: Path, caller_keys: Path, gateway_caller_key: Path) -> None:
    """The caller keys make_gateway_material made: the public halves for the services, the gateway's
    private key for the gateway. The operators' private key stays in `certs` (compose's operators)."""
    for name in ("gateway-caller.pub.pem", "operator.pub.pem"):
        copy_for_platform(certs / name, caller_keys / name, 0o444)
    copy_for_platform(certs / "gateway-caller.key", gateway_caller_key / "gateway-caller.key", 0o400)


def make_outbound_material(certs: Path, identity: Path, gateway_client: Path, external: Path) -> None:
    """Copies of what make_gateway_material made (it runs first), under the names their readers use."""
    copies = [
        (certs / "services" / "GOV_HUE_identity.pem", identity / "tls.crt"),
        (certs / "services" / "GOV_HUE_identity.key", identity / "tls.key"),
        (certs / "ca.pem", identity / "ca.crt"),
        (certs / "external" / "gateway-client.pem", gateway_client / "tls.crt"),
        (certs / "external" / "gateway-client.key", gateway_client / "tls.key"),
        (certs / "ca.pem", external / "ca.crt"),
    ]
    for name in DEMO_EXTERNAL:
        copies += [(certs / "external" / f"{name}.pem", external / f"{name}.crt"),
                   (certs / "external" / f"{name}.key", external / f"{name}.key")]
    for source, target in copies:
        copy_for_platform(source, target, 0o400 if target.suffix == ".key" else 0o444)


def write_broker_user(definitions: Path) -> None:
    users = definitions / "users.json"
    users.write_text(render(user_definitions(os.environ.get("EGOV_AMQP_URI", ""), ["management"])))
    users.chmod(0o644)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token-keys", type=Path, required=True)
    parser.add_argument("--token-public-key", type=Path, required=True)
    parser.add_argument("--broker-definitions", type=Path, required=True)
    parser.add_argument("--certs", type=Path, required=True)
    parser.add_argument("--gateway-tls", type=Path, required=True)
    parser.add_argument("--gateway-log-keys", type=Path, required=True)
    parser.add_argument("--gateway-ca", type=Path, required=True)
    parser.add_argument("--identity-outbound", type=Path, required=True)
    parser.add_argument("--gateway-outbound-client", type=Path, required=True)
    parser.add_argument("--external-systems", type=Path, required=True)
    parser.add_argument("--caller-keys", type=Path, required=True)
    parser.add_argument("--gateway-caller-key", type=Path, required=True)
    args = parser.parse_args(argv)
    make_token_keys(args.token_keys, args.token_public_key)
    make_gateway_material(args.certs, args.gateway_tls, args.gateway_log_keys, args.gateway_ca)
    make_outbound_material(args.certs, args.identity_outbound, args.gateway_outbound_client, args.external_systems)
    make_caller_material(args.certs, args.caller_keys, args.gateway_caller_key)
    try:
        write_broker_user(args.broker_definitions)
    except ValueError as exc:
        raise SystemExit(f"deploy/compose.env: {exc}") from exc


if __name__ == "__main__":
    main()
