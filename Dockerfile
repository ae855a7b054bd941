# syntax=docker/dockerfile:1
# The espomcp container image: `docker run -i --rm -e ESPOCRM_URL -e ESPOCRM_API_KEY IMAGE` serves
# MCP over stdio (what MCP clients launch); `IMAGE serve --http 0.0.0.0:8765` with
# SERVER_HTTP_TOKEN set serves Streamable HTTP (docker-compose.yml, service `espomcp`).
#
# Two stages: the release binary is built in the official Rust image, then copied alone into
# distroless's `cc` image (glibc, libgcc and CA certificates; no shell, no package manager),
# running as its non-root user. Not built by espomcp's CI, which has no Docker:
# tests/mcp/install.rs checks this file's structure.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /build
COPY . .
# The registry and target caches survive between builds; the binary is copied out of the cache
# mount in the same step, as the mount is gone afterwards.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked -p espomcp --bin espomcp \
    && install -D -m 0755 target/release/espomcp /out/espomcp

FROM gcr.io/distroless/cc-debian13:nonroot AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="espomcp" \
      org.opencontainers.image.description="An MCP server for EspoCRM" \
      org.opencontainers.image.source="https://github.com/espomcp/espomcp" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      io.modelcontextprotocol.server.name="io.github.espomcp/espomcp"
COPY --from=builder /out/espomcp /usr/local/bin/espomcp
# distroless's `nonroot` user (65532), by number so that runtimes can verify it is not root.
USER 65532:65532
# The prompt templates and any config file live under the user's home.
WORKDIR /home/nonroot
ENV HOME=/home/nonroot
EXPOSE 8765
ENTRYPOINT ["/usr/local/bin/espomcp"]
CMD []
