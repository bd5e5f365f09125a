# RabbitMQ from Debian's rabbitmq-server package (3.10, with Debian's security updates), for compose
# on machines that cannot pull the rabbitmq image. Configuration, definitions and data come from
# compose's volumes (docker-compose.yml). Built offline by build-images.sh.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG SOURCE=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="egov-rabbitmq" \
      org.opencontainers.image.description="RabbitMQ (Debian's rabbitmq-server) for the egov-platform compose stack" \
      org.opencontainers.image.licenses="MPL-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
ENV HOME=/var/lib/rabbitmq RABBITMQ_CONFIG_FILE=/etc/rabbitmq/rabbitmq.conf
# definitions.d is a volume the set-up jobs write (as root) and RabbitMQ only reads.
RUN install -d -o rabbitmq -g rabbitmq -m 0750 /var/lib/rabbitmq /var/log/rabbitmq \
 && install -d -m 0755 /etc/rabbitmq/definitions.d
USER rabbitmq
VOLUME /var/lib/rabbitmq
EXPOSE 5672 15672 15692
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
