# Shared by the bench scripts (sourced): a moto server on a free loopback port with its request
# log kept, stopped on exit; Cloud Custodian in a virtualenv outside the repository.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${BENCH_RESULTS:-$REPO/bench/results}
C7N_VENV=${C7N_VENV:-$HOME/.cache/cmkguard-bench-venv}
REGION=eu-west-1
ACCOUNT=111122223333
mkdir -p "$RESULTS"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_moto LOGFILE: sets MOTO_PID, MOTO_URL; the request log (one line per request) goes to
# LOGFILE. Stopped by the EXIT trap.
start_moto() {
  local log=$1 port
  port=$(free_port)
  MOTO_ACCOUNT_ID=$ACCOUNT moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
  MOTO_URL=http://127.0.0.1:$port
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "$MOTO_URL/moto-api/"; then return 0; fi
    sleep 0.2
  done
  echo "moto did not start on $MOTO_URL" >&2
  return 1
}

# Requests moto has logged so far (werkzeug's access log: one line per HTTP request, the
# moto-api calls of the bench itself excluded).
moto_requests() {
  grep -E '"(GET|PUT|POST|HEAD|DELETE) ' "$1" | grep -vc '/moto-api/' || true
}

# The Custodian virtualenv (`pip install c7n`: bench only, never CI).
ensure_c7n() {
  if [ ! -x "$C7N_VENV/bin/custodian" ]; then
    echo "== installing Cloud Custodian into $C7N_VENV"
    python3 -m venv "$C7N_VENV"
    "$C7N_VENV/bin/pip" install --quiet c7n
  fi
}

# Environment for boto3 / Custodian against the emulator.
emulator_env() {
  export AWS_ENDPOINT_URL=$MOTO_URL AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_DEFAULT_REGION=$REGION AWS_REGION=$REGION
}

# seed_scenario URL: the demo scenario (src/demo.rs) into a running emulator, printing the
# seeded key ARNs as JSON. EVENTS_BENCH_BIN runs an already built benches/events binary.
seed_scenario() {
  if [ -n "${EVENTS_BENCH_BIN:-}" ]; then
    "$EVENTS_BENCH_BIN" --seed-only "$1"
  else
    (cd "$REPO" && cargo bench -q --features dev --bench events -- --seed-only "$1")
  fi
}
