"""Test helpers that observe the platform from outside, as an operator would."""

import functools
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcClient

from egov.events.v1.cloud_event_pb2 import CloudEvent
from gateway.methods import build_method_table
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.caller_proof import GATEWAY, CallerSigner
from services.common.events.broker import events_exchange
from services.common.events.envelope import decode, unpack
from services.common.operator_signing import sign_as_operator

T = TypeVar("T")


class EventTap:
    """A temporary queue bound to every event type: what the platform published while it existed."""

    def __init__(self, amqp_uri: str, routing_key: str = "#") -> None:
        self.connection = Connection(amqp_uri)
        self.queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", exchange=events_exchange, routing_key=routing_key,
                           exclusive=True, auto_delete=True)
        self.channel = self.connection.channel()
        self.bound = self.queue(self.channel)
        self.bound.declare()
        self.events: list[CloudEvent] = []

    def drain(self) -> list[CloudEvent]:
        while (message := self.bound.get(no_ack=True)) is not None:
            self.events.append(decode(message.body))
        return self.events

    def of_type(self, event_type: str) -> list[CloudEvent]:
        return [e for e in self.drain() if e.type == event_type]

    def payloads(self, event_type: str) -> list[Any]:
        return [unpack(e) for e in self.of_type(event_type)]

    def close(self) -> None:
        self.connection.release()


def eventually(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll `check` until it returns a truthy value (assertions inside it are retried too)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
            error: Exception | None = None
        except AssertionError as exc:
            error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}") from error
        time.sleep(0.05)


class SignedRpcClient:
    """nameko's cluster RPC client standing in for the gateway: each call's `caller` is signed as the
    gateway signs it (an operator caller with the operators' key), with the keys of the stack whose
    environment is given, because services believe only signed callers (services/common/caller_proof.py).
    A reply that crosses serialized (protowire `encoded`) is read into its dict form, so tests name
    its fields whichever form the service answers in.
    A caller that already carries a proof, or a test that wants to send an unsigned one, goes as it is
    through `.unsigned`."""

    def __init__(self, environ: Mapping[str, str], **client_options: Any) -> None:
        self._environ = environ
        self._client = ClusterRpcClient(**client_options)
        self.unsigned: Any = None

    def start(self) -> "SignedRpcClient":
        self.unsigned = self._client.start()
        return self

    def stop(self) -> None:
        self._client.stop()

    def __enter__(self) -> "SignedRpcClient":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __getattr__(self, service: str) -> Any:
        return _SignedService(self, service)

    def sign(self, caller: Mapping[str, Any], service: str, method: str, request: Any) -> dict[str, Any]:
        who = Caller.from_wire(dict(caller))
        if who.kind is CallerKind.OPERATOR:
            return sign_as_operator(service, method, request, self._environ)
        signer = CallerSigner.from_file(Path(self._environ["EGOV_GATEWAY_CALLER_KEY_FILE"]), GATEWAY)
        return signer.sign(who, service, method, request)


class _SignedService:
    def __init__(self, client: SignedRpcClient, service: str) -> None:
        self._client, self._service = client, service

    def __getattr__(self, method: str) -> Callable[..., Any]:
        target = getattr(getattr(self._client.unsigned, self._service), method)

        def call(**kwargs: Any) -> Any:
            caller = kwargs.get("caller")
            if isinstance(caller, Mapping) and "proof" not in caller:
                kwargs["caller"] = self._client.sign(caller, self._service, method, kwargs.get("request"))
            return readable(self._service, method, target(**kwargs))

        return call


def readable(service: str, method: str, reply: Any) -> Any:
    """`reply` as protowire's dict form; one that crossed serialized is decoded with the method's
    response class, as the gateway does."""
    if not isinstance(reply, Mapping) or protowire.ENCODED not in reply:
        return reply
    return protowire.dump(protowire.parse(_response_classes()[f"{service}.{method}"], dict(reply)))


@functools.cache
def _response_classes() -> dict[str, Any]:
    return {f"{m.service}.{m.method}": m.response_class for m in build_method_table().values()}
