"""`Projection`: one transaction's changes to the read model, however many events it holds.

Each dossier's facts are read once (a batch's dossiers in one query) and written once, and every
counter moves by the sum of the events' differences in one bulk write, at `flush`, just before the
commit. Projected one event per transaction, nearly every event cost a read, a facts write and a
counter bulk write of its own, and two transactions side by side conflicted on the city's counters;
a batch pays those once (docs/BENCHMARKS.md, the supervision phase).

The sums keep counters that net to zero, so the documents written are the ones the events written
one by one would have left: a batch and its events one at a time give the same read model.
"""

from collections.abc import Callable, Iterable
from typing import Protocol

from services.supervision.domain.facts import DossierFacts, Ref
from services.supervision.domain.index import Buckets, difference


class FactsPort(Protocol):
    def find(self, code: str) -> DossierFacts | None: ...
    def find_many(self, codes: list[str]) -> dict[str, DossierFacts]: ...
    def save_many(self, facts: list[DossierFacts]) -> None: ...


class CountersPort(Protocol):
    def add(self, delta: Buckets) -> None: ...


class Projection:
    def __init__(self, dossiers: FactsPort, counters: CountersPort) -> None:
        self._dossiers = dossiers
        self._counters = counters
        self._facts: dict[str, DossierFacts | None] = {}
        self._changed: dict[str, DossierFacts] = {}
        self._delta: Buckets = {}

    def load(self, codes: Iterable[str]) -> None:
        """Read these dossiers' facts in one query, ahead of the events that change them."""
        missing = sorted({c for c in codes if c and c not in self._facts})
        if missing:
            found = self._dossiers.find_many(missing)
            self._facts.update({c: found.get(c) for c in missing})

    def change(self, code: str, ref: Ref | None, fn: Callable[[DossierFacts], DossierFacts]) -> None:
        """Add an event's facts to the dossier's; the counters will move by the difference."""
        if code not in self._facts:
            self._facts[code] = self._dossiers.find(code)
        before = self._facts[code]
        start = before or DossierFacts(code)
        after = fn(start.with_ref(ref) if ref else start)
        if after == before:
            return
        for key, counters in difference(before, after).items():
            held = self._delta.setdefault(key, {})
            for name, n in counters.items():
                held[name] = held.get(name, 0) + n
        self._facts[code] = after
        self._changed[code] = after

    def flush(self) -> None:
        """Write what the events changed: every counter in one bulk write, the facts in another."""
        self._counters.add(self._delta)
        self._dossiers.save_many(list(self._changed.values()))
        self._delta, self._changed = {}, {}
