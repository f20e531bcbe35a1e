#!/usr/bin/env bash
# Serves every function through cargo lambda's Lambda runtime emulator, rebuilding a
# function when its code changes, against the local stack that infra/run.sh runs (start
# that first, in another terminal). A function is reached at
#   http://127.0.0.1:9000/lambda-url/<binary>/<path>
# as a function-URL event, through the same lambda_http entry it runs under on AWS; the
# gateway there calls the services through the emulator too.
#
# Settings (defaults match infra/run.sh): INVOKE_PORT (9000), TABLE_PREFIX (local-),
# AWS_ENDPOINT_URL_DYNAMODB (http://127.0.0.1:8000), TEMPORAL_ADDRESS (127.0.0.1:7233).
# Extra arguments go to `cargo lambda watch`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_python_tools # cargo-lambda comes from PyPI into .local/venv
cd "$ROOT"

INVOKE_PORT=${INVOKE_PORT:-9000}
emulator="http://127.0.0.1:$INVOKE_PORT/lambda-url"

# Each function takes its table as TABLE_PREFIX + its table's name in infra/tables.json,
# since every function under the emulator shares this one environment.
export TABLE_PREFIX=${TABLE_PREFIX:-local-}
export AWS_ENDPOINT_URL_DYNAMODB=${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:8000}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
# Each service of infra/services.json at its function's path in the emulator.
while read -r name _ _ url _; do
  export "$url=$emulator/$name"
done < <(declared_services)
export RUST_LOG=${RUST_LOG:-info}
# The failure switchboard of the local stack (off unless asked for).
export FAILURE_INJECTION=enabled
# The same secret as infra/run.sh's gateway: tokens from either work with both.
JWT_SECRET=$(local_secret jwt-secret)
PAYLOAD_KEYS=$(local_payload_keys)
export JWT_SECRET PAYLOAD_KEYS

say "cargo lambda watch on http://127.0.0.1:$INVOKE_PORT (functions at /lambda-url/<binary>/...)"
exec "$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" "$@"
