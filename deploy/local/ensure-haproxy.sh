#!/usr/bin/env bash
# Make sure HAProxy (the agency front, deploy/agency-front/) is installed: from Debian's packages
# when missing (CI and fresh machines), otherwise say what to do. Tests and the benchmark start
# their own fronts; nothing runs as a system service.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "HAProxy is not installed: installing it from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  exit 0
fi
echo "HAProxy (2.6 or newer) is not installed: install it (sudo apt-get install haproxy)." >&2
exit 1
