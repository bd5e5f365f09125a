"""The message log's records, their hash chain, seals and verification. Pure: no database here
(gateway.message_log_writer writes, gateway.message_log_store stores).

Model (after X-Road's message log, with a signed seal in place of a timestamping authority):

- Every exchange is one record: who (client id), what (method, direction inbound or outbound), when
  (start, end, duration), the status code, the request and response as keyed digests, sizes, request
  and trace ids. People never appear in clear: a citizen or civil servant is the HMAC-SHA256 of their
  ID under the log key, and the request and response digests are HMAC-SHA256 under the same key,
  because a plain SHA-256 of a small message carrying a 12-digit citizen ID can be reversed by trying
  every ID. Whoever holds the key (the auditor) can still check that a given message is the one
  logged. Agency systems are named in clear (`VN/GOV/<member>/<subsystem>`): they are not people.
- Records form one chain per gateway (`chain`): consecutive sequence numbers from 1, each record
  carrying the previous record's hash (`prev_hash`) and its own (`hash`, SHA-256 of the canonical
  JSON of every other field). Editing a record breaks its hash; deleting one leaves a gap; inserting
  one duplicates a number or breaks the next link.
- Every N records or T seconds a seal record closes the segment since the previous seal: it lists the
  hashes of the segment's records and is signed with the gateway's Ed25519 key. Someone able to
  rewrite the database can recompute a whole chain, but cannot sign: the seal still names, record by
  record, what was there, so verification finds the first record that differs even then.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.caller import Caller, CallerKind

Record = dict[str, Any]
GENESIS = "0" * 64
EXCHANGE = "exchange"
SEAL = "seal"
INBOUND = "inbound"
OUTBOUND = "outbound"
_NOT_HASHED = ("_id", "hash")
# What a seal's signature covers: the claim "records first..last of this chain had these hashes".
# Not its own number or link: those are checked by the chain, and a seal renumbered by someone
# who shifted records to insert one must still testify to what it sealed.
_SIGNED = ("chain", "kind", "sealed_at", "first_seq", "last_seq", "digests", "key_id", "public_key")


def canonical(record: Mapping[str, Any], leave_out: Sequence[str] = _NOT_HASHED) -> bytes:
    return json.dumps({k: v for k, v in record.items() if k not in leave_out}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def signed_content(seal: Mapping[str, Any]) -> bytes:
    return canonical({k: seal.get(k) for k in _SIGNED}, ())


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class LogKey:
    """The secret that pseudonymises people and digests payloads in the log."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the message log key must be at least 32 bytes")
        self._key = key

    def digest(self, data: bytes) -> str:
        return hmac.digest(self._key, data, "sha256").hex()

    def client_id(self, caller: Caller) -> str:
        """How the log names a caller: systems in clear, people by pseudonym."""
        if caller.kind is CallerKind.AGENCY:
            return caller.subject
        if caller.kind is CallerKind.CITIZEN:
            return f"citizen:{self.digest(caller.subject.encode())[:32]}"
        if caller.kind is CallerKind.CIVIL_SERVANT:
            return f"civil-servant:{caller.agency_code}:{self.digest(caller.subject.encode())[:32]}"
        return caller.kind.value.removeprefix("CALLER_KIND_").lower()


@dataclass(frozen=True)
class Exchange:
    """One call as the gateway saw it; becomes a record once the writer chains it."""

    direction: str
    request_id: str
    trace_id: str
    client: str
    client_kind: str
    method: str
    started_at: str
    ended_at: str
    duration_us: int
    status: str
    request_digest: str
    request_bytes: int
    response_digest: str = ""
    response_bytes: int = 0
    note: str = ""           # the gateway's own refusal reason (never a service's message)

    def fields(self) -> Record:
        return {"kind": EXCHANGE, **self.__dict__}


class Sealer:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.public_raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()[:16]

    def seal(self, chain: str, seq: int, prev_hash: str, covered: Sequence[tuple[int, str]]) -> Record:
        """The seal record closing the segment `covered` ((seq, hash) of each record, in order)."""
        record: Record = {
            "chain": chain, "seq": seq, "kind": SEAL, "sealed_at": now_rfc3339(),
            "first_seq": covered[0][0], "last_seq": covered[-1][0],
            "digests": base64.b64encode(b"".join(bytes.fromhex(h) for _, h in covered)).decode(),
            "key_id": self.key_id, "public_key": base64.b64encode(self.public_raw).decode(),
            "prev_hash": prev_hash,
        }
        record["signature"] = base64.b64encode(self._key.sign(signed_content(record))).decode()
        record["hash"] = record_hash(record)
        return record


def chain_record(fields: Record, chain: str, seq: int, prev_hash: str) -> Record:
    record = {**fields, "chain": chain, "seq": seq, "prev_hash": prev_hash}
    record["hash"] = record_hash(record)
    return record


def public_key_from_pem(pem: bytes) -> bytes:
    """Raw Ed25519 public key bytes from a PEM public or private key."""
    try:
        key: Any = serialization.load_pem_private_key(pem, password=None)
        key = key.public_key()
    except (ValueError, TypeError):
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- verification ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Anchor:
    """Where verification starts: after the last archived record (X-Road's last archive digest)."""

    seq: int = 0
    hash: str = GENESIS


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
           anchor: Anchor = Anchor()) -> Verdict:
    """Check the chain and its seals; stop at the first broken record.

    `records` in sequence order (the store's sort), starting after `anchor`. With `trusted_keys`
    (raw Ed25519 public keys), a seal must be signed by one of them; without, a seal is checked
    against the key it names, which proves the chain unaltered since sealing but not who sealed it.
    """
    trusted = set(trusted_keys)
    verdict = Verdict()
    if not trusted:
        verdict.notes.append("no trusted seal key given: seals were checked against the keys they name")
    walk = _Walk(anchor)
    segment: list[Mapping[str, Any]] = []
    for record in records:
        verdict.records += 1
        walk.step(record)
        if record.get("kind") == SEAL:
            problem = _check_segment(segment, record, walk.problem, trusted)
            if problem is not None:
                verdict.problem = problem
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
    """The structural checks, record by record: numbering, own hash, link to the previous one."""

    def __init__(self, anchor: Anchor) -> None:
        self.expected = anchor.seq + 1
        self.prev_hash = anchor.hash
        self.prev_seq = anchor.seq
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
    # On the same record the structural reason is the more precise one; it comes first in the call.
    return min(found, key=lambda p: p.seq) if found else None


def covered_by(records: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, str]]:
    """(seq, hash) of the exchange records among `records`: what the next seal must cover."""
    for record in records:
        if record.get("kind") == EXCHANGE:
            yield int(record["seq"]), str(record["hash"])
