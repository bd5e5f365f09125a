"""The Dockerfiles build the images the manifests assume, from the locks (read statically; tests/compose
builds and runs them), and the collector configuration is whole."""

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
from deploy.docker.build_requirements import build_requirements
from deploy.docker.compose_init import PLATFORM_UID
from deploy.rabbitmq.definitions import rabbitmq_password_hash
from tests.deploy.inventory import ROOT, compose_env, compose_service, objects, pod_spec

DOCKERFILE = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
DOCKERFILES = [ROOT / "deploy" / "docker" / "Dockerfile", *sorted((ROOT / "deploy" / "docker").glob("*.Dockerfile"))]


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\w+)\s*$", DOCKERFILE, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _instructions(stage: str, keyword: str) -> list[str]:
    text = _stages()[stage].replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(keyword + " ")]


def test_runtime_is_python_311_as_a_fixed_non_root_user() -> None:
    # The base: the debootstrapped one here (build-images.sh passes it), python:3.11-slim-bookworm elsewhere.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", DOCKERFILE, re.MULTILINE)
    assert re.findall(r"^FROM (\S+) AS (\w+)$", DOCKERFILE, re.MULTILINE) == [
        ("${BASE_IMAGE}", "builder"), ("${BASE_IMAGE}", "runtime")]
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
    assert "/opt/tools" not in runtime and "pip install" not in runtime and "apt-get" not in runtime
    builder_runs = " ".join(_instructions("builder", "RUN"))
    assert "/opt/venv/bin/pip install -q --no-deps --no-build-isolation ." in builder_runs
    assert "[dev]" not in builder_runs


def test_every_install_comes_from_the_locks_with_hashes() -> None:
    builder = _stages()["builder"]
    assert "PIP_NO_INDEX=1" in builder and "PIP_FIND_LINKS=/wheels" in builder   # nothing downloaded in a build
    runs = " ".join(_instructions("builder", "RUN"))
    for lock in ("runtime", "build"):
        assert f"--require-hashes -r requirements/{lock}.txt" in runs, lock
    standin = (ROOT / "deploy" / "docker" / "mongodb-standin.Dockerfile").read_text()
    assert "--require-hashes -r /tmp/standin.txt" in standin
    makefile = (ROOT / "Makefile").read_text()
    assert "pip sync -q --python $(PY) requirements/dev.txt" in makefile      # make install, and so CI
    assert "--require-hashes -r requirements/compose.txt" in (ROOT / "deploy/local/ensure-docker.sh").read_text()
    script = (ROOT / "deploy" / "docker" / "build-images.sh").read_text()
    assert "--require-hashes" in script and "--network none" in script


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {name.lower().replace("_", "-"): version
            for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", text, re.MULTILINE)}


def test_the_locks_hold_what_pyproject_pins() -> None:
    """Every == pin of pyproject.toml, at that version, in the lock installed with it: `make lock` was
    run after the last change (the lead re-locks after merging branches that add dependencies)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev, runtime = _pins("dev.txt"), _pins("runtime.txt")
    for requirement, lock in ([(r, runtime) for r in pyproject["project"]["dependencies"]]
                              + [(r, dev) for r in pyproject["project"]["optional-dependencies"]["dev"]]):
        if "==" not in requirement:
            continue
        name, version = requirement.split("==")
        name = name.split("[")[0].strip().lower().replace("_", "-")
        assert lock.get(name) == version.split("#")[0].strip(), f"{name}=={version}: run make lock"
    assert all(dev.get(name) == version for name, version in runtime.items()), "runtime.txt and dev.txt disagree"


def test_every_image_is_labelled_with_version_revision_and_source() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        for label in ("version", "revision", "source", "title", "licenses", "base.name"):
            assert f"org.opencontainers.image.{label}=" in text, (dockerfile.name, label)


def test_no_registry_haproxy_runs_anywhere() -> None:
    """The agency front is Debian's haproxy with Debian's security fixes (agency-front.Dockerfile);
    the official 2.6.12 image predates the fix of CVE-2023-40225."""
    for path in (ROOT / "docker-compose.yml", *sorted((ROOT / "k8s").rglob("*.yaml"))):
        assert not re.search(r"image:\s*haproxy:", path.read_text()), path


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


def test_builder_installs_the_build_tools_pinned_in_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = [r.split("#")[0].strip() for r in pyproject["project"]["optional-dependencies"]["dev"]]
    assert build_requirements(pyproject) == [r for r in dev if r.startswith(
        ("grpcio-tools==", "mypy-protobuf==", "cyclonedx-bom=="))]
    assert set(_pins("build.txt")) >= {"grpcio-tools", "mypy-protobuf", "cyclonedx-bom"}
    assert not any("secantusdb" in r for r in pyproject["project"]["dependencies"]), "secantusdb is dev-only"


def test_build_context_leaves_out_generated_code_and_secrets() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"protos/**/*_pb2*.py", "deploy/compose.env", "!build/wheelhouse/", "!requirements/"} <= set(ignored)


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
                                               "gateway-ca", "outbound", "outbound-client", "external",
                                               "caller-keys", "gateway-caller-key")}
    for path in dirs.values():
        path.mkdir()
    argv = ["--token-keys", str(dirs["keys"]), "--token-public-key", str(dirs["public"]),
            "--broker-definitions", str(dirs["definitions"]), "--certs", str(dirs["certs"]),
            "--gateway-tls", str(dirs["tls"]), "--gateway-log-keys", str(dirs["log-keys"]),
            "--gateway-ca", str(dirs["gateway-ca"]),
            "--identity-outbound", str(dirs["outbound"]), "--gateway-outbound-client", str(dirs["outbound-client"]),
            "--external-systems", str(dirs["external"]), "--caller-keys", str(dirs["caller-keys"]),
            "--gateway-caller-key", str(dirs["gateway-caller-key"])]
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
    # The dashboard's: the CA that issued the gateway's certificate, under the name it reads, and no key.
    dashboard_ca = Path(compose_env("dashboard")["EGOV_DASHBOARD_GATEWAY_CA_FILE"])
    assert [path.name for path in dirs["gateway-ca"].iterdir()] == [dashboard_ca.name]
    assert (dirs["gateway-ca"] / dashboard_ca.name).read_bytes() == (dirs["tls"] / "ca.crt").read_bytes()
    # The caller keys: the gateway's private key for the gateway, the public halves for the services.
    assert (dirs["gateway-caller-key"] / Path(config["EGOV_GATEWAY_CALLER_KEY_FILE"]).name).exists()
    for variable in ("EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE", "EGOV_OPERATOR_PUBLIC_KEY_FILE"):
        assert (dirs["caller-keys"] / Path(compose_env("procedures")[variable]).name).exists(), variable
    assert not any(path.name.endswith(".key") for path in dirs["caller-keys"].iterdir())
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
