"""Configuring desks as an operator (egov-catalogue desks), on the in-memory directory."""

from functools import cache

import pytest

from services.common.errors import InvalidArgument
from services.procedures.adapters.catalogue_memory import InMemoryCatalogueStore
from services.procedures.catalogue_admin import import_shipped, load_catalogue
from services.procedures.desk_admin import configure_desk
from services.procedures.domain.desks import Desk
from services.procedures.domain.units import UnitTree
from services.procedures.fakes import InMemoryDirectory

THUAN_HOA = "000.00.31.H57"     # Ủy ban nhân dân quận Thuận Hóa, unit 474 (shipped unit file 2025-03)


@cache
def units() -> UnitTree:
    store = InMemoryCatalogueStore()
    import_shipped(store)
    return load_catalogue(store).units


def test_a_desk_is_put_once_and_again_changes_nothing() -> None:
    directory = InMemoryDirectory()
    desk = Desk(THUAN_HOA, " Bộ phận Một cửa quận Thuận Hóa ", "474", ("*", "*"))
    first = configure_desk(directory, units(), desk)
    assert (first.applied, first.before) == (True, None)
    assert directory.desks() == [Desk(THUAN_HOA, "Bộ phận Một cửa quận Thuận Hóa", "474", ("*",))]
    again = configure_desk(directory, units(), desk)
    assert (again.applied, again.changed) == (False, False)


def test_a_dry_run_shows_the_change_and_puts_nothing() -> None:
    directory = InMemoryDirectory()
    shown = configure_desk(directory, units(), Desk(THUAN_HOA, "Một cửa", "474", (THUAN_HOA,)), dry_run=True)
    assert (shown.applied, shown.changed, directory.desks()) == (False, True, [])


@pytest.mark.parametrize(("desk", "field"), [
    (Desk("000.99.99.H57", "Một cửa", "474", ("*",)), "agency_code"),
    (Desk(THUAN_HOA, "  ", "474", ("*",)), "name"),
    (Desk(THUAN_HOA, "Một cửa", "99999", ("*",)), "unit_code"),
    (Desk(THUAN_HOA, "Một cửa", "474", ()), "accepts"),
    (Desk(THUAN_HOA, "Một cửa", "474", ("*", "000.99.99.H57")), "accepts[1]"),
])
def test_a_bad_desk_is_refused_naming_the_field_and_nothing_is_put(desk: Desk, field: str) -> None:
    directory = InMemoryDirectory()
    with pytest.raises(InvalidArgument) as refused:
        configure_desk(directory, units(), desk)
    assert refused.value.field == field
    assert directory.desks() == []
