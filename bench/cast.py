"""The people and requests the benchmarks use, set up once per run through the platform itself:
citizens registered and signed in, a civil servant per receiving agency, and the gateway
benchmark's read and write requests."""

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.gateway_bench import Operation, operation
from bench.journeys import Cast
from deploy.local.journey import Citizen, Journey, document_for, one_stop_roles, residents
from egov.common.v1 import caller_pb2
from egov.procedures.v1 import procedures_pb2 as pp
from gateway.rpc_client import NamekoRpcClient
from services.common.operator_signing import sign_as_operator
from services.common.tokens import verify_token

SERVANT_PASSWORD = "can-bo-mot-cua-2026"
ADDRESS = caller_pb2.Address(street="12 Lê Lợi", commune="Phường Vĩnh Ninh", district="Thành phố Huế",
                             province="Thừa Thiên Huế")


ADULT_BORN_BEFORE = "2010-01-01"   # an account needs an age of at least 14


def register_citizens(journey: Journey, count: int) -> list[Citizen]:
    """One at a time: identity's population-registry client hangs when several registrations run
    at once (grpcio in eventlet tpool threads; see docs/BENCHMARKS.md, findings)."""
    people = [r for r in residents() if r["birth_date"] < ADULT_BORN_BEFORE][:count]
    return [journey.register_citizen(person) for person in people]


def register_officers(journey: Journey, rpc: NamekoRpcClient, agencies: set[str],
                      operator_env: Mapping[str, str]) -> dict[str, str]:
    def one(agency: str) -> tuple[str, str]:
        servant_id = f"cb-{agency}"
        servant = {"civil_servant_id": servant_id, "full_name": "Nguyễn Thị Mai", "agency_code": agency,
                   "role": "specialist", "password": SERVANT_PASSWORD, "appointments": one_stop_roles(agency)}
        appointed = rpc.call("identity", "register_civil_servant", {"request": servant, "caller": sign_as_operator(
            "identity", "register_civil_servant", servant, operator_env)}, timeout=30)
        return agency, journey.civil_servant_token(servant_id, SERVANT_PASSWORD, appointed["second_factor_uri"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, sorted(agencies)))


def procedures(journey: Journey, level: int, with_fee: bool) -> list[pp.Procedure]:
    found = journey.api.procedures.ListProcedures(pp.ListProceduresRequest(service_level=level), timeout=10)
    # agency_code is set when one agency settles it everywhere; the others are filed naming a unit,
    # which the journeys do not do (as deploy.local.journey.Journey.pick_procedure)
    return [p for p in found.procedures
            if p.service_level == level and (p.fee_vnd > 0) == with_fee and p.agency_code]


def make_cast(journey: Journey, rpc: NamekoRpcClient, citizens: int, operator_env: Mapping[str, str]) -> Cast:
    """`operator_env` names the operators' key (EGOV_OPERATOR_KEY_FILE) that registers the officers."""
    level4 = procedures(journey, 4, with_fee=True)
    people = register_citizens(journey, citizens)
    return Cast(people, register_officers(journey, rpc, {p.agency_code for p in level4}, operator_env), level4)


def counter_submission(procedure: pp.Procedure) -> pp.SubmitDossierRequest:
    """A level-3 submission with no fee, the result collected at the desk: a write that involves
    procedures only (no bill to issue, no shipment)."""
    return pp.SubmitDossierRequest(
        procedure_code=procedure.code,
        documents=[document_for(d.code, d.name) for d in procedure.required_documents if d.mandatory],
        payment_method=pp.PAYMENT_METHOD_NO_FEE,
        delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP, recipient_name="Nguyễn Văn An",
                             recipient_phone="0905123456", address=ADDRESS))


def gateway_operations(journey: Journey, citizen: Citizen, public_key: bytes) -> list[Operation]:
    caller = verify_token(public_key, citizen.token)
    no_fee = procedures(journey, 3, with_fee=False)[0]
    write = counter_submission(no_fee)
    dossier: Any = journey.api.procedures.SubmitDossier(
        write, metadata=[("authorization", f"Bearer {citizen.token}")], timeout=10).dossier
    return [
        operation("read", "/egov.procedures.v1.ProcedureService/GetDossier", pp.GetDossierRequest(code=dossier.code),
                  citizen.token, caller),
        operation("write", "/egov.procedures.v1.ProcedureService/SubmitDossier", write, citizen.token, caller),
    ]
