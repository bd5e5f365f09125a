"""Archiving the message log: sealed segments out of the database into files that verify on their own.

`archive` writes every record through the chain's last seal into one JSON-lines file named
`mlog-<chain>-<first seq>-<last seq>-<head hash 16>.jsonl`: a header line (chain, the anchor it
continues from, the last record's sequence and hash), then the records in order. Only a chain that
verifies up to there is archived. The last archived record becomes the chain's anchor in the
database and the archived records are deleted, so the live log verifies from the anchor, and each
file verifies from the anchor in its header, which is the previous file's last hash: the files and
the live log form one unbroken chain. The database's anchor is MACed, and the archive is anchored
outside the database too (gateway.message_log_anchors), so that moving the anchor is found.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.message_log import SEAL, Anchor, RecordKey, Sealer
from gateway.message_log_anchors import ARCHIVED, AnchorLog, signed_anchor
from gateway.message_log_store import ArchivableStore
from gateway.message_log_verify import Problem, Verdict, anchor_in_db_problem, verify

FORMAT = "egov-message-log-archive/1"


class NothingToArchive(Exception):
    pass


class ChainBroken(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.problem.reason if verdict.problem else "broken")
        self.verdict = verdict


@dataclass(frozen=True)
class Archived:
    file: Path
    first_seq: int
    last_seq: int
    records: int
    deleted: int


def archive(store: ArchivableStore, chain: str, out: Path, key: RecordKey, sealer: Sealer, anchors: AnchorLog,
            trusted_keys: Iterable[bytes] = ()) -> Archived:
    """Archive every sealed record of `chain` to a file in `out`: anchored outside the database
    (`anchors`, signed by `sealer`) before the database's anchor moves (MACed with `key`) and the
    records are deleted."""
    last_seal = store.last(chain, SEAL)
    anchor = store.anchor(chain)
    if last_seal is None or int(last_seal["seq"]) <= anchor.seq:
        raise NothingToArchive(f"chain {chain!r} has no sealed records after {anchor.seq}")
    through = int(last_seal["seq"])
    records = list(store.records(chain, anchor.seq, through))
    verdict = verify(records, trusted_keys, anchor, key)
    verdict.problem = verdict.problem or anchor_in_db_problem(chain, anchor, key)
    if not verdict.intact:
        raise ChainBroken(verdict)
    out.mkdir(parents=True, exist_ok=True)
    first = int(records[0]["seq"])
    name = f"mlog-{chain}-{first:012d}-{through:012d}-{last_seal['hash'][:16]}.jsonl"
    path = out / name
    header = {"format": FORMAT, "chain": chain, "anchor": {"seq": anchor.seq, "hash": anchor.hash},
              "through_seq": through, "through_hash": last_seal["hash"], "records": len(records)}
    with path.open("x", encoding="utf-8") as file:
        file.write(json.dumps(header, sort_keys=True) + "\n")
        for record in records:
            file.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        anchors.publish(signed_anchor(sealer, chain, through, str(last_seal["hash"]), ARCHIVED, archive_file=name,
                                      archive_sha256=digest))
    except Exception:
        path.unlink()     # nothing changed: the next run writes the file again
        raise
    moved = Anchor(through, str(last_seal["hash"]))
    store.set_anchor(chain, Anchor(moved.seq, moved.hash, key.anchor_mac(chain, moved)), name, digest)
    deleted = store.delete_through(chain, through)
    return Archived(path, first, through, len(records), deleted)


def read(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header of an archive file and its records."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path}: empty")
    header = json.loads(lines[0])
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a message log archive ({FORMAT})")
    return header, (json.loads(line) for line in lines[1:])


def verify_file(path: Path, trusted_keys: Iterable[bytes] = (), key: RecordKey | None = None) -> Verdict:
    header, records = read(path)
    anchor = Anchor(int(header["anchor"]["seq"]), str(header["anchor"]["hash"]))
    verdict = verify(records, trusted_keys, anchor, key)
    through = int(header["through_seq"])
    if verdict.intact and (verdict.last_seq != through or verdict.unsealed):
        missing = min(verdict.last_seq + 1, through)
        verdict.problem = Problem(missing, f"record {missing} is missing: the file ends at record "
                                           f"{verdict.last_seq}, its header says {through}")
    return verdict
