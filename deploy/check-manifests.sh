#!/usr/bin/env bash
# Static validation of the deployment files; no Docker engine or cluster needed (CI runs this).
#  1. every kustomize overlay builds, and every object validates against the Kubernetes 1.32 schemas
#     (strict) or, for the operators' custom resources, their CRD schemas;
#  2. docker-compose.yml validates against the Compose Specification schema.
# Needs the dev extra (kubernetes-validate, check-jsonschema) and kustomize v5 (kubectl embeds it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

"$VENV/bin/python" -m tests.deploy.manifests k8s/base k8s/overlays/dev k8s/overlays/prod
echo "docker-compose.yml: Compose Specification schema (check-jsonschema vendor.compose-spec)"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
