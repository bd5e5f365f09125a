"""Render the kustomize overlays and validate every object: Kubernetes kinds with kubernetes-validate
(strict, against KUBERNETES_VERSION), the operators' custom resources with tests/deploy/crd_schemas.

    python -m tests.deploy.manifests k8s/base k8s/overlays/dev k8s/overlays/prod

kustomize comes from `kustomize` or `kubectl kustomize` (kustomize v5 or newer).
"""

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.deploy.crd_schemas import SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.32.0"
OVERLAYS = ("k8s/base", "k8s/overlays/dev", "k8s/overlays/prod")


@cache
def kustomize_command() -> tuple[str, ...]:
    if shutil.which("kustomize"):
        command: tuple[str, ...] = ("kustomize",)
        version = subprocess.run(["kustomize", "version"], capture_output=True, text=True).stdout
    elif shutil.which("kubectl"):
        command = ("kubectl", "kustomize")
        version = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True).stdout
    else:
        raise RuntimeError("kustomize (or kubectl, which embeds it) is not installed")
    found = re.search(r"v(\d+)\.\d+\.\d+", version.split("Kustomize Version:")[-1])
    if not found or int(found.group(1)) < 5:
        raise RuntimeError(f"kustomize v5 or newer is needed, found: {version.strip()!r}")
    return command


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """The objects `kustomize build <overlay>` produces."""
    build = "build" if kustomize_command() == ("kustomize",) else None
    argv = [*kustomize_command(), *([build] if build else []), str(ROOT / overlay)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def validate(obj: dict[str, Any]) -> str | None:
    """An error message, or None when the object is valid."""
    what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    schema = SCHEMAS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    try:
        if schema is not None:
            jsonschema.validate(obj, schema)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return f"{what}: no schema for {obj.get('apiVersion')} {obj.get('kind')} (add it to crd_schemas.py)"
    except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
        path = ".".join(str(p) for p in exc.path) if hasattr(exc, "path") else ""
        return f"{what}: {path}: {exc.message}"
    return None


def main(overlays: list[str]) -> int:
    failures = 0
    print(f"kustomize: {' '.join(kustomize_command())}; Kubernetes schemas {KUBERNETES_VERSION} (strict)")
    for overlay in overlays or OVERLAYS:
        objects = render(overlay)
        errors = [error for error in map(validate, objects) if error]
        failures += len(errors)
        print(f"{overlay}: {len(objects)} objects, {len(errors)} invalid")
        for error in errors:
            print(f"  {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
