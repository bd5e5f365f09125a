"""Readiness/liveness probe for a nameko service: `python -m services.common.probe <service>`.

It asks the service's own `health` RPC over the broker, so it proves the whole path a real request
takes (broker, a free worker, the database) without touching the service's event loop from inside.
Exit 0 when healthy, 1 otherwise.
"""

import sys

from nameko.standalone.rpc import ClusterRpcClient

from services.common.config import amqp_uri, env_float


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m services.common.probe <service>", file=sys.stderr)
        return 2
    service = argv[0]
    try:
        with ClusterRpcClient(uri=amqp_uri(), timeout=env_float("EGOV_PROBE_TIMEOUT_SECONDS", 3.0)) as rpc:
            status = getattr(rpc, service).health()
    except Exception as exc:
        print(f"{service}: unhealthy: {exc}", file=sys.stderr)
        return 1
    healthy = isinstance(status, dict) and status.get("status") == "ok"
    print(f"{service}: {status}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
