"""SYNTHETIC catalogue for the benchmark only, never shipped: the seed's 2,585 procedures (the province
portal's count) as one egov-catalogue/1 file, spread over the tiers of the unit tree in force so that
they expand over every unit.

Everything says it is synthetic: the codes are in a range the national database does not use
(1.90xxxx), the decision is `SYNTHETIC-2585/QĐ-BENCH`, every entry's `source` names this module.
Names and fields are built from Vietnamese procedure vocabulary so that searches behave as on real
names (accents, đ, shared words); the generator is seeded, so every run measures the same catalogue.

    python -m bench.synthetic_catalogue --out var/bench/synthetic-catalogue.json
"""

import argparse
import json
import random
from pathlib import Path
from typing import Any

DECISION = "SYNTHETIC-2585/QĐ-BENCH"
TOTAL = 2585
# Provinces publish most of their procedures at province level, far fewer per district and commune.
SHARES = {"province": 1900, "district": 440, "commune": 245}
ACTIONS = ("Cấp", "Cấp lại", "Cấp đổi", "Gia hạn", "Điều chỉnh", "Đăng ký", "Đăng ký thay đổi", "Xác nhận",
           "Thẩm định", "Công nhận", "Thu hồi", "Chấm dứt", "Thông báo", "Phê duyệt", "Chứng thực")
OBJECTS = ("giấy phép kinh doanh", "chứng chỉ hành nghề", "giấy chứng nhận đủ điều kiện", "hộ kinh doanh",
           "hợp tác xã", "quyền sử dụng đất", "giấy phép xây dựng", "giấy phép lao động", "thẻ hướng dẫn viên",
           "giấy phép lái xe", "phương án bảo vệ môi trường", "cơ sở giáo dục", "cơ sở khám bệnh, chữa bệnh",
           "đại lý xăng dầu", "nhà thuốc", "điểm kinh doanh dịch vụ", "tổ chức hành nghề công chứng",
           "trang trại", "di tích", "đơn vị sự nghiệp", "hội, quỹ", "cơ sở trợ giúp xã hội", "giấy khai sinh")
QUALIFIERS = ("", "", "", " cho tổ chức", " cho cá nhân", " có yếu tố nước ngoài", " trong trường hợp bị mất",
              " đối với doanh nghiệp nhỏ và vừa", " tại địa phương", " theo đề nghị của người dân")
FIELDS = ("Đất đai", "Xây dựng", "Đường bộ", "Hộ tịch", "Chứng thực", "Thành lập và hoạt động doanh nghiệp",
          "Lao động", "Bảo trợ xã hội", "Giáo dục và Đào tạo", "Y tế", "Văn hóa", "Du lịch", "Môi trường",
          "Nông nghiệp", "Thương mại", "Công chứng", "Tài chính", "Khoa học công nghệ", "Tôn giáo",
          "Thi đua khen thưởng")


def generate(units: dict[str, Any], total: int = TOTAL, seed: int = 2585) -> dict[str, Any]:
    """An egov-catalogue/1 document of `total` synthetic procedures for the unit file `units` (a dict in
    egov-units/1): tiers as the file has them (a tier-less share goes to the first tier), province
    procedures settled by the file's departments in turn, the others by each unit."""
    rng = random.Random(seed)
    tiers = list(units["tiers"])
    departments = [a["agency_code"] for a in units.get("agencies", [])] or [units["units"][0]["agency_code"]]
    shares = {tier: SHARES.get(tier, 0) for tier in tiers}
    shares[tiers[0]] += total - sum(shares.values())
    procedures = []
    number = 0
    for tier, count in shares.items():
        for _ in range(count):
            code = f"1.90{number:04d}"
            number += 1
            competent = departments[number % len(departments)] if tier == tiers[0] else "unit"
            days = rng.choice((1, 3, 5, 7, 10, 15, 20, 30))
            fee = rng.choice((0, 0, 0, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000))
            procedures.append({
                "code": code,
                "name": f"{rng.choice(ACTIONS)} {rng.choice(OBJECTS)}{rng.choice(QUALIFIERS)}",
                "field": rng.choice(FIELDS),
                "tiers": [tier],
                "competent_agency": {tier: competent},
                "online": rng.choice(("full", "partial")),
                "channels": ["desk", "online", "post"],
                "deadline": rng.choice(({"kind": "working_days", "days": days}, {"kind": "calendar_days", "days": days},
                                        {"kind": "working_days", "days": days})),
                "fee": {"amount_vnd": fee},
                "documents": [{"code": f"GT{i:02d}", "name": f"Giấy tờ số {i}", "mandatory": i == 1}
                              for i in range(1, rng.randint(2, 6))],
                "applicants": ["citizen", "organisation"],
                "legal_basis": [],
                "source": "SYNTHETIC: bench/synthetic_catalogue.py (benchmark only, not a real procedure)",
            })
    return {"format": "egov-catalogue/1",
            "decision": {"number": DECISION, "issuer": "bench/synthetic_catalogue.py",
                         "title": "SYNTHETIC catalogue of the seed's 2,585 procedures, for the benchmark only"},
            "scope": "excerpt", "source": "SYNTHETIC: bench/synthetic_catalogue.py", "procedures": procedures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=Path,
                        default=Path(__file__).resolve().parents[1] / "services/procedures/data/units/hue-2025-03.json")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    units = json.loads(args.units.read_text(encoding="utf-8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(generate(units), ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
