"""A bare nameko RPC echo service: the ceiling for any nameko RPC call on this machine."""

from typing import Any

from nameko.rpc import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, request: Any = None, caller: Any = None) -> Any:
        return request
