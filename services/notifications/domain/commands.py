"""What notifications is asked over RPC, one per RPC, as plain values: what the sender asked, not yet
checked. The service answers one query, the listing of a citizen's notifications.

The entrypoint translates each request once (translation.py) and the service layer (queries.py)
takes these, so it sees no wire dict and no proto. Field names are the protos'. Values stay as they
were sent because checking them is the rules' work (queries.py, domain/access.py): a refusal names
the same field, in the same words, as before the translation moved. Who asks (the Caller) travels
beside the query, not in it. Events are not translated here: the handlers read their payloads.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ListNotifications:
    citizen_id: str        # "" for a citizen's own; a civil servant or an operator names the citizen
    dossier_code: str      # "" for every dossier
