"""The message log's single writer: one thread takes exchanges from a queue in arrival order, numbers
and chains them, adds a seal when one is due and writes each batch with one ordered insert.

Durability: a call that reached a service waits for the batch holding its record to be written
before its answer is released (group commit: concurrent calls share one insert). So a crash never
loses the record of an answer a client received; it can lose the records still queued, which are
those of calls whose answers were not sent (their clients see the connection fail) and those of
refusals, which never waited because nothing happened. If the log cannot be written, calls that
reached a service answer UNAVAILABLE rather than go unrecorded (X-Road stops exchanging messages
when its log fails, for the same reason); a failed batch may have been partly written, so the
writer re-reads the chain head from the store before going on.
"""

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta

from gateway.message_log import SEAL, Anchor, Exchange, Record, Sealer, chain_record, covered_by
from gateway.message_log_store import LogStore

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(seconds=6)
LEASE_RENEW_SECONDS = 2.0
SEAL_REQUEST_POLL_SECONDS = 0.5
RETRY_SECONDS = 0.5


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
    def __init__(self, store: LogStore, chain: str, sealer: Sealer, *, holder: str,
                 seal_every_records: int = 1000, seal_every_seconds: float = 60.0,
                 queue_size: int = 10_000, batch_size: int = 256) -> None:
        self.chain = chain
        self._store = store
        self._sealer = sealer
        self._holder = holder
        self._seal_records = seal_every_records
        self._seal_seconds = seal_every_seconds
        self._batch = batch_size
        self._queue: queue.Queue[_Queued] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._seal_wanted = threading.Event()
        self._head: _Head | None = None
        self._unavailable = "the message log is starting"
        self._last_seal = time.monotonic()
        self._last_lease = 0.0
        self._last_request_poll = 0.0
        self._requested = self._handled = 0
        self._thread = threading.Thread(target=self._run, name="gateway-message-log", daemon=True)

    # -- any thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, exchange: Exchange) -> Future[int]:
        """Queue a record; the future gives its sequence number once written."""
        if self._stopping.is_set():
            raise LogUnavailable("the message log is stopping")
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
        return self._head is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, seal it, release the chain."""
        self._stopping.set()
        self._thread.join(timeout)

    # -- the writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            done = self._stopping.is_set() and self._queue.empty()
            if self._head is None and not self._sync():
                self._fail(self._drain(block=False), self._unavailable)
                if done or (self._stopping.wait(RETRY_SECONDS) and self._queue.empty()):
                    break
                continue
            batch = self._drain(block=not done)
            if not self._keep_lease():
                self._fail(batch, self._unavailable)
                continue
            self._write(batch, final=done)
            if done:
                break
        self._store.release(self.chain, self._holder)

    def _sync(self) -> bool:
        """Take the chain's lease and read where it stands."""
        try:
            if not self._store.acquire(self.chain, self._holder, LEASE_TTL):
                self._unavailable = f"message log chain {self.chain!r} is held by another gateway"
                log.error("%s; waiting for its lease to expire", self._unavailable)
                return False
            self._last_lease = time.monotonic()
            anchor = self._store.anchor(self.chain)
            last = self._store.last(self.chain)
            last_seal = self._store.last(self.chain, SEAL)
            sealed_through = int(last_seal["seq"]) if last_seal else anchor.seq
            head = Anchor(int(last["seq"]), str(last["hash"])) if last else anchor
            self._head = _Head(head.seq, head.hash, list(covered_by(self._store.records(self.chain, sealed_through))))
        except Exception as exc:
            self._unavailable = f"the message log store is unreachable: {exc}"
            log.error("%s", self._unavailable)
            return False
        log.info("message log ready", extra={"fields": {"chain": self.chain, "head": self._head.seq,
                                                       "unsealed": len(self._head.pending)}})
        return True

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

    def _write(self, batch: list[_Queued], final: bool) -> None:
        head = self._head
        assert head is not None   # _run syncs first
        seq, prev, pending = head.seq, head.hash, list(head.pending)
        records: list[Record] = []
        for item in batch:
            seq += 1
            record = chain_record(item.fields, self.chain, seq, prev)
            records.append(record)
            pending.append((seq, record["hash"]))
            prev = record["hash"]
        requested = self._seal_requested()
        seal: Record | None = None
        if pending and (final or requested or len(pending) >= self._seal_records
                        or time.monotonic() - self._last_seal >= self._seal_seconds):
            seq += 1
            seal = self._sealer.seal(self.chain, seq, prev, pending)
            records.append(seal)
            prev, pending = seal["hash"], []
        if not records:
            if requested:
                self._confirm_request()     # nothing new since the last seal: nothing to seal
            return
        try:
            self._store.append(records)
        except Exception as exc:
            self._unavailable = f"the message log could not be written: {exc}"
            log.error("%s; re-reading the chain head", self._unavailable)
            self._head = None
            self._fail(batch, self._unavailable)
            return
        self._head = _Head(seq, prev, pending)
        for item, record in zip(batch, records, strict=False):
            item.written.set_result(int(record["seq"]))
        if seal is not None:
            self._sealed(seal, requested)

    def _sealed(self, seal: Record, requested: bool) -> None:
        self._last_seal = time.monotonic()
        self._seal_wanted.clear()
        if requested:
            self._confirm_request()
        # The seal in the process log too: an anchor outside the database the log lives in.
        log.info("message log sealed", extra={"fields": {
            "chain": self.chain, "seal_seq": seal["seq"], "first_seq": seal["first_seq"],
            "last_seq": seal["last_seq"], "seal_hash": seal["hash"], "key_id": seal["key_id"]}})

    def _seal_requested(self) -> bool:
        """A seal asked for here (tests, shutdown) or by the admin command through the store."""
        if self._seal_wanted.is_set() or self._requested > self._handled:
            return True
        now = time.monotonic()
        if now - self._last_request_poll < SEAL_REQUEST_POLL_SECONDS:
            return False
        self._last_request_poll = now
        try:
            self._requested, self._handled = self._store.seal_requests(self.chain)
        except Exception:
            return False
        return self._requested > self._handled

    def _confirm_request(self) -> None:
        self._seal_wanted.clear()
        if self._requested > self._handled:
            try:
                self._store.seal_handled(self.chain, self._requested)
                self._handled = self._requested
            except Exception as exc:
                log.warning("could not confirm the seal request: %s", exc)

    def _fail(self, batch: list[_Queued], reason: str) -> None:
        for item in batch:
            item.written.set_exception(LogUnavailable(reason))
