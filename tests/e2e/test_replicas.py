"""Scale out: two replicas of every service (the archive once, as in k8s/overlays/prod) and two
gateways, each with its own message-log chain, on the real broker and SecantusDB. The replicas of a
service compete for the same queues. Journeys go through both gateways while one replica of
payments and one of notifications are killed mid-run and not restarted: every journey completes and
nothing a user can see happens twice (one bill, one settlement, one shipment, one message per
channel), and each gateway's chain verifies. Both procedures replicas run the deadline watch: a
dossier gone overdue is announced once per deadline. Counts only: nothing here asserts on time.
"""

import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from deploy.local.journey import Citizen, Journey, one_stop_roles, read_mailbox, residents, wait_until
from deploy.local.stack import BIN, Stack
from egov.procedures.v1 import procedures_pb2 as pp
from services.common.operator_signing import sign_as_operator
from tests.integration.test_deadline_watch import accepted_long_ago
from tests.integration.test_faults import PATIENCE, SERVANT_PASSWORD, retrying
from tests.support import eventually

pytestmark = pytest.mark.e2e
JOURNEYS = 8
COMPLETED = "egov.procedures.v1.DossierCompleted"
SETTLED = "egov.payments.v1.PaymentSettled"
OVERDUE = "egov.procedures.v1.DossierOverdue"
WATCH_ENV = {"EGOV_WATCH_INTERVAL_SECONDS": "1"}     # both procedures replicas sweep every second


@dataclass
class Replicated:
    stack: Stack
    gateways: list[Journey]
    mongo: MongoClient  # type: ignore[type-arg]
    citizens: list[Citizen]
    procedure: pp.Procedure
    officer: str

    def accepted_dossier(self, index: int) -> str:
        """One level-4 dossier, submitted, paid and accepted through gateway `index` mod 2."""
        j = self.gateways[index % len(self.gateways)]
        citizen = self.citizens[index % len(self.citizens)]
        dossier = retrying(lambda: j.submit(citizen, self.procedure), "submit")
        retrying(lambda: j.pay(citizen, dossier.code), "pay")

        def paid() -> pp.Dossier | None:
            current = j.dossier(self.officer, dossier.code)
            return None if current.status == pp.DOSSIER_STATUS_AWAITING_PAYMENT else current

        if wait_until(paid, f"{dossier.code} paid", PATIENCE).status == pp.DOSSIER_STATUS_SUBMITTED:
            retrying(lambda: j.receive(self.officer, dossier.code), f"{dossier.code} accepted")
        return str(dossier.code)

    def run_journey(self, index: int) -> str:
        """One level-4 dossier, accepted, worked and completed through gateway `index` mod 2."""
        j = self.gateways[index % len(self.gateways)]
        citizen = self.citizens[index % len(self.citizens)]
        code = self.accepted_dossier(index)
        if retrying(lambda: j.dossier(self.officer, code), "get").status == pp.DOSSIER_STATUS_IN_PROGRESS:
            retrying(lambda: j.work(self.officer, code), f"work on {code}")
        retrying(lambda: j.wait_status(citizen.token, code, pp.DOSSIER_STATUS_COMPLETED, PATIENCE),
                 f"{code} completed")
        return code

    def overdue_alerts(self, code: str) -> int:
        """DossierOverdue events archived for the dossier (one per deadline: its appointment, its step)."""
        return int(self.mongo["egov_archive"]["events"].count_documents({"type": OVERDUE, "subject": code}))

    def made_overdue(self, index: int) -> str:
        """An accepted dossier whose acceptance is moved back months: both its deadlines are past,
        and once both alerts are archived, a sweep has run since."""
        code = self.accepted_dossier(index)
        accepted_long_ago(self.mongo["egov_procedures"], code)
        eventually(lambda: self.overdue_alerts(code) >= 2, f"both overdue alerts of {code}", timeout=PATIENCE)
        return code


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    stack = Stack(tmp_path_factory.mktemp("replicas"), replicas=2, extra_env=WATCH_ENV)
    channels: list[grpc.Channel] = []
    mongo: MongoClient = MongoClient(stack.mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    try:
        stack.start()
        channels = [grpc.insecure_channel(address) for address in stack.gateway_addresses()]
        gateways = [Journey.of(stack, channel) for channel in channels]
        adults = [r for r in residents()[20:] if r["birth_date"] < "2000"]
        citizens = [gateways[i % 2].register_citizen(r) for i, r in enumerate(adults[:4])]
        procedure = gateways[0].pick_procedure(level=4, with_fee=True)
        servant = f"cb-{procedure.agency_code}"
        registration = {"civil_servant_id": servant, "full_name": "Trần Văn Bình",
                        "agency_code": procedure.agency_code, "role": "specialist", "password": SERVANT_PASSWORD,
                        "appointments": one_stop_roles(procedure.agency_code)}
        with ClusterRpcClient(uri=stack.amqp_uri, timeout=10) as rpc:
            appointed = rpc.identity.register_civil_servant(request=registration, caller=sign_as_operator(
                "identity", "register_civil_servant", registration, stack.env()))
        officer = gateways[1].civil_servant_token(servant, SERVANT_PASSWORD, appointed["second_factor_uri"])
        yield Replicated(stack, gateways, mongo, citizens, procedure, officer)
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        for channel in channels:
            channel.close()
        mongo.close()
        stack.stop()


def test_the_stack_runs_two_of_every_service_but_the_archive_and_two_gateways(replicated: Replicated) -> None:
    running = {name for name, proc in replicated.stack.processes.items() if proc.poll() is None}
    for service in ("identity", "procedures", "payments", "postal", "notifications", "gateway"):
        assert {service, f"{service}-2"} <= running
    assert "archive" in running and "archive-2" not in running


def test_journeys_over_two_gateways_with_replicas_killed_complete_once_each(replicated: Replicated) -> None:
    platform, db = replicated, replicated.mongo
    bills_before = db["egov_payments"]["bills"].count_documents({})
    sent_before = db["egov_notifications"]["notifications"].count_documents({"status": "SENT"})

    def kill_one_replica_of_each_busy_service() -> None:
        eventually(lambda: db["egov_payments"]["bills"].count_documents({}) > bills_before + 1,
                   "payments to bill", timeout=PATIENCE)
        platform.stack.kill("payments-2")            # SIGKILL: no ack, no publish, no cleanup
        eventually(lambda: db["egov_notifications"]["notifications"].count_documents(
            {"status": "SENT"}) > sent_before + 2, "notifications to send", timeout=PATIENCE)
        platform.stack.kill("notifications", signal.SIGKILL)

    with ThreadPoolExecutor(max_workers=JOURNEYS) as pool:
        futures = [pool.submit(platform.run_journey, i) for i in range(JOURNEYS)]
        kill_one_replica_of_each_busy_service()
        codes = [f.result() for f in futures]

    assert len(set(codes)) == JOURNEYS
    for code in codes:
        dossier = db["egov_procedures"]["dossiers"].find_one({"_id": code})
        assert dossier is not None and dossier["status"] == "DOSSIER_STATUS_COMPLETED", code
        assert [b["status"] for b in db["egov_payments"]["bills"].find({"dossier_code": code})] == ["BILL_STATUS_PAID"]
        assert [s["status"] for s in db["egov_postal"]["shipments"].find({"dossier_code": code})] == [
            "SHIPMENT_STATUS_DELIVERED"]
    eventually(lambda: all(_settled(db, code) == 1 for code in codes), "one PaymentSettled archived per dossier",
               timeout=PATIENCE)
    told = eventually(lambda: _completion_messages(db, codes), "every completion message sent", timeout=PATIENCE)
    assert told is not None and all(n == 1 for n in told.values()), told
    mailbox = f"http://127.0.0.1:{platform.stack.ports.mailbox_http}"

    def each_email_arrived_once() -> bool:
        notifications = db["egov_notifications"]["notifications"]
        pending = [{k: n.get(k) for k in ("_id", "channel", "attempts", "next_attempt_at", "last_error")}
                   for n in notifications.find({"dossier_code": {"$in": codes}, "status": "PENDING"})]
        assert not pending, f"still pending: {pending}"
        for code in codes:
            emails = [m for c in platform.citizens for m in read_mailbox(mailbox, f"{c.citizen_id}@example.vn")
                      if code in m["subject"] + m["body"]]
            sent = notifications.count_documents({"dossier_code": code, "channel": "EMAIL", "status": "SENT"})
            assert len(emails) == sent, f"{code}: {len(emails)} e-mails for {sent} notifications sent"
        return True

    eventually(each_email_arrived_once, "each e-mail of each dossier, once", timeout=PATIENCE)


def test_the_deadline_watch_of_two_procedures_replicas_announces_each_deadline_once(replicated: Replicated) -> None:
    assert all(replicated.stack.processes[name].poll() is None for name in ("procedures", "procedures-2"))
    overdue = replicated.made_overdue(0)
    later = replicated.made_overdue(1)            # both replicas have swept many times since the first
    for code in (overdue, later):
        assert replicated.overdue_alerts(code) == 2, code
        marks = replicated.mongo["egov_procedures"]["deadline_alerts"].count_documents({"dossier_code": code})
        assert marks == 2, code


def test_each_gateway_served_and_its_message_log_chain_verifies(replicated: Replicated) -> None:
    log = replicated.mongo["egov_gateway"]["message_log"]
    assert log.count_documents({"chain": "gateway"}) > 0
    assert log.count_documents({"chain": "gateway-2"}) > 0
    verified = subprocess.run([str(BIN / "egov-gateway"), "log", "verify", "--all"], env=replicated.stack.env(),
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact: chain 'gateway'" in verified.stdout
    assert "intact: chain 'gateway-2'" in verified.stdout


def _settled(db: Any, code: str) -> int:
    return int(db["egov_archive"]["events"].count_documents({"type": SETTLED, "correlation_id": code}))


def _completion_messages(db: Any, codes: list[str]) -> Counter[tuple[str, str]] | None:
    """(dossier, channel) -> completion notifications SENT; None until each one chosen is sent."""
    told: Counter[tuple[str, str]] = Counter()
    pending = 0
    for n in db["egov_notifications"]["notifications"].find({"dossier_code": {"$in": codes}, "event_type": COMPLETED}):
        if n["status"] == "SENT":
            told[(n["dossier_code"], n["channel"])] += 1
        else:
            pending += 1
    return told if not pending and len({code for code, _ in told}) == len(codes) else None
