#!/usr/bin/env bash
# Sets up and runs the whole system locally, offline, with real components:
# installs what is missing, starts DynamoDB Local and the Temporal dev server (both
# persisted under .local/data), creates the tables, starts the services, the saga
# worker and the API gateway, and seeds the demo users and catalog. Ctrl-C (or
# SIGTERM) stops everything it started.
#
# Ports and the data folder can be moved with DYNAMODB_PORT, TEMPORAL_PORT,
# TEMPORAL_UI_PORT, SERVICE_PORT_BASE (the gateway is BASE, customer BASE+1 ...
# notification BASE+5), WORKER_STATUS_PORT, WORKER_METRICS_PORT, UI_PORT and DATA_DIR. PROFILE=release (or
# bench-fast) runs optimised builds; IN_MEMORY=1 keeps DynamoDB Local and Temporal in memory (both used
# by the benchmarks).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${TEMPORAL_UI_PORT:-8233}
SERVICE_PORT_BASE=${SERVICE_PORT_BASE:-3000}
WORKER_STATUS_PORT=${WORKER_STATUS_PORT:-9090}
WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-9464}
UI_PORT=${UI_PORT:-5173}
DATA_DIR=${DATA_DIR:-$LOCAL/data}
PROFILE=${PROFILE:-debug}
IN_MEMORY=${IN_MEMORY:-}
TABLE_PREFIX=local-

# The services of infra/services.json: name, table, port offset, URL variable, callers.
mapfile -t SERVICES < <(declared_services)

ensure_components

ports=("$DYNAMODB_PORT" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$WORKER_STATUS_PORT" "$WORKER_METRICS_PORT" "$UI_PORT" $(seq "$SERVICE_PORT_BASE" $((SERVICE_PORT_BASE + ${#SERVICES[@]}))))
for port in "${ports[@]}"; do
  port_open "$port" && die "port $port is in use (is the stack already running?)"
done
twice=$(printf '%s\n' "${ports[@]}" | sort | uniq -d | xargs)
[ -z "$twice" ] || die "port $twice is given to two servers (see the settings at the top of infra/run.sh)"

say "building the UI"
(cd "$ROOT/frontend" && npm run --silent build >/dev/null)
say "building the services, the worker and the gateway"
if [ "$PROFILE" = debug ]; then
  cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bins
else
  cargo build --quiet --profile "$PROFILE" --manifest-path "$ROOT/Cargo.toml" --bins
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"

trap stop_started EXIT
trap 'say "stopping"; exit 0' INT TERM

say "starting DynamoDB Local on port $DYNAMODB_PORT and Temporal on port $TEMPORAL_PORT"
if [ -n "$IN_MEMORY" ]; then
  start_dynamodb "$DYNAMODB_PORT"
  start_temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
else
  start_dynamodb "$DYNAMODB_PORT" "$DATA_DIR/dynamodb"
  start_temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$DATA_DIR/temporal.db"
fi
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"

TABLE_PREFIX=$TABLE_PREFIX "$BIN/devstack" create-tables >/dev/null

for entry in "${SERVICES[@]}"; do
  read -r name table offset _ <<<"$entry"
  port=$((SERVICE_PORT_BASE + offset))
  start "$name" "$LOCAL/logs/$name.log" \
    env TABLE_NAME="$TABLE_PREFIX$table" PORT="$port" FAILURE_INJECTION=enabled \
    RUST_LOG="${RUST_LOG:-info}" "$BIN/$name"
done
for entry in "${SERVICES[@]}"; do
  read -r name _ offset _ <<<"$entry"
  wait_for_port "$name" $((SERVICE_PORT_BASE + offset))
done

# `VARIABLE=url` of each service that $1 (gateway, worker) calls, at its local port.
service_urls_for() {
  local entry name offset url callers
  for entry in "${SERVICES[@]}"; do
    read -r name _ offset url callers <<<"$entry"
    [[ ",$callers," == *",$1,"* ]] && echo "$url=http://127.0.0.1:$((SERVICE_PORT_BASE + offset))"
  done
}
mapfile -t WORKER_SERVICE_URLS < <(service_urls_for worker)
mapfile -t GATEWAY_SERVICE_URLS < <(service_urls_for gateway)
# Saga payloads are encrypted in Temporal with a key ring made once for this checkout.
PAYLOAD_KEYS=$(local_payload_keys)
export PAYLOAD_KEYS
start worker "$LOCAL/logs/worker.log" \
  env TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" TEMPORAL_NAMESPACE=default \
  "${WORKER_SERVICE_URLS[@]}" \
  BREAKERS_TABLE="${TABLE_PREFIX}breakers" \
  WORKER_STATUS_ADDR="127.0.0.1:$WORKER_STATUS_PORT" WORKER_METRICS_ADDR="127.0.0.1:$WORKER_METRICS_PORT" \
  RUST_LOG="${RUST_LOG:-info}" "$BIN/worker"
wait_for_port worker "$WORKER_STATUS_PORT"

# The gateway signs tokens with a random secret made once for this checkout.
start gateway "$LOCAL/logs/gateway.log" \
  env JWT_SECRET="$(local_secret jwt-secret)" PORT="$SERVICE_PORT_BASE" TABLE_NAME="${TABLE_PREFIX}gateway" RATE_LIMIT_TABLE="${TABLE_PREFIX}ratelimits" \
  "${GATEWAY_SERVICE_URLS[@]}" \
  BREAKERS_TABLE="${TABLE_PREFIX}breakers" \
  TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" TEMPORAL_UI_URL="http://localhost:$TEMPORAL_UI_PORT" \
  CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:5173}" \
  RUST_LOG="${RUST_LOG:-info}" "$BIN/gateway"
wait_for_port gateway "$SERVICE_PORT_BASE"

# The built UI, with /v1 (and its WebSocket) proxied to the gateway: one origin.
start ui "$LOCAL/logs/ui.log" \
  env -C "$ROOT/frontend" GATEWAY_URL="http://127.0.0.1:$SERVICE_PORT_BASE" UI_PORT="$UI_PORT" \
  node_modules/.bin/vite preview
wait_for_port ui "$UI_PORT"

say "seeding demo users and catalog"
env "${GATEWAY_SERVICE_URLS[@]}" "$BIN/devstack" seed >/dev/null

cat <<SUMMARY

  The stack is up.
    shop UI       http://localhost:$UI_PORT
    API gateway   http://localhost:$SERVICE_PORT_BASE/v1   (OpenAPI: /v1/openapi.json)
$(for entry in "${SERVICES[@]}"; do
  read -r name _ offset _ <<<"$entry"
  printf '    %-13s http://localhost:%s\n' "$name" $((SERVICE_PORT_BASE + offset))
done)
    DynamoDB      http://localhost:$DYNAMODB_PORT   (tables ${TABLE_PREFIX}*)
    Temporal      localhost:$TEMPORAL_PORT, Web UI http://localhost:$TEMPORAL_UI_PORT
    saga worker   task queue order-saga, breakers at http://localhost:$WORKER_STATUS_PORT/breakers,
                  Prometheus metrics at http://localhost:$WORKER_METRICS_PORT/metrics
  Demo users: admin@example.com / admin-password, demo@example.com / demo-password
  Logs in .local/logs. Press Ctrl-C to stop.

SUMMARY

# Returns when any component exits on its own; the EXIT trap then stops the rest.
wait -n "${STARTED_PIDS[@]}" || true
for i in "${!STARTED_PIDS[@]}"; do
  kill -0 "${STARTED_PIDS[$i]}" 2>/dev/null || die "${STARTED_NAMES[$i]} stopped; see .local/logs"
done
