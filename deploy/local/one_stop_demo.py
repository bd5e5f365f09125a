"""make run's one-stop part: a walk-in without an account files a commune procedure at Phường Vỹ Dạ's
desk (verified against the population database through identity and the exchange) and gets the Mẫu 01
PDF; the commune hands it to Quận Thuận Hóa (liên thông), where it is assigned, decided and returned;
the desk's work queue is listed. Civil servants hold their roles per agency (appointments)."""

from collections.abc import Callable
from pathlib import Path

import grpc

from deploy.local.journey import Journey, bearer, document_for, residents
from egov.procedures.v1 import procedures_pb2 as pp
from services.identity import operations as identity

COMMUNE, DISTRICT, COMMUNE_UNIT = "000.01.31.H57", "000.00.31.H57", "19777"   # Phường Vỹ Dạ, Quận Thuận Hóa
ALLOWANCE = "1.001776"   # monthly social allowance: received and verified by the commune, decided by the district
PASSWORD = "mat-khau-mot-cua-2026"
OFFICERS = {
    "cb-vyda-motcua": ("Lê Thị Hoa", COMMUNE, "receiver", [f"result_desk@{COMMUNE}"]),
    "cb-vyda-ldtbxh": ("Hồ Văn Nam", COMMUNE, "specialist", []),
    "cb-thuanhoa-ld": ("Nguyễn Đức Thịnh", DISTRICT, "leader", []),
    "cb-thuanhoa-cv": ("Trần Thị Thu", DISTRICT, "specialist", []),
}


def one_stop_demo(admin: identity.IdentityAdmin, channel: grpc.Channel, journey: Journey, slips_dir: Path,
                  step: Callable[[str, str], None]) -> dict[str, str]:
    """Runs the demo; returns the officers' tokens (a second factor's code signs in once)."""
    token = {}
    for servant_id, (name, agency, role, more) in OFFICERS.items():
        registered = identity.register_civil_servant(admin, identity.CivilServant(
            servant_id, name, agency, role, PASSWORD, appointments=tuple(more)))
        token[servant_id] = journey.civil_servant_token(servant_id, PASSWORD, registered["second_factor_uri"])
    api = journey.api.procedures

    def as_(servant_id: str) -> tuple[tuple[str, str]]:
        return bearer(token[servant_id])

    walk_in = residents()[5]          # never registered on the platform
    procedure = api.GetProcedure(pp.GetProcedureRequest(procedure_code=ALLOWANCE), timeout=10).procedure
    dossier = api.SubmitDossier(pp.SubmitDossierRequest(
        procedure_code=ALLOWANCE, unit_code=COMMUNE_UNIT,
        applicant=pp.Applicant(kind=pp.APPLICANT_KIND_CITIZEN, id_number=walk_in["citizen_id"],
                               full_name=walk_in["full_name"], birth_date=walk_in["birth_date"]),
        documents=[document_for(d.code, d.name) for d in procedure.required_documents if d.mandatory],
        payment_method=pp.PAYMENT_METHOD_NO_FEE, delivery=pp.Delivery(method=pp.DELIVERY_METHOD_PICKUP)),
        metadata=as_("cb-vyda-motcua"), timeout=10).dossier
    step("walk-in filed at a commune", f"{dossier.code}: {walk_in['full_name']}, no account, verified "
                                       f"{dossier.applicant.verified}")
    accepted = api.AcceptDossier(pp.AcceptDossierRequest(code=dossier.code), metadata=as_("cb-vyda-motcua"),
                                 timeout=10).dossier
    slip = api.GetSlip(pp.GetSlipRequest(code=dossier.code, form=pp.SLIP_FORM_RECEIPT),
                       metadata=as_("cb-vyda-motcua"), timeout=10)
    slips_dir.mkdir(parents=True, exist_ok=True)
    path = slips_dir / slip.file_name
    path.write_bytes(slip.pdf)
    step("Mẫu 01 handed over", f"due {accepted.due_date}; PDF {path} ({len(slip.pdf):,} bytes)")

    api.RecordStep(pp.RecordStepRequest(code=dossier.code, step="Xét duyệt cấp xã", note="Đủ điều kiện",
                                        done=True), metadata=as_("cb-vyda-ldtbxh"), timeout=10)
    moved = api.TransferDossier(pp.TransferDossierRequest(code=dossier.code, to_agency_code=DISTRICT,
                                                          reason="Hội đồng xét duyệt cấp xã đã xét duyệt"),
                                metadata=as_("cb-vyda-ldtbxh"), timeout=10).dossier
    step("transferred commune → district", f"{moved.code} now with {moved.handling_agency_code}, "
                                           f"step \"{moved.current_step}\" due {moved.step_due_date}")
    api.AssignDossier(pp.AssignDossierRequest(code=dossier.code, assignee="cb-thuanhoa-cv"),
                      metadata=as_("cb-thuanhoa-ld"), timeout=10)
    api.RecordStep(pp.RecordStepRequest(code=dossier.code, step="Thẩm định", note="Đủ điều kiện", done=True),
                   metadata=as_("cb-thuanhoa-cv"), timeout=10)
    api.ApproveDossier(pp.ApproveDossierRequest(code=dossier.code, note="Quyết định hưởng trợ cấp"),
                       metadata=as_("cb-thuanhoa-ld"), timeout=10)
    done = api.IssueResult(pp.IssueResultRequest(code=dossier.code, result_document_number="125/QĐ-UBND"),
                           metadata=as_("cb-vyda-motcua"), timeout=10).dossier
    step("decided and returned", f"{pp.DossierStatus.Name(done.status)}, {pp.Timeliness.Name(done.timeliness)}, "
                                 f"result handed over at the commune desk")
    queue = api.ListDossiers(pp.ListDossiersRequest(receiving_agency_code=COMMUNE, page_size=10),
                             metadata=as_("cb-vyda-motcua"), timeout=10)
    listed = "; ".join(f"{d.code} {pp.DossierStatus.Name(d.status).removeprefix('DOSSIER_STATUS_')}"
                       for d in queue.dossiers)
    step("the desk's work queue", f"{len(queue.dossiers)} dossier(s): {listed}")
    return token
