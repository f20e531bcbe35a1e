#!/usr/bin/env bash
# Benchmarks the functions' cold starts: each Lambda function's binary is started as
# Lambda starts it (its environment, a stub Runtime API on loopback) and timed from
# spawn to its first poll for an event, round after round with a hello-world
# lambda_runtime binary built with the same profile, which is the baseline. The gateway
# is started twice: with its secrets as values (as infra/run.sh gives them) and
# fetching them from a Secrets Manager (moto's, on loopback), as on AWS. Every AWS
# endpoint points at loopback: nothing leaves the machine.
#
#   PROFILE=bench-fast BENCH_RUNS=20 BENCH_STAGES=1 ./infra/bench-coldstart.sh
#
# PROFILE is a Cargo profile (bench-fast, the default; release, as deployed; dev).
# BENCH_FUNCTIONS, BENCH_WARMUP and BENCH_TARGET: see tools/bench/src/bin/coldstart.rs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE=${PROFILE:-bench-fast}
case "$PROFILE" in
  dev) dir=debug ;;
  *) dir=$PROFILE ;;
esac
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$dir"

require "protoc with Google's well-known types" protoc_ok protobuf-compiler libprotobuf-dev
require "python3 -m venv" venv_ok python3-venv
ensure_python_tools
say "building the functions and the benchmark (profile $PROFILE)"
cargo build --quiet --profile "$PROFILE" --manifest-path "$ROOT/Cargo.toml" \
  --bin customer --bin inventory --bin order --bin payment --bin notification \
  --bin gateway --bin gateway-fanout --bin coldstart --bin coldstart-hello

trap stop_started EXIT
SECRETS_MANAGER_PORT=$(free_ports 1)
start_secrets_manager "$SECRETS_MANAGER_PORT"

say "running the benchmark"
JWT_SECRET=$(local_secret jwt-secret) PAYLOAD_KEYS=$(local_payload_keys) \
  SECRETS_MANAGER_URL="http://127.0.0.1:$SECRETS_MANAGER_PORT" BENCH_BIN_DIR="$BIN" \
  "$BIN/coldstart"
