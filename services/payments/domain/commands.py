"""The commands payments accepts over RPC, one per RPC, as plain values: what the sender asked, not
yet checked.

The entrypoint translates each request once (translation.py) and the service layer (handlers.py)
takes these, so no handler sees a wire dict or a proto. Field names are the protos'. Values stay as
they were sent (the dossier code untrimmed) because checking them is the rules' work
(domain/bill.py: check_dossier_code): a refusal names the same field, in the same words, as before
the translation moved. Who sends a command (the Caller) travels beside it, not in it. The
intermediary's payment callback is not a command of this kind: it arrives signed over HTTP and is
authenticated first (domain/notice.py).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GetBill:
    dossier_code: str


@dataclass(frozen=True)
class StartPayment:
    dossier_code: str


@dataclass(frozen=True)
class Reconcile:
    grace_seconds: int     # 0 (or less): the service's own grace
