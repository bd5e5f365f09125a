# The MongoDB stand-in for machines that cannot pull the mongo image: SecantusDB (PyPI, GPL-2.0-only,
# beta), a MongoDB-wire-compatible server on WiredTiger, with SCRAM authentication on. For compose on
# this machine only (deploy/docker/compose.mongodb-standin.yml); never in production. Built offline by
# build-images.sh from the lock requirements/standin.txt.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels
COPY build/wheelhouse/ /wheels/
COPY requirements/standin.txt /tmp/standin.txt
RUN python3 -m venv /opt/secantus \
 && /opt/secantus/bin/pip install -q --require-hashes -r /tmp/standin.txt \
 && /opt/secantus/bin/pip uninstall -q -y pip

FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="egov-mongodb-standin" \
      org.opencontainers.image.description="SecantusDB as a MongoDB stand-in for the egov-platform compose stack (development only)" \
      org.opencontainers.image.licenses="GPL-2.0-only" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
ENV PATH=/opt/secantus/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 HOME=/tmp
RUN groupadd --system --gid 999 mongodb \
 && useradd --system --uid 999 --gid 999 --no-create-home --home-dir /data --shell /usr/sbin/nologin mongodb \
 && install -d -o 999 -g 999 -m 0700 /data/db
COPY --from=builder /opt/secantus /opt/secantus
COPY deploy/docker/mongodb_standin.py /usr/local/bin/mongodb-standin
USER 999:999
VOLUME /data/db
EXPOSE 27017
CMD ["python3", "/usr/local/bin/mongodb-standin"]
