"""What `egov-gateway log ...` does, as plain functions over the log store and the anchors: the
command parses, calls one of these, and prints."""

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import log_archive
from gateway.config import read_file
from gateway.message_log import LogKey, RecordKey, Sealer, public_key_from_pem
from gateway.message_log_anchors import ArchiveAnchors, ChainAnchors
from gateway.message_log_store import MongoLogStore
from gateway.message_log_verify import ChainReport, verify_chains
from gateway.rpc_client import NamekoRpcClient
from services.common.errors import InvalidArgument


class NotAnswered(Exception):
    """No running gateway holding the chain answered the request in time."""


@dataclass(frozen=True)
class LogSecrets:
    """The keys an operator's command uses, from the gateway's own variables."""

    record_key: RecordKey | None          # from EGOV_GATEWAY_LOG_KEY_FILE
    seal_key: Ed25519PrivateKey | None     # from EGOV_GATEWAY_SEAL_KEY_FILE, when it is a private key

    @classmethod
    def from_env(cls) -> "LogSecrets":
        log_key, seal_pem = read_file("EGOV_GATEWAY_LOG_KEY_FILE"), read_file("EGOV_GATEWAY_SEAL_KEY_FILE")
        seal_key = None
        if seal_pem is not None:
            try:
                private = serialization.load_pem_private_key(seal_pem, password=None)
                seal_key = private if isinstance(private, Ed25519PrivateKey) else None
            except (ValueError, TypeError):
                seal_key = None      # a public key: enough to verify, not to archive
        return cls(LogKey(log_key).record_key() if log_key else None, seal_key)


def trusted_keys(paths: Iterable[Path]) -> list[bytes]:
    """Raw Ed25519 public keys from PEM files (public or private)."""
    try:
        return [public_key_from_pem(path.read_bytes()) for path in paths]
    except (OSError, ValueError) as exc:
        raise InvalidArgument("--public-key", f"cannot read a seal key: {exc}") from None


def read_anchors(amqp_uri: str, chains: Sequence[str], timeout: float = 10.0) -> dict[str, ChainAnchors]:
    """The chains' anchors outside the database, through the archive service."""
    rpc = NamekoRpcClient(amqp_uri, name="egov-gateway-log")
    try:
        rpc.start()
        return ArchiveAnchors(amqp_uri, rpc, timeout=timeout).latest(chains)
    finally:
        rpc.close()


def verify_log(store: MongoLogStore, chains: Sequence[str], keys: Sequence[bytes], secrets: LogSecrets,
               anchors: dict[str, ChainAnchors] | None) -> list[ChainReport]:
    return verify_chains(store, chains, trusted_keys=keys, key=secrets.record_key, outside=anchors)


def ask_writer(store: MongoLogStore, chain: str, what: str, timeout: float) -> str:
    """Ask the gateway writing `chain` to `what` ("seal", "resume"), wait for it, return its outcome."""
    count = store.request(chain, what)
    deadline = time.monotonic() + timeout
    while store.requests(chain, what)[1] < count:
        if time.monotonic() > deadline:
            raise NotAnswered(f"no gateway holding chain {chain!r} answered within {timeout:g} s")
        time.sleep(0.05)
    return store.outcome(chain, what)


def archive_chain(store: MongoLogStore, chain: str, out: Path, keys: Sequence[bytes], secrets: LogSecrets,
                  amqp_uri: str) -> log_archive.Archived:
    if secrets.record_key is None or secrets.seal_key is None:
        raise InvalidArgument("EGOV_GATEWAY_LOG_KEY_FILE", "archiving needs the gateway's log key and its private "
                                                           "seal key (EGOV_GATEWAY_SEAL_KEY_FILE)")
    anchors = ArchiveAnchors(amqp_uri, None)
    try:
        return log_archive.archive(store, chain, out, secrets.record_key, Sealer(secrets.seal_key), anchors, keys)
    finally:
        anchors.close()
