#!/usr/bin/env bash
# Make sure the shared RabbitMQ node on 127.0.0.1:5672 is up: start it if installed and stopped,
# install it from Debian's packages if missing (CI and fresh machines), otherwise say what to do.
set -euo pipefail
up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if up; then exit 0; fi
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "RabbitMQ is not installed: installing it from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  else
    echo "RabbitMQ is not running on 127.0.0.1:5672 and not installed." >&2
    echo "Install it (sudo apt-get install rabbitmq-server) or point EGOV_AMQP_URI at a broker." >&2
    exit 1
  fi
fi
echo "RabbitMQ is stopped: starting it (rabbitmq-server -detached)"
rabbitmq-server -detached
for _ in $(seq 1 60); do up && { rabbitmqctl await_startup >/dev/null 2>&1 || true; exit 0; }; sleep 1; done
echo "RabbitMQ did not come up within 60 s; see /var/log/rabbitmq/" >&2
exit 1
