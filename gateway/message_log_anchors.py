"""The message log's anchors outside the gateway's database.

Records are MACed and seals signed, so a database writer cannot forge or alter a record unseen; but
they can still delete: a finished replica's whole chain, the tail of a chain before its gateway
restarts, or roll a chain back to an older copy, and what is left verifies. An anchor is the claim
"chain C had reached record N, whose hash is H", signed with the seal key and kept where the
gateway's database writer cannot reach; `verify` then requires the database to still hold record N
with hash H (or an archive past it).

Where: signed events in the platform's archive stream (`egov.gateway.v1.MessageLogAnchored` and
`MessageLogArchived`), read back through the archive service's index. Chosen over a file because the
stream lives in the broker, under the broker's credentials, replicated and append-only, and
outlives every gateway pod (a file would need a volume per pod that survives the pod, and would sit
with the gateway's other secrets); and because the archive is already what the integration team
keeps and queries. The gateway publishes an anchor at every seal and, while the chain grows, at most
every `anchor_every_seconds` (what is written since the last anchor is the window a deletion can
hide in).

Publishing never holds a call: anchors queue in `AnchorPublisher` and are retried until the broker
takes them.
"""

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import Message

from egov.gateway.v1 import events_pb2
from gateway.message_log import Sealer, key_id_of, now_rfc3339
from gateway.rpc_client import RpcBackend
from services.common import telemetry
from services.common.events.broker import EventPublisher
from services.common.events.envelope import decode, event_type, new_event, unpack

log = logging.getLogger(__name__)
HEAD, SEALED, ARCHIVED = "head", "seal", "archived"
SOURCE = "egov.gateway"
_UNSIGNED = ("signature",)
_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)

meter = telemetry.meter("egov.gateway")
anchors_pending = meter.create_up_down_counter(
    "egov.gateway.message_log.anchors_pending", unit="{anchor}",
    description="message log anchors waiting to be published outside the database")


@dataclass(frozen=True)
class LogAnchor:
    chain: str
    seq: int
    hash: str
    kind: str
    anchored_at: str
    anchor_id: str
    key_id: str = ""
    public_key: str = ""
    signature: str = ""
    archive_file: str = ""
    archive_sha256: str = ""

    def signed_content(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k not in _UNSIGNED}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_anchor(sealer: Sealer, chain: str, seq: int, hash_: str, kind: str, *, archive_file: str = "",
                  archive_sha256: str = "") -> LogAnchor:
    anchor = LogAnchor(chain, seq, hash_, kind, now_rfc3339(), str(uuid.uuid4()), sealer.key_id, sealer.public_b64,
                       archive_file=archive_file, archive_sha256=archive_sha256)
    return replace(anchor, signature=sealer.sign(anchor.signed_content()))


def anchor_problem(anchor: LogAnchor, trusted: set[bytes]) -> str | None:
    """Why an anchor cannot be believed, or None."""
    what = f"the {anchor.kind} anchor of chain {anchor.chain!r} at record {anchor.seq}"
    try:
        public_raw = base64.b64decode(anchor.public_key)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(anchor.signature),
                                                             anchor.signed_content())
    except (ValueError, InvalidSignature):
        return f"{what} does not verify: forged"
    if trusted and public_raw not in trusted:
        return f"{what} is signed by key {key_id_of(public_raw)}, not a trusted seal key"
    return None


@dataclass(frozen=True)
class ChainAnchors:
    """What is anchored outside the database for one chain."""

    head: LogAnchor | None = None        # the furthest record its writer anchored (a head or a seal)
    archived: LogAnchor | None = None    # its last archive


class AnchorLog(Protocol):
    def publish(self, anchor: LogAnchor) -> None:
        """Store the anchor outside the database, or raise."""

    def latest(self, chains: Sequence[str] = ()) -> dict[str, ChainAnchors]:
        """The latest anchors of `chains` (every anchored chain when empty), or raise."""


class InMemoryAnchors:
    """The same in a list, for unit tests."""

    def __init__(self) -> None:
        self.anchors: list[LogAnchor] = []
        self.failing: Exception | None = None
        self._lock = threading.Lock()

    def publish(self, anchor: LogAnchor) -> None:
        if self.failing is not None:
            raise self.failing
        with self._lock:
            self.anchors.append(anchor)

    def latest(self, chains: Sequence[str] = ()) -> dict[str, ChainAnchors]:
        if self.failing is not None:
            raise self.failing
        found: dict[str, ChainAnchors] = {}
        with self._lock:
            for anchor in self.anchors:
                if chains and anchor.chain not in chains:
                    continue
                known = found.get(anchor.chain, ChainAnchors())
                found[anchor.chain] = replace(known, archived=anchor) if anchor.kind == ARCHIVED else \
                    replace(known, head=anchor)
        return found


_EVENT_OF_KIND: dict[str, type[Message]] = {HEAD: events_pb2.MessageLogAnchored,
                                            SEALED: events_pb2.MessageLogAnchored,
                                            ARCHIVED: events_pb2.MessageLogArchived}


class ArchiveAnchors:
    """Anchors as events in the archive stream; read back from the archive service's index."""

    def __init__(self, amqp_uri: str, rpc: RpcBackend | None, *, timeout: float = 5.0) -> None:
        self._amqp_uri = amqp_uri
        self._publisher: EventPublisher | None = None
        self._rpc = rpc
        self._timeout = timeout

    def publish(self, anchor: LogAnchor) -> None:
        if self._publisher is None:
            self._publisher = EventPublisher(self._amqp_uri)
        fields = asdict(anchor)
        payload_class = _EVENT_OF_KIND[anchor.kind]
        names = set(payload_class.DESCRIPTOR.fields_by_name)
        payload = payload_class(**{k: v for k, v in fields.items() if k in names})
        self._publisher.publish(new_event(payload, source=SOURCE, subject=anchor.chain, correlation_id=anchor.chain,
                                          event_id=anchor.anchor_id))

    def latest(self, chains: Sequence[str] = ()) -> dict[str, ChainAnchors]:
        if self._rpc is None:
            raise RuntimeError("this anchor log publishes only")
        found: dict[str, ChainAnchors] = {}
        for payload_class, field in ((events_pb2.MessageLogAnchored, "head"),
                                     (events_pb2.MessageLogArchived, "archived")):
            envelopes = self._rpc.call("archive", "latest_by_subject",
                                       {"type": event_type(payload_class), "subjects": list(chains)}, self._timeout)
            for chain, body in dict(envelopes).items():
                anchor = _anchor_of(base64.b64decode(body))
                found[chain] = replace(found.get(chain, ChainAnchors()), **{field: anchor})
        return found

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


def _anchor_of(body: bytes) -> LogAnchor:
    event = decode(body)
    payload = unpack(event)
    names = LogAnchor.__dataclass_fields__
    values = {f.name: getattr(payload, f.name) for f in payload.DESCRIPTOR.fields if f.name in names}
    anchor = LogAnchor(**values)
    if anchor.anchor_id != event.id:     # a copy republished under another id: its signature names the first
        return replace(anchor, signature="")
    return anchor


class AnchorPublisher:
    """Publishes anchors from a thread of its own, in order, retrying until the anchor log takes
    them; a newer head anchor of a chain replaces an older one still waiting (it says more)."""

    def __init__(self, anchors: AnchorLog, on_published: Callable[[LogAnchor], None] | None = None) -> None:
        self._anchors = anchors
        self._on_published = on_published
        self._pending: list[LogAnchor] = []
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="gateway-log-anchors", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, anchor: LogAnchor) -> None:
        with self._changed:
            if anchor.kind == HEAD:
                superseded = [a for a in self._pending if a.kind == HEAD and a.chain == anchor.chain]
                for old in superseded:
                    self._pending.remove(old)
                anchors_pending.add(-len(superseded))
            self._pending.append(anchor)
            anchors_pending.add(1)
            self._changed.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what is waiting (for at most `timeout` seconds), then stop."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._changed:
            if self._pending:
                log.error("%d message log anchor(s) not published at stop; the last: %s", len(self._pending),
                          self._pending[-1])

    def _run(self) -> None:
        failures = 0
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if not self._pending:
                    return
                anchor = self._pending[0]
            try:
                self._anchors.publish(anchor)
            except Exception as exc:
                wait = _RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("message log anchor not published (%s); retrying in %.1f s", exc, wait)
                with self._changed:
                    if self._stopping:
                        return
                    self._changed.wait(wait)
                continue
            failures = 0
            with self._changed:
                if self._pending and self._pending[0] is anchor:
                    self._pending.pop(0)
                    anchors_pending.add(-1)
            if self._on_published is not None:
                self._on_published(anchor)
