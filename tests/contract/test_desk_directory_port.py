"""One contract for the desks' port (services.procedures.desk_admin.DeskDirectory), held by the
procedures database's directory and the in-memory one alike."""

from collections.abc import Iterator

import pytest

from services.procedures.adapters.directory import Directory
from services.procedures.desk_admin import DeskDirectory
from services.procedures.domain.desks import Desk
from services.procedures.fakes import InMemoryDirectory
from tests.contract.scratch import scratch_database

CENTRE = Desk("000.00.31.H57", "Bộ phận Một cửa quận Thuận Hóa", "474", ("*",))
COMMUNE = Desk("000.04.31.H57", "Bộ phận Một cửa phường Phú Hội", "19786", ("000.04.31.H57", "000.00.31.H57"))


@pytest.fixture(params=["memory", "mongo"])
def directory(request: pytest.FixtureRequest) -> Iterator[DeskDirectory]:
    if request.param == "memory":
        yield InMemoryDirectory()
        return
    with scratch_database(request.getfixturevalue("mongo_uri"), tz_aware=False) as db:
        yield Directory(db)


def test_desks_read_back_as_put_in_agency_code_order(directory: DeskDirectory) -> None:
    assert (directory.desks(), directory.desk(CENTRE.agency_code)) == ([], None)
    directory.put_desk(COMMUNE)
    directory.put_desk(CENTRE)
    assert directory.desks() == [CENTRE, COMMUNE]
    assert directory.desk(COMMUNE.agency_code) == COMMUNE


def test_putting_a_desk_again_replaces_it(directory: DeskDirectory) -> None:
    directory.put_desk(COMMUNE)
    narrower = Desk(COMMUNE.agency_code, COMMUNE.name, COMMUNE.unit_code, (COMMUNE.agency_code,))
    directory.put_desk(narrower)
    assert directory.desks() == [narrower]
