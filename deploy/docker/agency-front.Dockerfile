# The agency front (deploy/agency-front/haproxy.cfg) on Debian's haproxy package: 2.6 LTS with
# Debian's security fixes (CVE-2023-40225 among them; tests/deploy checks the version in the image).
# Compose and Kubernetes run this image, as the gateway's user (its unix socket is 0600).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="egov-agency-front" \
      org.opencontainers.image.description="HAProxy terminating agency systems' mutual TLS in front of the egov-platform gateway" \
      org.opencontainers.image.licenses="GPL-2.0-or-later" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
COPY deploy/agency-front/haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg
USER 10001:10001
EXPOSE 50052
# HAProxy's soft stop: finish open calls (hard-stop-after in haproxy.cfg), then exit.
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
