#!/usr/bin/env bash
# Benchmarks the gateway: authenticated catalog reads through it, side by side with the
# same reads sent straight to the inventory service, and order POSTs, all in one run
# against the whole system (infra/run.sh, release builds, in memory, free ports).
#
#   BENCH_REQUESTS=2000 BENCH_CONCURRENCY=32 BENCH_ORDERS=200 ./infra/bench-gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ports=$(free_ports 6 1 1 1 1 1 1)  # the first: the gateway, then the five services
read -r base DYNAMODB_PORT TEMPORAL_PORT TEMPORAL_UI_PORT WORKER_STATUS_PORT WORKER_METRICS_PORT UI_PORT <<<"$ports"
data=$(mktemp -d)
log="$data/run.log"
# PROFILE: the build measured (bench-fast, see Cargo.toml; or release).
export PROFILE="${PROFILE:-bench-fast}" IN_MEMORY=1 DATA_DIR="$data" SERVICE_PORT_BASE="$base"
export DYNAMODB_PORT TEMPORAL_PORT TEMPORAL_UI_PORT WORKER_STATUS_PORT WORKER_METRICS_PORT UI_PORT
# The limit must not be what is measured; RUST_LOG keeps logging off the hot path.
export RATE_LIMIT_PER_MINUTE=10000000 RATE_LIMIT_BURST=100000 RUST_LOG=warn
export ORDER_RATE_PER_MINUTE=10000000 ORDER_RATE_BURST=100000
# One customer places every order: its open orders are not what is measured either.
export OPEN_ORDERS_PER_CUSTOMER=100000 HELD_UNITS_PER_CUSTOMER=100000

start stack "$log" bash "$ROOT/infra/run.sh"
trap 'stop_started; rm -rf "$data"' EXIT
deadline=$((SECONDS + 1800))
until grep -q "The stack is up" "$log"; do
  kill -0 "${STARTED_PIDS[0]}" 2>/dev/null || { cat "$log"; die "infra/run.sh stopped"; }
  [ "$SECONDS" -lt "$deadline" ] || die "the stack did not come up"
  sleep 1
done

say "running the benchmark"
GATEWAY_URL="http://127.0.0.1:$base" INVENTORY_URL="http://127.0.0.1:$((base + 2))" \
  "${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/gateway-bench"
