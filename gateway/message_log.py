"""The message log's records, their hash chain, MACs and seals. Pure: no database here
(gateway.message_log_writer writes, gateway.message_log_store stores, gateway.message_log_verify
checks, gateway.message_log_anchors keeps the chain's position outside the database).

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
- Every record also carries `mac`, an HMAC of its hash under a key derived from the log key, which
  lives in the gateway's secrets and never in its database. Someone able to write to the database
  can recompute hashes but not MACs: a record they edited or inserted, sealed or not, is named.
- Every N records or T seconds a seal record closes the segment since the previous seal: it lists the
  hashes of the segment's records and is signed with the gateway's Ed25519 key, so that whoever holds
  only the public key (an auditor without the log key) can check the records too.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.caller import Caller, CallerKind

Record = dict[str, Any]
GENESIS = "0" * 64
EXCHANGE = "exchange"
SEAL = "seal"
INBOUND = "inbound"
OUTBOUND = "outbound"
_NOT_HASHED = ("_id", "hash", "mac")
# What a seal's signature covers: the claim "records first..last of this chain had these hashes".
# Not its own number or link: those are checked by the chain, and a seal renumbered by someone
# who shifted records to insert one must still testify to what it sealed.
_SIGNED = ("chain", "kind", "sealed_at", "first_seq", "last_seq", "digests", "key_id", "public_key")
# The record MAC key is derived from the log key, so deployments keep one secret for both; the
# label keeps the two uses apart (a pseudonym can never be a valid MAC, nor the reverse).
_RECORD_KEY_LABEL = b"egov message log record MAC/1"


def canonical(record: Mapping[str, Any], leave_out: Sequence[str] = _NOT_HASHED) -> bytes:
    return json.dumps({k: v for k, v in record.items() if k not in leave_out}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def signed_content(seal: Mapping[str, Any]) -> bytes:
    return canonical({k: seal.get(k) for k in _SIGNED}, ())


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class RecordKey:
    """MACs records and the database's anchor: proof that a holder of the log key wrote them."""

    def __init__(self, log_key: bytes) -> None:
        self._key = hmac.digest(log_key, _RECORD_KEY_LABEL, "sha256")

    def _mac(self, purpose: bytes, content: bytes) -> str:
        return hmac.digest(self._key, purpose + b"\0" + content, "sha256").hex()

    def record_mac(self, record: Mapping[str, Any]) -> str:
        return self._mac(b"record", str(record.get("hash", "")).encode())

    def authenticate(self, record: Record) -> Record:
        record["mac"] = self.record_mac(record)
        return record

    def authentic(self, record: Mapping[str, Any]) -> bool:
        return hmac.compare_digest(str(record.get("mac", "")), self.record_mac(record))

    def anchor_mac(self, chain: str, anchor: "Anchor") -> str:
        return self._mac(b"anchor", f"{chain}\0{anchor.seq}\0{anchor.hash}".encode())


class LogKey:
    """The secret that pseudonymises people and digests payloads in the log."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the message log key must be at least 32 bytes")
        self._key = key

    def digest(self, data: bytes) -> str:
        return hmac.digest(self._key, data, "sha256").hex()

    def record_key(self) -> RecordKey:
        return RecordKey(self._key)

    def client_id(self, caller: Caller) -> str:
        """How the log names a caller: systems in clear, people by pseudonym."""
        if caller.kind is CallerKind.AGENCY:
            return caller.subject
        if caller.kind is CallerKind.CITIZEN:
            return f"citizen:{self.digest(caller.subject.encode())[:32]}"
        if caller.kind is CallerKind.CIVIL_SERVANT:
            return f"civil-servant:{caller.agency_code}:{self.digest(caller.subject.encode())[:32]}"
        return caller.kind.value.removeprefix("CALLER_KIND_").lower()


class Loggable(Protocol):
    """What the writer chains: an exchange, or a summary of refusals (gateway.refusals)."""

    def fields(self) -> "Record": ...


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
        self.key_id = key_id_of(self.public_raw)
        self.public_b64 = base64.b64encode(self.public_raw).decode()

    def sign(self, content: bytes) -> str:
        return base64.b64encode(self._key.sign(content)).decode()

    def seal(self, chain: str, seq: int, prev_hash: str, covered: Sequence[tuple[int, str]]) -> Record:
        """The seal record closing the segment `covered` ((seq, hash) of each record, in order)."""
        record: Record = {
            "chain": chain, "seq": seq, "kind": SEAL, "sealed_at": now_rfc3339(),
            "first_seq": covered[0][0], "last_seq": covered[-1][0],
            "digests": base64.b64encode(b"".join(bytes.fromhex(h) for _, h in covered)).decode(),
            "key_id": self.key_id, "public_key": self.public_b64,
            "prev_hash": prev_hash,
        }
        record["signature"] = self.sign(signed_content(record))
        record["hash"] = record_hash(record)
        return record


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def chain_record(fields: Record, chain: str, seq: int, prev_hash: str, key: RecordKey | None = None) -> Record:
    record = {**fields, "chain": chain, "seq": seq, "prev_hash": prev_hash}
    record["hash"] = record_hash(record)
    return key.authenticate(record) if key is not None else record


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


@dataclass(frozen=True)
class Anchor:
    """Where a chain's records in the database start: after the last archived record (X-Road's
    last archive digest); `mac` proves a holder of the log key set it."""

    seq: int = 0
    hash: str = GENESIS
    mac: str = ""


def covered_by(records: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, str]]:
    """(seq, hash) of the records other than seals among `records`: what the next seal must cover."""
    for record in records:
        if record.get("kind") != SEAL:
            yield int(record["seq"]), str(record["hash"])
