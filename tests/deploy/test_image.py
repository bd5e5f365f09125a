"""deploy/docker/Dockerfile builds the runtime image the manifests assume (read statically: there is
no Docker engine here), and the collector configuration is whole."""

import base64
import json
import os
import re
import shlex
import stat
import tomllib
from pathlib import Path

import pytest
import yaml

from deploy.docker import compose_init
from deploy.docker.codegen_requirements import codegen_requirements
from deploy.docker.compose_init import PLATFORM_UID
from deploy.rabbitmq.definitions import rabbitmq_password_hash
from tests.deploy.inventory import ROOT, compose_env, compose_service, objects, pod_spec

DOCKERFILE = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\w+)\s*$", DOCKERFILE, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _instructions(stage: str, keyword: str) -> list[str]:
    text = _stages()[stage].replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(keyword + " ")]


def test_runtime_is_python_311_slim_as_a_fixed_non_root_user() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", DOCKERFILE, re.MULTILINE)
    assert re.findall(r"^FROM (\S+) AS (\w+)$", DOCKERFILE, re.MULTILINE) == [
        ("${PYTHON_IMAGE}", "builder"), ("${PYTHON_IMAGE}", "runtime")]
    (user,) = _instructions("runtime", "USER")
    assert user == f"{PLATFORM_UID}:{PLATFORM_UID}"
    env = " ".join(_instructions("runtime", "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env
    for overlay in ("k8s/overlays/dev", "k8s/overlays/prod"):
        for workload in objects(overlay, "Deployment"):
            for container in (*pod_spec(workload).get("initContainers", []), *pod_spec(workload)["containers"]):
                if "egov-platform" in container["image"]:
                    context = {**pod_spec(workload)["securityContext"], **container.get("securityContext", {})}
                    assert context["runAsUser"] == PLATFORM_UID, workload["metadata"]["name"]


def test_runtime_gets_the_installed_venv_and_no_build_tools() -> None:
    runtime = _stages()["runtime"]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "/opt/codegen" not in runtime and "pip install" not in runtime and "apt-get" not in runtime
    builder_runs = " ".join(_instructions("builder", "RUN"))
    assert "/opt/venv/bin/pip install ." in builder_runs and "[dev]" not in builder_runs


def test_builder_generates_code_with_the_makefiles_proto_command() -> None:
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"^proto:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe, "Makefile has no proto target"
    make_args = shlex.split(recipe.group(1))
    make_args = make_args[make_args.index("grpc_tools.protoc") + 1:]
    (codegen,) = [run for run in _instructions("builder", "RUN") if "grpc_tools.protoc" in run]
    docker_args = shlex.split(codegen)
    docker_args = docker_args[docker_args.index("grpc_tools.protoc") + 1:]
    # Same options; the files are every .proto under protos/ in both.
    assert make_args[-1] == "$(PROTO_FILES)" and "PROTO_FILES := $(shell find protos -name '*.proto')" in makefile
    assert docker_args[docker_args.index("$(find"):] == ["$(find", "protos", "-name", "*.proto)"]
    assert make_args[:-1] == docker_args[:docker_args.index("$(find")]


def test_builder_installs_the_code_generators_pinned_in_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert codegen_requirements(pyproject) == [r for r in dev if r.startswith(("grpcio-tools==", "mypy-protobuf=="))]
    assert not any("secantusdb" in r for r in pyproject["project"]["dependencies"]), "secantusdb is dev-only"


def test_build_context_leaves_out_generated_code_and_secrets() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"protos/**/*_pb2*.py", "deploy/compose.env"} <= set(ignored)


def test_collector_pipelines_use_only_what_is_defined_and_listen_where_sent() -> None:
    for path in ("deploy/otel/collector.yaml", "k8s/base/otel/collector.yaml"):
        assert (ROOT / path).read_text() == (ROOT / "deploy/otel/collector.yaml").read_text(), path
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    for pipeline in config["service"]["pipelines"].values():
        for section in ("receivers", "processors", "exporters"):
            assert set(pipeline[section]) <= set(config[section]), pipeline
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    endpoint = compose_env("gateway")["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.rsplit(":", 1)[1] == http.rsplit(":", 1)[1] == "4318"


@pytest.mark.skipif(os.geteuid() != 0, reason="compose's init-secrets runs as root to hand files to 10001")
def test_compose_init_makes_keys_once_and_the_broker_user_every_time(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = {name: tmp_path / name for name in ("keys", "public", "definitions", "certs", "tls", "log-keys",
                                               "outbound", "outbound-client", "external")}
    for path in dirs.values():
        path.mkdir()
    argv = ["--token-keys", str(dirs["keys"]), "--token-public-key", str(dirs["public"]),
            "--broker-definitions", str(dirs["definitions"]), "--certs", str(dirs["certs"]),
            "--gateway-tls", str(dirs["tls"]), "--gateway-log-keys", str(dirs["log-keys"]),
            "--identity-outbound", str(dirs["outbound"]), "--gateway-outbound-client", str(dirs["outbound-client"]),
            "--external-systems", str(dirs["external"])]
    monkeypatch.setenv("EGOV_AMQP_URI", "amqp://egov:first@rabbitmq:5672/")
    compose_init.main(argv)
    private = (dirs["keys"] / compose_init.PRIVATE_KEY).read_bytes()
    log_keys = {path.name: path.read_bytes() for path in dirs["log-keys"].iterdir()}
    monkeypatch.setenv("EGOV_AMQP_URI", "amqp://egov:second@rabbitmq:5672/")
    compose_init.main(argv)

    assert (dirs["keys"] / compose_init.PRIVATE_KEY).read_bytes() == private
    # The gateway's files under the names config.env gives, readable by the platform's user only.
    config = compose_env("gateway")
    for variable in ("EGOV_GATEWAY_TLS_CERT", "EGOV_GATEWAY_TLS_KEY", "EGOV_GATEWAY_TLS_CLIENT_CA",
                     "EGOV_GATEWAY_LOG_KEY_FILE", "EGOV_GATEWAY_SEAL_KEY_FILE"):
        folder, name = Path(config[variable]).parent.name, Path(config[variable]).name
        made = dirs["tls" if folder == "tls" else "log-keys"] / name
        assert made.stat().st_uid == PLATFORM_UID, variable
    # The outbound exchange's files, under the names identity and the gateway read, and the simulators'.
    identity_env = compose_env("identity")
    for component, variable in (("identity", "EGOV_OUTBOUND_TLS_CERT"), ("identity", "EGOV_OUTBOUND_TLS_KEY"),
                                ("identity", "EGOV_OUTBOUND_TLS_CA"), ("gateway", "EGOV_GATEWAY_OUTBOUND_CLIENT_CERT"),
                                ("gateway", "EGOV_GATEWAY_OUTBOUND_CLIENT_KEY")):
        file = Path((identity_env if component == "identity" else config)[variable])
        made = dirs["outbound" if file.parent.name == "outbound" else "outbound-client"] / file.name
        assert made.stat().st_uid == PLATFORM_UID, variable
    for simulator in ("population", "business-registry"):
        argv_of = compose_service(simulator)["command"]
        for flag in ("--tls-cert", "--tls-key", "--client-ca"):
            assert (dirs["external"] / Path(argv_of[argv_of.index(flag) + 1]).name).stat().st_uid == PLATFORM_UID
    assert {path.name: path.read_bytes() for path in dirs["log-keys"].iterdir()} == log_keys, \
        "the message log keys are made once and never replaced"
    key = dirs["keys"] / compose_init.PRIVATE_KEY
    assert (key.stat().st_uid, stat.S_IMODE(key.stat().st_mode)) == (PLATFORM_UID, 0o600)
    public = (dirs["public"] / compose_init.PUBLIC_KEY).read_bytes()
    assert public == (dirs["keys"] / compose_init.PUBLIC_KEY).read_bytes()
    assert not list(dirs["public"].glob("*token-signing.pem")), "the gateway's volume must not get the private key"
    (user,) = json.loads((dirs["definitions"] / "users.json").read_text())["users"]
    salt = base64.b64decode(user["password_hash"])[:4]
    assert user["password_hash"] == rabbitmq_password_hash("second", salt)
