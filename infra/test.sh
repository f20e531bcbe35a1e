#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests, integration tests of
# every service against a real DynamoDB Local (started here, in memory, on a free
# port), and the README's curl examples against the stack started by infra/run.sh.
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
say "starting DynamoDB Local (in memory) on port $DYNAMODB_PORT"
start_dynamodb "$DYNAMODB_PORT"

say "cargo test"
AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" \
  cargo test --workspace --all-features
stop_started

say "README examples against infra/run.sh"
"$VENV/bin/python" "$ROOT/infra/check_readme.py"
say "all checks passed"
