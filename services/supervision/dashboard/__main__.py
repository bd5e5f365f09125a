"""`python -m services.supervision.dashboard`: the supervisors' dashboard on EGOV_DASHBOARD_ADDRESS
(default 127.0.0.1:8090), a client of the gateway at EGOV_DASHBOARD_GATEWAY (default 127.0.0.1:50051):
over TLS when EGOV_DASHBOARD_GATEWAY_CA_FILE names the CA of the gateway's certificate, which must
name EGOV_DASHBOARD_GATEWAY_SERVER_NAME (default: the address's host); plaintext when it is empty.
Chart.js is read from EGOV_DASHBOARD_CHART_JS (default: the copy `make install` vendors in .tools/;
the image carries its own, deploy/docker/Dockerfile).

Served by waitress, a production WSGI server (werkzeug's own server is for development): a pool of
threads, each request's body capped (the dashboard only takes a sign-in form), no version in the
Server header."""

import logging
import os
from pathlib import Path

from waitress import serve

from services.common.config import ConfigError, env
from services.supervision.dashboard.app import Dashboard
from services.supervision.dashboard.gateway_client import GatewayClient

ROOT = Path(__file__).resolve().parents[3]
MAX_BODY_BYTES = 64 * 1024
CHART_JS = ROOT / ".tools" / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    address = env("EGOV_DASHBOARD_ADDRESS", "127.0.0.1:8090")
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"EGOV_DASHBOARD_ADDRESS must be host:port, got {address!r}")
    key_file = env("EGOV_TOKEN_PUBLIC_KEY_FILE")
    chart_js = Path(env("EGOV_DASHBOARD_CHART_JS", str(CHART_JS)))
    if not chart_js.exists():
        raise ConfigError(f"Chart.js is missing at {chart_js}: run `make install` (it vendors it from npm)")
    public_key = _read("EGOV_TOKEN_PUBLIC_KEY_FILE", key_file)
    ca_file = os.environ.get("EGOV_DASHBOARD_GATEWAY_CA_FILE", "")      # empty: plaintext
    gateway = GatewayClient(env("EGOV_DASHBOARD_GATEWAY", "127.0.0.1:50051"),
                            _read("EGOV_DASHBOARD_GATEWAY_CA_FILE", ca_file) if ca_file else None,
                            os.environ.get("EGOV_DASHBOARD_GATEWAY_SERVER_NAME", ""))
    app = Dashboard(gateway, public_key, chart_js)
    serve(app, host=host or "127.0.0.1", port=int(port), threads=8, ident="egov-dashboard",
          max_request_body_size=MAX_BODY_BYTES)


def _read(variable: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from exc


if __name__ == "__main__":
    main()
