"""The catalogue at the seed's scale: import a SYNTHETIC catalogue of 2,585 procedures over every unit
(bench/synthetic_catalogue.py) into the running platform, then ListProcedures through the gateway at 8
callers, pages of 20 in the BASIC view (a list of results): a unit's procedures, a keyword typed without
accents (alone and within a unit), and a field of a tier; and a unit's procedures in the FULL view.
Target: p99 under 50 ms (docs/BENCHMARKS.md).

Run by `make bench` (a phase of bench/__main__.py), or alone on a stack of procedures and the gateway:

    .venv/bin/python -m bench.catalogue_bench --seconds 10
"""

import argparse
import json
import random
import shutil
import time
from collections.abc import Callable
from typing import Any

import grpc
from pymongo import MongoClient

from bench.footprint import OTHER, CpuMeter, snapshot
from bench.limits import BENCH_ENV
from bench.measure import closed_loop, percentile, quiet_logs
from bench.synthetic_catalogue import generate
from deploy.local.stack import ROOT, Stack
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from gateway.rpc_client import NamekoRpcClient
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.procedures import catalogue_api as api
from services.procedures.adapters.catalogue_store import MongoCatalogueStore
from services.procedures.catalogue_admin import (
    ImportFile,
    entries_in_force,
    import_catalogue,
    load_catalogue,
    wait_until_served,
)
from services.procedures.domain.catalogue import Catalogue

CALLERS = 8
PAGE_SIZE = 20          # a page as an app or a desk shows it
TARGET_P99_MS = 50.0
KEYWORDS = ("cap giay phep", "dang ky", "gia han chung chi", "giay chung nhan du dieu kien", "ho kinh doanh",
            "cap lai", "xac nhan", "quyen su dung dat", "khai sinh", "thu hoi giay phep xay dung", "to chuc",
            "nuoc ngoai")
FIELDS = ("Đất đai", "xay dung", "Hộ tịch", "lao dong", "Y tế", "thuong mai")


def queries(units: dict[str, list[str]], tiers: list[str]) -> dict[str, list[pp.ListProceduresRequest]]:
    """The requests each measured operation draws from, at random."""
    every_unit = [code for codes in units.values() for code in codes]
    basic = pp.PROCEDURE_VIEW_BASIC
    return {
        "by unit": [pp.ListProceduresRequest(unit_code=u, page_size=PAGE_SIZE, view=basic) for u in every_unit],
        "keyword": [pp.ListProceduresRequest(keyword=k, page_size=PAGE_SIZE, view=basic) for k in KEYWORDS],
        "unit + keyword": [pp.ListProceduresRequest(unit_code=u, keyword=k, page_size=PAGE_SIZE, view=basic)
                           for u in every_unit[::7] for k in KEYWORDS],
        "tier + field": [pp.ListProceduresRequest(tier=t, field=f, page_size=PAGE_SIZE, view=basic)
                         for t in tiers for f in FIELDS],
        "by unit, FULL view": [pp.ListProceduresRequest(unit_code=u, page_size=PAGE_SIZE) for u in every_unit],
    }


def run_on(stack: Stack, seconds: float, progress: Callable[[str], None] = print) -> dict[str, Any]:
    progress("catalogue at the seed's scale (a synthetic catalogue of 2,585 procedures)")
    client: MongoClient[Any] = MongoClient(stack.database_uri("procedures"), tz_aware=True)
    try:
        store = MongoCatalogueStore(client, stack.env().get("EGOV_PROCEDURES_DB") or "egov_procedures")
        before = load_catalogue(store)
        units_file = store.unit_file(before.version.units_version)
        if units_file is None:
            raise RuntimeError("no unit tree in force: the stack imports the shipped one at start")
        document = generate(dict(units_file.document))
        t0 = time.perf_counter()
        report = import_catalogue(store, ImportFile("synthetic", document, "synthetic"),
                                  document["decision"]["number"])
        imported_s = time.perf_counter() - t0
        wait_until_served(store, report.in_force, timeout=120)
        served_s = time.perf_counter() - t0
        catalogue = load_catalogue(store)
    finally:
        client.close()
    entries = entries_in_force(catalogue)
    progress(f"  imported {len(report.added):,} synthetic procedures in {imported_s:.2f} s, served by every replica "
             f"{served_s:.2f} s after the start; {len(catalogue):,} procedures, {entries:,} procedure-unit entries")
    tree = catalogue.units
    by_tier = {t: [u.code for u in tree.units.values() if u.tier == t] for t in tree.tiers}
    results = [in_process(catalogue, queries(by_tier, list(tree.tiers)), progress)]
    address = f"127.0.0.1:{stack.ports.gateway}"
    for name, requests in queries(by_tier, list(tree.tiers)).items():
        def make(requests: list[pp.ListProceduresRequest] = requests) -> Callable[[], object]:
            stub = procedures_pb2_grpc.ProcedureServiceStub(grpc.insecure_channel(address))
            pick = random.Random(len(requests)).choice
            return lambda: stub.ListProcedures(pick(requests), timeout=10)

        meter = CpuMeter(stack.processes).start()
        result = closed_loop(f"ListProcedures {name}", make, CALLERS, seconds)
        used = meter.stop()
        # CPU per call: what the run costs whatever else the machine is doing (the latencies are not).
        cpu_ms = {who: round(used.get(who, 0.0) * 1000 / max(result.calls, 1), 2)
                  for who in ("gateway", "procedures", "bench (load)", OTHER)}
        results.append({**result.row(), "cpu_ms_per_call": cpu_ms})
        progress(f"  {result.name:<36} x{CALLERS} {result.rate:7.0f}/s p50 {result.p50_ms:6.2f} ms "
                 f"p99 {result.p99_ms:6.2f} ms{'' if result.p99_ms < TARGET_P99_MS else '  (over target)'}; "
                 f"CPU per call: gateway {cpu_ms['gateway']} ms, procedures {cpu_ms['procedures']} ms, "
                 f"rest of the machine {cpu_ms[OTHER]} ms")
    results.append(direct(stack, queries(by_tier, list(tree.tiers))["unit + keyword"], seconds, progress))
    resident = snapshot({"procedures": stack.processes["procedures"]})["procedures"]
    progress(f"  procedures holds the catalogue in {resident:.0f} MB resident")
    return {"procedures": len(catalogue), "synthetic_procedures": len(report.added), "entries": entries,
            "procedures_rss_mb": resident,
            "import_s": round(imported_s, 2), "served_s": round(served_s, 2), "callers": CALLERS,
            "page_size": PAGE_SIZE, "target_p99_ms": TARGET_P99_MS, "queries": results}


def in_process(catalogue: Catalogue, kinds: dict[str, list[pp.ListProceduresRequest]],
               progress: Callable[[str], None]) -> dict[str, Any]:
    """The query alone, on the snapshot a replica serves from (search, filters, the page's reply dict):
    every request of every kind once to fill the reply cache as serving does, then three times measured."""
    latencies = []
    for measured in (False, True, True, True):
        for requests in kinds.values():
            for request in requests:
                t0 = time.perf_counter()
                api.list_procedures(catalogue, request)
                if measured:
                    latencies.append(time.perf_counter() - t0)
    latencies.sort()
    row = {"name": "ListProcedures in the service, no transport", "calls": len(latencies),
           "p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
           "p99_ms": round(percentile(latencies, 0.99) * 1000, 3)}
    progress(f"  {row['name']:<36} x1  p50 {row['p50_ms']:6.3f} ms p99 {row['p99_ms']:6.3f} ms "
             f"over {row['calls']:,} queries")
    return row


def direct(stack: Stack, requests: list[pp.ListProceduresRequest], seconds: float,
           progress: Callable[[str], None]) -> dict[str, Any]:
    """The same requests over nameko RPC to procedures, without the gateway: what the gateway adds."""
    client = NamekoRpcClient(stack.amqp_uri, name="catalogue-bench")
    client.start(wait=10)
    wire = [{"request": protowire.dump(r), "caller": Caller(CallerKind.ANONYMOUS).to_wire()} for r in requests]
    try:
        def make() -> Callable[[], object]:
            pick = random.Random(len(wire)).choice
            return lambda: client.call("procedures", "list_procedures", pick(wire), timeout=10)

        result = closed_loop("ListProcedures unit + keyword, direct RPC", make, CALLERS, seconds)
    finally:
        client.close()
    progress(f"  {result.name:<36} x{CALLERS} {result.rate:7.0f}/s p50 {result.p50_ms:6.2f} ms "
             f"p99 {result.p99_ms:6.2f} ms (no gateway)")
    return result.row()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per query kind")
    args = parser.parse_args()
    quiet_logs()
    workdir = ROOT / "var" / "bench" / "catalogue-stack"
    shutil.rmtree(workdir, ignore_errors=True)
    stack = Stack(workdir, extra_env=BENCH_ENV)
    try:
        stack.start(services=("procedures",))
        results = run_on(stack, args.seconds)
    finally:
        stack.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    out = ROOT / "var" / "bench" / "catalogue.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
