#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests, integration tests of
# every service and of the order saga against a real DynamoDB Local and a real
# Temporal dev server (started here, in memory, on free ports), the replay of the
# recorded saga histories, and the README's curl examples against infra/run.sh.
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

say "README examples against infra/run.sh"
"$VENV/bin/python" "$ROOT/infra/check_readme.py"
say "all checks passed"
