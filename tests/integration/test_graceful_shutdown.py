"""SIGTERM to a service finishes the message in flight and acknowledges it; nothing is lost."""

import signal
import sys
import time
from pathlib import Path

from pymongo import MongoClient

from deploy.local.stack import BIN, ROOT, Stack
from egov.procedures.v1.events_pb2 import DossierRef, DossierSubmitted
from services.common.events.broker import EventPublisher
from services.common.events.envelope import new_event
from tests.support import eventually


def start_slow_service(stack: Stack) -> None:
    argv = [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
            "tests.integration.slow_service:SlowPayments"]
    stack.spawn("slow", argv, {**stack.service_env("payments"), "EGOV_MAX_WORKERS": "1"})


def test_sigterm_finishes_the_message_in_flight(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.start(services=(), gateway=False)
    mongo: MongoClient = MongoClient(stack.mongo_uri)  # type: ignore[type-arg]
    db = mongo["egov_payments"]
    try:
        start_slow_service(stack)
        publisher = EventPublisher(stack.amqp_uri)
        events = [new_event(DossierSubmitted(dossier=DossierRef(code=f"X-{i}")), source="/test", subject=f"X-{i}")
                  for i in range(3)]
        for event in events:
            publisher.publish(event)
        publisher.close()

        eventually(lambda: db["started"].count_documents({}) >= 1, "a handler to start")
        proc = stack.processes.pop("slow")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        in_flight = [d["_id"] for d in db["started"].find()]
        # Every handler that had started finished and committed before the process exited.
        assert {d["_id"] for d in db["handled"].find()} >= set(in_flight)
        # ...and took no new work once told to stop: with one worker, the others stayed queued.
        assert db["handled"].count_documents({}) < len(events)
        print(f"stopped in {time.monotonic() - started:.1f} s with {len(in_flight)} in flight", file=sys.stderr)

        # The rest is still queued; the next instance handles each event exactly once.
        start_slow_service(stack)
        eventually(lambda: db["handled"].count_documents({}) == 3, "every event handled", timeout=60)
        assert db["inbox"].count_documents({}) == 3
    finally:
        mongo.close()
        stack.stop()
