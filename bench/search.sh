#!/usr/bin/env bash
# search.sh [DURATION_S]: the full-text index on the 1M-account database.
#   1. `guanxi reindex`: time, records/s, peak memory (skipped with REINDEX=0);
#   2. GET /api/v1/search?q=… under wrk at 1 and 4 connections, cycling over queries of
#      five kinds: a person's name (张伟), pinyin initials (zw), full pinyin (zhangwei),
#      the last 4 and last 8 digits of a mobile, a company word (科技), an e-mail domain;
#   3. lag from commit to searchable: contacts created through the API one at a time,
#      each searched for (by its unique e-mail) until found; p50/p99/max over LAG_N (200).
# Environment as bench/http.sh: DATABASE (sqlite:/tmp/bench/g1m.db), PORT (18082),
# DURATION (10 s), WARMUP (2 s), CONNS ("1 4"), GUANXI_BIN.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=${DATABASE:-sqlite:/tmp/bench/g1m.db}
PORT=${PORT:-18082}
DURATION=${1:-${DURATION:-10}}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-1 4}
LAG_N=${LAG_N:-200}
THREADS=1

need_wrk
gx_prepare
if [ "${REINDEX:-1}" = 1 ]; then
  log "rebuilding the index of $DB"
  /usr/bin/time -v "$GX" --database "$DB" reindex 2> "$WORK/reindex.time" | tee "$WORK/reindex.out" >&2
  grep -E "Elapsed|Maximum resident" "$WORK/reindex.time" >&2
fi
TOKEN=$(gx_token "$DB")
BASE_URL=http://127.0.0.1:$PORT
gx_start "$DB" "$PORT"
export TOKEN BASE_URL

log "picking queries"
python3 - "$WORK" << 'PY'
import json, os, random, sys, urllib.parse, urllib.request
work, base, token = sys.argv[1], os.environ["BASE_URL"], os.environ["TOKEN"]
def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(req))
# The seed draws names from these; their readings give the pinyin queries.
PINYIN = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
          "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "伟": "wei", "芳": "fang",
          "娜": "na", "敏": "min", "静": "jing", "丽": "li", "强": "qiang", "磊": "lei",
          "军": "jun", "洋": "yang"}
random.seed(7)
queries = []
page = get("/api/v1/contacts?limit=200&sort=-created_at")["items"]
for c in page:
    name = c["name"]
    queries.append(name)
    if all(ch in PINYIN for ch in name):
        queries.append("".join(PINYIN[ch][0] for ch in name))
        queries.append("".join(PINYIN[ch] for ch in name))
    digits = "".join(ch for ch in (c.get("mobile") or "") if ch.isdigit())
    if len(digits) >= 8:
        queries += [digits[-4:], digits[-8:]]
    if c.get("email"):
        queries.append(c["email"].split("@")[1])
queries += ["科技", "贸易", "上海", "华为", "有限公司"]
random.shuffle(queries)
with open(os.path.join(work, "paths.txt"), "w") as f:
    for q in queries:
        f.write("/api/v1/search?q=" + urllib.parse.quote(q) + "&limit=20\n")
print(f"{len(queries)} queries", file=sys.stderr)
PY

for c in $CONNS; do
  bench search "$c" "$BASE_URL/api/v1/search" PATHS_FILE="$WORK/paths.txt"
done

log "measuring the lag from commit to searchable ($LAG_N contacts)"
python3 - "$LAG_N" << 'PY' | tee -a "$RESULTS" >&2
import json, os, sys, time, urllib.request
n, base, token = int(sys.argv[1]), os.environ["BASE_URL"], os.environ["TOKEN"]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
nonce = int(time.time())
lags = []
for i in range(n):
    email = f"lag.{nonce}.{i}@searchlag.test"
    call("POST", "/api/v1/contacts", {"name": "延迟测试", "email": email})
    t0 = time.monotonic()
    while True:
        hits = call("GET", "/api/v1/search?q=" + email + "&types=contact&limit=1")["items"]
        if hits:
            break
        if time.monotonic() - t0 > 30:
            raise SystemExit(f"{email} not searchable after 30 s")
        time.sleep(0.005)
    lags.append((time.monotonic() - t0) * 1000)
lags.sort()
pct = lambda p: lags[min(len(lags) - 1, int(len(lags) * p))]
print(json.dumps({"test": "lag", "n": n, "p50_ms": round(pct(0.5), 1),
                  "p99_ms": round(pct(0.99), 1), "max_ms": round(lags[-1], 1)}))
PY
log "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); database $DB"
cat "$RESULTS"
