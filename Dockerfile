# syntax=docker/dockerfile:1
# mimecast-forwarder: static binary on distroless, non-root, state in a volume.
#   docker build -t mimecast-forwarder .
#   docker run --rm mimecast-forwarder demo --once
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/mimecast-forwarder ./cmd/mimecast-forwarder
# The final image has no shell: create the state directory here.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="mimecast-forwarder" \
      org.opencontainers.image.description="Forwards Mimecast SIEM logs (API 2.0 and 1.0) as RFC5424 syslog to Wazuh, with a durable cursor and Prometheus metrics" \
      org.opencontainers.image.source="https://github.com/mimecast-forwarder/mimecast-forwarder" \
      org.opencontainers.image.url="https://github.com/mimecast-forwarder/mimecast-forwarder" \
      org.opencontainers.image.documentation="https://github.com/mimecast-forwarder/mimecast-forwarder#readme" \
      org.opencontainers.image.vendor="mimecast-forwarder" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/mimecast-forwarder /mimecast-forwarder
COPY --from=build --chown=65532:65532 /out/state /var/lib/mimecast-forwarder
ENV STATE_DIR=/var/lib/mimecast-forwarder \
    METRICS_ADDRESS=:9810
VOLUME ["/var/lib/mimecast-forwarder"]
EXPOSE 9810
# Base image sets USER to 65532:65532 (nonroot); say it numerically for scanners and runAsNonRoot.
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/mimecast-forwarder","healthcheck"]
ENTRYPOINT ["/mimecast-forwarder"]
CMD ["run"]
