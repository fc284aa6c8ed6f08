#!/usr/bin/env bash
# peer.sh [DURATION_S]: Guanxi side by side with the peer CRM (django-crm 0.9.0 under gunicorn,
# 2 sync workers, SQLite; /work/shared/peers/django-crm), on the same number of contacts and
# with the same wrk settings (-t2 -c4, WARMUP s warm-up, DURATION_S measured), one after the
# other in one session:
#   detail  GET one contact (the middle one)     guanxi /api/v1/contacts/{id}
#                                                peer   /api/contacts/{id}/ (with its notes)
#   list    filtered list page, 20 per page,     guanxi /api/v1/contacts?filter=name:contains:田&limit=20&count=true
#           with the number of matches           peer   /api/contacts/?name=oliv&limit=20&offset=0
#   create  POST a new contact per request       guanxi /api/v1/contacts   peer /api/contacts/
# The peer side is the peer's own bench.sh.
#
# State, kept between runs (made on the first run, which takes a few minutes):
#   $GX_PRISTINE  Guanxi, seeded with CUSTOMERS customers (46,000 give about 100k contacts)
#   $PEER_DIR     the peer: venv (setup.sh), then load.sh with exactly Guanxi's contact count
#                 and 10 notes per contact (the peer's reference ratio)
# Every run starts from copies of the loaded data (the create tests add contacts), so each
# run sees the same data. Start over: rm -rf "$PEER_DIR" "$GX_PRISTINE" "$GX_RUN_DB".
# Progress and the table go to stderr, one JSON object to stdout.
#
# Environment: DURATION (20), WARMUP (3), CUSTOMERS (46000), GX_FILTER (田), PEER_FILTER (oliv),
# GX_COUNT (true: Guanxi's list page counts its matches too, as the peer's does),
# PORT (guanxi, 18081), PEER_PORT (8000), PEER_DIR (/tmp/django-crm-peer),
# GX_PRISTINE (/tmp/bench/peer-side.db), GX_RUN_DB (/tmp/bench/peer-side.run.db).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PEER_RECIPE=${PEER_RECIPE:-/work/shared/peers/django-crm}
export PEER_DIR=${PEER_DIR:-/tmp/django-crm-peer} PEER_PORT=${PEER_PORT:-8000}
GX_PRISTINE=${GX_PRISTINE:-/tmp/bench/peer-side.db}
GX_RUN_DB=${GX_RUN_DB:-/tmp/bench/peer-side.run.db}
CUSTOMERS=${CUSTOMERS:-46000}
PORT=${PORT:-18081}
DURATION=${1:-${DURATION:-20}}
WARMUP=${WARMUP:-3}
GX_FILTER=${GX_FILTER:-田}
GX_COUNT=${GX_COUNT:-true}   # the peer's list page always counts its matches
PEER_FILTER=${PEER_FILTER:-oliv}
PEER_DB_FILE=$PEER_DIR/data/crm.sqlite3
PEER_PRISTINE=$PEER_DIR/data/crm.pristine.sqlite3
[[ "$DURATION" =~ ^[0-9]+$ && "$WARMUP" =~ ^[0-9]+$ ]] || die "usage: $(basename "$0") [DURATION_S]"
[ "$DURATION" -le 240 ] || die "at most 240 s: the peer's tokens expire after 300 s"

PEER_STARTED=0
peer_stop() { if [ "$PEER_STARTED" = 1 ]; then "$PEER_RECIPE/stop.sh" || true; PEER_STARTED=0; fi; }
trap 'peer_stop; cleanup' EXIT

# copy_db SRC DST: a consistent copy of an SQLite database (SQLite's backup API), in WAL mode.
copy_db() {
  rm -f "$2" "$2-wal" "$2-shm"
  python3 - "$1" "$2" << 'EOF'
import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.execute("PRAGMA journal_mode=WAL")
dst.close()
EOF
}
sql() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@"; }

need_wrk
gx_prepare

# --- data: Guanxi -----------------------------------------------------------------------
if [ ! -f "$GX_PRISTINE" ]; then
  log "seeding $GX_PRISTINE with $CUSTOMERS customers"
  mkdir -p "$(dirname "$GX_PRISTINE")"
  "$GX" --database "sqlite:$GX_PRISTINE" seed --customers "$CUSTOMERS" > "$WORK/seed.log" 2>&1 \
    || { cat "$WORK/seed.log" >&2; rm -f "$GX_PRISTINE"*; die "seeding failed"; }
fi
[ "$(sql "$GX_PRISTINE" "SELECT count(*) FROM users WHERE email = '$BENCH_EMAIL'")" != 0 ] || gx_add_admin "sqlite:$GX_PRISTINE"
N=$(sql "$GX_PRISTINE" "SELECT count(*) FROM contacts WHERE deleted_at IS NULL")
log "guanxi: $N contacts in $GX_PRISTINE"

# --- data: the peer ---------------------------------------------------------------------
if [ ! -x "$PEER_DIR/venv/bin/python" ] || [ ! -f "$PEER_DB_FILE" ]; then "$PEER_RECIPE/setup.sh"; fi
if [ ! -f "$PEER_DIR/load.json" ]; then
  "$PEER_RECIPE/load.sh" "$N" "$((N * 10))"
  rm -f "$PEER_PRISTINE"
fi
PEER_N=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counts_after"]["contacts"])' "$PEER_DIR/load.json")
[ "$PEER_N" = "$N" ] || die "the peer in $PEER_DIR holds $PEER_N contacts, guanxi $N: start over (rm -rf $PEER_DIR) or set CUSTOMERS"
pid=$(cat "$PEER_DIR/gunicorn.pid" 2> /dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then die "the peer is running (pid $pid): run $PEER_RECIPE/stop.sh first"; fi
[ -f "$PEER_PRISTINE" ] || copy_db "$PEER_DB_FILE" "$PEER_PRISTINE"

# --- Guanxi -------------------------------------------------------------------------------
log "guanxi: fresh copy of the loaded data"
copy_db "$GX_PRISTINE" "$GX_RUN_DB"
CONTACT_ID=$(sql "$GX_RUN_DB" "SELECT lower(hex(id)) FROM contacts WHERE deleted_at IS NULL ORDER BY id LIMIT 1 OFFSET $((N / 2))" \
  | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
sql "$GX_RUN_DB" "SELECT group_concat(lower(hex(id)), ' ') FROM (SELECT id FROM accounts WHERE relationship = 'customer' ORDER BY id LIMIT 100)" \
  | tr ' ' '\n' | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/' > "$WORK/accounts.txt"
TOKEN=$(gx_token "sqlite:$GX_RUN_DB")
BASE_URL=http://127.0.0.1:$PORT
gx_start "sqlite:$GX_RUN_DB" "$PORT"
GX_LIST="/api/v1/contacts?filter=name:contains:$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$GX_FILTER")&limit=20"
[ "$GX_COUNT" = false ] || GX_LIST="$GX_LIST&count=true"
GX_MATCHES=$(api "${GX_LIST%&count=true}&count=true" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])') || die "GET $GX_LIST failed"
GX_DETAIL_BYTES=$(api "/api/v1/contacts/$CONTACT_ID" | wc -c) || die "GET contact $CONTACT_ID failed"
GX_LIST_BYTES=$(api "$GX_LIST" | wc -c)
log "guanxi: contact $CONTACT_ID; name contains '$GX_FILTER': $GX_MATCHES matches"
bench detail 4 "$BASE_URL/api/v1/contacts/$CONTACT_ID"
bench list 4 "$BASE_URL$GX_LIST"
bench create 4 "$BASE_URL/api/v1/contacts" POST_CONTACT=1 ACCOUNTS_FILE="$WORK/accounts.txt"
GX_RSS=$(peak_rss_mib "$GX_PID")
gx_stop

# --- the peer -----------------------------------------------------------------------------
log "peer: fresh copy of the loaded data"
copy_db "$PEER_PRISTINE" "$PEER_DB_FILE"
PEER_STARTED=1
"$PEER_RECIPE/start.sh"
PEER_MATCHES=$(curl -sf -H "Authorization: JWT $("$PEER_RECIPE/token.sh")" \
  "http://127.0.0.1:$PEER_PORT/api/contacts/?name=$PEER_FILTER&limit=1&offset=0" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["contacts_count"])') || die "peer list failed"
log "peer: first_name icontains '$PEER_FILTER': $PEER_MATCHES matches"
BENCH_DURATION=$DURATION BENCH_WARMUP=$WARMUP BENCH_THREADS=2 BENCH_CONNS=4 BENCH_SEARCH=$PEER_FILTER \
  "$PEER_RECIPE/bench.sh" > "$WORK/peer.json" || log "WARNING: the peer's bench.sh reports failed requests"
peer_stop

# --- the comparison -------------------------------------------------------------------------
export N PEER_N GX_COUNT GX_FILTER PEER_FILTER GX_MATCHES PEER_MATCHES GX_DETAIL_BYTES GX_LIST_BYTES GX_RSS DURATION WARMUP
python3 - "$RESULTS" "$WORK/peer.json" << 'EOF'
import json, os, sys, time
v = os.environ
gx = {r["test"]: r for r in map(json.loads, open(sys.argv[1]))}
peer = json.load(open(sys.argv[2]))
data = {"contacts": {"guanxi": int(v["N"]), "peer": int(v["PEER_N"])},
        "list_filter": {"guanxi": {"filter": "name:contains:" + v["GX_FILTER"], "matches": int(v["GX_MATCHES"]),
                                   "count": v["GX_COUNT"] != "false"},
                        "peer": {"filter": f"name={v['PEER_FILTER']} (first_name icontains)",
                                 "matches": int(v["PEER_MATCHES"])}},
        "response_bytes": {"guanxi": {"detail": int(v["GX_DETAIL_BYTES"]), "list": int(v["GX_LIST_BYTES"])},
                           "peer": {t: peer["tests"].get(t, {}).get("response_bytes") for t in ("detail", "list")}},
        "peak_rss_mib": {"guanxi": float(v["GX_RSS"]) if v["GX_RSS"] else None,
                         "peer": max(t.get("server_rss_mib_peak") or 0 for t in peer["tests"].values())}}
e = sys.stderr
print(f"\nGuanxi vs django-crm 0.9.0 (gunicorn, 2 sync workers), SQLite both, {int(v['N']):,} contacts each;"
      f" wrk -t2 -c4, {v['WARMUP']} s warm-up + {v['DURATION']} s per test", file=e)
print(f"{'':8}{'guanxi':>27} |{'peer':>27} |{'req/s':>8}{'p99':>8}", file=e)
print(f"{'test':8}{'req/s':>11}{'p50 ms':>8}{'p99 ms':>8} |{'req/s':>11}{'p50 ms':>8}{'p99 ms':>8} |"
      f"{'g/p':>8}{'p/g':>8}", file=e)
tests, ok = {}, peer.get("ok", False)
for t in ("detail", "list", "create"):
    g, p = gx[t], peer["tests"].get(t, {})
    ok = ok and g["non_2xx"] == 0 and g["socket_errors"] == 0
    rr = round(g["rps"] / p["rps"], 1) if p.get("rps") else None
    pr = round(p["p99_ms"] / g["p99_ms"], 1) if p.get("p99_ms") and g["p99_ms"] else None
    tests[t] = {"guanxi": g, "peer": p, "rps_ratio_guanxi_over_peer": rr, "p99_ratio_peer_over_guanxi": pr}
    print(f"{t:8}{g['rps']:>11.1f}{g['p50_ms']:>8.1f}{g['p99_ms']:>8.1f} |{p.get('rps', 0):>11.1f}"
          f"{p.get('p50_ms', 0):>8.1f}{p.get('p99_ms', 0):>8.1f} |{rr or 0:>7.1f}x{pr or 0:>7.1f}x", file=e)
f = data["list_filter"]
print(f"list filter matches: guanxi {f['guanxi']['filter']} {f['guanxi']['matches']}, "
      f"peer {f['peer']['filter']} {f['peer']['matches']}", file=e)
print(f"response bytes (detail, list): guanxi {data['response_bytes']['guanxi']}, "
      f"peer {data['response_bytes']['peer']}", file=e)
print(f"peak RSS MiB: guanxi {data['peak_rss_mib']['guanxi']} (VmHWM), "
      f"peer {data['peak_rss_mib']['peer']} (summed RSS of the gunicorn processes)", file=e)
print(json.dumps({"bench": "guanxi-vs-peer", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "wrk": {"threads": 2, "connections": 4, "duration_s": int(v["DURATION"]),
                          "warmup_s": int(v["WARMUP"])},
                  **data, "ok": ok, "tests": tests}, ensure_ascii=False))
sys.exit(0 if ok else 1)
EOF
