# shellcheck shell=bash
# Shared by bench/http.sh and bench/peer.sh. Source it (callers use set -euo pipefail).
# Gives: log/die, a private copy of the guanxi binary ($GX), a bench token, starting and
# stopping a server (by pid, on EXIT too), and run_wrk, which records one wrk run.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BENCH_EMAIL=${BENCH_EMAIL:-bench-admin@guanxi.test}
WORK=$(mktemp -d /tmp/gx-bench.XXXXXX)   # binary copy, id lists, server log, results
RESULTS=$WORK/results.jsonl
GX_PID=""      # the server this script started
SERVER_PID="" # the server whose memory is reported (GX_PID, or one given)
TOKEN=""      # the API token of the run

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  gx_stop
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_wrk() {
  command -v wrk > /dev/null && return 0
  log "installing wrk (apt-get install -y wrk)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null || die "wrk is missing and could not be installed"
}

# Copy the binary, so a rebuild during the run changes nothing. Waits while it is being
# rebuilt (missing or not yet runnable), up to 10 minutes.
gx_prepare() {
  local src=${GUANXI_BIN:-$REPO_DIR/target/release/guanxi} i
  for ((i = 0; i < 120; i++)); do
    if cp "$src" "$WORK/guanxi" 2> /dev/null && "$WORK/guanxi" user token --help > /dev/null 2>&1; then
      GX=$WORK/guanxi
      return 0
    fi
    [ "$i" -gt 0 ] || log "waiting for a runnable $src with 'user token' (rebuild in progress?)"
    sleep 5
  done
  die "$src is missing or has no 'user token' command"
}

# gx_add_admin DATABASE_URL: add the administrator $BENCH_EMAIL (random password).
gx_add_admin() {
  log "adding the admin $BENCH_EMAIL to $1"
  python3 -c 'import secrets; print(secrets.token_urlsafe(24))' \
    | "$GX" --database "$1" user add --email "$BENCH_EMAIL" --role admin --name "bench admin" --password-stdin > /dev/null
}

# gx_token DATABASE_URL: a new one-day API token of $BENCH_EMAIL (added when missing).
gx_token() {
  local i
  for i in 1 2; do
    if "$GX" --database "$1" user token --email "$BENCH_EMAIL" --name bench --days 1 2> "$WORK/token.err"; then
      return 0
    fi
    if [ "$i" = 2 ] || ! grep -q "no user" "$WORK/token.err"; then
      cat "$WORK/token.err" >&2
      die "guanxi user token failed"
    fi
    gx_add_admin "$1"
  done
}

# gx_start DATABASE_URL PORT: serve in the background; sets GX_PID; returns once /healthz answers.
gx_start() {
  if curl -s -o /dev/null "http://127.0.0.1:$2/"; then die "127.0.0.1:$2 is already in use (set PORT)"; fi
  "$GX" --database "$1" serve --bind "127.0.0.1:$2" >> "$WORK/server.log" 2>&1 &
  GX_PID=$!
  SERVER_PID=$GX_PID
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -sf -o /dev/null "http://127.0.0.1:$2/healthz"; then
      log "guanxi pid $GX_PID serving $1 on 127.0.0.1:$2"
      return 0
    fi
    kill -0 "$GX_PID" 2> /dev/null || { tail -n 20 "$WORK/server.log" >&2; die "guanxi serve exited"; }
    sleep 0.1
  done
  die "guanxi did not answer on 127.0.0.1:$2 within 60 s"
}

gx_stop() {
  [ -n "$GX_PID" ] || return 0
  local i
  kill -TERM "$GX_PID" 2> /dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$GX_PID" 2> /dev/null || break
    sleep 0.1
  done
  kill -KILL "$GX_PID" 2> /dev/null || true
  wait "$GX_PID" 2> /dev/null || true
  GX_PID=""
}

# Peak resident memory (VmHWM) of a process, in MiB; empty if unknown.
peak_rss_mib() {
  [ -n "${1:-}" ] || return 0
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2> /dev/null || true
}

# api PATH: GET with the bench token, body on stdout; fails on HTTP errors.
api() { curl -sf -H "Authorization: Bearer $TOKEN" "$BASE_URL$1"; }

# run_wrk TEST CONNS DURATION_S URL [VAR=VALUE...]: one wrk run with bench/wrk/guanxi.lua
# (the variables configure the script). Appends a JSON record to $RESULTS, unless
# TEST is "-" (a warm-up).
run_wrk() {
  local test=$1 conns=$2 secs=$3 url=$4 out
  shift 4
  out=$(env TOKEN="$TOKEN" RUN_NONCE="$RANDOM$RANDOM" "$@" \
    wrk -t "${THREADS:-2}" -c "$conns" -d "${secs}s" --timeout 30s --latency \
    -s "$BENCH_DIR/wrk/guanxi.lua" "$url" 2>&1) || { echo "$out" >&2; die "wrk failed ($test)"; }
  [ "$test" != - ] || return 0
  out=$(sed -n 's/^WRKJSON //p' <<< "$out")
  [ -n "$out" ] || die "no summary from wrk ($test)"
  python3 - "$test" "$conns" "$(peak_rss_mib "$SERVER_PID")" "$out" >> "$RESULTS" << 'EOF'
import json, sys
test, conns, rss, res = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
res["non_2xx"] = sum(v for k, v in res["status_counts"].items() if not k.startswith("2"))
res = {"test": test, "connections": conns, **{k: round(v, 2) if isinstance(v, float) else v for k, v in res.items()}}
res["server_peak_rss_mib"] = float(rss) if rss else None
print(json.dumps(res))
print("  {test:<16} c={connections:<3} {rps:>9.1f} req/s  p50 {p50_ms:7.2f} ms  p99 {p99_ms:7.2f} ms"
      "  non-2xx {non_2xx}  socket errors {socket_errors}".format(**res), file=sys.stderr)
EOF
}

# bench TEST CONNS URL [VAR=VALUE...]: warm-up ($WARMUP s), then the measured run ($DURATION s).
bench() {
  local test=$1 conns=$2
  shift 2
  [ "${WARMUP:-0}" -le 0 ] || run_wrk - "$conns" "$WARMUP" "$@"
  run_wrk "$test" "$conns" "$DURATION" "$@"
}
