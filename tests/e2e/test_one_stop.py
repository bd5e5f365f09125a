"""The one-stop demo through the gateway, as make run shows it: a walk-in verified against the
population database files at a commune desk and gets the Mẫu 01 PDF, the dossier goes commune →
district and back completed, and the desk's queue lists it."""

from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from pypdf import PdfReader

from deploy.local.journey import bearer, document_for, residents
from deploy.local.one_stop_demo import ALLOWANCE, COMMUNE, one_stop_demo
from egov.procedures.v1 import procedures_pb2 as pp
from services.identity import operations as identity
from tests.e2e.conftest import Platform


@dataclass
class Demo:
    steps: dict[str, str]
    slips: Path
    tokens: dict[str, str]      # the officers', signed in once with their second factor


@pytest.fixture(scope="module")
def demo(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    shown: list[tuple[str, str]] = []
    slips = tmp_path_factory.mktemp("slips")
    channel = grpc.insecure_channel(f"127.0.0.1:{platform.stack.ports.gateway}")
    admin = identity.RpcIdentityAdmin(platform.stack.amqp_uri, environ=platform.stack.env())
    tokens = one_stop_demo(admin, channel, platform.journey, slips, lambda name, what: shown.append((name, what)))
    return Demo(dict(shown), slips, tokens)


def test_walk_in_commune_to_district_and_the_queue(demo: Demo) -> None:
    steps, tmp_path = demo.steps, demo.slips
    assert "verified population_db" in steps["walk-in filed at a commune"]
    [pdf] = list(tmp_path.glob("*.pdf"))
    assert pdf.name.startswith(f"{COMMUNE}-") and pdf.name.endswith("-mau-01.pdf")
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in PdfReader(pdf).pages[0].extract_text()
    assert "now with 000.00.31.H57" in steps["transferred commune → district"]
    assert steps["decided and returned"].startswith("DOSSIER_STATUS_COMPLETED")
    assert pdf.name.removesuffix("-mau-01.pdf") in steps["the desk's work queue"]


def _desk_filing(**changes: object) -> pp.SubmitDossierRequest:
    walk_in = residents()[6]
    request = pp.SubmitDossierRequest(
        procedure_code=ALLOWANCE, unit_code="19777",
        applicant=pp.Applicant(kind=pp.APPLICANT_KIND_CITIZEN, id_number=walk_in["citizen_id"],
                               full_name=walk_in["full_name"], birth_date=walk_in["birth_date"]),
        documents=[document_for("TK01", "Tờ khai"), document_for("CCCD", "CCCD")],
        payment_method=pp.PAYMENT_METHOD_NO_FEE, delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP))
    for field, value in changes.items():
        getattr(request, field).CopyFrom(value)  # type: ignore[arg-type]
    return request


def test_bad_input_at_the_desk_through_the_gateway(platform: Platform, demo: Demo) -> None:
    """Each refused with the right status naming the field, by the demo's commune receiver."""
    officer = bearer(demo.tokens["cb-vyda-motcua"])
    api = platform.journey.api.procedures
    walk_in = residents()[6]
    cases = [
        (_desk_filing(applicant=pp.Applicant(kind=pp.APPLICANT_KIND_CITIZEN, id_number=walk_in["citizen_id"],
                                             full_name="Người Khác Tên", birth_date=walk_in["birth_date"])),
         grpc.StatusCode.INVALID_ARGUMENT, "applicant.full_name"),
        (_desk_filing(applicant=pp.Applicant(kind=pp.APPLICANT_KIND_ORGANISATION, id_number="3399999999",
                                             full_name="Công ty không có", representative_id=walk_in["citizen_id"])),
         grpc.StatusCode.INVALID_ARGUMENT, "applicant.id_number"),
        (_desk_filing(proxy=pp.Proxy(citizen_id=residents()[7]["citizen_id"], full_name="Người nộp thay")),
         grpc.StatusCode.INVALID_ARGUMENT, "proxy.authorisation"),
    ]
    for request, code, field in cases:
        with pytest.raises(grpc.RpcError) as refused:
            api.SubmitDossier(request, metadata=officer, timeout=10)
        assert refused.value.code() == code and field in (refused.value.details() or ""), refused.value.details()
    company = _desk_filing(applicant=pp.Applicant(
        kind=pp.APPLICANT_KIND_ORGANISATION, id_number="3300123456", full_name="Công ty TNHH Du lịch Sông Hương",
        representative_id=walk_in["citizen_id"]))
    filed = api.SubmitDossier(company, metadata=officer, timeout=10).dossier
    assert filed.applicant.verified == "business_registry"
