"""The agency front on this machine: HAProxy with deploy/agency-front/haproxy.cfg, as compose and
Kubernetes run it beside the gateway (the gateway's side is gateway/agency_front.py)."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "agency-front" / "haproxy.cfg"


def haproxy_command() -> list[str]:
    binary = shutil.which("haproxy")
    if binary is None:
        raise RuntimeError("haproxy is not installed; deploy/local/ensure-haproxy.sh installs it "
                           "(make run and make test call it)")
    return [binary, "-db", "-f", str(CONFIG)]   # -db: in the foreground, logging to stdout


def front_env(gateway_env: dict[str, str], workdir: Path) -> dict[str, str]:
    """The front's environment from the gateway's. HAProxy finds the key of `<name>.crt` at
    `<name>.key` (as Kubernetes TLS secrets lay them out), so the gateway's certificate and key are
    linked into `workdir` under those names."""
    workdir.mkdir(parents=True, exist_ok=True)
    certificate, key = workdir / "tls.crt", workdir / "tls.key"
    for link, target in ((certificate, gateway_env["EGOV_GATEWAY_TLS_CERT"]),
                         (key, gateway_env["EGOV_GATEWAY_TLS_KEY"])):
        link.unlink(missing_ok=True)
        link.symlink_to(Path(target).resolve())
    return {**gateway_env, "EGOV_GATEWAY_TLS_CERT": str(certificate)}
