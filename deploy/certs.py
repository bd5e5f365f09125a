"""`make certs` (`python -m deploy.certs --out DIR`): a test certificate authority and the certificates
the gateway's mutual TLS needs. For development and tests only: production certificates come from
the province's CA, and their keys never leave the system they identify.

What it writes into DIR (keys are PEM, mode 0600):

- `ca.pem`, `ca.key`: the test CA. The gateway trusts client certificates it issued
  (EGOV_GATEWAY_TLS_CLIENT_CA) and clients trust the gateway's certificate through it.
- `gateway.pem`, `gateway.key`: the gateway's server certificate, SAN 127.0.0.1, localhost, gateway.
- `agencies/<member code>_<subsystem>.pem|.key`: one client certificate per agency subsystem, CN = the
  subsystem id `VN/GOV/<member code>/<subsystem>`; register each with
  `egov-gateway certs register <subsystem id> <file>.pem`.
- `services/<member code>_<subsystem>.pem|.key`: client certificates of the platform's own services
  as subsystems (`VN/GOV/HUE/identity`), presented on the gateway's outbound listener when they call
  an external system through it.
- `external/<name>.pem|.key`: server certificates for the external systems the gateway reaches
  (SAN <name>, localhost, 127.0.0.1), and `external/gateway-client.pem|.key`, the gateway's client
  certificate towards them.
- `gateway-seal.key` / `gateway-seal.pub.pem`: the Ed25519 key that signs message log seals
  (EGOV_GATEWAY_SEAL_KEY_FILE) and its public half for auditors; `message-log.key`: 32 random bytes,
  the message log's HMAC key (EGOV_GATEWAY_LOG_KEY_FILE). These two are made once and never
  replaced: a new seal key cannot verify old seals, a new log key breaks pseudonyms' continuity.
- `gateway-caller.key` / `gateway-caller.pub.pem`: the Ed25519 key with which the gateway signs the
  caller of every call it forwards (EGOV_GATEWAY_CALLER_KEY_FILE; services verify with the public
  half, EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE); `operator.key` / `operator.pub.pem`: the operators' own
  key, which signs operator commands (EGOV_OPERATOR_KEY_FILE, held by operators only; services
  verify with EGOV_OPERATOR_PUBLIC_KEY_FILE). See services/common/caller_proof.py.
"""

import argparse
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

INSTANCE = "VN"
# The systems of `make run`: the province's one-stop desk and a VNPost counter system.
DEMO_AGENCIES = ("VN/GOV/000.00.15.H57/one-stop-desk", "VN/COM/0100109106/vnpost-counter")
DEMO_EXTERNAL = ("population", "business-registry")
# The platform's own services that call external systems through the gateway's outbound exchange.
PLATFORM_SERVICES = ("VN/GOV/HUE/identity",)
SERVER_NAMES = ("127.0.0.1", "localhost", "gateway")


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        write_secret(directory / f"{name}.key", self.key_pem)
        cert_file = directory / f"{name}.pem"
        cert_file.write_bytes(self.certificate_pem)
        return cert_file


def make_ca(name: str = "egov test CA", days: int = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "egov platform (test)")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def issue(ca: Issued, common_name: str, *, server_names: Sequence[str] = (), client: bool = True,
          not_before: datetime | None = None, not_after: datetime | None = None) -> Issued:
    """A leaf certificate signed by `ca`: a server certificate when `server_names` are given (DNS
    names or IP addresses), a client certificate when `client`, or both."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server_names else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if server_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in server_names]),
                                        critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def write_secret(path: Path, content: bytes) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(content)


def make_log_keys(out: Path) -> None:
    """The message log's seal and HMAC keys, unless they exist."""
    seal = out / "gateway-seal.key"
    if not seal.exists():
        key = Ed25519PrivateKey.generate()
        write_secret(seal, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
        (out / "gateway-seal.pub.pem").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    if not (out / "message-log.key").exists():
        write_secret(out / "message-log.key", secrets.token_bytes(32))


def make_caller_keys(out: Path) -> None:
    """The gateway's caller signing key and the operators' key, unless they exist."""
    for name in ("gateway-caller", "operator"):
        if (out / f"{name}.key").exists():
            continue
        key = Ed25519PrivateKey.generate()
        write_secret(out / f"{name}.key", key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
        (out / f"{name}.pub.pem").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def file_name(subsystem_id: str) -> str:
    """`VN/GOV/000.00.15.H57/one-stop-desk` → `GOV_000.00.15.H57_one-stop-desk`."""
    return "_".join(subsystem_id.split("/")[1:])


def make_all(out: Path, agencies: Sequence[str] = DEMO_AGENCIES,
             external: Sequence[str] = DEMO_EXTERNAL, services: Sequence[str] = PLATFORM_SERVICES) -> Issued:
    """Write the CA and every certificate into `out`. What exists is kept (a registered
    certificate keeps its fingerprint), so running it again only adds what is missing."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "ca.key").exists():
        ca = load(out / "ca.pem", out / "ca.key")
    else:
        ca = make_ca()
        ca.write(out, "ca")

    def once(directory: Path, name: str, common_name: str, server_names: Sequence[str] = (),
             client: bool = True) -> None:
        if not (directory / f"{name}.pem").exists():
            issue(ca, common_name, server_names=server_names, client=client).write(directory, name)

    once(out, "gateway", "gateway", SERVER_NAMES, client=False)
    for subsystem_id in agencies:
        once(out / "agencies", file_name(subsystem_id), subsystem_id)
    for subsystem_id in services:
        once(out / "services", file_name(subsystem_id), subsystem_id)
    for name in external:
        once(out / "external", name, name, (name, "localhost", "127.0.0.1"), client=False)
    once(out / "external", "gateway-client", "gateway")
    make_log_keys(out)
    make_caller_keys(out)
    return ca


def load(certificate_file: Path, key_file: Path) -> Issued:
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_file}: not an EC private key")
    return Issued(certificate, key)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--agency", action="append", default=[], metavar="VN/<CLASS>/<MEMBER>/<SUBSYSTEM>",
                        help="an agency subsystem to issue a client certificate for (repeatable; "
                             "default: the demo systems)")
    parser.add_argument("--external", action="append", default=[], metavar="NAME",
                        help="an external system to issue a server certificate for (repeatable)")
    args = parser.parse_args(argv)
    for subsystem_id in args.agency:
        parts = subsystem_id.split("/")
        if len(parts) != 4 or parts[0] != INSTANCE or not all(parts):
            parser.error(f"--agency {subsystem_id!r}: expected {INSTANCE}/<CLASS>/<MEMBER CODE>/<SUBSYSTEM>")
    make_all(args.out, args.agency or DEMO_AGENCIES, args.external or DEMO_EXTERNAL)
    print(f"certificates written to {args.out}")


if __name__ == "__main__":
    main()
