"""The supervisors' dashboard in compose and Kubernetes: it gets every variable its code reads and the
files they name, reaches the gateway's TLS port by a name the gateway's certificate carries, and
nothing else; its Chart.js goes from `make install`'s vendored copy into the image's build context and
to the path the deployments give it."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client

from deploy.certs import SERVER_NAMES
from services.supervision.dashboard import __main__ as dashboard_main
from services.supervision.dashboard.app import Dashboard
from services.supervision.dashboard.gateway_client import GatewayClient
from tests.deploy.inventory import (
    ROOT,
    compose_env,
    compose_service,
    config_data,
    container_env,
    main_container,
    named,
    objects,
    pod_spec,
    secret_env,
    workload_named,
)
from tests.deploy.source_env import component_reads

CLUSTERS = ("k8s/overlays/dev", "k8s/overlays/prod")
FILE_VARIABLES = ("EGOV_TOKEN_PUBLIC_KEY_FILE", "EGOV_DASHBOARD_GATEWAY_CA_FILE")


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _k8s_env(overlay: str) -> dict[str, str]:
    return container_env(overlay, main_container(workload_named(overlay, "dashboard")))


def _k8s_files(overlay: str) -> dict[str, tuple[str, str]]:
    """Each file the dashboard's container sees from a Secret: path -> (Secret, key)."""
    workload = workload_named(overlay, "dashboard")
    volumes = {vol["name"]: vol for vol in pod_spec(workload)["volumes"]}
    files = {}
    for mount in main_container(workload)["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret:
            files |= {f"{mount['mountPath']}/{item['path']}": (secret["secretName"], item["key"])
                      for item in secret["items"]}
    return files


def test_compose_and_kubernetes_give_the_dashboard_every_variable_its_code_reads() -> None:
    reads = component_reads("dashboard")
    assert {"EGOV_DASHBOARD_GATEWAY", "EGOV_DASHBOARD_GATEWAY_CA_FILE", "EGOV_DASHBOARD_CHART_JS"} <= reads
    assert reads <= set(compose_env("dashboard")), sorted(reads - set(compose_env("dashboard")))
    for overlay in CLUSTERS:
        env = _k8s_env(overlay)
        assert reads <= set(env), f"{overlay}: {sorted(reads - set(env))}"
        assert set(env) == set(compose_env("dashboard")), overlay
        assert not secret_env(main_container(workload_named(overlay, "dashboard"))), "it holds no credential"


def test_the_files_the_dashboard_reads_are_mounted_and_no_private_key() -> None:
    env = compose_env("dashboard")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose_service("dashboard")["volumes"]}
    for variable in FILE_VARIABLES:
        assert str(Path(env[variable]).parent) in mounts, f"compose: {variable}={env[variable]} is not mounted"
    # The token-public-key volume (the gateway's), never token-keys; the CA-only volume, never gateway-tls.
    assert mounts[str(Path(env["EGOV_TOKEN_PUBLIC_KEY_FILE"]).parent)] == "token-public-key"
    assert mounts[str(Path(env["EGOV_DASHBOARD_GATEWAY_CA_FILE"]).parent)] == "gateway-ca"
    assert all(options.endswith(":ro") for options in compose_service("dashboard")["volumes"])
    for overlay in CLUSTERS:
        files, config = _k8s_files(overlay), config_data(overlay)
        assert set(files) == {config[v] for v in FILE_VARIABLES}, overlay
        assert files[config["EGOV_TOKEN_PUBLIC_KEY_FILE"]] == ("egov-token-keys", "token-signing.pub.pem")
        assert files[config["EGOV_DASHBOARD_GATEWAY_CA_FILE"]] == ("egov-gateway-ca", "ca.crt")


def test_chart_js_goes_from_the_vendored_copy_into_the_image_where_the_deployments_say() -> None:
    makefile = (ROOT / "Makefile").read_text()
    vendored = re.search(r"^CHARTJS := (\S+)$", makefile, re.MULTILINE)
    assert vendored, "the Makefile names the vendored Chart.js as CHARTJS"
    # `make install` vendors it where the dashboard looks by default (make run), and `make images` makes sure of it.
    assert ROOT / vendored.group(1) == dashboard_main.CHART_JS
    assert re.search(r"^images: .*\$\(CHARTJS\)", makefile, re.MULTILINE)
    # build-images.sh copies it into the build context, which .dockerignore lets through...
    script = (ROOT / "deploy" / "docker" / "build-images.sh").read_text()
    copied = re.search(r'^\s*cp "\$vendored" (\S+)$', script, re.MULTILINE)
    assert copied and "sed -n 's/^CHARTJS := //p' Makefile" in script
    assert re.search(r"^copy_chartjs$", script, re.MULTILINE), "build-images.sh never calls copy_chartjs"
    context_file = copied.group(1)
    assert f"!{Path(context_file).parent}/" in (ROOT / ".dockerignore").read_text().splitlines()
    # ...the runtime stage puts it at one path, and compose and Kubernetes tell the dashboard that path.
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    runtime = dockerfile.split(" AS runtime", 1)[1]
    (destination,) = re.findall(rf"^COPY {re.escape(context_file)} (\S+)$", runtime, re.MULTILINE)
    assert compose_env("dashboard")["EGOV_DASHBOARD_CHART_JS"] == destination
    for overlay in CLUSTERS:
        assert _k8s_env(overlay)["EGOV_DASHBOARD_CHART_JS"] == destination, overlay


def test_the_dashboard_reaches_the_gateway_s_tls_port_by_a_name_its_certificate_carries() -> None:
    env = compose_env("dashboard")
    gateway_port = _port(compose_env("gateway")["EGOV_GATEWAY_ADDRESS"])
    assert env["EGOV_DASHBOARD_GATEWAY"] == f"gateway:{gateway_port}"
    assert env["EGOV_DASHBOARD_GATEWAY_SERVER_NAME"] in SERVER_NAMES      # deploy/certs.py, compose's init-secrets
    assert compose_service("dashboard")["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    for overlay in CLUSTERS:
        config = config_data(overlay)
        port = _port(config["EGOV_GATEWAY_ADDRESS"])
        assert config["EGOV_DASHBOARD_GATEWAY"] == f"gateway:{port}"
        assert port in {p["port"] for p in named(overlay, "Service", "gateway")["spec"]["ports"]}
    # dev: the test CA of `make certs` (docs/DEVOPS.md); prod: the name cert-manager's Certificate carries.
    assert config_data("k8s/overlays/dev")["EGOV_DASHBOARD_GATEWAY_SERVER_NAME"] in SERVER_NAMES
    certificates = yaml.safe_load_all((ROOT / "k8s/components/cert-manager/certificates.yaml").read_text())
    (public,) = [c for c in certificates if c["spec"]["secretName"] == "egov-gateway-tls"]
    assert config_data("k8s/overlays/prod")["EGOV_DASHBOARD_GATEWAY_SERVER_NAME"] in public["spec"]["dnsNames"]


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_the_dashboard_is_reached_on_its_port_and_reaches_the_gateway_only(overlay: str) -> None:
    config = config_data(overlay)
    port, gateway_port = _port(config["EGOV_DASHBOARD_ADDRESS"]), _port(config["EGOV_GATEWAY_ADDRESS"])
    workload = workload_named(overlay, "dashboard")
    labels = workload["spec"]["template"]["metadata"]["labels"]
    container = main_container(workload)
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert named(overlay, "Service", "dashboard")["spec"]["ports"][0]["targetPort"] == "http"

    def selects(policy: dict[str, Any]) -> bool:
        selector = policy["spec"]["podSelector"]
        return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
            labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))

    policies = [p for p in objects(overlay, "NetworkPolicy") if selects(p)]
    egress = [rule for p in policies for rule in p["spec"].get("egress", [])]
    ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
    dns = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    # Not the platform tier: no broker, no database, no collector.
    assert [rule for rule in egress if rule["ports"] != dns] == [
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}],
         "ports": [{"port": gateway_port, "protocol": "TCP"}]}]
    assert ingress == [{"ports": [{"port": port, "protocol": "TCP"}]}]
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for b in objects(overlay, "PodDisruptionBudget")}
    assert "dashboard" in budgets


def test_compose_publishes_the_dashboard_on_loopback_and_checks_its_health() -> None:
    service, port = compose_service("dashboard"), _port(compose_env("dashboard")["EGOV_DASHBOARD_ADDRESS"])
    (published,) = service["ports"]
    assert re.fullmatch(rf"127\.0\.0\.1:\$\{{EGOV_COMPOSE_DASHBOARD_PORT:-\d+\}}:{port}", published)
    assert service["healthcheck"]["test"] == [
        "CMD", "python", "-m", "deploy.docker.healthcheck", "http", f"127.0.0.1:{port}/healthz"]
    # The gateway's agency port and the paygate's page are published too: no two on one host port.
    host_ports = [re.sub(r"\$\{\w+:-(\d+)\}", r"\1", p).split(":")[1]
                  for s in ("gateway", "agency-front", "paygate", "population-sms", "mailbox", "rabbitmq", "dashboard")
                  for p in compose_service(s)["ports"]]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_the_probed_path_answers_without_the_gateway(tmp_path: Path) -> None:
    """/healthz, the path compose and the kubelet probe, answers from the process alone."""
    chart = tmp_path / "chart.umd.min.js"
    chart.write_text("")
    app = Dashboard(GatewayClient("127.0.0.1:1"), b"", chart)
    answer = Client(app).get("/healthz")
    assert answer.status_code == 200 and answer.json == {"status": "ok"}
