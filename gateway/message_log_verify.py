"""Checking the message log: each record's hash, MAC and link, each seal's signature and contents, the
database's anchor, and the chain against what is anchored outside the database. Pure: readers are
passed in. `egov-gateway log verify` prints what `verify_chains` returns; the writer uses
`adoptable_tail` before it continues a chain it finds in the database.

What each check catches, against someone who can write to the gateway's database:
- hash and link: an edit, deletion or insertion by someone who does not recompute the chain;
- MAC (with the log key): any record they wrote or rewrote, chain recomputed or not, sealed or not;
- seal signature (with the seal public key): the same for sealed records, for whoever holds only the
  public key;
- the database anchor's MAC, and the last archive anchored outside: moving the anchor to hide the
  deletion of a chain's beginning;
- the last head anchored outside: deleting a chain, or its tail, or rolling it back to an older copy.
"""

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.message_log import SEAL, Anchor, Record, RecordKey, record_hash, signed_content
from gateway.message_log_anchors import ChainAnchors, LogAnchor, anchor_problem

GENESIS_ANCHOR = Anchor()


@dataclass(frozen=True)
class Problem:
    seq: int
    reason: str


@dataclass
class Verdict:
    records: int = 0
    seals: int = 0
    last_seq: int = 0
    unsealed: int = 0                     # records after the last seal
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(records: Iterable[Mapping[str, Any]], trusted_keys: Iterable[bytes] = (),
           anchor: Anchor = GENESIS_ANCHOR, key: RecordKey | None = None) -> Verdict:
    """Check the chain and its seals; stop at the first broken record.

    `records` in sequence order (the store's sort), starting after `anchor`. With `trusted_keys`
    (raw Ed25519 public keys), a seal must be signed by one of them; without, a seal is checked
    against the key it names, which proves the chain unaltered since sealing but not who sealed it.
    With `key` every record's MAC is checked.
    """
    trusted = set(trusted_keys)
    verdict = Verdict()
    if not trusted:
        verdict.notes.append("no trusted seal key given: seals were checked against the keys they name")
    if key is None:
        verdict.notes.append("no log key given: record MACs were not checked, so records after the last seal "
                             "could have been rewritten by a database writer unseen")
    walk = _Walk(anchor, key)
    segment: list[Mapping[str, Any]] = []
    for record in records:
        verdict.records += 1
        walk.step(record)
        if record.get("kind") == SEAL:
            problem = _check_segment(segment, record, walk.problem, trusted)
            if problem is not None:
                verdict.problem, verdict.last_seq = problem, walk.prev_seq
                return verdict
            verdict.seals += 1
            segment = []
        else:
            segment.append(record)
    verdict.last_seq = walk.prev_seq
    verdict.unsealed = len(segment)
    verdict.problem = walk.problem
    if segment and walk.problem is None:
        verdict.notes.append(f"records {segment[0].get('seq')}..{segment[-1].get('seq')} are chained but not "
                             "sealed yet")
    return verdict


class _Walk:
    """The checks record by record: numbering, own hash, MAC, link to the previous one."""

    def __init__(self, anchor: Anchor, key: RecordKey | None) -> None:
        self.expected = anchor.seq + 1
        self.prev_hash = anchor.hash
        self.prev_seq = anchor.seq
        self.key = key
        self.problem: Problem | None = None

    def step(self, record: Mapping[str, Any]) -> None:
        seq = record.get("seq")
        if self.problem is None:
            self.problem = self._check(record, seq)
        if isinstance(seq, int):
            self.expected = max(self.expected, seq + 1)
            self.prev_seq = seq
        self.prev_hash = str(record.get("hash", ""))

    def _check(self, record: Mapping[str, Any], seq: Any) -> Problem | None:
        if not isinstance(seq, int):
            return Problem(self.expected, f"record {self.expected}: a record without a valid sequence number "
                                          "stands in its place (inserted)")
        if seq > self.expected:
            return Problem(self.expected, f"record {self.expected} is missing (deleted)")
        if seq < self.expected:
            return Problem(seq, f"record {seq} appears more than once or out of order (inserted)")
        if record_hash(record) != record.get("hash"):
            return Problem(seq, f"record {seq} was altered: its content does not match its hash")
        if self.key is not None and not self.key.authentic(record):
            return Problem(seq, f"record {seq} was not written by the gateway: its MAC does not match (inserted, "
                                "or altered and rehashed, by someone without the log key)")
        if record.get("prev_hash") != self.prev_hash:
            return Problem(seq, f"record {seq} does not follow record {seq - 1}: inserted, or the chain "
                                "was rewritten")
        return None


def _check_segment(segment: Sequence[Mapping[str, Any]], seal: Mapping[str, Any], structural: Problem | None,
                   trusted: set[bytes]) -> Problem | None:
    """The first problem in a sealed segment: structural, or a record other than the sealed one."""
    seal_seq = int(seal.get("seq", 0))
    signature_problem = _check_signature(seal, trusted)
    if signature_problem is not None:
        return _earliest(structural, Problem(seal_seq, signature_problem))
    digests = base64.b64decode(str(seal.get("digests", "")))
    sealed = [digests[i:i + 32].hex() for i in range(0, len(digests), 32)]
    first = int(seal.get("first_seq", 0))
    stored = {int(r["seq"]): str(r.get("hash", "")) for r in reversed(segment) if isinstance(r.get("seq"), int)}
    mismatch: Problem | None = None
    for offset, digest in enumerate(sealed):
        seq = first + offset
        if seq not in stored:
            mismatch = Problem(seq, f"record {seq} is missing (deleted); seal {seal_seq} sealed it")
            break
        if stored[seq] != digest:
            mismatch = Problem(seq, f"record {seq} is not the record seal {seal_seq} sealed: altered, replaced "
                                    "or inserted, and the chain recomputed")
            break
    if mismatch is None and (int(seal.get("last_seq", -1)) != first + len(sealed) - 1
                             or len(segment) != len(sealed)):
        mismatch = Problem(seal_seq, f"seal {seal_seq} does not cover exactly the records before it")
    return _earliest(structural, mismatch)


def _check_signature(seal: Mapping[str, Any], trusted: set[bytes]) -> str | None:
    seq = seal.get("seq")
    try:
        public_raw = base64.b64decode(str(seal["public_key"]))
        signature = base64.b64decode(str(seal["signature"]))
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, signed_content(seal))
    except (KeyError, ValueError, InvalidSignature):
        return f"seal {seq} does not verify: its signature does not match its content"
    if trusted and public_raw not in trusted:
        return f"seal {seq} is signed by key {hashlib.sha256(public_raw).hexdigest()[:16]}, not a trusted seal key"
    return None


def _earliest(*problems: Problem | None) -> Problem | None:
    found = [p for p in problems if p is not None]
    # On the same record the first reason given is the more precise one: min keeps it.
    return min(found, key=lambda p: p.seq) if found else None


# -- the chain against its anchors ----------------------------------------------------------------

def anchor_in_db_problem(chain: str, anchor: Anchor, key: RecordKey | None) -> Problem | None:
    if anchor.seq == 0 or key is None or key.anchor_mac(chain, anchor) == anchor.mac:
        return None
    return Problem(anchor.seq + 1, f"the chain's anchor in the database (after record {anchor.seq}) was not set by "
                                   "`egov-gateway log archive`: its MAC does not match (moved)")


def outside_problem(anchor: Anchor, last_seq: int, hash_at: Mapping[int, str], outside: ChainAnchors,
                    trusted: set[bytes]) -> Problem | None:
    """The first way the database disagrees with what is anchored outside it. `hash_at` holds the
    database's hashes of the anchored records (those it has), `last_seq` its last record."""
    problems: list[Problem | None] = []
    for kept in (outside.head, outside.archived):
        if kept is not None and (problem := anchor_problem(kept, trusted)) is not None:
            problems.append(Problem(kept.seq, problem))
    archived = outside.archived
    if archived is None and anchor.seq > 0:
        problems.append(Problem(anchor.seq + 1, f"the database's anchor says records through {anchor.seq} were "
                                                "archived, but no archive of this chain is anchored outside the "
                                                "database (moved)"))
    elif archived is not None and archived.seq < anchor.seq:
        problems.append(Problem(archived.seq + 1, f"records {archived.seq + 1}..{anchor.seq} are gone: the database's "
                                                  f"anchor was moved past the last archive ({archived.archive_file}, "
                                                  f"through record {archived.seq})"))
    elif archived is not None:
        problems.append(_held(archived, anchor, last_seq, hash_at, "archived"))
    if outside.head is not None:
        problems.append(_held(outside.head, anchor, last_seq, hash_at, "anchored"))
    return _earliest(*problems)


def _held(kept: LogAnchor, anchor: Anchor, last_seq: int, hash_at: Mapping[int, str], how: str) -> Problem | None:
    """The database must still hold the record `kept` names (or have archived past it)."""
    if kept.seq < anchor.seq or (kept.seq == anchor.seq and kept.hash == anchor.hash):
        return None
    where = f"chain {kept.chain!r} was {how} outside the database through record {kept.seq} ({kept.anchored_at})"
    if kept.seq > last_seq:
        if last_seq == anchor.seq and anchor.seq == 0:
            return Problem(1, f"{where}, but the database holds none of it: deleted")
        return Problem(last_seq + 1, f"{where}, but the database ends at record {last_seq}: records "
                                     f"{last_seq + 1}..{kept.seq} were deleted, or the chain was rolled back")
    if hash_at.get(kept.seq) != kept.hash:
        return Problem(kept.seq, f"{where}, and the database's record {kept.seq} is another one: the chain was "
                                 "rolled back and rewritten")
    return None


def adoptable_tail(chain: str, anchor: Anchor, tail: Sequence[Record], key: RecordKey, outside: LogAnchor | None,
                   anchored: Record | None) -> tuple[int, str] | str:
    """The head a writer may continue from, or why it must not: the database's anchor and every
    record of `tail` (from the last seal on) authentic and linked, and the last head anchored
    outside (`outside`; `anchored` is its record when it lies before the tail) still there."""
    problem = anchor_in_db_problem(chain, anchor, key)
    if problem is not None:
        return problem.reason
    seq, hash_ = anchor.seq, anchor.hash
    for record in tail:
        at = int(record.get("seq", -1))
        if tail[0] is not record and at != seq + 1:
            return f"record {seq + 1} is missing after record {seq}"
        if record_hash(record) != record.get("hash") or not key.authentic(record):
            return f"record {at} was not written by a gateway holding the log key: altered or inserted"
        # The first record of the tail is the last seal, whose predecessor is not read: its link is
        # checked only when it follows the anchor.
        if (tail[0] is not record or at == anchor.seq + 1) and record.get("prev_hash") != hash_:
            return f"record {at} does not follow record {seq}: inserted, or the chain was rewritten"
        seq, hash_ = at, str(record["hash"])
    if outside is not None and outside.seq > anchor.seq:
        hashes = {int(r["seq"]): str(r["hash"]) for r in tail}
        if anchored is not None:
            hashes[int(anchored["seq"])] = str(anchored.get("hash", ""))
        problem = _held(outside, anchor, seq, hashes, "anchored")
        if problem is not None:
            return problem.reason
    return seq, hash_


def watching(records: Iterable[Record], seqs: set[int], hash_at: dict[int, str]) -> Iterator[Record]:
    """`records` as they are, noting the hashes of those numbered in `seqs` on the way."""
    for record in records:
        if record.get("seq") in seqs:
            hash_at[int(record["seq"])] = str(record.get("hash", ""))
        yield record


class LogReader(Protocol):
    def anchor(self, chain: str) -> Anchor: ...
    def records(self, chain: str, after_seq: int = 0, through_seq: int | None = None) -> Iterator[Record]: ...
    def chains(self) -> list[str]: ...


@dataclass
class ChainReport:
    chain: str
    start: int                   # the first record checked
    verdict: Verdict


def verify_chains(reader: LogReader, chains: Sequence[str] = (), *, trusted_keys: Iterable[bytes] = (),
                  key: RecordKey | None = None, outside: Mapping[str, ChainAnchors] | None = None) -> list[ChainReport]:
    """Verify `chains` (every chain in the database or anchored outside it, when empty). Without
    `outside` the anchors outside the database are not checked, and each verdict says so."""
    trusted = set(trusted_keys)
    names = list(chains) or sorted(set(reader.chains()) | set(outside or {}))
    return [verify_chain(reader, name, trusted, key, outside) for name in names]


def verify_chain(reader: LogReader, chain: str, trusted: set[bytes], key: RecordKey | None,
                 outside: Mapping[str, ChainAnchors] | None) -> ChainReport:
    anchor = reader.anchor(chain)
    kept = outside.get(chain, ChainAnchors()) if outside is not None else None
    hash_at: dict[int, str] = {}
    seqs = {a.seq for a in (kept.head, kept.archived) if a is not None} if kept is not None else set()
    verdict = verify(watching(reader.records(chain, anchor.seq), seqs, hash_at), trusted, anchor, key)
    problems = [verdict.problem, anchor_in_db_problem(chain, anchor, key)]
    if kept is None:
        verdict.notes.append("anchors outside the database were not checked: a deleted chain, or a tail cut off "
                             "after its last seal, would not be found")
    else:
        problems.append(outside_problem(anchor, verdict.last_seq, hash_at, kept, trusted))
        if kept.head is None and (verdict.records or anchor.seq):
            verdict.notes.append("nothing of this chain is anchored outside the database yet")
    verdict.problem = _earliest(*problems)
    return ChainReport(chain, anchor.seq + 1, verdict)
