"""In-memory twins of the supervision repositories (adapters/repository.py), with the MongoDB adapters'
rules: a dossier's facts replaced whole, the lists filtered and ordered as the queries there do, the
counters moved by `$inc` on dotted names (`days.3` is `days: {"3": ...}`), created on first use with
their scope and bucket, and kept at zero rather than removed. tests/contract/test_supervision_ports.py
holds each twin and its adapter to the same contract; tests/unit/supervision/test_handlers.py runs
the event handlers and the queries on them."""

import copy
from typing import Any

from services.common.memory_store import InMemoryStore
from services.supervision.adapters.repository import CounterRepository, DossierFactsRepository, counter_id
from services.supervision.domain.access import Kind, Scope
from services.supervision.domain.facts import DossierFacts
from services.supervision.domain.index import Buckets


def _in_scope(f: DossierFacts, scope: Scope) -> bool:
    if scope.kind is Kind.UNIT:
        return scope.code in f.units
    if scope.kind is Kind.AGENCY:
        return f.competent_agency == scope.code
    if scope.kind is Kind.RECEIVING:
        return f.receiving_agency == scope.code
    return f.procedure_code == scope.code


class InMemoryDossierFacts:
    def __init__(self) -> None:
        self.dossiers: dict[str, DossierFacts] = {}     # frozen values: no copies needed

    def find(self, code: str) -> DossierFacts | None:
        return self.dossiers.get(code)

    def find_many(self, codes: list[str]) -> dict[str, DossierFacts]:
        return {c: self.dossiers[c] for c in codes if c in self.dossiers}

    def save(self, facts: DossierFacts) -> None:
        self.dossiers[facts.code] = facts

    def save_many(self, facts: list[DossierFacts]) -> None:
        for f in facts:
            self.save(f)

    def overdue(self, scope: Scope, before: str, limit: int) -> tuple[int, list[DossierFacts]]:
        found = sorted((f for f in self.dossiers.values()
                        if _in_scope(f, scope) and f.is_open and "" < f.due_date < before),
                       key=lambda f: (f.due_date, f.code))
        return len(found), found[:limit]

    def apologised_since(self, scope: Scope, since: str) -> list[DossierFacts]:
        return [f for f in self.dossiers.values()
                if f.apologies and _in_scope(f, scope) and max(a.on for a in f.apologies) >= since]

    def procedure_name(self, procedure_code: str) -> str:
        return next((f.procedure_name for f in self.dossiers.values() if f.procedure_code == procedure_code), "")


class InMemoryCounters:
    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def add(self, delta: Buckets) -> None:
        for (scope, bucket), counters in delta.items():
            doc = self.documents.setdefault(counter_id(scope, bucket),
                                            {"_id": counter_id(scope, bucket), "scope": scope, "bucket": bucket})
            for name, n in counters.items():
                *path, leaf = name.split(".")
                held = doc
                for part in path:
                    held = held.setdefault(part, {})
                held[leaf] = held.get(leaf, 0) + n

    def find(self, scopes: list[str], buckets: list[str]) -> dict[str, dict[str, Any]]:
        ids = [counter_id(scope, bucket) for scope in scopes for bucket in buckets]
        return {i: copy.deepcopy(self.documents[i]) for i in ids if i in self.documents}


def in_memory_store() -> InMemoryStore:
    """The supervision service's store with its read model in memory."""
    return InMemoryStore("supervision", {DossierFactsRepository: InMemoryDossierFacts(),
                                         CounterRepository: InMemoryCounters()})
