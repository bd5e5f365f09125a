"""The images `make up` built here: labelled with version, revision and source, carrying their bill of
materials, running as the users the manifests assume, and the agency front on a HAProxy with its
known security fixes."""

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.compose.stack import ROOT, ComposeStack

IMAGES = ("egov-platform", "egov-mongodb-standin", "egov-rabbitmq", "egov-agency-front")


def _run(image: str, *argv: str) -> str:
    done = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", argv[0], f"{image}:dev",
                           *argv[1:]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("image", IMAGES)
def test_every_image_is_labelled_and_carries_its_debian_sbom(stack: ComposeStack, image: str) -> None:
    labels = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}",
                                        f"{image}:dev"], capture_output=True, text=True, check=True).stdout)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.revision"].startswith(revision)
    assert labels["org.opencontainers.image.source"] and labels["org.opencontainers.image.title"] == image
    assert labels["vn.gov.egov.base.suite"] == "bookworm" and labels["vn.gov.egov.base.packages-sha256"]
    sbom = json.loads(_run(image, "cat", "/usr/share/egov/sbom/debian-packages.cdx.json"))
    assert sbom["bomFormat"] == "CycloneDX" and any(c["name"] == "libc6" for c in sbom["components"])


def test_the_platform_image_lists_its_python_packages_as_locked(stack: ComposeStack) -> None:
    sbom = json.loads(_run("egov-platform", "cat", "/usr/share/egov/sbom/egov-platform.cdx.json"))
    listed = {c["name"].lower(): c.get("version") for c in sbom["components"]}
    assert listed.get("grpcio") and listed.get("nameko") == "3.0.0rc11"
    assert "pytest" not in listed and "secantusdb" not in listed      # dev-only packages stay out
    assert _run("egov-platform", "id", "-u").strip() == "10001"


def test_the_agency_front_runs_a_haproxy_with_the_fix_of_cve_2023_40225(stack: ComposeStack) -> None:
    changelog = _run("egov-agency-front", "sh", "-c", "zcat /usr/share/doc/haproxy/changelog.Debian.gz")
    assert "CVE-2023-40225" in changelog
    assert _run("egov-agency-front", "haproxy", "-v").startswith("HAProxy version 2.6.")


def test_make_up_names_the_fix_when_the_engine_does_not_answer(tmp_path: Path) -> None:
    """An engine that does not answer (here: a socket nothing listens on) stops `make up` before it
    builds anything, with one message naming the command to run."""
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "EGOV_DOCKERD_WAIT_SECONDS": "2"}
    done = subprocess.run(["make", "--no-print-directory", "up", f"COMPOSE_ENV={tmp_path}/compose.env"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "ensure-docker: dockerd did not start" in done.stderr, done.stderr
    assert "sudo deploy/local/ensure-docker.sh" in done.stderr
    assert "Step 1" not in done.stdout and "building" not in done.stdout.lower()
