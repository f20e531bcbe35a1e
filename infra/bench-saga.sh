#!/usr/bin/env bash
# Benchmarks the order saga through the real stack, against a baseline measured in the
# same run on the same Temporal server: workflows of as many no-op activities.
# Everything is built in release mode and runs in memory (DynamoDB Local and the
# Temporal dev server), on free ports; nothing else is touched.
#
#   BENCH_SAGAS=200 BENCH_CONCURRENCY=50 ./infra/bench-saga.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_components
say "building in release mode"
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --bins
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

trap stop_started EXIT
ports=$(free_ports 1 1 1 4)  # the last: the four services'
read -r DYNAMODB_PORT TEMPORAL_PORT TEMPORAL_UI_PORT port <<<"$ports"
start_dynamodb "$DYNAMODB_PORT"
start_temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
TABLE_PREFIX=bench- "$BIN/devstack" create-tables >/dev/null

declare -A URLS
for entry in "inventory inventory" "order orders" "payment payments" "notification notifications"; do
  read -r name table <<<"$entry"
  start "$name" "$LOCAL/logs/bench-$name.log" \
    env TABLE_NAME="bench-$table" PORT="$port" RUST_LOG=warn "$BIN/$name"
  wait_for_port "$name" "$port"
  URLS[$name]="http://127.0.0.1:$port"
  port=$((port + 1))
done

PAYLOAD_KEYS=$(local_payload_keys)
export PAYLOAD_KEYS
start worker "$LOCAL/logs/bench-worker.log" \
  env TASK_QUEUE=bench-saga INVENTORY_URL="${URLS[inventory]}" ORDER_URL="${URLS[order]}" \
  PAYMENT_URL="${URLS[payment]}" NOTIFICATION_URL="${URLS[notification]}" \
  BREAKERS_TABLE=bench-breakers WORKER_STATUS_ADDR= RUST_LOG=warn "$BIN/worker"
WORKER_PID=${STARTED_PIDS[-1]}

say "running the benchmark"
TASK_QUEUE=bench-saga WORKER_PID="$WORKER_PID" INVENTORY_URL="${URLS[inventory]}" RUST_LOG=warn \
  "$BIN/saga-bench"
