"""The prod overlay's alerts read metrics the code exports, and cert-manager issues every certificate
Secret the pods mount that the platform itself can issue."""

import re

from tests.deploy.inventory import ROOT, objects, pod_spec

PROD = "k8s/overlays/prod"


def _instruments() -> set[str]:
    """Prometheus names of the OTLP instruments created in services/ and gateway/ (dots to `_`,
    counters with `_total`)."""
    names = set()
    for package in ("services", "gateway"):
        for path in (ROOT / package).rglob("*.py"):
            for kind, name in re.findall(r"create_(counter|gauge|histogram)\(\s*\"([\w.]+)\"", path.read_text()):
                base = name.replace(".", "_")
                names |= {f"{base}_total"} if kind == "counter" else {base, f"{base}_count", f"{base}_bucket"}
    return names


def test_the_alerts_a_platform_team_needs_are_there() -> None:
    (rule,) = objects(PROD, "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}
    for needed in ("EgovDeadLettersWaiting", "EgovArchiveIndexLagging", "EgovOutboxBacklog", "EgovGatewayErrorRate",
                   "EgovCertificateExpiresSoon"):
        assert needed in alerts, needed
    ours = {name for expr in alerts.values() for name in re.findall(r"\b(egov_[a-z_]+)\b", expr)}
    assert ours <= _instruments(), f"alerts read metrics no code exports: {sorted(ours - _instruments())}"


def test_what_is_scraped_exists() -> None:
    (collector,) = [s for s in objects(PROD, "Service") if s["metadata"]["name"] == "otel-collector"]
    (monitor,) = objects(PROD, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in collector["spec"]["ports"]}
    (pods,) = objects(PROD, "PodMonitor")
    assert pods["spec"]["selector"]["matchLabels"] == {"egov.gov.vn/role": "broker"}


def test_cert_manager_writes_the_secrets_the_gateway_and_identity_mount() -> None:
    issued = {c["spec"]["secretName"]: c["spec"] for c in objects(PROD, "Certificate")}
    mounted = {vol["secret"]["secretName"] for w in objects(PROD, "StatefulSet") + objects(PROD, "Deployment")
               for vol in pod_spec(w).get("volumes", []) if "secret" in vol}
    for secret in ("egov-gateway-tls", "egov-gateway-internal-tls", "egov-identity-outbound-tls"):
        assert secret in issued and secret in mounted, secret
    # The province's CA is asked for public names only; the in-cluster name comes from the internal CA.
    assert "gateway" not in issued["egov-gateway-tls"]["dnsNames"]
    assert "gateway" in issued["egov-gateway-internal-tls"]["dnsNames"]
    assert issued["egov-gateway-internal-tls"]["issuerRef"] == issued["egov-identity-outbound-tls"]["issuerRef"]
    assert issued["egov-identity-outbound-tls"]["commonName"] == "VN/GOV/HUE/identity"
