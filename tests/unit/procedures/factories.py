"""Builders for the procedures unit tests: a small unit tree, procedures of each tier, an in-memory
catalogue reader, desks, applicants, civil servants with appointments, and dossiers at a given stage."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from services.common.caller import Caller, CallerKind
from services.common.roles import Appointment, Role
from services.procedures.domain.applicants import Applicant, Authorisation, Proxy, Verified
from services.procedures.domain.application import (
    VIETNAM_TIME,
    Address,
    Application,
    Channel,
    Delivery,
    DeliveryMethod,
    PaymentMethod,
    SubmittedDocument,
)
from services.procedures.domain.desks import ANY_AGENCY, Desk
from services.procedures.domain.dossier import Dossier
from services.procedures.domain.procedure import (
    EACH_UNIT,
    ApplicantKind,
    CatalogueEntry,
    Deadline,
    DeadlineKind,
    FeeCategory,
    FeeSchedule,
    OnlineMode,
    Procedure,
    ProcessStep,
    RequiredDocument,
    SubmissionChannel,
)
from services.procedures.domain.units import Agency, AgencyKind, Unit, UnitTree

HUE = Unit("46", "Thành phố Huế", "province", None, "000.00.00.H57", "UBND thành phố Huế")
THUAN_HOA = Unit("474", "Quận Thuận Hóa", "district", "46", "000.00.31.H57", "UBND quận Thuận Hóa")
PHU_XUAN = Unit("475", "Quận Phú Xuân", "district", "46", "000.00.32.H57", "UBND quận Phú Xuân")
VY_DA = Unit("19777", "Phường Vỹ Dạ", "commune", "474", "000.01.31.H57", "UBND phường Vỹ Dạ")
PHU_HOI = Unit("19786", "Phường Phú Hội", "commune", "474", "000.04.31.H57", "UBND phường Phú Hội")
JUSTICE = Agency("000.00.15.H57", "Sở Tư pháp thành phố Huế", "46", AgencyKind.DEPARTMENT)
CENTRE = Agency("000.00.99.H57", "Trung tâm Phục vụ hành chính công thành phố Huế", "46",
                AgencyKind.SERVICE_CENTRE)
UNITS = UnitTree.build("test-2025-03", ("province", "district", "commune"),
                       [HUE, THUAN_HOA, PHU_XUAN, VY_DA, PHU_HOI], [JUSTICE, CENTRE])

CITIZEN = "046190000123"
OTHER_CITIZEN = "046190000456"
ADDRESS = Address(street="12 Lê Lợi", commune="Phú Hội", district="Thuận Hóa", province="Huế")


def _documents(*codes: str) -> tuple[RequiredDocument, ...]:
    names = {"TK01": "Tờ khai", "CCCD": "Bản chụp Căn cước công dân", "GCS": "Giấy chứng sinh",
             "GUQ": "Văn bản ủy quyền"}
    return tuple(RequiredDocument(c, names[c], c != "GUQ") for c in codes)


CRIMINAL_RECORD = Procedure(
    code="2.000488", name="Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
    field="Lý lịch tư pháp", tiers=("province",), competent_agency={"province": JUSTICE.agency_code},
    online=OnlineMode.FULL, channels=(SubmissionChannel.DESK, SubmissionChannel.ONLINE, SubmissionChannel.POST),
    deadline=Deadline(DeadlineKind.WORKING_DAYS, 10),
    fee=FeeSchedule(200_000, (FeeCategory("student", "Học sinh, sinh viên", 100_000),
                              FeeCategory("child", "Trẻ em", 0))),
    documents=_documents("TK01", "CCCD", "GUQ"),
    applicants=(ApplicantKind.CITIZEN, ApplicantKind.FOREIGNER),
    process=(ProcessStep("Tiếp nhận hồ sơ", "receiving", Role.RECEIVER, 0.5),
             ProcessStep("Thẩm định, xác minh", "competent", Role.SPECIALIST, 8),
             ProcessStep("Ký duyệt", "competent", Role.LEADER, 1),
             ProcessStep("Trả kết quả", "receiving", Role.RESULT_DESK, 0.5)),
)
BIRTH = Procedure(
    code="1.001193", name="Thủ tục đăng ký khai sinh", field="Hộ tịch", tiers=("commune",),
    competent_agency={"commune": EACH_UNIT}, online=OnlineMode.PARTIAL,
    channels=(SubmissionChannel.DESK, SubmissionChannel.ONLINE),
    deadline=Deadline(DeadlineKind.WORKING_DAYS, 1), fee=FeeSchedule(0),
    documents=_documents("TK01", "GCS"), applicants=(ApplicantKind.CITIZEN,), process=(),
)
# Filed at the commune, settled at the district: the internal process hands it over between tiers.
LAND = Procedure(
    code="1.004227", name="Đăng ký biến động quyền sử dụng đất", field="Đất đai", tiers=("commune", "district"),
    competent_agency={"commune": EACH_UNIT, "district": EACH_UNIT}, online=OnlineMode.PARTIAL,
    channels=(SubmissionChannel.DESK,), deadline=Deadline(DeadlineKind.WORKING_DAYS, 10),
    fee=FeeSchedule(30_000), documents=_documents("TK01", "CCCD"),
    applicants=(ApplicantKind.CITIZEN, ApplicantKind.ORGANISATION),
    process=(ProcessStep("Tiếp nhận hồ sơ", "receiving", Role.RECEIVER, 0.5),
             ProcessStep("Xác nhận của UBND cấp xã", "commune", Role.SPECIALIST, 2.5),
             ProcessStep("Thẩm định hồ sơ", "district", Role.SPECIALIST, 5),
             ProcessStep("Ký duyệt", "district", Role.LEADER, 1.5),
             ProcessStep("Trả kết quả", "receiving", Role.RESULT_DESK, 0.5)),
)


@dataclass
class MemoryCatalogue:
    """A CatalogueReader over procedures held in memory."""

    procedures: dict[str, Procedure]
    tree: UnitTree = UNITS

    @property
    def units(self) -> UnitTree:
        return self.tree

    def procedure(self, code: str) -> Procedure | None:
        return self.procedures.get(code)

    def entry(self, procedure_code: str, unit_code: str) -> CatalogueEntry | None:
        procedure, unit = self.procedures.get(procedure_code), self.tree.unit(unit_code)
        return CatalogueEntry.of(procedure, unit) if procedure and unit else None


CATALOGUE = MemoryCatalogue({p.code: p for p in (CRIMINAL_RECORD, BIRTH, LAND)})

CENTRE_DESK = Desk(CENTRE.agency_code, CENTRE.name, "46", (ANY_AGENCY,))
VY_DA_DESK = Desk(VY_DA.agency_code, "Bộ phận một cửa phường Vỹ Dạ", VY_DA.code, (VY_DA.agency_code,))


def entry(procedure: Procedure = CRIMINAL_RECORD, unit: Unit = HUE) -> CatalogueEntry:
    found = CatalogueEntry.of(procedure, unit)
    assert found is not None
    return found


def document(code: str) -> SubmittedDocument:
    return SubmittedDocument(document_code=code, file_name=f"{code.lower()}.pdf", sha256="ab" * 32, size_bytes=2048)


def citizen(id_number: str = CITIZEN, verified: Verified = Verified.ACCOUNT) -> Applicant:
    return Applicant(ApplicantKind.CITIZEN, id_number, "Nguyễn Văn An", "1990-05-17", verified=verified)


def proxy(authorised: bool = True) -> Proxy:
    paper = Authorisation("15/2026/UQ", "uq.pdf", "cd" * 32, 4096) if authorised else None
    return Proxy(OTHER_CITIZEN, "Trần Thị Bình", paper)


def application(**changes: object) -> Application:
    base = Application(
        applicant=citizen(), proxy=None, channel=Channel.ONLINE, payment_method=PaymentMethod.ONLINE,
        fee_category="", delivery=Delivery(DeliveryMethod.POST, ADDRESS, "Nguyễn Văn An", "0912345678"),
        documents=(document("TK01"), document("CCCD")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def desk_application(**changes: object) -> Application:
    return application(**{"channel": Channel.COUNTER, "payment_method": PaymentMethod.AT_COUNTER,
                          "delivery": Delivery(DeliveryMethod.PICKUP), **changes})


def vn(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in Vietnam time, as UTC the way the service records it."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VIETNAM_TIME).astimezone(UTC)


class DayCounter:
    """Numbers dossiers per (receiving unit, day) like the repository's counters."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, date], int] = {}

    def __call__(self, agency_code: str, day: date) -> int:
        self.counts[(agency_code, day)] = self.counts.get((agency_code, day), 0) + 1
        return self.counts[(agency_code, day)]


def submitted(at: datetime, app: Application | None = None, on: CatalogueEntry | None = None,
              desk: Desk = CENTRE_DESK, counter: DayCounter | None = None) -> Dossier:
    return Dossier.submit(on or entry(), desk, app or desk_application(), UNITS, counter or DayCounter(), at,
                          "civil_servant:cb-1")


def servant(*claims: str, subject: str = "cb-1") -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject=subject,
                  appointments=tuple(Appointment.from_claim(c) for c in claims))


def role(name: Role, agency: str) -> str:
    return Appointment(agency, name).to_claim()
