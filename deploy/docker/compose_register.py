"""One-shot registration of the outbound exchange for docker compose (the `register-outbound`
service, run once the gateway is healthy): deploy/registrations.py's declaration, applied without
pruning as `egov-gateway apply --no-prune` would (docs/DEVOPS.md). What is already registered is
kept, so every `docker compose up` may run it again. In Kubernetes the operator runs
`egov-gateway apply` instead.
"""

import argparse
from pathlib import Path

from deploy.registrations import EXTERNAL_SYSTEMS, outbound_exchange, register
from services.common.config import database_name, mongo_uri

EXTERNAL_PORT = 50051       # where compose's simulators listen; each compose service is named like its certificate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certs", type=Path, required=True, help="deploy/certs.py's output (the certs volume)")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the gateway to load it")
    args = parser.parse_args(argv)
    addresses = {host: f"{host}:{EXTERNAL_PORT}" for _, _, host, _, _ in EXTERNAL_SYSTEMS}
    try:
        version = register(mongo_uri(), database_name("gateway"), outbound_exchange(addresses), args.certs, args.wait)
    except TimeoutError as exc:
        raise SystemExit(str(exc)) from None
    print(f"outbound exchange registered (registry version {version})")


if __name__ == "__main__":
    main()
