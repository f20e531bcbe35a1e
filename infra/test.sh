#!/usr/bin/env bash
# Runs every check and test: the install steps' capability checks, formatting, clippy,
# unit tests, integration tests of every service and of the order saga against a real
# DynamoDB Local and a real Temporal dev server (started here, in memory, on free
# ports), the replay of the recorded saga histories, the deployment artefacts (SAM
# template, compose file, LocalStack hook), `cargo lambda watch`, the chaos test, the
# UI's unit tests, and the whole system as infra/run.sh starts it: the documented
# examples, the OpenAPI document and the browser tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_components browser
cd "$ROOT"

say "the install steps' capability checks"
python3 "$ROOT/infra/install_check.py"

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --quiet --workspace --all-targets --all-features -- -D warnings

trap stop_started EXIT
ports=$(free_ports 1 1 1 1)
read -r DYNAMODB_PORT TEMPORAL_PORT TEMPORAL_UI_PORT SECRETS_MANAGER_PORT <<<"$ports"
say "starting DynamoDB Local, the Temporal dev server (both in memory) and a Secrets Manager"
start_dynamodb "$DYNAMODB_PORT"
start_temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
start_secrets_manager "$SECRETS_MANAGER_PORT"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$SECRETS_MANAGER_PORT"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
say "cargo test"
cargo test --workspace --all-features
say "template.yaml, docker-compose.yml and the LocalStack hook"
"$VENV/bin/python" "$ROOT/infra/deploy_check.py"
say "cargo lambda watch: every function through its Lambda entry"
"$VENV/bin/python" "$ROOT/infra/watch_check.py"
stop_started
unset AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SECRETS_MANAGER TEMPORAL_ADDRESS

say "chaos: orders at concurrency while the worker, a service and Temporal's tools misbehave"
"$VENV/bin/python" "$ROOT/infra/chaos_check.py"

say "the UI: lint, formatting, type check and unit tests"
(cd "$ROOT/frontend" && npm run --silent lint && npm run --silent format:check && npm run --silent typecheck && npm test --silent)

say "the whole system, as started by infra/run.sh: documented examples, OpenAPI, browser"
"$VENV/bin/python" "$ROOT/infra/system_check.py"
say "all checks passed"
