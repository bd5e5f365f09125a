"""The commands postal accepts over RPC, one per RPC, as plain values: what the sender asked, not yet
checked.

The entrypoint translates each request once (translation.py) and the service layer (handlers.py)
takes these, so no handler sees a wire dict or a proto. Field names are the protos'. Values stay as
they were sent (the dossier code untrimmed) because checking them is the rules' work
(domain/shipment.py: require_dossier_code): a refusal names the same field, in the same words, as
before the translation moved. Who sends a command (the Caller) travels beside it, not in it. The
operator's tracking reports are not commands of this kind: they arrive signed over HTTP and are
authenticated first (domain/callback.py).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GetShipment:
    dossier_code: str
