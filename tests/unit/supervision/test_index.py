"""The Decision 766 figures from dossier facts: what one dossier adds, that applying a fact twice
moves nothing, the roll-up commune → province, and rates, averages and p90 in working days."""

from dataclasses import replace
from itertools import pairwise

from services.supervision.domain.facts import Apology, DossierFacts
from services.supervision.domain.index import OPEN, Buckets, contribution, difference, figures, percentile

PROVINCE, COMMUNE = "46", "19900"


def received(code: str = "H57-1", channel: str = "online", on: str = "2026-03-02") -> DossierFacts:
    return DossierFacts(code, procedure_code="1.001", procedure_name="Đăng ký khai sinh",
                        competent_agency="000.00.41.H57", receiving_agency="000.00.41.H57",
                        units=(COMMUNE, PROVINCE), channel=channel, submitted_on=on)


def apply_all(steps: list[DossierFacts | None]) -> Buckets:
    """The counters after each step's difference is added, as the handlers do."""
    total: Buckets = {}
    for before, after in pairwise(steps):
        for key, delta in difference(before, after).items():
            counters = total.setdefault(key, {})
            for name, n in delta.items():
                counters[name] = counters.get(name, 0) + n
    return {k: {n: v for n, v in c.items() if v} for k, c in total.items() if any(c.values())}


def month(buckets: Buckets, scope: str, bucket: str) -> dict[str, object]:
    flat = buckets.get((scope, bucket), {})
    out: dict[str, object] = {}
    for name, n in flat.items():
        head, _, tail = name.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = n  # type: ignore[index]
        else:
            out[name] = n
    return out


def test_a_received_dossier_counts_in_its_commune_the_province_its_agency_desk_and_procedure() -> None:
    buckets = contribution(received())
    scopes = {scope for scope, _ in buckets}
    assert scopes == {f"unit:{COMMUNE}", f"unit:{PROVINCE}", "agency:000.00.41.H57", "receiving:000.00.41.H57",
                      "procedure:1.001"}
    assert buckets[(f"unit:{PROVINCE}", "2026-03")] == {"received": 1, "received_online": 1}
    assert buckets[(f"unit:{PROVINCE}", OPEN)] == {"due.none": 1}


def test_settling_moves_the_dossier_from_in_progress_to_settled_in_the_month_of_the_result() -> None:
    accepted = replace(received(), accepted_on="2026-03-02", due_date="2026-03-09")
    settled = accepted.settle("2026-04-01", "late")
    counters = apply_all([None, received(), accepted, settled])
    assert (f"unit:{PROVINCE}", OPEN) not in counters
    april = figures([month(counters, f"unit:{PROVINCE}", "2026-04")], None, "2026-04-02")
    assert (april.settled, april.settled_late, april.on_time_rate) == (1, 1, 0.0)
    assert april.received == 0        # received in March
    # 2026-03-02 (Mon) to 2026-04-01 (Wed): 22 working days
    assert april.average_days == 22.0 and april.p90_days == 22


def test_applying_the_same_fact_twice_changes_no_counter() -> None:
    apology = Apology("ev-1", "2026-03-06", "000.00.41.H57", "thiếu hồ sơ", "2026-03-09", "2026-03-12", 1, "01/TXL")
    once = received().with_apology(apology)
    assert once.with_apology(apology) == once
    assert difference(once, once.with_apology(apology)) == {}
    assert once.with_extension("ev-2", "2026-03-07").with_extension("ev-2", "2026-03-07") \
        == once.with_extension("ev-2", "2026-03-07")


def test_an_old_appointment_date_applied_late_does_not_move_the_newer_one_back() -> None:
    f = received().with_due_date("2026-03-12", "2026-03-06T10:00:00+07:00")
    assert f.with_due_date("2026-03-09", "2026-03-02T08:00:00+07:00").due_date == "2026-03-12"


def test_in_progress_is_overdue_when_the_appointment_is_before_the_day_asked_about() -> None:
    due = {"due": {"2026-03-09": 2, "2026-03-20": 1, "none": 4}}
    f = figures([], due, "2026-03-10")
    assert (f.in_progress_overdue, f.in_progress_on_time) == (2, 5)
    assert figures([], due, "2026-03-09").in_progress_overdue == 0   # due today is still on time


def test_rates_of_online_filing_payment_postal_returns_and_supplements() -> None:
    f = figures([{"received": 4, "received_online": 3, "received_desk": 1, "fee_dossiers": 2, "paid_online": 1,
                  "post_results": 4, "post_returned": 1, "supplement": 1, "settled": 3, "settled_early": 1,
                  "settled_on_time": 1, "settled_late": 1}], None, "2026-04-01")
    assert (f.online_rate, f.online_payment_rate, f.postal_return_rate, f.supplement_rate, f.on_time_rate) \
        == (75.0, 50.0, 25.0, 25.0, 66.67)
    assert figures([], None, "2026-04-01").on_time_rate == 0.0       # nothing settled: no division by zero


def test_supplement_pauses_are_left_out_of_the_processing_time_and_tet_is_not_a_working_day() -> None:
    accepted = replace(received(on="2026-02-09"), accepted_on="2026-02-09")
    # Tết Bính Ngọ 2026: 16 to 20 February off; after 9 Feb (Mon) up to 27 Feb (Fri): 4 + 5 working days
    settled = accepted.settle("2026-02-27", "on_time")
    assert settled.processing_days == 9
    assert settled.with_pause("ev-p", 3).processing_days == 6


def test_p90_is_the_nearest_rank_over_the_histogram() -> None:
    assert percentile({1: 9, 10: 1}, 0.9) == 1
    assert percentile({1: 8, 10: 2}, 0.9) == 10
    assert percentile({}, 0.9) == 0


def test_a_rejected_dossier_leaves_in_progress_and_counts_as_rejected() -> None:
    counters = apply_all([None, received(), replace(received(), rejected_on="2026-03-03")])
    assert counters[(f"unit:{COMMUNE}", "2026-03")] == {"received": 1, "received_online": 1, "rejected": 1}
    assert (f"unit:{COMMUNE}", OPEN) not in counters


def test_two_appointment_dates_given_at_the_same_instant_settle_on_the_later_in_either_order() -> None:
    at = "2026-03-06T10:00:00+07:00"
    one = received().with_due_date("2026-03-12", at).with_due_date("2026-03-09", at)
    other = received().with_due_date("2026-03-09", at).with_due_date("2026-03-12", at)
    assert one == other and one.due_date == "2026-03-12"
