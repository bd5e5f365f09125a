"""grpcio asks every interceptor for the handler on every call: the chain's handlers are built once
per method and inner handler, and rebuilt when the inner handler changes."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from gateway.call_interceptors import Concern
from gateway.methods import Method, build_method_table

GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"


@dataclass(frozen=True)
class Details:
    method: str


class CountingConcern(Concern):
    def __init__(self, table: dict[str, Method]) -> None:
        super().__init__(table)
        self.built = 0

    def handler(self, method: Method, handler: Any) -> Any:
        self.built += 1
        return super().handler(method, handler)


def inner(answer: str) -> Any:
    return grpc.unary_unary_rpc_method_handler(lambda request, context: answer)


def through(chain: list[Concern], handler: Any) -> Callable[[str], Any]:
    """Each call's pipeline, as grpcio runs it: outermost first, each layer calling the next."""
    def at(index: int, details: Details) -> Any:
        if index == len(chain):
            return handler
        return chain[index].intercept_service(lambda d: at(index + 1, d), details)

    return lambda method: at(0, Details(method))


def test_each_layer_builds_a_methods_handler_once_for_every_call() -> None:
    table = build_method_table()
    chain = [CountingConcern(table) for _ in range(3)]
    served = through(chain, inner("dossier"))
    first, second = served(GET_DOSSIER), served(GET_DOSSIER)
    assert first is second
    assert [c.built for c in chain] == [1, 1, 1]
    assert first.unary_unary(None, None) == "dossier"


def test_a_new_inner_handler_is_wrapped_anew() -> None:
    table = build_method_table()
    chain = [CountingConcern(table) for _ in range(2)]
    assert through(chain, inner("before"))(GET_DOSSIER).unary_unary(None, None) == "before"
    assert through(chain, inner("after"))(GET_DOSSIER).unary_unary(None, None) == "after"
    assert [c.built for c in chain] == [2, 2]


def test_methods_outside_the_table_pass_through_untouched() -> None:
    concern = CountingConcern(build_method_table())
    health = inner("SERVING")
    assert concern.intercept_service(lambda d: health, Details("/grpc.health.v1.Health/Check")) is health
    assert concern.built == 0
