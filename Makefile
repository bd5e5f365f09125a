# Every workflow of the platform. `make run` and `make test` are the two that matter first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PROTO_FILES := $(shell find protos -name '*.proto')
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: certs install proto run test test-unit test-integration test-e2e test-deploy lint clean up down logs ps bench

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip 'setuptools<81' wheel
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed proto ## create the virtualenv and generate code

proto: $(VENV)/.installed $(PROTO_FILES) ## generate Python code and typed stubs from protos/
	PATH=$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos --python_out=protos --grpc_python_out=protos \
		--mypy_out=protos --mypy_grpc_out=protos $(PROTO_FILES)

certs: $(VENV)/.installed ## test CA, gateway/agency/external certificates, message log keys (var/certs)
	$(PY) -m deploy.certs --out var/certs

run: install ## bring the platform up on this machine and drive one demo journey
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	$(PY) -m deploy.local.run

test: install ## install from scratch, start what the tests need, run every suite
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	$(MAKE) lint
	deploy/check-manifests.sh
	$(PY) -m pytest -q tests/deploy
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests/integration
	$(PY) -m pytest -q tests/e2e

test-unit: install
	deploy/local/ensure-haproxy.sh
	$(PY) -m pytest -q tests/unit

test-integration: install
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	$(PY) -m pytest -q tests/integration

test-e2e: install
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	$(PY) -m pytest -q tests/e2e

BUF := .tools/node_modules/.bin/buf
$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@1.75.0

test-deploy: install ## kustomize overlays, Kubernetes and compose schemas, files true to the code
	deploy/check-manifests.sh
	$(PY) -m pytest -q tests/deploy

bench: install ## measure the platform against this machine's raw limits (not part of make test; ~6 min)
	deploy/local/ensure-rabbitmq.sh
	deploy/local/ensure-haproxy.sh
	$(PY) -m bench

lint: install $(BUF) ## buf lint on protos/, ruff, strict mypy on services/, gateway/ and deploy/
	$(BUF) lint protos
	$(VENV)/bin/ruff check services gateway simulators deploy tests bench
	$(VENV)/bin/mypy services gateway deploy

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache var
	find protos -name '*_pb2*.py*' -delete

# -- docker compose (needs a Docker engine) --------------------------------------------------------
COMPOSE := docker compose --env-file deploy/compose.env

deploy/compose.env: ## secrets for compose, generated once from the example
	sed -e "s/CHANGE-ME-broker-password/$$(openssl rand -hex 24)/" \
	    -e "s/CHANGE-ME-paygate-secret/$$(openssl rand -hex 32)/" \
	    -e "s/CHANGE-ME-postal-secret/$$(openssl rand -hex 32)/" deploy/compose.env.example > $@
	chmod 600 $@

up: deploy/compose.env ## the whole stack with MongoDB, RabbitMQ, collector and Jaeger
	$(COMPOSE) up --detach --build
down:
	$(COMPOSE) down
logs:
	$(COMPOSE) logs --follow --tail=200
ps:
	$(COMPOSE) ps
