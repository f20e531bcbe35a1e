#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests, integration tests of
# every service and of the order saga against a real DynamoDB Local and a real
# Temporal dev server (started here, in memory, on free ports), the replay of the
# recorded saga histories, the UI's unit tests, and the whole system as infra/run.sh
# starts it: the README's examples, the OpenAPI document and the browser tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v cargo >/dev/null || die "Rust is needed: install it from https://rustup.rs"
ensure_components
cd "$ROOT"

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --quiet --workspace --all-targets --all-features -- -D warnings

trap stop_started EXIT
DYNAMODB_PORT=$(free_port)
TEMPORAL_PORT=$(free_port)
say "starting DynamoDB Local and the Temporal dev server (both in memory)"
start_dynamodb "$DYNAMODB_PORT"
start_temporal "$TEMPORAL_PORT" "$(free_port)"

say "cargo test"
AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" \
  TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" \
  cargo test --workspace --all-features
stop_started

say "the UI's unit tests"
(cd "$ROOT/frontend" && npm run --silent typecheck && npm test --silent)

say "the whole system, as started by infra/run.sh: README examples, OpenAPI, browser"
ensure_chromium
"$VENV/bin/python" "$ROOT/infra/system_check.py"
say "all checks passed"
