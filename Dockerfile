# syntax=docker/dockerfile:1
#
# elasticache-local in a container.
#
#   docker build -t elasticache-local .
#   docker run --rm -p 4566:4566 -p 21000-21099:21000-21099 elasticache-local
#   aws --endpoint-url http://localhost:4566 elasticache create-cache-cluster \
#       --cache-cluster-id demo --engine redis --cache-node-type cache.t3.micro --num-cache-nodes 1
#
# Inside a container the per-endpoint loopback addresses of the default `loopback` addressing
# cannot be published, so the image runs in `ports` addressing: every node endpoint gets its own
# port from ELASTICACHE_LOCAL_PORT_RANGE and is reported with ELASTICACHE_LOCAL_ADVERTISED_HOST
# (default 127.0.0.1, right for `docker run -p`; set it to the service name on a Docker network,
# see docker/compose.yaml). Publish the same port range you configure.

# ---- build stage: compile the release binary --------------------------------------------------
FROM rust:1-slim-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io registry and the target directory between builds; the binary is
# copied out because the cached target directory is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin elasticache-local \
    && install -D -m 0755 target/release/elasticache-local /out/elasticache-local

# ---- runtime stage: small image, non-root user --------------------------------------------------
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin elasticache
COPY --from=builder /out/elasticache-local /usr/local/bin/elasticache-local

# Defaults for containers; every one can be overridden with `-e` or with the matching flag.
ENV ELASTICACHE_LOCAL_LISTEN=0.0.0.0:4566 \
    ELASTICACHE_LOCAL_ADDRESSING=ports \
    ELASTICACHE_LOCAL_PORT_RANGE=21000-21099 \
    RUST_LOG=info

# 4566: the ElastiCache Query API. 21000-21099: node, primary/reader and configuration endpoints.
EXPOSE 4566 21000-21099

USER elasticache

# bash's /dev/tcp keeps the image free of curl; /health answers {"status":"running",...}.
HEALTHCHECK --interval=5s --timeout=2s --start-period=2s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${ELASTICACHE_LOCAL_LISTEN##*:} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"status\":\"running\"' <&3"]

# The binary handles SIGTERM itself (stops every node, exits 0), so it can run as PID 1.
# Configuration comes from the environment above (flags given after the image name win over it),
# so `docker run -e ELASTICACHE_LOCAL_PORT_RANGE=...` works without repeating the defaults.
STOPSIGNAL SIGTERM
ENTRYPOINT ["elasticache-local"]
