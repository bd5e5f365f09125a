#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the dashboard's browser test (tests/e2e/test_dashboard.py
# drives it headless through Playwright with the system browser's executable: browsers are never
# downloaded). From Debian's packages when missing (CI and fresh machines), otherwise say what to do.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium from Debian's packages (the dashboard's browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "missing chromium: install it (sudo apt-get install chromium)." >&2
exit 1
