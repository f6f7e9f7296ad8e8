# syntax=docker/dockerfile:1
# Lockdev: one static-ish binary (templates, static files and migrations are embedded).
# Build:  docker build -t lockdev .
# Run:    docker run -e LOCKDEV_DATABASE_URL=… -e LOCKDEV_PUBLIC_URL=https://… -p 3000:3000 lockdev

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /app

# Dependency recipe only: this layer changes when Cargo.toml/Cargo.lock do, not on every edit.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# Query checks come from the committed .sqlx/ data: no database during the build.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin lockdev

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to the database, S3 and SES (rustls; nothing links OpenSSL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 lockdev \
 && useradd --system --uid 10001 --gid lockdev --no-create-home --shell /usr/sbin/nologin lockdev
COPY --from=builder /app/target/release/lockdev /usr/local/bin/lockdev
USER 10001:10001
ENV LOCKDEV_BIND=0.0.0.0:3000 \
    LOCKDEV_LOG_FORMAT=json
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["lockdev", "healthcheck"]
ENTRYPOINT ["lockdev"]
CMD ["serve"]
