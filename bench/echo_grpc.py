"""A bare grpcio echo server: the ceiling for any gRPC server in Python on this machine."""

import argparse
import signal
from concurrent import futures

import grpc

METHOD = "/bench.Echo/Echo"


def serve(port: int, workers: int) -> None:
    handler = grpc.method_handlers_generic_handler("bench.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=64)
    args = parser.parse_args()
    serve(args.port, args.workers)
