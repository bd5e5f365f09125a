#!/usr/bin/env bash
# Make sure what slips need is installed: DejaVu Sans (full Vietnamese coverage) for procedures to
# render Mẫu 01-03, and libzbar0 for the tests that decode the slips' QR codes. From Debian's
# packages when missing (CI and fresh machines), otherwise say what to do.
set -euo pipefail
missing=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || missing+=(libzbar0)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from Debian's packages (slip font, QR decoding in tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing ${missing[*]}: install them (sudo apt-get install ${missing[*]})." >&2
exit 1
