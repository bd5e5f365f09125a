"""Container health checks for docker compose, where Kubernetes' native probes are not available.

    python -m deploy.docker.healthcheck grpc 127.0.0.1:50051   # grpc.health.v1 Check("") is SERVING
    python -m deploy.docker.healthcheck grpc-tls 127.0.0.1:50051 /etc/egov/tls/ca.crt gateway
    python -m deploy.docker.healthcheck tcp 127.0.0.1:8080     # something accepts connections

grpc-tls is the same check over TLS, trusting the CA file and expecting the server certificate to
name the given host (the gateway; the kubelet's own gRPC probe cannot speak TLS).
Exit 0 when healthy, 1 otherwise. (nameko services use `python -m services.common.probe <service>`.)
"""

import socket
import sys

TIMEOUT_SECONDS = 3.0


def grpc_serving(address: str, ca_file: str = "", server_name: str = "") -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if ca_file:
        try:
            with open(ca_file, "rb") as ca:
                credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
        except OSError as exc:
            print(f"{ca_file}: {exc.strerror}", file=sys.stderr)
            return False
        channel = grpc.secure_channel(address, credentials,
                                      options=[("grpc.ssl_target_name_override", server_name)])
    else:
        channel = grpc.insecure_channel(address)
    with channel:
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


CHECKS = {"grpc": (grpc_serving, ""), "grpc-tls": (grpc_serving, " CA_FILE SERVER_NAME"), "tcp": (tcp_accepting, "")}

if __name__ == "__main__":
    check, arguments = CHECKS.get(sys.argv[1] if len(sys.argv) > 1 else "", (None, ""))
    if check is None or len(sys.argv) != 3 + arguments.count(" "):
        sys.exit("usage: python -m deploy.docker.healthcheck " +
                 " | ".join(f"{name} HOST:PORT{args}" for name, (_, args) in CHECKS.items()))
    sys.exit(0 if check(*sys.argv[2:]) else 1)
