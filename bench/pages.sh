#!/usr/bin/env bash
# pages.sh [DURATION_S]: server time of the web pages on the 1M-account database, measured
# with wrk from a second process over loopback, one connection (the time one user waits
# for the server) and then 4. Each page cycles over real records:
#   login          GET /login (no session)
#   home           GET /                     dashboard of an administrator (whole base)
#   accounts_list  GET /accounts             first page, newest first, with the total count
#   accounts_prov  GET /accounts?filter=province:eq:P&sort=name   over the 31 provinces
#   account_360    GET /accounts/{id}        over 310 customer accounts
#   account_form   GET /accounts/{id}/edit   same accounts
#   contact_page   GET /contacts/{id}        a contact of each of those accounts
#   contacts_list  GET /contacts
#   kanban         GET /pipeline
#   case_queue     GET /cases/queue
#   leads_list     GET /leads
#   search         GET /search?q=C           over 10 given-name characters (a LIKE scan
#                                            until the full-text index of issue 6)
# Signs in as a new administrator (random password) of DATABASE. Table to stderr, one JSON
# object per test to stdout. Environment as bench/http.sh: DATABASE, PORT (18081), DURATION
# (10 s), WARMUP (2 s), CONNS ("1 4"), TESTS, GUANXI_BIN.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=${DATABASE:-sqlite:/tmp/bench/g1m.db}
PORT=${PORT:-18081}
DURATION=${1:-${DURATION:-10}}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-1 4}
TESTS=${TESTS:-login home accounts_list accounts_prov account_360 account_form contact_page contacts_list kanban case_queue leads_list search}
THREADS=1

need_wrk
gx_prepare
TOKEN=$(gx_token "$DB")
WEB_EMAIL="bench-web-$RANDOM$RANDOM@guanxi.test"
WEB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
log "adding the web user $WEB_EMAIL"
echo "$WEB_PASSWORD" | "$GX" --database "$DB" user add --email "$WEB_EMAIL" --role admin \
  --name "bench web" --password-stdin > /dev/null
BASE_URL=http://127.0.0.1:$PORT
gx_start "$DB" "$PORT"
export TOKEN BASE_URL

COOKIE=$(curl -s -o /dev/null -D - --data-urlencode "email=$WEB_EMAIL" \
  --data-urlencode "password=$WEB_PASSWORD" "$BASE_URL/login" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \(guanxi_session=[^;]*\).*/\1/p' | tr -d '\r')
[ -n "$COOKIE" ] || die "signing in as $WEB_EMAIL failed"
export COOKIE

log "picking records"
python3 - "$WORK" << 'PY'
import json, os, sys, urllib.parse, urllib.request
work, base, token = sys.argv[1], os.environ["BASE_URL"], os.environ["TOKEN"]
PROVINCES = """北京市 天津市 河北省 山西省 内蒙古自治区 辽宁省 吉林省 黑龙江省 上海市 江苏省 浙江省 安徽省
福建省 江西省 山东省 河南省 湖北省 湖南省 广东省 广西壮族自治区 海南省 重庆市 四川省 贵州省 云南省
西藏自治区 陕西省 甘肃省 青海省 宁夏回族自治区 新疆维吾尔自治区""".split()
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋".split()
q = urllib.parse.quote
def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
def lines(name, items):
    with open(os.path.join(work, name), "w") as f:
        f.write("".join(i + "\n" for i in items))
ids, contacts = [], []
for p in PROVINCES:
    ids += [a["id"] for a in get(f"/api/v1/accounts?filter=province:eq:{q(p)}"
                                 f"&filter=relationship:eq:customer&sort=-name&limit=10")["items"]]
for i in ids:
    c = get(f"/api/v1/contacts?filter=account_id:eq:{i}&limit=1")["items"]
    contacts += [x["id"] for x in c]
if not ids or not contacts:
    sys.exit("no customer accounts or contacts: seed the database first")
lines("account_360.txt", [f"/accounts/{i}" for i in ids])
lines("account_form.txt", [f"/accounts/{i}/edit" for i in ids])
lines("contact_page.txt", [f"/contacts/{i}" for i in contacts])
lines("accounts_prov.txt", [f"/accounts?filter=province:eq:{q(p)}&sort=name" for p in PROVINCES])
lines("search.txt", [f"/search?q={q(g)}" for g in GIVEN])
for name, path in [("login", "/login"), ("home", "/"), ("accounts_list", "/accounts"),
                   ("contacts_list", "/contacts"), ("kanban", "/pipeline"),
                   ("case_queue", "/cases/queue"), ("leads_list", "/leads")]:
    lines(f"{name}.txt", [path])
print(f"{len(ids)} accounts, {len(contacts)} contacts", file=sys.stderr)
PY

for test in $TESTS; do
  [ -f "$WORK/$test.txt" ] || die "no test $test"
  cookie=$COOKIE
  [ "$test" != login ] || cookie=""
  for c in $CONNS; do
    bench "$test" "$c" "$BASE_URL" PATHS_FILE="$WORK/$test.txt" COOKIE="$cookie"
  done
done

log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); database $DB"
cat "$RESULTS"
python3 - "$RESULTS" << 'PY' >&2
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rows if r["non_2xx"] or r["socket_errors"]]
if bad:
    print("requests failed:", [(r["test"], r["status_counts"]) for r in bad])
    sys.exit(1)
PY
