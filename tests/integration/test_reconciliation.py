"""Paid fees are never lost to an outage: payments is taken down during a burst of payments for longer
than the intermediary keeps retrying its notices, and reconciliation (the service's timer, then the
operator's command) settles every paid bill exactly once, refunds what was paid for dossiers
rejected meanwhile, and finds nothing unaccounted afterwards."""

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import ROOT, Stack, wait_for_port
from egov.payments.v1 import events_pb2 as payments_events
from tests.integration.test_payments import (
    DEADLINE,
    FEE,
    EventWatch,
    Payments,
    citizen,
    http,
    new_code,
    rejected,
    submitted,
    wait_until,
)
from tests.support import SignedRpcClient

CALLBACK_ATTEMPTS = 4        # the intermediary gives up after these (about 1.5 s of retries)
BURST = 16
REJECTED_WHILE_DOWN = 2
NEVER_PAID = 2


@pytest.fixture
def payments(tmp_path: Path) -> Iterator[tuple[Payments, EventWatch]]:
    stack = Stack(tmp_path / "stack", extra_env={"EGOV_PAYMENTS_RECONCILE_SECONDS": "1",
                                                 "EGOV_PAYMENTS_RECONCILE_GRACE_SECONDS": "3"})
    try:
        stack.start(services=("payments",), gateway=False)
        # The intermediary with a short retry window, so the outage outlasts it in seconds, not minutes.
        stack.kill("sim-paygate", signal.SIGTERM)
        stack.spawn("sim-paygate", [sys.executable, "-m", "simulators.paygate", "--port", str(stack.ports.paygate),
                                     "--secret", stack.paygate_secret,
                                     "--callback-attempts", str(CALLBACK_ATTEMPTS)])
        wait_for_port(stack.ports.paygate, 30, stack.processes["sim-paygate"], "paygate")
        watch = EventWatch(stack.amqp_uri)
        with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=DEADLINE) as rpc:
            service = Payments(stack, rpc)
            yield service, watch
            service.publisher.close()
        watch.close()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stack.stop()


def egov_payments(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.payments.cli", *args, "--amqp-uri", stack.amqp_uri],
                          cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120)


def test_payments_down_longer_than_the_intermediary_retries_loses_no_fee_and_settles_each_once(
        payments: tuple[Payments, EventWatch]) -> None:
    service, events = payments
    owners = {new_code(): citizen() for _ in range(BURST)}
    for code, owner in owners.items():
        service.publish(submitted(code, owner), code)
    for code in owners:
        events.wait_for(payments_events.BillIssued, code)
    started = {code: service.start_payment(code, owner) for code, owner in owners.items()}
    codes = list(owners)
    rejected_codes = codes[:REJECTED_WHILE_DOWN]
    unpaid = codes[REJECTED_WHILE_DOWN:REJECTED_WHILE_DOWN + NEVER_PAID]
    paid = [c for c in codes if c not in unpaid]

    service.stack.kill("payments")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(lambda c: http("POST", started[c]["payment_url"])[0], paid)) == {200}
        for code in rejected_codes:
            service.publish(rejected(code, owners[code]), code)

        def abandoned(code: str) -> bool:
            _, txn = service.paygate("GET", f"/transactions/{started[code]['transaction_id']}")
            return len(txn["callback_attempts"]) == CALLBACK_ATTEMPTS

        wait_until(lambda: all(abandoned(c) for c in paid), "the intermediary to give up every notice")
    finally:
        service.stack.start_service("payments")

    settled_codes = [c for c in paid if c not in rejected_codes]
    for code in settled_codes:
        events.wait_for(payments_events.PaymentSettled, code)
    for code in rejected_codes:
        refunded = events.wait_for(payments_events.PaymentRefunded, code)
        assert (refunded.reason, refunded.amount_vnd) == (payments_events.REFUND_REASON_BILL_CLOSED, FEE)

    # The operator's command, twice: nothing unaccounted, nothing done again.
    for _ in range(2):
        done = egov_payments(service.stack, "reconcile", "--output", "json")
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        assert report["findings"] == [], report
        assert report["bills_checked"] >= NEVER_PAID

    service.wait_until_consumed()
    for code in settled_codes:
        assert len(events.of(payments_events.PaymentSettled, code)) == 1, code
        assert service.get_bill(code, owners[code])["status"] == "BILL_STATUS_PAID"
    for code in rejected_codes:
        assert len(events.of(payments_events.PaymentRefunded, code)) == 1, code
        assert events.of(payments_events.PaymentSettled, code) == []
        assert service.get_bill(code, owners[code])["status"] == "BILL_STATUS_REFUNDED"
        _, listing = service.paygate("GET", f"/refunds?merchant_ref=BILL-{code}")
        assert len(listing["refunds"]) == 1
    for code in unpaid:
        assert service.get_bill(code, owners[code])["status"] == "BILL_STATUS_ISSUED"
    table = egov_payments(service.stack, "reconcile")
    assert table.returncode == 0 and "0 finding(s)" in table.stdout, table.stdout + table.stderr
