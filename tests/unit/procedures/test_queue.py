"""The work queue's rules without I/O: page tokens bound to their query, filters within reach."""

from datetime import date

import pytest

from services.common.errors import InvalidArgument, PermissionDenied
from services.procedures.domain.dossier import DossierStatus
from services.procedures.domain.queue import (
    QueueQuery,
    check_filters_within,
    decode_page_token,
    encode_page_token,
    page_size,
)

QUERY = QueueQuery(visible_agencies=("000.01.31.H57",), supervised_units=(), status=DossierStatus.SUBMITTED)


def test_a_token_pages_its_own_query_only() -> None:
    token = encode_page_token(QUERY.fingerprint("civil_servant:a"), "2026-12-21|X-261207-0003")
    assert decode_page_token(token, QUERY.fingerprint("civil_servant:a")) == "2026-12-21|X-261207-0003"
    other = QueueQuery(visible_agencies=("000.01.31.H57",), supervised_units=(), status=DossierStatus.APPROVED)
    for fingerprint in (other.fingerprint("civil_servant:a"), QUERY.fingerprint("civil_servant:b")):
        with pytest.raises(InvalidArgument, match="another query"):
            decode_page_token(token, fingerprint)
    with pytest.raises(InvalidArgument, match="not a page token"):
        decode_page_token("not-a-token", QUERY.fingerprint("civil_servant:a"))


def test_the_overdue_filter_keeps_its_token_across_midnight() -> None:
    monday = QueueQuery((), (), overdue_on=date(2026, 12, 7))
    tuesday = QueueQuery((), (), overdue_on=date(2026, 12, 8))
    assert monday.fingerprint("x") == tuesday.fingerprint("x") != QueueQuery((), ()).fingerprint("x")


def test_filters_outside_reach_and_page_sizes() -> None:
    check_filters_within(QueueQuery(("A",), (), receiving_agency_code="B"), frozenset({"A", "B"}))
    with pytest.raises(PermissionDenied) as refused:
        check_filters_within(QueueQuery(("A",), (), competent_agency_code="C"), frozenset({"A"}))
    assert refused.value.field == "competent_agency_code"
    assert (page_size(0), page_size(7)) == (50, 7)
    with pytest.raises(InvalidArgument, match="page_size"):
        page_size(-1)
