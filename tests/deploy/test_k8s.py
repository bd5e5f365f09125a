"""The Kubernetes manifests build, validate, and are true to the code they run. Over 300 lines: one
check per promise the manifests make, all on the same rendered overlays."""

import re
import urllib.parse
from pathlib import Path
from typing import Any

import opentelemetry.sdk.environment_variables as otel_env
import pytest

from deploy.local.stack import SERVICES, SINGLE_REPLICA
from deploy.users import COMPONENTS, mongo_roles, password_variable
from tests.deploy.inventory import (
    COMMANDS,
    PLATFORM,
    ROOT,
    SECRETS,
    config_data,
    container_env,
    containers,
    main_container,
    named,
    objects,
    pod_spec,
    secret_env,
    workload_named,
)
from tests.deploy.manifests import OVERLAYS, validate
from tests.deploy.source_env import agency_front_reads, all_reads, component_reads

CLUSTERS = ("k8s/overlays/dev", "k8s/overlays/prod")
# Components that must run exactly one replica: the archive reads its stream in order from its offset.
# What runs once in production runs once in a replicated local stack too (deploy/local/stack.py).
SINGLETONS = set(SINGLE_REPLICA)
WORKLOADS = ("Deployment", "StatefulSet")
OTEL_NAMES = {getattr(otel_env, name) for name in dir(otel_env) if name.startswith("OTEL_")}


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_every_object_validates(overlay: str) -> None:
    errors = [error for error in map(validate, objects(overlay)) if error]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_every_component_runs_its_entry_point(overlay: str) -> None:
    for component, command in COMMANDS.items():
        assert main_container(workload_named(overlay, component))["command"] == command, component


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_topology_is_declared_before_each_component_starts(overlay: str) -> None:
    for component in PLATFORM:
        (init,) = pod_spec(workload_named(overlay, component))["initContainers"]
        assert init["command"] == ["python", "-m", "services.common.events.broker"], component
        assert component_reads("topology") <= set(container_env(overlay, init)), component


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_each_component_gets_every_variable_its_code_reads(overlay: str) -> None:
    for component in PLATFORM:
        env = container_env(overlay, main_container(workload_named(overlay, component)))
        missing = component_reads(component) - set(env)
        assert not missing, f"{overlay}: {component} reads {sorted(missing)} but the Deployment does not set them"


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_every_variable_set_is_read_by_the_code(overlay: str) -> None:
    # and the components' broker passwords, which the dev broker's init container reads (deploy/users.py)
    known = all_reads() | OTEL_NAMES | {password_variable(c, "BROKER") for c in COMPONENTS}
    for workload in objects(overlay, "Deployment") + objects(overlay, "StatefulSet"):
        for container in containers(workload):
            if _runs_platform_image(container):
                unread = set(container_env(overlay, container)) - known
                assert not unread, f"{workload['metadata']['name']}/{container['name']} sets {sorted(unread)}"


def test_collector_reads_its_environment() -> None:
    collector = main_container(named("k8s/overlays/dev", "Deployment", "otel-collector"))
    config = (ROOT / "deploy" / "otel" / "collector.yaml").read_text()
    for var in collector["env"]:
        assert var["name"] == "GOMEMLIMIT" or f"${{env:{var['name']}}}" in config, var["name"]


def _runs_platform_image(container: dict[str, Any]) -> bool:
    return bool(container["image"].rsplit("/", 1)[-1].split(":")[0] == "egov-platform")


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_secrets_go_only_to_components_that_read_them(overlay: str) -> None:
    for component in PLATFORM:
        for container in containers(workload_named(overlay, component)):
            extra = secret_env(container) - component_reads(component)
            assert not extra, f"{component}/{container['name']} gets secrets it never reads: {sorted(extra)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_committed(overlay: str) -> None:
    assert not objects(overlay, "Secret"), "Secret values must not be in the repository"
    referenced: set[str] = set()
    for workload in objects(overlay, "Deployment") + objects(overlay, "StatefulSet"):
        referenced |= {vol["secret"]["secretName"] for vol in pod_spec(workload).get("volumes", []) if "secret" in vol}
        for container in containers(workload):
            referenced |= {var["valueFrom"]["secretKeyRef"]["name"] for var in container.get("env", [])
                           if "secretKeyRef" in var.get("valueFrom", {})}
    assert referenced <= SECRETS, referenced - SECRETS


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_token_keys_reach_identity_private_and_gateway_public_only(overlay: str) -> None:
    config = config_data(overlay)

    def key_files(component: str) -> set[str]:
        workload = workload_named(overlay, component)
        volumes = {vol["name"]: vol for vol in pod_spec(workload).get("volumes", [])}
        files = set()
        for mount in main_container(workload).get("volumeMounts", []):
            secret = volumes[mount["name"]].get("secret", {})
            if secret.get("secretName") == "egov-token-keys":
                files |= {f"{mount['mountPath']}/{item['path']}" for item in secret["items"]}
        return files

    assert key_files("identity") == {config["EGOV_TOKEN_PRIVATE_KEY_FILE"]}
    assert key_files("gateway") == {config["EGOV_TOKEN_PUBLIC_KEY_FILE"]}
    assert all(not key_files(svc) for svc in SERVICES if svc != "identity")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(overlay: str) -> None:
    for workload in objects(overlay, "Deployment") + objects(overlay, "StatefulSet"):
        name, pod = workload["metadata"]["name"], pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in containers(workload):
            security = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"requests", "limits"} <= set(container["resources"]), where
            assert all(port.get("name") for port in container.get("ports", [])), f"{where}: unnamed port"
        for container in pod["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, name


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_platform_pods_spread_and_stop_gracefully(overlay: str) -> None:
    for component in PLATFORM:
        pod = pod_spec(workload_named(overlay, component))
        assert pod["terminationGracePeriodSeconds"] >= 30, component
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert "kubernetes.io/hostname" in keys, component


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_services_are_probed_in_their_own_pod_within_192Mi(overlay: str) -> None:
    """Liveness asks the pod's own process (never the broker, MongoDB or the shared RPC queue),
    readiness may ask its dependencies: both on the port the code serves its probes on."""
    probe_port = _port(config_data(overlay)["EGOV_PROBE_ADDRESS"])
    for svc in SERVICES:
        container = main_container(workload_named(overlay, svc))
        assert {"name": "probes", "containerPort": probe_port, "protocol": "TCP"} in container["ports"], svc
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "probes"}, svc
        assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "probes"}, svc
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}, svc
        # The dependency checks' own timeout ends before the kubelet gives up on the probe.
        assert float(config_data(overlay)["EGOV_PROBE_TIMEOUT_SECONDS"]) < container["readinessProbe"]["timeoutSeconds"]
        limit = container["resources"]["limits"]["memory"]
        assert re.fullmatch(r"\d+Mi", limit) and int(limit[:-2]) <= 192, f"{svc}: memory limit {limit}"


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_ports_are_the_ones_the_code_binds(overlay: str) -> None:
    config = config_data(overlay)
    gateway = main_container(workload_named(overlay, "gateway"))
    grpc_port, agency_port = _port(config["EGOV_GATEWAY_ADDRESS"]), _port(config["EGOV_GATEWAY_AGENCY_ADDRESS"])
    outbound_port = _port(config["EGOV_GATEWAY_OUTBOUND_ADDRESS"])
    assert [p["containerPort"] for p in gateway["ports"]] == [grpc_port, outbound_port]
    [front] = [c for c in containers(workload_named(overlay, "gateway")) if c["name"] == "agency-front"]
    assert [p["containerPort"] for p in front["ports"]] == [agency_port]
    # This pod's gateway on its own agency socket: no TLS, so no certificate name is required of any CA.
    socket = f"unix://{config['EGOV_GATEWAY_AGENCY_SOCKET']}"
    for probe in ("startupProbe", "readinessProbe"):
        assert gateway[probe]["exec"]["command"] == ["python", "-m", "deploy.docker.healthcheck", "grpc", socket]
    assert gateway["livenessProbe"]["exec"]["command"] == [
        "python", "-m", "deploy.docker.healthcheck", "grpc-alive", socket]
    gateway_service = named(overlay, "Service", "gateway")
    assert {p["port"] for p in gateway_service["spec"]["ports"]} == {grpc_port, agency_port, outbound_port}
    # identity calls it by the Service's name, which the gateway's server certificate carries.
    assert config["EGOV_OUTBOUND_ADDRESS"] == f"gateway:{outbound_port}"
    web_port = _port(config["EGOV_WEB_ADDRESS"])
    for svc in ("payments", "postal"):
        ports = main_container(workload_named(overlay, svc))["ports"]
        assert [p["containerPort"] for p in ports] == [_port(config["EGOV_PROBE_ADDRESS"]), web_port], svc
    for service in objects(overlay, "Service"):
        selector = service["spec"].get("selector", {}).get("app.kubernetes.io/name")
        workloads = [w for w in objects(overlay, "Deployment") + objects(overlay, "StatefulSet")
                     if w["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name") == selector]
        assert workloads, f"Service {service['metadata']['name']} selects nothing"
        named_ports = {p["name"] for c in containers(workloads[0], init=False) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named_ports, f"Service {service['metadata']['name']}: {port}"


def _callback_routes() -> dict[str, list[str]]:
    """The POST routes each service's nameko class serves over HTTP."""
    routes = {}
    for svc in SERVICES:
        source = ROOT / (SERVICES[svc].split(":")[0].replace(".", "/") + ".py")
        text = source.read_text()
        # Third parties call in only through the body-limited entrypoint (services/common/runtime/web.py).
        assert "@http(" not in text, f"{svc}: a plain @http entrypoint reads bodies without a limit"
        routes[svc] = re.findall(r'@bounded_http\("POST", "([^"]+)"\)', text)
    return {svc: paths for svc, paths in routes.items() if paths}


def test_callback_urls_name_the_services_routes() -> None:
    routes = _callback_routes()
    assert set(routes) == {"payments", "postal"}, "only payments and postal serve HTTP callbacks"
    for overlay in CLUSTERS:
        config = config_data(overlay)
        for svc, var in (("payments", "EGOV_PAYMENTS_CALLBACK_URL"), ("postal", "EGOV_POSTAL_CALLBACK_URL")):
            assert urllib.parse.urlsplit(config[var]).path in routes[svc], (overlay, var)


def test_dev_addresses_reach_a_service_port_in_the_namespace() -> None:
    overlay = "k8s/overlays/dev"
    ports = {(s["metadata"]["name"], p["port"]) for s in objects(overlay, "Service") for p in s["spec"]["ports"]}
    config = config_data(overlay)
    addresses = {name: value for name, value in config.items()
                 if name.endswith(("_URL", "_ADDRESS", "_ENDPOINT")) and "0.0.0.0" not in value}
    addresses["EGOV_SMTP"] = f"{config['EGOV_SMTP_HOST']}:{config['EGOV_SMTP_PORT']}"
    for name, value in addresses.items():
        parts = urllib.parse.urlsplit(value if "//" in value else f"tcp://{value}")
        assert (parts.hostname, parts.port) in ports, f"{name}={value} reaches no Service port"


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_scaling_and_disruption_cover_the_platform(overlay: str) -> None:
    targets = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in objects(overlay, "HorizontalPodAutoscaler")}
    assert set(targets) == {"gateway", "procedures"}
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for b in objects(overlay, "PodDisruptionBudget")}
    assert set(PLATFORM) <= budgets
    if overlay.endswith("prod"):
        assert all(spec["minReplicas"] >= 2 for spec in targets.values())
        fixed = [d for d in objects(overlay, "Deployment") if d["metadata"]["name"] not in set(targets) | SINGLETONS]
        assert all(d["spec"]["replicas"] >= 2 for d in fixed)
        for name in SINGLETONS:
            singleton = workload_named(overlay, name)
            assert singleton["spec"]["replicas"] == 1 and singleton["spec"]["strategy"]["type"] == "Recreate", name
    else:
        assert all(spec["maxReplicas"] == 1 for spec in targets.values())
        assert all(w["spec"]["replicas"] == 1 for w in objects(overlay, "Deployment") + objects(overlay, "StatefulSet")
                   if w["metadata"]["name"] not in targets)


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_network_is_denied_by_default_and_only_the_edge_is_open(overlay: str) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in objects(overlay, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    open_to_all = set()
    for spec in policies.values():
        for rule in spec.get("ingress", []):
            if "from" not in rule:  # no `from`: any source
                selector = spec["podSelector"]
                names = ({selector["matchLabels"]["app.kubernetes.io/name"]} if "matchLabels" in selector
                         else set(selector["matchExpressions"][0]["values"]))
                open_to_all |= {(name, port["port"]) for name in names for port in rule["ports"]}
    config = config_data(overlay)
    web = _port(config["EGOV_WEB_ADDRESS"])
    gateway = {("gateway", _port(config[name])) for name in ("EGOV_GATEWAY_ADDRESS", "EGOV_GATEWAY_AGENCY_ADDRESS")}
    dashboard = ("dashboard", _port(config["EGOV_DASHBOARD_ADDRESS"]))      # supervisors' browsers
    assert open_to_all == gateway | {("payments", web), ("postal", web), dashboard}


def test_prod_pins_every_image() -> None:
    for workload in objects("k8s/overlays/prod", "Deployment"):
        for container in containers(workload):
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith((":latest", ":dev")), image
    (cluster,) = objects("k8s/overlays/prod", "RabbitmqCluster")
    assert re.search(r":\d+\.\d+\.\d+", cluster["spec"]["image"])
    (mongodb,) = objects("k8s/overlays/prod", "MongoDBCommunity")
    assert re.fullmatch(r"\d+\.\d+\.\d+", mongodb["spec"]["version"])
    users = {user["name"]: user for user in mongodb["spec"]["users"]}
    # One user per component deployed (SERVICES, the archive, the gateway), readWrite on its own database only.
    owners = {d["metadata"]["name"] for d in objects("k8s/overlays/prod", "Deployment")
              if main_container(d).get("command", [])[:2] == ["nameko", "run"]} | {"gateway"}
    assert set(PLATFORM) <= owners and set(users) == owners == set(COMPONENTS)
    for owner, user in users.items():
        assert [{"role": r["name"], "db": r["db"]} for r in user["roles"]] == mongo_roles(owner), owner
        assert user["passwordSecretRef"]["name"] == f"egov-{owner}-mongodb-password", owner
    assert [name for name, user in users.items() if any(r["db"] == "egov_gateway" for r in user["roles"])] == [
        "gateway"]


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_outbound_listener_is_reached_from_identity_only(overlay: str) -> None:
    outbound = _port(config_data(overlay)["EGOV_GATEWAY_OUTBOUND_ADDRESS"])
    sources = []
    for policy in objects(overlay, "NetworkPolicy"):
        spec = policy["spec"]
        if spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") != "gateway":
            continue
        for rule in spec.get("ingress", []):
            if any(port["port"] == outbound for port in rule.get("ports", [])) or "ports" not in rule:
                sources.append(rule.get("from"))
    assert sources == [[{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "identity"}}}]], sources


@pytest.mark.parametrize("overlay", CLUSTERS)
def test_the_agency_front_shares_the_gateway_s_socket_and_gets_what_its_configuration_reads(overlay: str) -> None:
    pod = workload_named(overlay, "gateway")
    by_name = {c["name"]: c for c in containers(pod, init=False)}
    front, gateway = by_name["agency-front"], by_name["gateway"]
    missing = agency_front_reads() - set(container_env(overlay, front))
    assert not missing, f"{overlay}: the agency front reads {sorted(missing)} but is not given them"
    socket_dir = str(Path(config_data(overlay)["EGOV_GATEWAY_AGENCY_SOCKET"]).parent)
    for container in (front, gateway):
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get(socket_dir) == "agency-socket", container["name"]
    front_mounts = {m["mountPath"]: m["name"] for m in front["volumeMounts"]}
    assert front_mounts["/usr/local/etc/haproxy"] == "agency-front-config"
    assert str(Path(config_data(overlay)["EGOV_GATEWAY_TLS_CERT"]).parent) in front_mounts
    # The socket is 0600: the front must run as the gateway's user.
    assert pod_spec(pod)["securityContext"]["runAsUser"] == 10001 and "runAsUser" not in front.get(
        "securityContext", {})


def test_the_kubernetes_copy_of_the_agency_front_configuration_is_the_same() -> None:
    for name in ("haproxy.cfg", "refuse-oversized.lua"):
        assert (ROOT / "k8s" / "base" / "agency-front" / name).read_text() == \
            (ROOT / "deploy" / "agency-front" / name).read_text(), name


def test_the_operators_pods_reach_the_kubernetes_api_and_their_peers() -> None:
    """RabbitMQ's peer discovery and the MongoDB agent's readiness reports go through the API server;
    peers reach each other on every port (epmd, inter-node, CLI); the topology operator the management API."""
    policies = objects("k8s/overlays/prod", "NetworkPolicy")

    def rules(role: str, direction: str) -> list[dict[str, Any]]:
        return [rule for p in policies if p["spec"]["podSelector"].get("matchLabels") == {"egov.gov.vn/role": role}
                for rule in p["spec"].get(direction, [])]

    for role in ("broker", "database"):
        api = [r for r in rules(role, "egress") if {443, 6443} <= {p["port"] for p in r.get("ports", [])}]
        assert api, f"{role} pods cannot reach the Kubernetes API"
        peers = {"podSelector": {"matchLabels": {"egov.gov.vn/role": role}}}
        assert any(r.get("to") == [peers] and "ports" not in r for r in rules(role, "egress")), role
        assert any(r.get("from") == [peers] and "ports" not in r for r in rules(role, "ingress")), role
    assert any(15672 in {p["port"] for p in r.get("ports", [])} and "namespaceSelector" in r["from"][0]
               for r in rules("broker", "ingress"))
