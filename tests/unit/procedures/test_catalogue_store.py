"""The catalogue store contract on the in-memory store (the MongoDB one: tests/integration)."""

import pytest

from services.procedures.adapters.catalogue_memory import InMemoryCatalogueStore
from services.procedures.catalogue_admin import entries_in_force, import_shipped, load_catalogue
from tests.unit.procedures.catalogue_store_contract import CatalogueStoreContract


class TestInMemoryCatalogueStore(CatalogueStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryCatalogueStore:
        return InMemoryCatalogueStore()


def test_the_shipped_editions_import_once_and_the_reform_is_one_more_import() -> None:
    store = InMemoryCatalogueStore()
    units, catalogues = import_shipped(store)
    assert (units.version, units.tiers) == ("hue-2025-03", ("province", "district", "commune"))
    assert all(r.applied for r in catalogues) and store.version().revision == len(catalogues)
    three_tiers = load_catalogue(store)
    assert three_tiers.require_entry("1.001612", "474").competent_agency_code == "000.00.31.H57"
    again_units, again = import_shipped(store)
    assert not again_units.applied and not any(r.applied for r in again)
    # 1 July 2025: the two-tier tree, then the catalogue written for it.
    reform_units, reform = import_shipped(store, "2025-07")
    assert reform_units.tiers == ("province", "commune") and len(reform_units.removed_units) == 103
    assert any(w.startswith("procedure 1.001612: tier district") for w in reform_units.warnings)
    moved = next(c for r in reform for c in r.changed if c.procedure.code == "1.001612")
    assert moved.fields[:1] == ("applicants",) or "tiers" in moved.fields
    two_tiers = load_catalogue(store)
    assert len(two_tiers) >= 150 and entries_in_force(two_tiers) > 3_000
    assert two_tiers.require_entry("1.001612", "19900").competent_agency_code.endswith(".H57")
    assert two_tiers.tree("hue-2025-03").unit("19786").name == "Phường Phú Hội"   # dossiers keep their units
    assert len(two_tiers.list_units(tier="commune", page_size=500).units) == 40
