"""One-shot set-up for docker compose (the `provider-tls` service): what the simulated message
providers serve with, and what notifications trusts and logs in with.

Made once into the `provider-tls` volume (a CA of the providers' own, and a server certificate for
each of mailbox, sms and push from it) and given to the platform's user (10001); the SMTP password
and the SMS/push API key come from deploy/compose.env (EGOV_SMTP_PASSWORD, EGOV_PROVIDER_API_KEY)
and are written as files on every start, so a changed value applies. In production the providers
are real and these are the Secrets of docs/DEVOPS.md (egov-notifications-providers).
"""

import argparse
import os
import sys
from pathlib import Path

from deploy.certs import issue, make_ca, write_secret

PLATFORM_UID = 10001
PROVIDERS = ("mailbox", "sms", "push")


def make_certificates(out: Path) -> None:
    if (out / "ca.crt").exists():
        return
    ca = make_ca("message providers test CA")
    for name in PROVIDERS:
        server = issue(ca, name, server_names=(name,), client=False)
        write_secret(out / f"{name}.key", server.key_pem)
        (out / f"{name}.crt").write_bytes(server.certificate_pem)
    (out / "ca.crt").write_bytes(ca.certificate_pem)
    print(f"made the providers' test CA and server certificates for {', '.join(PROVIDERS)} in {out}")


def write_credentials(out: Path) -> None:
    for variable, name in (("EGOV_SMTP_PASSWORD", "smtp-password"), ("EGOV_PROVIDER_API_KEY", "api-key")):
        value = os.environ.get(variable, "")
        if not value:
            raise SystemExit(f"provider-tls: environment variable {variable} is required")
        (out / name).unlink(missing_ok=True)
        write_secret(out / name, value.encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    make_certificates(args.out)
    write_credentials(args.out)
    for path in args.out.iterdir():
        os.chown(path, PLATFORM_UID, PLATFORM_UID)
        path.chmod(0o400 if path.suffix == ".key" or path.name in ("smtp-password", "api-key") else 0o444)


if __name__ == "__main__":
    main(sys.argv[1:])
