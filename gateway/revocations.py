"""Revoked sessions: which accounts' tokens the gateway refuses although their signature holds.

identity keeps, per account whose sessions were revoked (an account recovered, a civil servant
dismissed, a second factor reset), the lowest session epoch still valid, for as long as a token of
an earlier epoch could still be unexpired. The gateway polls identity's `list_revocations` every
`poll_seconds` (10 s by default) and swaps in the whole list: a token of an earlier epoch than its
account's entry is refused UNAUTHENTICATED from the next call on. So a dismissal takes effect at
every gateway within one poll (docs/SECURITY.md, item 9).

A failed poll keeps the last list and is logged: revocations are made at identity, so while identity
cannot be reached no new one can be made either.
"""

import logging
import threading
from collections.abc import Mapping
from typing import Any

from gateway.rpc_client import RpcBackend
from services.common.caller import Caller
from services.common.errors import Unauthenticated

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 10.0
CALL_TIMEOUT_SECONDS = 5.0


class RevocationList:
    """The latest list: account (Caller.actor) -> lowest session epoch still valid."""

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        self._entries: Mapping[str, int] = dict(entries or {})
        self.loaded = entries is not None

    def replace(self, entries: Mapping[str, int]) -> None:
        self._entries = dict(entries)     # one reference swap: readers never see half a list
        self.loaded = True

    def check(self, caller: Caller, epoch: int) -> None:
        if epoch < self._entries.get(caller.actor, 0):
            raise Unauthenticated("authorization", "this session was revoked: sign in again")


def entries_of(reply: Mapping[str, Any]) -> dict[str, int]:
    """egov.identity.v1.ListRevocationsResponse in protowire form -> account -> epoch."""
    return {str(r["account"]): int(r.get("min_epoch", 0)) for r in reply.get("revocations", ())}


class RevocationPoller:
    def __init__(self, backend: RpcBackend, revocations: RevocationList,
                 poll_seconds: float = DEFAULT_POLL_SECONDS, instance: str = "") -> None:
        self._backend = backend
        self._instance = instance
        self._revocations = revocations
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-revocations", daemon=True)
        self._failing = False

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def refresh(self) -> bool:
        try:
            reply = self._backend.call("identity", "list_revocations",
                                       {"request": {"gateway": self._instance}, "caller": {}},
                                       timeout=CALL_TIMEOUT_SECONDS)
            self._revocations.replace(entries_of(reply))
        except Exception as exc:   # the poller must outlive any failure; the last list stays in force
            if not self._failing:
                log.warning("cannot refresh the revocation list from identity (keeping the last one): %s", exc)
            self._failing = True
            return False
        if self._failing:
            log.info("revocation list refreshed again")
        self._failing = False
        return True

    def _run(self) -> None:
        while not self._stopping.wait(self._poll):
            self.refresh()
