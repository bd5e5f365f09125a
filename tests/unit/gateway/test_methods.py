"""The method table against the .proto sources: every RPC carried, named and guarded as declared."""

import re
from pathlib import Path

import grpc
import pytest

from egov.procedures.v1 import procedures_pb2 as pp
from gateway.auth import authorize
from gateway.errors import GatewayError
from gateway.methods import build_method_table, snake_case
from services.common.caller import Caller, CallerKind

PROTOS = Path(__file__).resolve().parents[3] / "protos" / "egov"
SERVICES = ("identity", "procedures", "payments", "postal", "notifications", "supervision")
TABLE = build_method_table()


def declared_rpcs() -> list[tuple[str, str, str]]:
    """(service, grpc service, rpc) read from the .proto text, independently of the descriptors."""
    found = []
    for service in SERVICES:
        text = (PROTOS / service / "v1" / f"{service}.proto").read_text()
        for block in re.finditer(r"service (\w+) \{(.*?)\n\}", text, re.S):
            for rpc in re.findall(r"rpc (\w+)\(", block.group(2)):
                found.append((service, f"egov.{service}.v1.{block.group(1)}", rpc))
    return found


def test_every_rpc_of_the_platform_protos_is_in_the_table_and_nothing_else() -> None:
    declared = declared_rpcs()
    assert len(declared) > 15
    assert sorted(TABLE) == sorted(f"/{grpc_service}/{rpc}" for _, grpc_service, rpc in declared)
    for service, grpc_service, rpc in declared:
        method = TABLE[f"/{grpc_service}/{rpc}"]
        assert method.service == service
        assert method.method == snake_case(rpc)


def test_a_method_is_carried_to_its_service_with_its_messages_and_access() -> None:
    method = TABLE["/egov.procedures.v1.ProcedureService/SubmitDossier"]
    assert (method.service, method.method) == ("procedures", "submit_dossier")
    assert method.request_class is pp.SubmitDossierRequest
    assert method.response_class is pp.SubmitDossierResponse
    assert method.access == {CallerKind.CITIZEN, CallerKind.CIVIL_SERVANT, CallerKind.AGENCY}
    sign_in = TABLE["/egov.identity.v1.IdentityService/SignInCivilServant"]
    assert (sign_in.method, sign_in.access) == ("sign_in_civil_servant", frozenset({CallerKind.ANONYMOUS}))


@pytest.mark.parametrize("rpc, expected", [
    ("GetProcedure", "get_procedure"), ("SignInCivilServant", "sign_in_civil_servant"),
    ("ListNotifications", "list_notifications"), ("GetHTTPStatus", "get_http_status"),
])
def test_snake_case(rpc: str, expected: str) -> None:
    assert snake_case(rpc) == expected


def test_the_access_list_matches_the_proto_option_text() -> None:
    text = (PROTOS / "procedures" / "v1" / "procedures.proto").read_text()
    option = re.search(r"rpc AcceptDossier\(.*?callers: \[(.*?)\]", text, re.S)
    assert option is not None
    assert {CallerKind(k.strip()) for k in option.group(1).split(",")} == \
        TABLE["/egov.procedures.v1.ProcedureService/AcceptDossier"].access


def test_a_method_without_an_access_option_is_refused_to_everyone() -> None:
    method = TABLE["/egov.identity.v1.IdentityService/RegisterCivilServant"]
    assert not method.exposed
    for kind in CallerKind:
        with pytest.raises(GatewayError) as refused:
            authorize(method, Caller(kind, subject="x"))
        assert refused.value.status.code == grpc.StatusCode.PERMISSION_DENIED


def test_authorization_is_deny_by_default() -> None:
    accept = TABLE["/egov.procedures.v1.ProcedureService/AcceptDossier"]
    authorize(accept, Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", agency_code="000.00.15.H57"))
    with pytest.raises(GatewayError) as citizen:
        authorize(accept, Caller(CallerKind.CITIZEN, subject="046099001234"))
    assert citizen.value.status.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(GatewayError) as anonymous:
        authorize(accept, Caller(CallerKind.ANONYMOUS))
    assert anonymous.value.status.code == grpc.StatusCode.UNAUTHENTICATED
    authorize(TABLE["/egov.procedures.v1.ProcedureService/ListProcedures"], Caller(CallerKind.ANONYMOUS))
