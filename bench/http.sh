#!/usr/bin/env bash
# http.sh [DURATION_S]: HTTP load test of the Guanxi API with wrk, from a second process
# over loopback. Tests, each at 4 and at 32 connections (wrk -t2), after a warm-up:
#   account_360     GET  /api/v1/accounts/{id}/360, over 310 customer accounts
#   accounts_list   GET  /api/v1/accounts?filter=province:eq:P&sort=name&limit=50, over the 31 provinces
#   contacts_list   GET  /api/v1/contacts?filter=name:contains:C&limit=20, over 10 given-name characters
#   contact_create  POST /api/v1/contacts, a new contact per request (unique e-mail and mobile),
#                   on 310 other customer accounts
# Record ids come from the database through the API. Progress and a table go to stderr,
# one JSON object to stdout. Exit status 1 if any request failed.
#
# RULES=N (default 0): contact_create runs a second time right after the first, as
# contact_create+N, with N active workflow rules on contacts created; RULES_FIRING of them
# (default 1) match every new contact and add a tag to it, the others match none. The rules
# are made through the API before that run and deleted after it, once the jobs they queued
# are done.
#
# Environment: DATABASE (default sqlite:/tmp/bench/g1m.db), PORT (18080), DURATION (20 s),
# WARMUP (5 s), CONNS ("4 32"), TESTS (all four), GUANXI_BIN (target/release/guanxi).
# A server that is already running: GUANXI_URL (e.g. http://127.0.0.1:8080), GUANXI_PID
# (for its memory, optional) and GUANXI_TOKEN (else a token is made with DATABASE).
# Without GUANXI_URL the script serves DATABASE itself and stops the server at the end.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=${DATABASE:-sqlite:/tmp/bench/g1m.db}
PORT=${PORT:-18080}
DURATION=${1:-${DURATION:-20}}
WARMUP=${WARMUP:-5}
CONNS=${CONNS:-4 32}
TESTS=${TESTS:-account_360 accounts_list contacts_list contact_create}
RULES=${RULES:-0}
RULES_FIRING=${RULES_FIRING:-1}
[[ "$DURATION" =~ ^[0-9]+$ && "$WARMUP" =~ ^[0-9]+$ ]] || die "usage: $(basename "$0") [DURATION_S]"
[[ "$RULES" =~ ^[0-9]+$ && "$RULES_FIRING" =~ ^[0-9]+$ ]] || die "RULES and RULES_FIRING are counts"

need_wrk
DB_LABEL=$DB
if [ -n "${GUANXI_URL:-}" ]; then
  BASE_URL=${GUANXI_URL%/}
  DB_LABEL=${DATABASE:-a running server}
  SERVER_PID=${GUANXI_PID:-}
  if [ -n "${GUANXI_TOKEN:-}" ]; then TOKEN=$GUANXI_TOKEN; else gx_prepare; TOKEN=$(gx_token "$DB"); fi
else
  BASE_URL=http://127.0.0.1:$PORT
  gx_prepare
  TOKEN=$(gx_token "$DB")
  gx_start "$DB" "$PORT"
fi
export TOKEN BASE_URL

# Real ids, through the API. The 360 uses the last 10 customer accounts by name in each
# province (names are unrelated to creation order, so these spread over the whole table); the
# new contacts go to the first 10 by name, another set, so the accounts of the 360 test do not
# gain contacts from run to run.
log "picking records"
python3 - "$WORK" << 'EOF'
import json, os, sys, urllib.parse, urllib.request
work, base, token = sys.argv[1], os.environ["BASE_URL"], os.environ["TOKEN"]
PROVINCES = """北京市 天津市 河北省 山西省 内蒙古自治区 辽宁省 吉林省 黑龙江省 上海市 江苏省 浙江省 安徽省
福建省 江西省 山东省 河南省 湖北省 湖南省 广东省 广西壮族自治区 海南省 重庆市 四川省 贵州省 云南省
西藏自治区 陕西省 甘肃省 青海省 宁夏回族自治区 新疆维吾尔自治区""".split()
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋".split()
q = urllib.parse.quote

def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"GET {path}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}")

def lines(name, items):
    with open(os.path.join(work, name), "w") as f:
        f.write("".join(i + "\n" for i in items))

lists = [f"/api/v1/accounts?filter=province:eq:{q(p)}&sort=name&limit=50" for p in PROVINCES]
def customers(sort):  # 10 customer accounts per province, first by name in that order
    ids = []
    for p in PROVINCES:
        ids += [a["id"] for a in get(f"/api/v1/accounts?filter=province:eq:{q(p)}"
                                     f"&filter=relationship:eq:customer&sort={sort}&limit=10")["items"]]
    if not ids:
        sys.exit("no customer accounts found: seed the database first")
    return ids
ids = customers("-name")
lines("account_360.txt", [f"/api/v1/accounts/{i}/360" for i in ids])
lines("accounts.txt", customers("name"))
lines("accounts_list.txt", lists)
lines("contacts_list.txt", [f"/api/v1/contacts?filter=name:contains:{q(c)}&limit=20" for c in GIVEN])
get(f"/api/v1/accounts/{ids[0]}/360")
get(lists[0])
print(f"[http.sh] {len(ids)} accounts for the 360, {len(lists)} provinces", file=sys.stderr)
EOF

# bench_rules add|remove: the RULES benchmark rules (named "bench rule N"), through the
# API. Removing waits first until no job is queued or running, so the rules' backlog does
# not slow the next test.
bench_rules() {
  python3 - "$1" "$RULES" "$RULES_FIRING" << 'EOF'
import json, os, sys, time, urllib.parse, urllib.request
what, n, firing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base, token = os.environ["BASE_URL"], os.environ["TOKEN"]

def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.headers.get("ETag"), (json.load(r) if r.status != 204 else None)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}")

if what == "add":
    for i in range(n):  # every contact the benchmark creates is in 采购部
        dept = "采购部" if i < firing else f"部门{i}"
        call("POST", "/api/v1/rules", {
            "name": f"bench rule {i}", "entity": "contact", "trigger": {"on": "created"},
            "conditions": [{"field": "department", "op": "eq", "value": dept}],
            "actions": [{"type": "add_tag", "tag": "rule-bench"}]})
    print(f"[http.sh] {n} active rules on contacts, {min(firing, n)} firing on every new one",
          file=sys.stderr)
    sys.exit(0)
started = time.time()
while True:
    counts = call("GET", "/api/v1/jobs?limit=1")[1]["counts"]
    if counts.get("queued", 0) + counts.get("running", 0) == 0:
        break
    time.sleep(1)
print(f"[http.sh] the rules' jobs were done {time.time() - started:.0f} s after the run",
      file=sys.stderr)
q = urllib.parse.quote("name:contains:bench rule")
ids = [r["id"] for r in call("GET", f"/api/v1/rules?filter={q}&limit=500")[1]["items"]]
for i in ids:
    etag, _ = call("GET", f"/api/v1/rules/{i}")
    call("DELETE", f"/api/v1/rules/{i}", headers={"If-Match": etag})
EOF
}

for conns in $CONNS; do
  for test in $TESTS; do
    case $test in
      account_360 | accounts_list | contacts_list)
        bench "$test" "$conns" "$BASE_URL/" PATHS_FILE="$WORK/$test.txt" ;;
      contact_create)
        bench "$test" "$conns" "$BASE_URL/api/v1/contacts" POST_CONTACT=1 ACCOUNTS_FILE="$WORK/accounts.txt"
        if [ "$RULES" -gt 0 ]; then
          bench_rules add
          bench "$test+$RULES" "$conns" "$BASE_URL/api/v1/contacts" POST_CONTACT=1 ACCOUNTS_FILE="$WORK/accounts.txt"
          bench_rules remove
        fi ;;
      *) die "unknown test '$test'" ;;
    esac
  done
done

python3 - "$RESULTS" "$DB_LABEL" "$BASE_URL" "$DURATION" "$WARMUP" "$(peak_rss_mib "$SERVER_PID")" << 'EOF'
import json, re, sys, time
path, db, url, duration, warmup, rss = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
db = re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", db)  # no password in the output
ok = all(r["non_2xx"] == 0 and r["socket_errors"] == 0 and r["requests"] > 0 for r in rows)
print(f"\nGuanxi HTTP, {db} via {url}; "
      f"wrk -t2, {warmup} s warm-up + {duration} s per test", file=sys.stderr)
print(f"{'test':<16}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'peak RSS MiB':>14}",
      file=sys.stderr)
for r in rows:
    print(f"{r['test']:<16}{r['connections']:>6}{r['rps']:>10.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
          f"{r['non_2xx'] + r['socket_errors']:>8}{r['server_peak_rss_mib'] or float('nan'):>14.1f}",
          file=sys.stderr)
print("(peak RSS: the server's VmHWM so far, after each test)", file=sys.stderr)
print(json.dumps({"bench": "guanxi-http", "database": db,
                  "url": url, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "wrk": {"threads": 2, "duration_s": int(duration), "warmup_s": int(warmup)},
                  "server_peak_rss_mib": float(rss) if rss else None, "ok": ok, "tests": rows},
                 ensure_ascii=False))
sys.exit(0 if ok else 1)
EOF
