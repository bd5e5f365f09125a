"""Container health checks, for compose and for the exec probes of Kubernetes.

    python -m deploy.docker.healthcheck grpc unix:///run/egov/agency/gateway.sock  # Check("") is SERVING
    python -m deploy.docker.healthcheck grpc-alive unix:///run/egov/agency/gateway.sock  # any answer
    python -m deploy.docker.healthcheck grpc-tls 127.0.0.1:50051 /etc/egov/tls/ca.crt gateway
    python -m deploy.docker.healthcheck http 127.0.0.1:8081/readyz          # a nameko service's probe: 200
    python -m deploy.docker.healthcheck tcp 127.0.0.1:8080                  # something accepts connections

The gateway is probed on its agency socket, inside its own pod or container: plaintext on a 0600
socket, so no certificate name is involved; `grpc` follows its health (NOT_SERVING while it drains
or in maintenance: readiness), `grpc-alive` asks only that its server answers (liveness: a gateway in
maintenance is alive). grpc-tls is the same check over TLS, trusting the CA file and expecting the
server certificate to name the given host. nameko services serve /livez and /readyz themselves
(services/common/runtime/probes.py). Exit 0 when healthy, 1 otherwise.
"""

import socket
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def grpc_serving(address: str, ca_file: str = "", server_name: str = "", *, any_answer: bool = False) -> bool:
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
            return any_answer and exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    if any_answer:
        return True
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def tcp_accepting(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS):
            return True
    except OSError as exc:
        print(f"{address}: {exc}", file=sys.stderr)
        return False


def grpc_answering(address: str) -> bool:
    return grpc_serving(address, any_answer=True)


def http_ok(address_and_path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address_and_path}", timeout=TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        print(f"{address_and_path}: HTTP {exc.code}: {exc.read()[:300].decode(errors='replace')}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"{address_and_path}: {exc}", file=sys.stderr)
    return False


CHECKS = {"grpc": (grpc_serving, ""), "grpc-alive": (grpc_answering, ""),
          "grpc-tls": (grpc_serving, " CA_FILE SERVER_NAME"), "http": (http_ok, ""), "tcp": (tcp_accepting, "")}

if __name__ == "__main__":
    check, arguments = CHECKS.get(sys.argv[1] if len(sys.argv) > 1 else "", (None, ""))
    if check is None or len(sys.argv) != 3 + arguments.count(" "):
        sys.exit("usage: python -m deploy.docker.healthcheck " +
                 " | ".join(f"{name} HOST:PORT{args}" for name, (_, args) in CHECKS.items()))
    sys.exit(0 if check(*sys.argv[2:]) else 1)
