"""What this machine can do at all, measured in the same run as the platform: a bare grpcio echo,
a bare nameko RPC echo, SecantusDB inserts, indexed finds and updates."""

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from bench.echo_grpc import METHOD
from bench.measure import Result, closed_loop
from deploy.local.stack import ROOT, free_port, wait_for_port
from gateway.rpc_client import NamekoRpcClient

BIN = Path(sys.executable).parent


class GrpcEcho:
    """The echo server as its own process, measured with one shared channel (as the gateway bench)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.echo_grpc", "--port", str(self.port)], cwd=ROOT)
        wait_for_port(self.port, 20, self.proc, "grpc echo")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def measure(self, concurrency: int, seconds: float) -> Result:
        echo = self.channel.unary_unary(METHOD)
        payload = b"x" * 200
        return closed_loop("grpcio echo", lambda: (lambda: echo(payload, timeout=5)), concurrency, seconds)

    def close(self) -> None:
        self.channel.close()
        self.proc.terminate()
        self.proc.wait()


def grpc_echo(concurrency: int, seconds: float) -> Result:
    server = GrpcEcho()
    try:
        return server.measure(concurrency, seconds)
    finally:
        server.close()


class NamekoEcho:
    """The echo service as a real `nameko run` process on the given broker."""

    def __init__(self, amqp_uri: str, env: dict[str, str]) -> None:
        self.amqp_uri = amqp_uri
        self.proc = subprocess.Popen(
            [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
             "bench.echo_service:EchoService"], cwd=ROOT, env={**env, "EGOV_AMQP_URI": amqp_uri,
                                                               "EGOV_MAX_WORKERS": "64"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        with ClusterRpcClient(uri=amqp_uri, timeout=2) as rpc:
            while True:
                try:
                    rpc.bench_echo.echo(request={"ping": 1})
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

    def measure_shared_client(self, concurrency: int, seconds: float) -> Result:
        """One `NamekoRpcClient` (the gateway's client) shared by all caller threads."""
        client = NamekoRpcClient(self.amqp_uri, name="bench-echo")
        client.start(wait=10)
        request = {"procedure_code": "1.001612", "note": "x" * 150}
        kwargs = {"request": request, "caller": {"kind": "CALLER_KIND_CITIZEN"}}
        try:
            return closed_loop("nameko RPC echo", lambda: (
                lambda: client.call("bench_echo", "echo", kwargs, timeout=10)), concurrency, seconds)
        finally:
            client.close()

    def measure(self, concurrency: int, seconds: float) -> Result:
        """nameko's own standalone client, one per caller thread (each waits for a publish confirm)."""
        local = threading.local()
        clients: list[Any] = []

        def make_call() -> Any:
            client = ClusterRpcClient(uri=self.amqp_uri, timeout=10)
            clients.append(client)
            local.rpc = client.start()
            proxy = local.rpc.bench_echo
            request = {"procedure_code": "1.001612", "note": "x" * 150}
            return lambda: proxy.echo(request=request, caller={"kind": "CALLER_KIND_CITIZEN"})

        try:
            return closed_loop("nameko RPC echo (ClusterRpcClient)", make_call, concurrency, seconds)
        finally:
            for client in clients:
                client.stop()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def secantus(mongo_uri: str, count: int = 2000) -> dict[str, float]:
    client: MongoClient[Any] = MongoClient(mongo_uri)
    coll = client["bench"]["docs"]
    coll.drop()
    coll.create_index("key", unique=True)
    t0 = time.perf_counter()
    for i in range(count):
        coll.insert_one({"key": i, "status": "NEW", "body": "x" * 200})
    t1 = time.perf_counter()
    for i in range(count):
        coll.find_one({"key": i})
    t2 = time.perf_counter()
    for i in range(count):
        coll.update_one({"key": i}, {"$set": {"status": "DONE"}})
    t3 = time.perf_counter()
    client["bench"].drop_collection("docs")
    client.close()
    return {"insert_per_s": count / (t1 - t0), "indexed_find_per_s": count / (t2 - t1),
            "update_per_s": count / (t3 - t2)}
