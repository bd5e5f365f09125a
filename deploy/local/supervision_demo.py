"""`make run`'s supervision part: a supervisor of the city is appointed, signs in, and the demo's
dossiers are on the index they read (through the gateway, as the dashboard reads it)."""

import time
from collections.abc import Callable
from datetime import date

import grpc

from deploy.local.journey import Journey, bearer
from egov.supervision.v1 import supervision_pb2 as pb
from egov.supervision.v1 import supervision_pb2_grpc
from services.identity import operations as identity

CITY = "46"
SUPERVISOR = "gs-thanh-pho-hue"
SUPERVISOR_PASSWORD = "giam-sat-766-2026"


def supervision_demo(admin: identity.IdentityAdmin, channel: grpc.Channel, journey: Journey, dashboard_url: str,
                     step: Callable[[str, str], None], timeout: float = 30.0) -> None:
    appointed = identity.register_civil_servant(admin, identity.CivilServant(
        SUPERVISOR, "Lê Thị Giám Sát", "000.00.00.H57", "supervisor", SUPERVISOR_PASSWORD,
        appointments=(f"supervisor@{CITY}",)))
    step("supervisor appointed", f"{SUPERVISOR} (supervisor@{CITY}), password {SUPERVISOR_PASSWORD}; "
                                 f"authenticator: {appointed['second_factor_uri']}")
    token = journey.civil_servant_token(SUPERVISOR, SUPERVISOR_PASSWORD, appointed["second_factor_uri"])
    api = supervision_pb2_grpc.SupervisionServiceStub(channel)
    month = f"{date.today():%Y-%m}"
    request = pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=CITY), from_month=month, to_month=month)
    deadline = time.monotonic() + timeout
    while True:     # the index is a projection: the last events may still be on their way
        figures = api.GetIndex(request, metadata=bearer(token), timeout=10).index.figures
        if figures.received and (figures.settled or time.monotonic() > deadline):
            break
        time.sleep(0.2)
    step("on the 766 index", f"Thành phố Huế, {month}: {figures.received} received, {figures.settled} settled, "
                             f"{figures.on_time_rate:g}% on time")
    step("supervisors' dashboard", f"{dashboard_url} (sign in as {SUPERVISOR}; docs/SUPERVISION.md)")
