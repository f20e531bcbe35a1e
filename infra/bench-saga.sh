#!/usr/bin/env bash
# Benchmarks the order saga through the real stack: what one saga costs (history
# events, Temporal Cloud actions, DynamoDB requests and capacity units, service calls,
# the worker's CPU, log volume, and the price of a million orders), then its throughput
# against a baseline measured in the same run on the same Temporal server: workflows of
# 12 no-op activities. DynamoDB Local and the Temporal dev server run in memory, on free
# ports; nothing else is touched.
#
# Two sets of the four services the saga calls and two workers run side by side: the
# cost is measured through the metering proxy (tools/bench/src/meter.rs), at the
# deployed log level (info, JSON); the throughput without it, at warn, as before.
#
#   BENCH_SAGAS=200 BENCH_CONCURRENCY=50 BENCH_PER_SAGA=20 ./infra/bench-saga.sh
#
# PROFILE (default bench-fast, see Cargo.toml; or release) is the build measured.
# STACK_BIN runs the services and the worker from another folder of binaries, e.g. an
# earlier commit's build, against this benchmark: before and after, on one machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_components
PROFILE="${PROFILE:-bench-fast}"
say "building with the $PROFILE profile"
cargo build --quiet --profile "$PROFILE" --manifest-path "$ROOT/Cargo.toml" --bins
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
STACK_BIN="${STACK_BIN:-$BIN}"

trap stop_started EXIT
# DynamoDB, Temporal and its UI, the services, the metered services, the meter's
# DynamoDB route and its admin address.
ports=$(free_ports 1 1 1 4 4 1 1)
read -r DYNAMODB_PORT TEMPORAL_PORT TEMPORAL_UI_PORT port metered_port METERED_DYNAMODB_PORT METER_PORT <<<"$ports"
start_dynamodb "$DYNAMODB_PORT"
start_temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_DYNAMODB="$DYNAMODB"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
TABLE_PREFIX=bench- "$STACK_BIN/devstack" create-tables >/dev/null

declare -A URLS METERED
processes="temporal=${STARTED_PIDS[1]} dynamodb=${STARTED_PIDS[0]}"
logs=""
routes="dynamodb@$METERED_DYNAMODB_PORT=$DYNAMODB"
for entry in "inventory inventory" "order orders" "payment payments" "notification notifications"; do
  read -r name table <<<"$entry"
  start "$name" "$LOCAL/logs/bench-$name.log" \
    env TABLE_NAME="bench-$table" PORT="$port" RUST_LOG=warn "$STACK_BIN/$name"
  wait_for_port "$name" "$port"
  URLS[$name]="http://127.0.0.1:$port"
  processes+=" $name=${STARTED_PIDS[-1]}"
  # Its metered twin: DynamoDB through the meter, and itself behind it.
  start "metered-$name" "$LOCAL/logs/bench-metered-$name.log" \
    env TABLE_NAME="bench-$table" PORT="$metered_port" RUST_LOG=info LOG_FORMAT=json \
    AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$METERED_DYNAMODB_PORT" "$STACK_BIN/$name"
  wait_for_port "metered-$name" "$metered_port"
  logs+=" $name=$LOCAL/logs/bench-metered-$name.log"
  routes+=" $name@$((metered_port + 4))=http://127.0.0.1:$metered_port"
  METERED[$name]="http://127.0.0.1:$((metered_port + 4))"
  port=$((port + 1))
  metered_port=$((metered_port + 1))
done
start meter "$LOCAL/logs/bench-meter.log" \
  env METER_ADMIN="127.0.0.1:$METER_PORT" METER_ROUTES="$routes" RUST_LOG=warn "$BIN/meter"
wait_for_port meter "$METER_PORT"
processes+=" meter=${STARTED_PIDS[-1]}"

PAYLOAD_KEYS=$(local_payload_keys)
export PAYLOAD_KEYS
# worker QUEUE LOG LEVEL URLS...: a worker of the saga (its breaker board writes to
# DynamoDB directly: they are not the saga's requests).
start_worker() {
  local queue=$1 log=$2 level=$3; shift 3
  start "worker-$queue" "$log" \
    env TASK_QUEUE="$queue" INVENTORY_URL="$1" ORDER_URL="$2" PAYMENT_URL="$3" NOTIFICATION_URL="$4" \
    BREAKERS_TABLE=bench-breakers WORKER_STATUS_ADDR= RUST_LOG="$level" LOG_FORMAT=json "$STACK_BIN/worker"
}
start_worker bench-saga "$LOCAL/logs/bench-worker.log" warn \
  "${URLS[inventory]}" "${URLS[order]}" "${URLS[payment]}" "${URLS[notification]}"
processes+=" worker=${STARTED_PIDS[-1]}"
start_worker bench-saga-metered "$LOCAL/logs/bench-metered-worker.log" info \
  "${METERED[inventory]}" "${METERED[order]}" "${METERED[payment]}" "${METERED[notification]}"
processes+=" metered-worker=${STARTED_PIDS[-1]}"
logs+=" worker=$LOCAL/logs/bench-metered-worker.log"

say "running the benchmark"
TASK_QUEUE=bench-saga METERED_TASK_QUEUE=bench-saga-metered INVENTORY_URL="${URLS[inventory]}" \
  METER_URL="http://127.0.0.1:$METER_PORT" BENCH_PROCESSES="$processes" BENCH_LOGS="$logs" \
  RUST_LOG=warn "$BIN/saga-bench"
