"""One contract for every CatalogueStore: the import operations and what they leave behind, run
against the in-memory store (tests/unit) and MongoDB (tests/integration) by subclassing."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.adapters.catalogue_store import CatalogueStore
from services.procedures.catalogue_admin import (
    ImportFile,
    import_catalogue,
    import_units,
    load_catalogue,
    wait_until_served,
)
from services.procedures.domain.catalogue import CatalogueVersion, ProcedureQuery
from services.procedures.domain.catalogue_file import parse_catalogue
from services.procedures.domain.catalogue_import import plan_catalogue
from services.procedures.domain.dossier import open_for_filing
from services.procedures.domain.file_rules import FileRejected
from tests.unit.procedures import catalogue_data as data

FIRST = "100/QĐ-UBND"


def file(document: dict[str, Any]) -> ImportFile:
    return ImportFile("test.json", document, "0" * 64)


def listed(store: CatalogueStore, **query: Any) -> list[str]:
    page = load_catalogue(store).list_procedures(ProcedureQuery(**query))
    return [item.procedure.code for item in page.items]


class CatalogueStoreContract:
    """Subclasses provide a `store` fixture: an empty store."""

    @pytest.fixture
    def imported(self, store: CatalogueStore) -> CatalogueStore:
        import_units(store, file(data.three_tier()))
        import_catalogue(store, file(data.FIRST), FIRST)
        return store

    def test_an_empty_store_has_nothing_in_force(self, store: CatalogueStore) -> None:
        assert store.version() == CatalogueVersion()
        assert len(load_catalogue(store)) == 0
        with pytest.raises(InvalidArgument) as no_units:
            import_catalogue(store, file(data.FIRST), FIRST)
        assert no_units.value.field == "units" and store.version() == CatalogueVersion()

    def test_a_unit_file_is_put_in_force_once(self, store: CatalogueStore) -> None:
        dry = import_units(store, file(data.three_tier()), dry_run=True)
        assert (dry.applied, dry.units, store.version().units_version) == (False, 6, "")
        first = import_units(store, file(data.three_tier()))
        assert (first.applied, first.in_force.units_version, first.added_units) == (
            True, "test-3", ("19750", "19783", "19786", "46", "474", "476"))
        again = import_units(store, file(data.three_tier()))
        assert not again.applied and [r.version for r in store.unit_files()] == ["test-3"]
        changed = data.three_tier()
        changed["units"][1] = {**data.THUAN_HOA, "name": "Quận Thuận Hoá"}
        with pytest.raises(FailedPrecondition) as same_version:
            import_units(store, file(changed))
        assert same_version.value.field == "version"

    def test_a_catalogue_import_adds_its_procedures_as_entries_of_every_unit_of_their_tier(
            self, imported: CatalogueStore) -> None:
        version = imported.version()
        assert (version.revision, version.decision) == (1, FIRST)
        catalogue = load_catalogue(imported)
        assert listed(imported, unit_code="19750") == ["1.001193"]
        assert catalogue.require_entry("1.001193", "19783").competent_agency_code == "000.22.31.H57"
        assert catalogue.require_procedure("2.000488").fee.fee_for("student") == 100_000
        assert [(r.revision, r.decision.number, r.added) for r in imported.revisions()] == [
            (1, FIRST, ("1.001193", "1.001612", "2.000488"))]

    def test_a_dry_run_shows_the_changes_and_writes_nothing(self, store: CatalogueStore) -> None:
        import_units(store, file(data.three_tier()))
        report = import_catalogue(store, file(data.FIRST), FIRST, dry_run=True)
        assert ([p.code for p in report.added], report.applied) == (["1.001193", "1.001612", "2.000488"], False)
        assert (store.version().revision, store.procedures(), store.revisions()) == (0, {}, [])

    def test_the_same_file_twice_changes_nothing(self, imported: CatalogueStore) -> None:
        again = import_catalogue(imported, file(data.FIRST), FIRST)
        assert (again.applied, again.unchanged, again.in_force.revision) == (False, 3, 1)
        assert len(imported.revisions()) == 1

    def test_a_file_with_one_bad_row_imports_nothing(self, imported: CatalogueStore) -> None:
        bad = data.catalogue("101/QĐ-UBND", data.DEATH, {**data.BIRTH, "fee": {"amount_vnd": "free"}})
        with pytest.raises(FileRejected) as caught:
            import_catalogue(imported, file(bad), "101/QĐ-UBND")
        assert caught.value.field == "procedures[1].fee.amount_vnd"
        assert imported.version().revision == 1 and "1.000656" not in imported.procedures()

    def test_the_decision_given_must_be_the_file_s(self, imported: CatalogueStore) -> None:
        with pytest.raises(InvalidArgument) as caught:
            import_catalogue(imported, file(data.catalogue("101/QĐ-UBND", data.DEATH)), "102/QĐ-UBND")
        assert caught.value.field == "decision" and imported.version().revision == 1

    def test_a_decision_number_is_imported_once(self, imported: CatalogueStore) -> None:
        with pytest.raises(FailedPrecondition) as caught:
            import_catalogue(imported, file(data.catalogue(FIRST, data.DEATH)), FIRST)
        assert caught.value.field == "decision"

    def test_a_later_full_catalogue_changes_adds_and_withdraws(self, imported: CatalogueStore) -> None:
        cheaper = {**data.CRIMINAL_RECORD, "fee": {"amount_vnd": 150000}}
        report = import_catalogue(imported, file(data.catalogue("200/QĐ-UBND", data.BIRTH, cheaper, data.DEATH)),
                                  "200/QĐ-UBND")
        assert [p.code for p in report.added] == ["1.000656"]
        assert [(c.procedure.code, c.fields) for c in report.changed] == [("2.000488", ("fee",))]
        assert [p.code for p in report.withdrawn] == ["1.001612"] and report.unchanged == 1
        catalogue = load_catalogue(imported)
        # withdrawn: out of the lists, still readable for the dossiers filed under it, closed to new ones
        assert listed(imported, tier="district") == []
        assert listed(imported, tier="district", include_withdrawn=True) == ["1.001612"]
        withdrawn = catalogue.require_procedure("1.001612")
        assert (withdrawn.withdrawn, withdrawn.withdrawn_by, withdrawn.decision) == (True, "200/QĐ-UBND", FIRST)
        with pytest.raises(FailedPrecondition):
            open_for_filing(catalogue.require_entry("1.001612", "474"))
        assert catalogue.require_procedure("2.000488").decision == "200/QĐ-UBND"
        assert catalogue.require_procedure("1.001193").decision == FIRST          # unchanged keeps its decision
        assert [(rev, p.fee.amount_vnd) for rev, p in imported.history("2.000488")] == [(1, 200000), (2, 150000)]

    def test_an_amendment_touches_only_what_it_lists(self, imported: CatalogueStore) -> None:
        amendment = data.catalogue("300/QĐ-UBND", data.DEATH, scope="amendment", withdrawn=["1.001612"])
        report = import_catalogue(imported, file(amendment), "300/QĐ-UBND")
        assert ([p.code for p in report.added], [p.code for p in report.withdrawn]) == (["1.000656"], ["1.001612"])
        assert listed(imported) == ["1.000656", "1.001193", "2.000488"]
        reinstated = import_catalogue(imported, file(data.catalogue("301/QĐ-UBND", data.HOUSEHOLD_BUSINESS,
                                                                    scope="amendment")), "301/QĐ-UBND")
        assert [p.code for p in reinstated.added] == ["1.001612"] and "1.001612" in listed(imported)
        unknown = data.catalogue("302/QĐ-UBND", scope="amendment", withdrawn=["1.999999"])
        with pytest.raises(FileRejected) as caught:
            import_catalogue(imported, file(unknown), "302/QĐ-UBND")
        assert caught.value.field == "withdrawn[0]"

    def test_of_two_imports_planned_together_the_second_is_refused(self, imported: CatalogueStore) -> None:
        stale = imported.version()
        tree = load_catalogue(imported).units
        plan = plan_catalogue(imported.procedures(), parse_catalogue(
            data.catalogue("400/QĐ-UBND", data.BIRTH, data.DEATH), tree), {})
        imported.publish(plan, stale, datetime.now(UTC), "a" * 64)
        with pytest.raises(FailedPrecondition) as caught:
            imported.publish(plan, stale, datetime.now(UTC), "a" * 64)
        assert caught.value.field == "catalogue" and imported.version().revision == 2

    def test_a_two_tier_unit_file_keeps_the_earlier_tree_readable(self, imported: CatalogueStore) -> None:
        report = import_units(imported, file(data.two_tier()))
        assert report.applied and report.tiers == ("province", "commune")
        assert report.warnings == ("procedure 1.001612: tier district is not in unit tree test-2",)
        assert ("19786" in report.removed_units, "19800" in report.added_units) == (True, True)
        catalogue = load_catalogue(imported)
        assert catalogue.units.version == "test-2" and catalogue.version.revision == 1
        assert listed(imported, unit_code="19800") == ["1.001193"]              # the merged ward implements it
        # a dossier filed under the three-tier tree still names its units
        earlier = catalogue.tree("test-3")
        assert (earlier.unit("19786").agency_code, earlier.unit("474").tier) == ("000.21.31.H57", "district")
        assert [u.code for u in catalogue.list_units(units_version="test-3", tier="district").units] == ["474", "476"]
        assert [r.version for r in imported.unit_files()] == ["test-3", "test-2"]
        # and a catalogue for the new tree can then be imported
        two_tier = data.catalogue("500/QĐ-UBND", data.BIRTH, data.CRIMINAL_RECORD,
                                  {**data.HOUSEHOLD_BUSINESS, "tiers": ["commune"]})
        moved = import_catalogue(imported, file(two_tier), "500/QĐ-UBND")
        assert [(c.procedure.code, c.fields) for c in moved.changed] == [("1.001612", ("competent_agency", "tiers"))]
        assert listed(imported, unit_code="19750") == ["1.001193", "1.001612"]

    def test_replicas_report_the_version_they_serve(self, imported: CatalogueStore) -> None:
        now = datetime.now(UTC)
        version = imported.version()
        imported.record_reader("host-a:1", version, now)
        imported.record_reader("host-b:2", CatalogueVersion(0, "test-3", ""), now)
        imported.record_reader("gone:3", CatalogueVersion(0, "", ""), now - timedelta(minutes=5))
        with pytest.raises(TimeoutError) as behind:
            wait_until_served(imported, version, timeout=0.2)
        assert "host-b:2" in str(behind.value) and "gone:3" not in str(behind.value)
        imported.record_reader("host-b:2", version, datetime.now(UTC))
        assert [r.reader_id for r in wait_until_served(imported, version, timeout=1)] == ["host-a:1", "host-b:2"]
