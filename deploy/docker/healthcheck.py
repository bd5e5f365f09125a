"""Container health checks for docker compose, where Kubernetes' native probes are not available.

    python -m deploy.docker.healthcheck grpc 127.0.0.1:50051   # grpc.health.v1 Check("") is SERVING
    python -m deploy.docker.healthcheck tcp 127.0.0.1:8080     # something accepts connections

Exit 0 when healthy, 1 otherwise. (nameko services use `python -m services.common.probe <service>`.)
"""

import socket
import sys

TIMEOUT_SECONDS = 3.0


def grpc_serving(address: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                              timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}", file=sys.stderr)
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def tcp_accepting(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS):
            return True
    except OSError as exc:
        print(f"{address}: {exc}", file=sys.stderr)
        return False


CHECKS = {"grpc": grpc_serving, "tcp": tcp_accepting}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: python -m deploy.docker.healthcheck {{{'|'.join(CHECKS)}}} HOST:PORT")
    sys.exit(0 if CHECKS[sys.argv[1]](sys.argv[2]) else 1)
