#!/usr/bin/env bash
# import.sh [ROWS]: `guanxi import contact` of a generated CSV as Excel on Chinese Windows
# saves it (GBK, CRLF): ROWS contacts (default 1,000,000) at 20,000 companies, 1 % of the
# rows repeating an earlier person with the e-mail in other case (duplicates to match).
#   1. into a new SQLite database (companies created on the way);
#   2. the same file again (every row found and left unchanged);
#   3. a dry run of it.
# Prints each run's time, rows/s and peak memory. Environment: GUANXI_BIN, KEEP_WORK=1.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROWS=${1:-${ROWS:-1000000}}
gx_prepare
DB="sqlite:$WORK/import.db"
CSV=$WORK/contacts.csv

log "writing $ROWS contacts to $CSV (GBK)"
python3 - "$ROWS" "$CSV" << 'PY'
import random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
random.seed(11)
SUR = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIV = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯鹏晨欣雪梅"
CITY = ["上海", "北京", "深圳", "广州", "杭州", "成都", "武汉", "南京", "苏州", "天津"]
TRADE = ["科技", "贸易", "实业", "电子", "机械", "医药", "食品", "建材", "物流", "文化"]
companies = [f"{random.choice(CITY)}{random.choice(SUR)}{random.choice(GIV)}{random.choice(TRADE)}有限公司{i}"
             for i in range(20000)]
TITLE = ["采购经理", "总经理", "工程师", "财务", "销售总监", ""]
with open(path, "w", encoding="gbk", newline="") as f:
    f.write("姓名,手机,邮箱,公司,职位,备注\r\n")
    for i in range(rows):
        j = i
        if i > 100 and random.random() < 0.01:
            j = random.randrange(i)  # the same person again
        name = random.choice(SUR) + random.choice(GIV) + (random.choice(GIV) if j % 3 else "")
        email = f"user{j}@example{j % 97}.com"
        if j != i:
            email = email.upper()
        f.write(f"{name},139{j:08d},{email},{companies[j % len(companies)]},{TITLE[j % 6]},第{j}行\r\n")
PY
ls -la "$CSV" >&2

EMAIL=bench-import@guanxi.test
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' \
  | "$GX" --database "$DB" user add --email "$EMAIL" --role admin --name "import bench" --password-stdin > /dev/null

run() {
  local label=$1
  shift
  log "$label"
  /usr/bin/time -v "$GX" --database "$DB" import contact "$CSV" --as "$EMAIL" "$@" \
    > "$WORK/out.txt" 2> "$WORK/time.txt"
  head -n 1 "$WORK/out.txt" >&2
  grep -E "Elapsed|Maximum resident" "$WORK/time.txt" >&2
}
run "1. into a new database"
run "2. the same file again"
run "3. a dry run" --dry-run
log "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
