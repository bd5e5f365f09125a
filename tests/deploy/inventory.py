"""The deployable components as the deployment files describe them: compose services and rendered
Kubernetes objects, with helpers to read their commands, environment and ports."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from deploy.local.stack import SERVICES
from deploy.users import COMPONENTS
from tests.deploy.manifests import render

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = (*SERVICES, "gateway")
SECRETS = {"egov-secrets", "egov-token-keys", "egov-gateway-tls", "egov-gateway-ca", "egov-gateway-log-keys",
           "egov-agency-client-ca",
           "egov-gateway-internal-tls", "egov-gateway-outbound-client", "egov-identity-outbound-tls",
           "egov-external-simulators", "egov-notifications-providers", "egov-provider-simulators",
           "egov-broker-admin", "egov-broker-passwords", "egov-caller-keys", "egov-gateway-caller-key",
           *(f"egov-{c}-credentials" for c in COMPONENTS), *(f"egov-{c}-mongodb-password" for c in COMPONENTS)}


def service_command(service: str) -> list[str]:
    return ["nameko", "run", "--config", "deploy/nameko.yaml", SERVICES[service]]


# The supervisors' dashboard is no platform component (no broker, no database, no topology to declare):
# a web client of the gateway, run from the same image.
DASHBOARD_COMMAND = ["python", "-m", "services.supervision.dashboard"]
COMMANDS = {**{svc: service_command(svc) for svc in SERVICES}, "gateway": ["python", "-m", "gateway"],
            "dashboard": DASHBOARD_COMMAND}


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose()["services"][name]
    return service


def compose_env(name: str) -> dict[str, str]:
    env = compose_service(name).get("environment", {})
    assert isinstance(env, dict), f"compose service {name}: write environment as a mapping"
    return {key: str(value) for key, value in env.items()}


def objects(overlay: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [obj for obj in render(overlay) if kind is None or obj["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in objects(overlay, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{overlay}: expected one {kind} named {name}, found {len(found)}"
    return found[0]


def workload_named(overlay: str, name: str) -> dict[str, Any]:
    """The Deployment or StatefulSet named so (the gateway is a StatefulSet, the services Deployments)."""
    found = [obj for obj in objects(overlay) if obj["kind"] in ("Deployment", "StatefulSet")
             and obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{overlay}: expected one workload named {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any], init: bool = True) -> list[dict[str, Any]]:
    pod = pod_spec(workload)
    return [*(pod.get("initContainers", []) if init else []), *pod["containers"]]


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod_spec(workload)["containers"][0]
    return container


def config_data(overlay: str) -> dict[str, str]:
    """The egov-config ConfigMap (its generated name carries a hash suffix)."""
    maps = [obj for obj in objects(overlay, "ConfigMap") if obj["metadata"]["name"].startswith("egov-config-")]
    assert len(maps) == 1, f"{overlay}: expected one egov-config ConfigMap"
    data: dict[str, str] = maps[0]["data"]
    return data


def container_env(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """Every variable a container gets: envFrom the egov ConfigMap, then env (values or secret refs)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name.startswith("egov-config"), f"unexpected envFrom {name}"
        env.update(config_data(overlay))
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = f"secret:{ref['name']}/{ref['key']}" if ref else str(var.get("value", ""))
    return env


def secret_env(container: dict[str, Any]) -> set[str]:
    return {var["name"] for var in container.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}
