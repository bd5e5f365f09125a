"""Builders for the procedures unit tests: a procedure, an application, a dossier at a given stage."""

from dataclasses import replace
from datetime import UTC, date, datetime

from services.procedures.domain.catalogue import AgencyLevel, Procedure, RequiredDocument
from services.procedures.domain.dossier import (
    VIETNAM_TIME,
    Address,
    Application,
    Channel,
    Delivery,
    DeliveryMethod,
    Dossier,
    PaymentMethod,
    SubmittedDocument,
)

AGENCY = "000.00.15.H57"
CITIZEN = "046190000123"
HUE = Address(street="12 Lê Lợi", commune="Phú Hội", district="Thành phố Huế", province="Thừa Thiên Huế")


def procedure(**changes: object) -> Procedure:
    base = Procedure(
        code="2.000488",
        name="Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        agency_code=AGENCY,
        agency_name="Sở Tư pháp tỉnh Thừa Thiên Huế",
        agency_level=AgencyLevel.PROVINCE,
        service_level=4,
        fee_vnd=200_000,
        legal_deadline_working_days=10,
        required_documents=(
            RequiredDocument("TK01", "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", True),
            RequiredDocument("CCCD", "Bản chụp Căn cước công dân", True),
            RequiredDocument("GUQ", "Văn bản ủy quyền", False),
        ),
        field="Lý lịch tư pháp",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def document(code: str) -> SubmittedDocument:
    return SubmittedDocument(document_code=code, file_name=f"{code.lower()}.pdf", sha256="ab" * 32, size_bytes=2048)


def application(**changes: object) -> Application:
    base = Application(
        applicant_citizen_id=CITIZEN,
        channel=Channel.ONLINE,
        payment_method=PaymentMethod.ONLINE,
        delivery=Delivery(DeliveryMethod.POST, HUE, "Nguyễn Văn An", "0912345678"),
        documents=(document("TK01"), document("CCCD")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def vn(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in Vietnam time, as UTC the way the service records it."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VIETNAM_TIME).astimezone(UTC)


class DayCounter:
    """Numbers dossiers per (agency, day) like the repository's counters, and remembers who asked."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, date], int] = {}

    def __call__(self, agency_code: str, day: date) -> int:
        self.counts[(agency_code, day)] = self.counts.get((agency_code, day), 0) + 1
        return self.counts[(agency_code, day)]


def submitted(at: datetime, proc: Procedure | None = None, app: Application | None = None,
              counter: DayCounter | None = None) -> Dossier:
    return Dossier.submit(proc or procedure(), app or application(), counter or DayCounter(), at,
                          f"citizen:{CITIZEN}")


def in_progress(accepted: datetime, proc: Procedure | None = None, app: Application | None = None) -> Dossier:
    dossier = submitted(accepted, proc, app)
    dossier.accept_on_payment(accepted, "service:payments")
    return dossier
