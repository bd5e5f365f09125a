#!/usr/bin/env bash
# `make images`: every image the compose stack runs, built on this machine from Debian's and PyPI's
# packages only, no registry pulled and nothing downloaded inside a build (docker build --network none).
#
#   1. a Debian bookworm root file system (debootstrap --variant=minbase, security updates applied),
#      then one root per kind of image, each with its Debian packages installed in a chroot on the host,
#      each imported as a base image (`docker import`) with a CycloneDX list of its Debian packages:
#        egov-base/python    python3.11 (+ venv)  -> egov-platform, egov-mongodb-standin
#        egov-base/rabbitmq  rabbitmq-server      -> egov-rabbitmq
#        egov-base/haproxy   haproxy              -> egov-agency-front
#   2. build/wheelhouse: the wheels of requirements/{runtime,build,standin}.txt, checked against their
#      hashes (pip download --require-hashes), which the Dockerfiles install with --no-index; and
#      build/chartjs: the dashboard's Chart.js, copied from what `make install` vendored from npm
#      (the Makefile's CHARTJS);
#   3. the four images (deploy/docker/*Dockerfile), labelled with version, revision and source.
#
# Base images are made once per recipe (the tag is a hash of this script's recipe) and reused;
# EGOV_REBUILD_BASE=1 makes them again (to take new Debian security updates). EGOV_DEBIAN_MIRROR
# overrides the mirror (default: the first one apt uses on this machine), e.g. a snapshot for a
# bit-for-bit rebuild. Prints the image sizes and the time taken.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

# Debian's client, made for this engine (an other one earlier on PATH may want buildx).
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}
TAG=${EGOV_IMAGE_TAG:-dev}
SUITE=bookworm
WORK=build/rootfs
WHEELHOUSE=build/wheelhouse
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' || true)" ]; then REVISION="$REVISION-modified"; fi
SOURCE=$(git config --get remote.origin.url 2>/dev/null || pwd)

# Debian packages per kind of base image. Changing a line changes that base's tag: it is made again.
declare -A PACKAGES=(
  [python]="python3.11 python3.11-venv python3-distutils ca-certificates"
  [rabbitmq]="rabbitmq-server"
  [haproxy]="haproxy"
)
RECIPE_VERSION=1     # bump when the way a root is made changes

say() { printf '%s\n' "$*"; }
fail() { say "build-images: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root: run 'sudo make images'"
command -v debootstrap >/dev/null || fail "debootstrap is missing: run deploy/local/ensure-docker.sh (it installs it)"
timeout 10 "$DOCKER" info >/dev/null 2>&1 || fail "the Docker engine does not answer: run deploy/local/ensure-docker.sh"

debian_mirror() {
  if [ -n "${EGOV_DEBIAN_MIRROR:-}" ]; then say "$EGOV_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -v security | head -n 1 || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
                          /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || fail "no Debian mirror found in /etc/apt: set EGOV_DEBIAN_MIRROR"
  say "$uri"
}

recipe_tag() {   # the base image's tag: a hash of what goes into it
  printf '%s\n' "$RECIPE_VERSION" "$SUITE" "${PACKAGES[$1]}" | sha256sum | cut -c1-12
}

in_root() { chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "${@:2}"; }

make_minbase() {
  local root=$WORK/minbase
  if [ -f "$root/.complete" ] && [ -z "${EGOV_REBUILD_BASE:-}" ]; then return; fi
  rm -rf "$root"; mkdir -p "$WORK"
  local mirror; mirror=$(debian_mirror)
  say "debootstrap $SUITE (minbase) into $root"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log: $WORK/debootstrap.log)"; }
  # Security and point-release updates: the host's own apt sources (the same Debian release).
  rm -f "$root/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || cp /etc/apt/sources.list "$root/etc/apt/"
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
  touch "$root/.complete"
}

make_base() {   # $1: kind -> prints the image reference egov-base/<kind>:<recipe tag>
  local kind=$1 tag image root
  tag=$(recipe_tag "$kind"); image="egov-base/$kind:$tag"
  if [ -z "${EGOV_REBUILD_BASE:-}" ] && "$DOCKER" image inspect "$image" >/dev/null 2>&1; then say "$image"; return; fi
  make_minbase >&2
  root=$WORK/$kind
  rm -rf "$root"; cp -a "$WORK/minbase" "$root"; rm -f "$root/.complete"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  say "installing ${PACKAGES[$kind]} into $root" >&2
  {
    in_root "$root" apt-get update -qq
    in_root "$root" apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade
    # shellcheck disable=SC2086  # the package list is words
    in_root "$root" apt-get -y -qq --no-install-recommends install ${PACKAGES[$kind]}
    in_root "$root" apt-get clean
  } >"$WORK/$kind.log" 2>&1 || { tail -n 20 "$WORK/$kind.log" >&2; fail "installing into $root failed (log: $WORK/$kind.log)"; }
  if [ "$kind" = python ]; then
    ln -sf python3.11 "$root/usr/bin/python3"; ln -sf python3.11 "$root/usr/bin/python"
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/man/* "$root"/usr/share/info/* \
         "$root"/var/log/* "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
  : > "$root/etc/resolv.conf"
  mkdir -p "$root/usr/share/egov/sbom"
  python3 -m deploy.docker.deb_sbom "$root" "egov-base/$kind" > "$root/usr/share/egov/sbom/debian-packages.cdx.json"
  local packages_hash
  packages_hash=$(python3 -c 'import json,sys,hashlib; c=json.load(open(sys.argv[1]))["components"]; print(hashlib.sha256(json.dumps([x["purl"] for x in c]).encode()).hexdigest()[:16])' \
                  "$root/usr/share/egov/sbom/debian-packages.cdx.json")
  say "docker import $image" >&2
  tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
    --change "ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "LABEL vn.gov.egov.base.suite=$SUITE vn.gov.egov.base.packages-sha256=$packages_hash" \
    --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
  rm -rf "$root"
  say "$image"
}

fill_wheelhouse() {
  say "wheelhouse: requirements/runtime.txt, build.txt, standin.txt (hashes checked) into $WHEELHOUSE"
  mkdir -p "$WHEELHOUSE"
  python3 -m pip download -q --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
    -r requirements/runtime.txt -r requirements/build.txt -r requirements/standin.txt -d "$WHEELHOUSE" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  [ "$(find "$WHEELHOUSE" -name '*.whl' | wc -l)" -gt 0 ] || fail "the wheelhouse is empty"
}

copy_chartjs() {
  local vendored
  vendored=$(sed -n 's/^CHARTJS := //p' Makefile)
  [ -f "$vendored" ] || fail "the dashboard's Chart.js is missing at $vendored: run 'make install' (it vendors it from npm)"
  say "dashboard: $vendored into build/chartjs/"
  mkdir -p build/chartjs
  cp "$vendored" build/chartjs/chart.umd.min.js
}

build() {   # $1 image, $2 Dockerfile, $3 base image
  say "docker build $1 (FROM $3)"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q --network none -f "$2" -t "$1" \
    --build-arg BASE_IMAGE="$3" --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    --build-arg SOURCE="$SOURCE" . >/dev/null
}

python_base=$(make_base python)
rabbitmq_base=$(make_base rabbitmq)
haproxy_base=$(make_base haproxy)
fill_wheelhouse
copy_chartjs
build "egov-platform:$TAG" deploy/docker/Dockerfile "$python_base"
build "egov-mongodb-standin:$TAG" deploy/docker/mongodb-standin.Dockerfile "$python_base"
build "egov-rabbitmq:$TAG" deploy/docker/rabbitmq.Dockerfile "$rabbitmq_base"
build "egov-agency-front:$TAG" deploy/docker/agency-front.Dockerfile "$haproxy_base"

say "images built in $((SECONDS - started)) s:"
"$DOCKER" image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' \
  | grep -E "egov-(platform|mongodb-standin|rabbitmq|agency-front):$TAG |egov-base/" || true
