from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from deploy.local.journey import Journey
from deploy.local.stack import Stack
from services.common.caller import OPERATOR

SERVANT_PASSWORD = "can-bo-mot-cua-2026"


@dataclass
class Platform:
    stack: Stack
    journey: Journey
    mongo: MongoClient  # type: ignore[type-arg]

    @property
    def mailbox_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.mailbox_http}"

    def civil_servant(self, agency_code: str) -> str:
        """A token for a civil servant of the agency (registered by an operator on first use)."""
        servant_id = f"cb-{agency_code}"
        with ClusterRpcClient(uri=self.stack.amqp_uri, timeout=10) as rpc:
            try:
                rpc.identity.register_civil_servant(request={
                    "civil_servant_id": servant_id, "full_name": "Trần Văn Bình", "agency_code": agency_code,
                    "role": "specialist", "password": SERVANT_PASSWORD}, caller=OPERATOR.to_wire())
            except Exception as exc:
                if "AlreadyExists" not in repr(exc) and "already" not in str(exc):
                    raise
        return self.journey.civil_servant_token(servant_id, SERVANT_PASSWORD)


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    stack = Stack(tmp_path_factory.mktemp("platform"))
    try:
        stack.start()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    mongo: MongoClient = MongoClient(stack.mongo_uri)  # type: ignore[type-arg]
    try:
        yield Platform(stack, Journey(channel, f"http://127.0.0.1:{stack.ports.paygate}"), mongo)
    finally:
        channel.close()
        mongo.close()
        stack.stop()
