"""The message log's single writer: one thread takes exchanges from a queue in arrival order, numbers,
chains and MACs them, adds a seal when one is due, writes each batch with one ordered insert, and
anchors the chain outside the database (gateway.message_log_anchors).

Durability: a call that reached a service waits for the batch holding its record to be written
before its answer is released (group commit: concurrent calls share one insert). So a crash never
loses the record of an answer a client received; it can lose the records still queued, which are
those of calls whose answers were not sent (their clients see the connection fail) and those of
refusals, which never waited because nothing happened. If the log cannot be written, calls that
reached a service answer UNAVAILABLE rather than go unrecorded (X-Road stops exchanging messages
when its log fails, for the same reason).

The writer never adopts a head it did not write. It reads the chain from the database only when it
takes the chain's lease (start-up, or after losing the lease to another gateway), and then only if
every record from the last seal on carries a valid MAC and the chain still holds the last record
anchored outside the database. After a failed insert it continues from its own head if the database
holds exactly its own head followed by a prefix of what it tried to write. Anything else (a record
it did not write, an altered one, a chain shorter than its anchor) halts the log: the writer stops
writing, raises the `egov.gateway.message_log.halted` metric and logs CRITICAL, and calls that need
the log answer UNAVAILABLE (`hold_on_halt=False`) or wait for it until their deadline
(`hold_on_halt=True`). `egov-gateway log resume` makes it check again once an operator has put the
evidence aside; it resumes only if the check passes.

(Longer than our other modules: it is one thread's state machine, whose parts (sync, write,
reconcile, halt, resume) share that thread's state; split, they would hand the whole of it around.)
"""

import logging
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta

from opentelemetry.metrics import CallbackOptions, Observation

from gateway.message_log import SEAL, Loggable, Record, RecordKey, Sealer, chain_record, covered_by, record_hash
from gateway.message_log_anchors import (
    HEAD,
    SEALED,
    AnchorLog,
    AnchorPublisher,
    LogAnchor,
    anchor_problem,
    signed_anchor,
)
from gateway.message_log_store import LogStore
from gateway.message_log_verify import adoptable_tail
from services.common import telemetry

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(seconds=6)
LEASE_RENEW_SECONDS = 2.0
REQUEST_POLL_SECONDS = 0.5
RETRY_SECONDS = 0.5

_halted_chains: dict[str, int] = {}


def _observe_halted(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(value, {"chain": chain}) for chain, value in list(_halted_chains.items())]


meter = telemetry.meter("egov.gateway")
meter.create_observable_gauge("egov.gateway.message_log.halted", [_observe_halted], unit="1",
                              description="1 while a message log chain is halted: the database holds what its "
                                          "writer did not write (alert on it)")
halts = meter.create_counter("egov.gateway.message_log.halts", unit="{halt}",
                             description="times a message log writer found the database changed behind it")


class LogUnavailable(Exception):
    """The record could not be (or was not yet) written."""


@dataclass
class _Queued:
    fields: Record
    written: Future[int] = field(default_factory=Future)


@dataclass
class _Head:
    seq: int
    hash: str
    pending: list[tuple[int, str]]        # (seq, hash) of exchange records since the last seal


class MessageLog:
    def __init__(self, store: LogStore, chain: str, sealer: Sealer, *, record_key: RecordKey, holder: str,
                 anchors: AnchorLog | None = None, anchor_every_seconds: float = 5.0, hold_on_halt: bool = False,
                 seal_every_records: int = 1000, seal_every_seconds: float = 60.0,
                 queue_size: int = 10_000, batch_size: int = 256) -> None:
        self.chain = chain
        self._store = store
        self._sealer = sealer
        self._key = record_key
        self._holder = holder
        self._anchors = anchors
        self._publisher = AnchorPublisher(anchors) if anchors is not None else None
        self._anchor_seconds = anchor_every_seconds
        self._hold = hold_on_halt
        self._seal_records = seal_every_records
        self._seal_seconds = seal_every_seconds
        self._batch = batch_size
        self._queue: queue.Queue[_Queued] = queue.Queue(maxsize=queue_size)
        self._held: list[_Queued] = []        # taken from the queue while halted in hold mode
        self._stopping = threading.Event()
        self._seal_wanted = threading.Event()
        self._head: _Head | None = None
        self._halted: str | None = None
        self._unavailable = "the message log is starting"
        self._last_seal = time.monotonic()
        self._last_lease = 0.0
        self._last_anchor = 0.0
        self._anchored_seq = 0
        self._polled: dict[str, float] = {}
        self._counts: dict[str, tuple[int, int]] = {}
        self._thread = threading.Thread(target=self._run, name="gateway-message-log", daemon=True)

    # -- any thread -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._publisher is not None:
            self._publisher.start()
        self._thread.start()

    def submit(self, exchange: Loggable) -> Future[int]:
        """Queue a record; the future gives its sequence number once written."""
        if self._stopping.is_set():
            raise LogUnavailable("the message log is stopping")
        if self._halted is not None and not self._hold:
            raise LogUnavailable(f"the message log is halted: {self._halted}")
        item = _Queued(exchange.fields())
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            raise LogUnavailable("the message log is behind") from None
        return item.written

    def request_seal(self) -> None:
        self._seal_wanted.set()

    @property
    def ready(self) -> bool:
        return self._head is not None and self._halted is None

    @property
    def halted(self) -> str | None:
        """Why the writer halted (the database holds what it did not write), or None."""
        return self._halted

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, seal it, anchor it, release the chain."""
        self._stopping.set()
        self._thread.join(timeout)
        if self._publisher is not None:
            self._publisher.stop(timeout=min(timeout, 5.0))

    # -- the writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            done = self._stopping.is_set() and self._queue.empty() and not self._held
            if self._halted is not None:
                self._while_halted()
                if self._stopping.is_set():
                    self._fail(self._held + self._drain_all(), f"the message log is halted: {self._halted}")
                    break
                continue
            if self._head is None and not self._sync():
                if self._halted is None:
                    self._fail(self._drain(block=False), self._unavailable)
                if done or (self._halted is None and self._stopping.wait(RETRY_SECONDS) and self._queue.empty()):
                    break
                continue
            batch = self._held + self._drain(block=not done)
            self._held = []
            if not self._keep_lease():
                self._fail(batch, self._unavailable)
                continue
            self._write(batch, final=done)
            self._anchor_head()
            if done:
                break
        _halted_chains.pop(self.chain, None)
        self._store.release(self.chain, self._holder)

    def _sync(self) -> bool:
        """Take the chain's lease and read where it stands, adopting only what a gateway wrote."""
        try:
            if not self._store.acquire(self.chain, self._holder, LEASE_TTL):
                self._unavailable = f"message log chain {self.chain!r} is held by another gateway"
                log.error("%s; waiting for its lease to expire", self._unavailable)
                return False
            self._last_lease = time.monotonic()
            anchor = self._store.anchor(self.chain)
            last_seal = self._store.last(self.chain, SEAL)
            start = int(last_seal["seq"]) - 1 if last_seal and int(last_seal["seq"]) > anchor.seq else anchor.seq
            tail = list(self._store.records(self.chain, start))
            outside = self._outside_head()
            anchored = None
            if outside is not None and anchor.seq < outside.seq <= start:     # anchored before the tail read
                anchored = next(iter(self._store.records(self.chain, outside.seq - 1, outside.seq)), None)
        except Exception as exc:
            self._unavailable = f"the message log store is unreachable: {exc}"
            log.error("%s", self._unavailable)
            return False
        adopted = adoptable_tail(self.chain, anchor, tail, self._key, outside, anchored)
        if isinstance(adopted, str):
            self._halt(adopted)
            return False
        seq, hash_ = adopted
        self._head = _Head(seq, hash_, list(covered_by(tail)))
        self._anchored_seq = outside.seq if outside is not None else 0
        log.info("message log ready", extra={"fields": {"chain": self.chain, "head": self._head.seq,
                                                       "unsealed": len(self._head.pending)}})
        return True

    def _outside_head(self) -> LogAnchor | None:
        """The chain's last anchor outside the database, if it has one, it can be read now, and this
        gateway's seal key signed it (else only `verify` checks it, and reports it)."""
        if self._anchors is None:
            return None
        try:
            anchors = self._anchors.latest([self.chain]).get(self.chain)
        except Exception as exc:
            log.warning("could not read chain %r's anchors outside the database (%s): not checked at start-up; "
                        "`egov-gateway log verify` checks them", self.chain, exc)
            return None
        if anchors is None or anchors.head is None:
            return None
        problem = anchor_problem(anchors.head, {self._sealer.public_raw})
        if problem is not None:
            log.error("ignored at start-up: %s", problem)
            return None
        return anchors.head

    def _keep_lease(self) -> bool:
        if time.monotonic() - self._last_lease < LEASE_RENEW_SECONDS:
            return True
        try:
            held = self._store.acquire(self.chain, self._holder, LEASE_TTL)
        except Exception as exc:
            held = False
            self._unavailable = f"the message log store is unreachable: {exc}"
        else:
            self._unavailable = f"lost the lease on message log chain {self.chain!r}"
        if held:
            self._last_lease = time.monotonic()
            return True
        log.error("%s", self._unavailable)
        self._head = None
        return False

    def _drain(self, block: bool) -> list[_Queued]:
        items: list[_Queued] = []
        try:
            if block:
                items.append(self._queue.get(timeout=0.2))
            while len(items) < self._batch:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return items

    def _drain_all(self) -> list[_Queued]:
        items: list[_Queued] = []
        while batch := self._drain(block=False):
            items.extend(batch)
        return items

    def _write(self, batch: list[_Queued], final: bool) -> None:
        head = self._head
        assert head is not None   # _run syncs first
        seq, prev, pending = head.seq, head.hash, list(head.pending)
        records: list[Record] = []
        for item in batch:
            seq += 1
            record = chain_record(item.fields, self.chain, seq, prev, self._key)
            records.append(record)
            pending.append((seq, record["hash"]))
            prev = record["hash"]
        requested = self._requested("seal", self._seal_wanted.is_set())
        seal: Record | None = None
        if pending and (final or requested or len(pending) >= self._seal_records
                        or time.monotonic() - self._last_seal >= self._seal_seconds):
            seq += 1
            seal = self._key.authenticate(self._sealer.seal(self.chain, seq, prev, pending))
            records.append(seal)
            prev, pending = seal["hash"], []
        if not records:
            if requested:
                self._confirm("seal")     # nothing new since the last seal: nothing to seal
            return
        try:
            self._store.append(records)
        except Exception as exc:
            self._unavailable = f"the message log could not be written: {exc}"
            log.error("%s; checking what the database holds after record %d", self._unavailable, head.seq)
            self._after_failed_append(head, batch, records)
            return
        self._head = _Head(seq, prev, pending)
        for item, record in zip(batch, records, strict=False):
            item.written.set_result(int(record["seq"]))
        if seal is not None:
            self._sealed(seal, requested)

    def _after_failed_append(self, head: _Head, batch: list[_Queued], records: list[Record]) -> None:
        """Continue from our own head and what of `records` the database holds, exactly; else halt."""
        try:
            found = list(self._store.records(self.chain, head.seq))
        except Exception as exc:     # cannot tell now: take the lease and the chain again, checked
            log.error("cannot read the chain back (%s)", exc)
            self._head = None
            self._fail(batch, self._unavailable)
            return
        written = 0
        for ours, theirs in zip(records, found, strict=False):
            if theirs.get("hash") != ours["hash"] or record_hash(theirs) != ours["hash"] \
                    or theirs.get("mac") != ours["mac"]:
                break
            written += 1
        if written < len(found):
            stranger = found[written]
            self._halt(f"record {stranger.get('seq')} in the database was not written by this gateway "
                       f"(its head was record {head.seq + written})")
            if self._hold:
                self._held = batch + self._held
            else:
                self._fail(batch, f"the message log is halted: {self._halted}")
            return
        kept = records[:written]
        self._head = self._advanced(head, kept)
        for item, record in zip(batch, kept, strict=False):
            item.written.set_result(int(record["seq"]))
        self._fail(batch[written:], self._unavailable)

    @staticmethod
    def _advanced(head: _Head, records: list[Record]) -> _Head:
        moved = _Head(head.seq, head.hash, list(head.pending))
        for record in records:
            moved.seq, moved.hash = int(record["seq"]), str(record["hash"])
            moved.pending = [] if record["kind"] == SEAL else [*moved.pending, (moved.seq, moved.hash)]
        return moved

    def _sealed(self, seal: Record, requested: bool) -> None:
        self._last_seal = time.monotonic()
        self._seal_wanted.clear()
        if requested:
            self._confirm("seal")
        # The seal in the process log too: one more anchor outside the database the log lives in.
        log.info("message log sealed", extra={"fields": {
            "chain": self.chain, "seal_seq": seal["seq"], "first_seq": seal["first_seq"],
            "last_seq": seal["last_seq"], "seal_hash": seal["hash"], "key_id": seal["key_id"]}})
        self._anchor(int(seal["seq"]), str(seal["hash"]), SEALED)

    def _anchor_head(self) -> None:
        head = self._head
        if head is None or head.seq <= self._anchored_seq:
            return
        if time.monotonic() - self._last_anchor >= self._anchor_seconds or self._stopping.is_set():
            self._anchor(head.seq, head.hash, HEAD)

    def _anchor(self, seq: int, hash_: str, kind: str) -> None:
        if self._publisher is None:
            return
        self._publisher.submit(signed_anchor(self._sealer, self.chain, seq, hash_, kind))
        self._anchored_seq, self._last_anchor = seq, time.monotonic()

    # -- halting --------------------------------------------------------------------------------
    def _halt(self, reason: str) -> None:
        self._halted = reason
        _halted_chains[self.chain] = 1
        halts.add(1, {"chain": self.chain})
        log.critical("message log HALTED: %s; nothing more is written to chain %r until `egov-gateway log resume` "
                     "finds it consistent (calls that need the log %s)", reason, self.chain,
                     "wait" if self._hold else "answer UNAVAILABLE")

    def _while_halted(self) -> None:
        if self._hold:
            self._stopping.wait(RETRY_SECONDS)
        else:
            self._fail(self._drain(block=True), f"the message log is halted: {self._halted}")
        if self._requested("resume"):
            self._check_again()

    def _check_again(self) -> None:
        """An operator asked: resume if the database now holds nothing after our own head, or, when
        the halt came at start-up, if the chain now passes the start-up checks."""
        reason = self._halted
        if self._head is None:
            self._halted = None
            if not self._sync() and self._halted is None:     # could not even read it: still halted
                self._halted = reason
        else:
            try:
                clean = not list(self._store.records(self.chain, self._head.seq))
            except Exception as exc:
                clean = False
                log.error("cannot read chain %r back: %s", self.chain, exc)
            if clean:
                self._halted = None
        if self._halted is None:
            _halted_chains[self.chain] = 0
            log.warning("message log resumed on chain %r after record %d", self.chain,
                        self._head.seq if self._head else 0)
            self._confirm("resume", "resumed")
        else:
            self._confirm("resume", f"still halted: {self._halted}")

    # -- operators' requests through the store ----------------------------------------------------
    def _requested(self, what: str, here: bool = False) -> bool:
        """`what` asked for here (tests, shutdown) or by the admin command through the store."""
        requested, handled = self._counts.get(what, (0, 0))
        if here or requested > handled:
            return True
        now = time.monotonic()
        if now - self._polled.get(what, 0.0) < REQUEST_POLL_SECONDS:
            return False
        self._polled[what] = now
        try:
            self._counts[what] = self._store.requests(self.chain, what)
        except Exception:
            return False
        requested, handled = self._counts[what]
        return requested > handled

    def _confirm(self, what: str, outcome: str = "") -> None:
        if what == "seal":
            self._seal_wanted.clear()
        requested, handled = self._counts.get(what, (0, 0))
        if requested > handled:
            try:
                self._store.handled(self.chain, what, requested, outcome)
                self._counts[what] = (requested, requested)
            except Exception as exc:
                log.warning("could not confirm the %s request: %s", what, exc)

    def _fail(self, batch: list[_Queued], reason: str) -> None:
        for item in batch:
            item.written.set_exception(LogUnavailable(reason))
