# syntax=docker/dockerfile:1
# One small image per binary of the workspace:
#   docker build -f infra/docker/rust.Dockerfile --build-arg BIN=gateway -t order-saga-gateway .
# BIN is customer, inventory, order, payment, notification, gateway, worker or devstack.
# The final stage is distroless (glibc, CA certificates, no shell) and runs as nonroot:
# expect about 25-35 MB per image (the binary is 15-20 MB, stripped).

FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG BIN
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin "${BIN}" \
    && cp "target/release/${BIN}" /usr/local/bin/app

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/app /usr/local/bin/app
# Copied with the data the binary includes at build time (infra/*.json); nothing else.
USER nonroot:nonroot
ENV HOST=0.0.0.0 PORT=8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/app"]
