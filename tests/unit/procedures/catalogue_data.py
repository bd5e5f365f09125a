"""Small unit and catalogue files for tests, in the import formats (docs/CATALOGUE_FORMAT.md): a
three-tier tree and its two-tier successor (the July 2025 reform), and procedure rows to edit."""

import copy
from typing import Any

PROVINCE = {"code": "46", "name": "Thành phố Huế", "tier": "province", "parent": None,
            "agency_code": "000.00.00.H57", "agency_name": "Ủy ban nhân dân thành phố Huế"}
THUAN_HOA = {"code": "474", "name": "Quận Thuận Hóa", "tier": "district", "parent": "46",
             "agency_code": "000.00.31.H57", "agency_name": "Ủy ban nhân dân quận Thuận Hóa"}
PHONG_DIEN = {"code": "476", "name": "Thị xã Phong Điền", "tier": "district", "parent": "46",
              "agency_code": "000.00.32.H57", "agency_name": "Ủy ban nhân dân thị xã Phong Điền"}
PHU_HOI = {"code": "19786", "name": "Phường Phú Hội", "tier": "commune", "parent": "474",
           "agency_code": "000.21.31.H57", "agency_name": "Ủy ban nhân dân phường Phú Hội"}
VINH_NINH = {"code": "19783", "name": "Phường Vĩnh Ninh", "tier": "commune", "parent": "474",
             "agency_code": "000.22.31.H57", "agency_name": "Ủy ban nhân dân phường Vĩnh Ninh"}
PHONG_AN = {"code": "19750", "name": "Phường Phong An", "tier": "commune", "parent": "476",
            "agency_code": "000.05.32.H57", "agency_name": "Ủy ban nhân dân phường Phong An"}
JUSTICE = {"agency_code": "000.00.15.H57", "name": "Sở Tư pháp", "unit": "46", "kind": "department"}


def three_tier(version: str = "test-3") -> dict[str, Any]:
    return {"format": "egov-units/1", "version": version, "as_of": "2025-03-01", "source": "test",
            "tiers": ["province", "district", "commune"],
            "units": [PROVINCE, THUAN_HOA, PHONG_DIEN, PHU_HOI, VINH_NINH, PHONG_AN], "agencies": [JUSTICE]}


def two_tier(version: str = "test-2") -> dict[str, Any]:
    """From 1 July 2025: districts gone, communes directly under the province (one merged ward)."""
    merged = {**PHU_HOI, "code": "19800", "name": "Phường Thuận Hóa", "parent": "46",
              "agency_code": "000.40.00.H57", "agency_name": "Ủy ban nhân dân phường Thuận Hóa"}
    return {"format": "egov-units/1", "version": version, "as_of": "2025-07-01", "source": "test",
            "tiers": ["province", "commune"],
            "units": [PROVINCE, merged, {**PHONG_AN, "parent": "46"}], "agencies": [JUSTICE]}


def row(code: str, name: str, tiers: list[str], **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": code, "name": name, "field": "Hộ tịch", "tiers": tiers, "online": "full",
        "channels": ["desk", "online", "post"], "deadline": {"kind": "working_days", "days": 3},
        "fee": {"amount_vnd": 0}, "applicants": ["citizen"],
        "documents": [{"code": "TK", "name": "Tờ khai", "mandatory": True}],
    }
    return {**base, **changes}


BIRTH = row("1.001193", "Đăng ký khai sinh", ["commune"], deadline={"kind": "same_day", "cutoff": "15:00"})
HOUSEHOLD_BUSINESS = row("1.001612", "Đăng ký thành lập hộ kinh doanh", ["district"],
                         field="Thành lập và hoạt động của hộ kinh doanh", fee={"amount_vnd": 100000})
CRIMINAL_RECORD = row("2.000488", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", ["province"],
                      field="Lý lịch tư pháp", competent_agency={"province": "000.00.15.H57"},
                      deadline={"kind": "working_days", "days": 10},
                      fee={"amount_vnd": 200000, "basis": "Thông tư 244/2016/TT-BTC", "categories": [
                          {"category": "student", "name": "Sinh viên", "amount_vnd": 100000},
                          {"category": "child", "name": "Trẻ em", "amount_vnd": 0}]})
DEATH = row("1.000656", "Đăng ký khai tử", ["commune"], deadline={"kind": "same_day"})


def catalogue(decision: str, *rows: dict[str, Any], scope: str = "full", withdrawn: list[str] | None = None,
              ) -> dict[str, Any]:
    document: dict[str, Any] = {"format": "egov-catalogue/1",
                                "decision": {"number": decision, "date": "2025-06-30", "issuer": "UBND thành phố Huế",
                                             "title": "công bố danh mục thủ tục hành chính"},
                                "scope": scope, "procedures": copy.deepcopy(list(rows))}
    if withdrawn is not None:
        document["withdrawn"] = withdrawn
    return document


FIRST = catalogue("100/QĐ-UBND", BIRTH, HOUSEHOLD_BUSINESS, CRIMINAL_RECORD)
