"""The database budget the bench checks journeys against (docs/BENCHMARKS.md, bench/db_ops.py)."""

from pathlib import Path

from bench.db_ops import over_budget, read_budget, service_of
from deploy.local.stack import ROOT, SERVICES


def test_the_documented_budget_covers_every_service_and_the_gateway() -> None:
    budget = read_budget(ROOT / "docs" / "BENCHMARKS.md")
    assert set(budget) == {*SERVICES, "gateway"}
    assert all(row["total"] > 0 for row in budget.values())


def test_a_service_over_its_budget_or_without_one_is_named() -> None:
    budget = {"payments": {"total": 20.0, "index_entries": 10.0}}
    assert over_budget({"payments": {"total": 19.5, "index_entries": 10.0}}, budget) == []
    assert over_budget({"payments": {"total": 20.5, "index_entries": 4.0}}, budget) == [
        "payments: 20.5 operations per journey, budget 20"]
    assert over_budget({"payments": {"total": 1.0, "index_entries": 11.0}}, budget) == [
        "payments: 11.0 index entries per journey, budget 10"]
    assert over_budget({"postal": {"total": 3.0, "index_entries": 0.0}}, budget) == [
        "postal: 3.0 operations per journey and no budget in docs/BENCHMARKS.md"]


def test_a_table_elsewhere_in_the_document_is_not_the_budget(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text("| archive | 1 | 2 |\n### The budget\n\n| service | operations | index entries |\n|---|---|---|\n"
                   "| `postal` | 28 | 25 |\n\n## Next\n| payments | 3 | 4 |\n")
    assert read_budget(doc) == {"postal": {"total": 28.0, "index_entries": 25.0}}


def test_a_namespace_names_the_service_that_owns_its_database() -> None:
    assert service_of("egov_notifications.outbox") == "notifications"
    assert service_of("admin.system.version") is None
