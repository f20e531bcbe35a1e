# syntax=docker/dockerfile:1
# One small image per binary of the workspace:
#   docker build -f infra/docker/rust.Dockerfile --build-arg BIN=gateway -t order-saga-gateway .
# BIN is customer, inventory, order, payment, notification, gateway, worker or devstack.
# The final stage is distroless (glibc, CA certificates, no shell) and runs as nonroot:
# expect about 25-35 MB per image (the binary is 15-20 MB, stripped).

FROM rust:1.95-bookworm AS build
# libprotobuf-dev holds Google's well-known .proto files the Temporal SDK's build
# imports; --no-install-recommends leaves it out of protobuf-compiler.
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG BIN
# The worker is built to unwind on panic (see [profile.release-worker] in Cargo.toml).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    profile=release; if [ "${BIN}" = worker ]; then profile=release-worker; fi \
    && cargo build --profile "$profile" --locked --bin "${BIN}" \
    && cp "target/$profile/${BIN}" /usr/local/bin/app

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/app /usr/local/bin/app
# Copied with the data the binary includes at build time (infra/*.json); nothing else.
USER nonroot:nonroot
ENV HOST=0.0.0.0 PORT=8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/app"]
