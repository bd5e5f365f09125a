"""docker-compose.yml follows the Compose Specification and runs what Kubernetes runs, the same way."""

import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from deploy.local.stack import SERVICES, SIMULATORS
from deploy.users import COMPONENTS, password_variable
from tests.deploy.inventory import (
    COMMANDS,
    PLATFORM,
    ROOT,
    compose,
    compose_env,
    compose_service,
    container_env,
    main_container,
    named,
    workload_named,
)
from tests.deploy.source_env import agency_front_reads, component_reads

INTERPOLATED = re.compile(r"\$\{(\w+)(?::\?[^}]*)?\}")    # ${X} and ${X:?message}: secrets (${X:-default} are settings)


def _compose_name(simulator: str) -> str:
    return simulator.replace("_", "-")


def test_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                           "vendor.compose-spec", str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_component_runs_its_entry_point() -> None:
    for component, command in COMMANDS.items():
        assert compose_service(component)["command"] == command, component
    assert compose_service("topology")["command"] == ["python", "-m", "services.common.events.broker"]
    for simulator in SIMULATORS:
        assert compose_service(_compose_name(simulator))["command"][:3] == ["python", "-m", f"simulators.{simulator}"]


def test_components_get_the_same_variables_as_in_kubernetes() -> None:
    for component in PLATFORM:
        in_k8s = container_env("k8s/overlays/dev", main_container(workload_named("k8s/overlays/dev", component)))
        assert set(compose_env(component)) == set(in_k8s), component
        assert component_reads(component) <= set(compose_env(component)), component
    assert component_reads("topology") <= set(compose_env("topology"))


def test_secrets_come_from_the_env_file_and_only_where_read() -> None:
    offered = set(_env_file_example())
    used = set(INTERPOLATED.findall((ROOT / "docker-compose.yml").read_text()))
    assert used == offered, "deploy/compose.env.example must hold exactly the variables compose interpolates"
    for component in (*PLATFORM, "topology"):
        from_env_file = {name for name, value in compose_env(component).items() if INTERPOLATED.search(value)}
        assert from_env_file <= component_reads(component), component


def test_start_order_waits_for_what_each_needs() -> None:
    def waits_for(name: str) -> dict[str, str]:
        return {dep: cond["condition"] for dep, cond in compose_service(name)["depends_on"].items()}

    assert waits_for("topology") == {"rabbitmq": "service_healthy"}
    assert waits_for("rabbitmq") == {"init-secrets": "service_completed_successfully",
                                     "broker-users": "service_completed_successfully"}
    assert waits_for("database-users") == {"mongodb": "service_healthy"}
    for svc in SERVICES:
        needs = waits_for(svc)
        assert needs["topology"] == "service_completed_successfully", svc
        assert needs["database-users"] == "service_completed_successfully", svc
    # Every nameko service compose runs (SERVICES, and one not yet in the local stack alike).
    nameko = {name for name, service in compose()["services"].items()
              if service.get("command", [])[:2] == ["nameko", "run"]}
    gateway_waits = waits_for("gateway")
    assert set(SERVICES) <= nameko and set(gateway_waits) == nameko | {"catalogue-import"}
    assert gateway_waits["catalogue-import"] == "service_completed_successfully"
    # The outbound exchange is registered once the gateway serves and the external systems listen.
    assert waits_for("register-outbound") == {"gateway": "service_healthy", "population": "service_healthy",
                                              "business-registry": "service_healthy"}
    assert waits_for("agency-front") == {"gateway": "service_healthy",
                                         "register-outbound": "service_completed_successfully"}
    # The shipped catalogue is imported once the database serves; procedures picks it up when it lands.
    assert waits_for("catalogue-import") == {"database-users": "service_completed_successfully"}
    # `up --wait` fails on a one-shot job that exits unless a service waits for it to complete.
    waited_for = {dep for service in compose()["services"].values() for dep, cond in
                  service.get("depends_on", {}).items() if cond["condition"] == "service_completed_successfully"}
    one_shots = ("init-secrets", "broker-users", "database-users", "provider-tls", "topology", "register-outbound",
                 "catalogue-import")
    assert set(one_shots) <= waited_for, set(one_shots) - waited_for
    for name, service in compose()["services"].items():
        if name not in (*one_shots, "jaeger", "otel-collector"):
            assert "healthcheck" in service, f"{name} has no health check"


def test_service_health_checks_ask_their_own_process() -> None:
    port = compose_env("identity")["EGOV_PROBE_ADDRESS"].rsplit(":", 1)[1]
    for svc in SERVICES:
        assert compose_service(svc)["healthcheck"]["test"] == [
            "CMD", "python", "-m", "deploy.docker.healthcheck", "http", f"127.0.0.1:{port}/readyz"], svc
    socket = compose_env("gateway")["EGOV_GATEWAY_AGENCY_SOCKET"]
    assert compose_service("gateway")["healthcheck"]["test"] == [
        "CMD", "python", "-m", "deploy.docker.healthcheck", "grpc", f"unix://{socket}"]


def test_every_file_a_variable_names_is_mounted_in_the_container() -> None:
    """A path under /etc/egov that a variable names must be inside one of the container's volumes:
    otherwise the process stops at start-up on a missing key (notifications once lost its caller keys)."""
    for name in (*SERVICES, "gateway"):
        service, reads = compose_service(name), component_reads(name)
        mounts = [v.split(":")[1] for v in service.get("volumes", []) if isinstance(v, str)]
        for variable, value in compose_env(name).items():
            names_a_path = variable.endswith(("_FILE", "_DIR", "_CA", "_CERT", "_KEY"))
            if variable in reads and names_a_path and value.startswith("/etc/egov/"):
                assert any(value == m or value.startswith(m.rstrip("/") + "/") for m in mounts), \
                    f"{name}: {variable}={value} is in none of its volumes {mounts}"


def test_each_component_connects_as_its_own_user() -> None:
    for component in COMPONENTS:
        env = compose_env(component)
        broker, mongo = password_variable(component, "BROKER"), password_variable(component, "MONGO")
        assert env["EGOV_AMQP_URI"].startswith(f"amqp://{component}:${{{broker}"), component
        assert env["EGOV_MONGO_URI"].startswith(f"mongodb://{component}:${{{mongo}"), component
    mongo_passwords = {password_variable(c, "MONGO") for c in COMPONENTS}
    broker_passwords = {password_variable(c, "BROKER") for c in COMPONENTS}
    assert set(compose_env("database-users")) == {"EGOV_MONGO_ROOT_URI", *mongo_passwords}
    assert set(compose_env("broker-users")) == {"EGOV_AMQP_URI", *broker_passwords}


def test_platform_containers_are_locked_down_and_published_on_loopback_only() -> None:
    root_jobs = {"init-secrets", "broker-users", "provider-tls"}   # they hand files to 10001 in volumes
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith("egov-platform:"):
            assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
            assert service["pull_policy"] == "never", name   # built here by make images, never pulled
            assert "user" not in service or name in root_jobs, name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def _listening_ports() -> set[tuple[str, int]]:
    """(compose service, port) for every port the simulators and the platform listen on."""
    ports = set()
    for simulator in SIMULATORS:
        name = _compose_name(simulator)
        argv = compose_service(name)["command"]
        ports |= {(name, int(argv[i + 1])) for i, arg in enumerate(argv) if arg.endswith("port")}
    env = compose_env("gateway")
    ports |= {("gateway", int(env[name].rsplit(":", 1)[1]))
              for name in ("EGOV_GATEWAY_ADDRESS", "EGOV_GATEWAY_OUTBOUND_ADDRESS")}
    web = int(env["EGOV_WEB_ADDRESS"].rsplit(":", 1)[1])
    ports |= {("payments", web), ("postal", web), ("otel-collector", 4318), ("mongodb", 27017), ("rabbitmq", 5672)}
    return ports


def _env_file_example() -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", (ROOT / "deploy" / "compose.env.example").read_text(), re.MULTILINE))


def test_every_address_reaches_a_listening_port() -> None:
    listening = _listening_ports()
    example = _env_file_example()
    for component in PLATFORM:
        env = compose_env(component)
        addresses = {name: value for name, value in env.items()
                     if name.endswith(("_URL", "_ADDRESS", "_ENDPOINT", "_URI")) and "0.0.0.0" not in value}
        addresses["EGOV_SMTP"] = f"{env['EGOV_SMTP_HOST']}:{env['EGOV_SMTP_PORT']}"
        for name, value in addresses.items():
            value = INTERPOLATED.sub(lambda m: example[m.group(1)], value)
            parts = urllib.parse.urlsplit(value if "//" in value else f"tcp://{value}")
            port = parts.port or {"mongodb": 27017, "amqp": 5672}.get(parts.scheme)
            assert (parts.hostname, port) in listening, f"{component}: {name}={value} reaches nothing"


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_simulator_arguments_are_ones_it_accepts(simulator: str) -> None:
    done = subprocess.run([sys.executable, "-m", f"simulators.{simulator}", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    accepted = set(re.findall(r"--[\w-]+", done.stdout))
    name = _compose_name(simulator)
    in_compose = {arg for arg in compose_service(name)["command"] if arg.startswith("--")}
    in_k8s = {arg for arg in main_container(named("k8s/overlays/dev", "Deployment", name))["command"]
              if arg.startswith("--")}
    assert in_compose == in_k8s and in_compose <= accepted, (in_compose, in_k8s, accepted)


def test_the_agency_front_publishes_the_agency_port_and_reaches_the_gateway_s_socket() -> None:
    front, env = compose_service("agency-front"), compose_env("agency-front")
    missing = agency_front_reads() - set(env)
    assert not missing, f"the agency front reads {sorted(missing)} but is not given them"
    published = {re.sub(r"\$\{\w+:-(\d+)\}", r"\1", p).rsplit(":", 1)[0] for p in front["ports"]}
    assert f"127.0.0.1:{env['EGOV_GATEWAY_AGENCY_ADDRESS'].rsplit(':', 1)[1]}" in published
    assert env["EGOV_GATEWAY_AGENCY_SOCKET"] == compose_env("gateway")["EGOV_GATEWAY_AGENCY_SOCKET"]
    socket_dir = str(Path(env["EGOV_GATEWAY_AGENCY_SOCKET"]).parent)
    for name in ("agency-front", "gateway"):
        assert f"agency-socket:{socket_dir}" in compose_service(name)["volumes"], name
    assert "./deploy/agency-front/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in front["volumes"]
    assert "./deploy/agency-front/refuse-oversized.lua:/usr/local/etc/haproxy/refuse-oversized.lua:ro" in \
        front["volumes"]
    assert front["user"] == "10001:10001"      # the gateway's user: its socket is 0600
    assert not any(p.endswith(f":{env['EGOV_GATEWAY_AGENCY_ADDRESS'].rsplit(':', 1)[1]}")
                   for p in compose_service("gateway")["ports"])
