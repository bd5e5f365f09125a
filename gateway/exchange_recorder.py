"""One exchange recorder for the inbound chain and the outbound exchange: what a call established,
turned into its message log record, with the log's durability rule.

A call that reached a service (`forwarded`) waits for its record to be written (unless the log is
not durable) and, if it cannot be, gets UNAVAILABLE in place of its own status: its answer is
withheld rather than sent unrecorded. A refusal does not wait: nothing happened; past a few of one
kind, refusals are counted and recorded together (gateway.refusals).
"""

import logging
import math
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import grpc

from gateway.errors import Status
from gateway.message_log import INBOUND, Exchange, LogKey, now_rfc3339
from gateway.message_log_writer import LogUnavailable, MessageLog
from gateway.refusals import RefusalCounter, RefusalPolicy, RefusalSummary
from services.common.caller import CallerKind

log = logging.getLogger("gateway.calls")
# A forwarded call waits at least this long for its log record, even past a nearly spent deadline.
LOG_WAIT_SECONDS = 1.0


@dataclass
class ExchangeFacts:
    """What one exchange established as it went, for its record (and its log line and metrics)."""

    method: str
    direction: str = INBOUND
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    trace_id: str = ""
    client: str = "anonymous"
    client_kind: str = CallerKind.ANONYMOUS.value
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=now_rfc3339)
    deadline: float = math.inf               # time.monotonic() by which the answer is due
    forwarded: bool = False                  # the request was handed on (to a service, an external system)
    request_bytes: int = 0
    request_digest: str = ""
    response_bytes: int = 0
    response_digest: str = ""
    messages: int | None = None              # for a stream, the messages sent
    failure: Status | None = None            # None: OK
    note: str = ""                           # the gateway's own refusal reason (never a service's message)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def status(self) -> grpc.StatusCode:
        return self.failure.code if self.failure else grpc.StatusCode.OK

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class ExchangeRecorder:
    def __init__(self, message_log: MessageLog, log_key: LogKey, durable: bool = True,
                 refusals: RefusalPolicy | None = None) -> None:
        self._log = message_log
        self._key = log_key
        self._durable = durable
        self._refusals = RefusalCounter(refusals, self._summary) if refusals is not None else None

    def start(self) -> None:
        if self._refusals is not None:
            self._refusals.start()

    def stop(self) -> None:
        """Record the refusals still being counted (before the message log stops)."""
        if self._refusals is not None:
            self._refusals.stop()

    def digest(self, data: bytes) -> str:
        return self._key.digest(data)

    def record(self, facts: ExchangeFacts) -> Status | None:
        """Write the exchange; the status that replaces the call's own if it could not be (else None)."""
        if facts.failure is not None and not facts.forwarded and self._refusals is not None and \
                not self._refusals.admit(facts.direction, facts.client, facts.client_kind, facts.method,
                                         facts.status.name, facts.note):
            return None       # counted: recorded with the others of its kind when the window ends
        note = facts.note
        if facts.messages is not None:
            note = "; ".join(filter(None, (f"{facts.messages} message(s) streamed", facts.note)))
        exchange = Exchange(
            direction=facts.direction, request_id=facts.request_id, trace_id=facts.trace_id, client=facts.client,
            client_kind=facts.client_kind, method=facts.method, started_at=facts.started_at,
            ended_at=now_rfc3339(), duration_us=int(facts.elapsed() * 1_000_000), status=facts.status.name,
            request_digest=facts.request_digest, request_bytes=facts.request_bytes,
            response_digest=facts.response_digest if facts.failure is None or facts.response_bytes else "",
            response_bytes=facts.response_bytes, note=note,
        )
        what = f"{facts.direction} request {facts.request_id}"
        try:
            written = self._log.submit(exchange)
            if facts.forwarded and self._durable:
                written.result(timeout=max(facts.remaining(), LOG_WAIT_SECONDS))
        except (LogUnavailable, FutureTimeout) as exc:
            if facts.forwarded:
                log.error("%s answered UNAVAILABLE: its exchange was not logged: %s", what, exc)
                return Status(grpc.StatusCode.UNAVAILABLE, f"message log: {exc or 'not written in time'}")
            log.warning("%s: refusal not logged: %s", what, exc)
        return None

    def _summary(self, summary: RefusalSummary) -> None:
        try:
            self._log.submit(summary)
        except LogUnavailable as exc:
            log.warning("%d refusal(s) of %s by %s not logged: %s", summary.count, summary.method, summary.client, exc)
