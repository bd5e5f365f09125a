from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import pytest
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from deploy.local.journey import Journey, one_stop_roles
from deploy.local.stack import Stack
from services.common.operator_signing import sign_as_operator

SERVANT_PASSWORD = "can-bo-mot-cua-2026"


@dataclass
class Platform:
    stack: Stack
    journey: Journey
    mongo: MongoClient  # type: ignore[type-arg]
    tokens: dict[str, str] = field(default_factory=dict)   # a civil servant's token per agency

    @property
    def mailbox_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.mailbox_http}"

    def civil_servant(self, agency_code: str) -> str:
        """A token for a civil servant of the agency, registered by an operator and signed in (with
        their second factor) on first use; kept, as an app keeps it, since a code signs in once."""
        if agency_code not in self.tokens:
            servant_id = f"cb-{agency_code}"
            registration = {"civil_servant_id": servant_id, "full_name": "Trần Văn Bình",
                            "agency_code": agency_code, "role": "specialist", "password": SERVANT_PASSWORD,
                            "appointments": one_stop_roles(agency_code)}
            with ClusterRpcClient(uri=self.stack.amqp_uri, timeout=10) as rpc:
                appointed = rpc.identity.register_civil_servant(request=registration, caller=sign_as_operator(
                    "identity", "register_civil_servant", registration, self.stack.env()))
            self.tokens[agency_code] = self.journey.civil_servant_token(servant_id, SERVANT_PASSWORD,
                                                                        appointed["second_factor_uri"])
        return self.tokens[agency_code]


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
        yield Platform(stack, Journey.of(stack, channel), mongo)
    finally:
        channel.close()
        mongo.close()
        stack.stop()
