#!/usr/bin/env bash
# sqlite-ceiling.sh [ROWS] [ROWS_PER_TX]: how fast SQLite alone (Python's sqlite3, no
# guanxi code on the path) inserts contacts into guanxi's own schema, with the same
# settings as guanxi's writer (WAL, 1 GiB cache, checkpoint every 20,000 pages) and
# 200-row statements plus one import key per row: once with the contacts table's
# secondary indexes, once without. The first figure bounds what `guanxi import` can reach.
# Environment: SYNCHRONOUS (full, as guanxi; or normal) for the commits; EACH_INDEX=1 adds
# a run without each index in turn, to see what each one costs.
set -euo pipefail
ROWS=${1:-400000}
TX=${2:-5000}
GX=${GUANXI_BIN:-$(dirname "$0")/../target/release/guanxi}
WORK=$(mktemp -d /tmp/gx-ceiling.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$GX" --database "sqlite:$WORK/schema.db" migrate > /dev/null 2>&1
SYNCHRONOUS=${SYNCHRONOUS:-full} EACH_INDEX=${EACH_INDEX:-0} python3 - "$WORK" "$ROWS" "$TX" << 'PY'
import os, random, sqlite3, sys, time
work, rows, tx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sqlite3.connect(f"{work}/schema.db")
table = src.execute("select sql from sqlite_master where name = 'contacts'").fetchone()[0]
indexes = [r[0] for r in src.execute(
    "select sql from sqlite_master where type = 'index' and tbl_name = 'contacts' and sql is not null")]
keys = src.execute("select sql from sqlite_master where name = 'import_keys'").fetchone()[0]
columns = [d[0] for d in src.execute("select * from contacts limit 0").description]
ncols, ID = len(columns), columns.index("id")
random.seed(1)
SUR = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIV = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯鹏晨欣雪梅"
accounts = [random.randbytes(16) for _ in range(20000)]
owner, team = random.randbytes(16), random.randbytes(16)
def row(j):
    values = {
        "id": j.to_bytes(16, "big"), "version": 1, "created_at": 1, "updated_at": 1,
        "owner_id": owner, "team_id": team, "account_id": accounts[j % 20000],
        "name": random.choice(SUR) + random.choice(GIV) + (random.choice(GIV) if j % 3 else ""),
        "title": "采购经理", "mobile": f"+86139{j:08d}", "email": f"user{j}@example{j % 97}.com",
        "notes": f"第{j}行", "tags": "[]", "custom": "{}",
    }
    return [values.get(c) for c in columns]
data = [row(j) for j in range(rows)]
def index_name(sql):
    return sql.split()[2]
runs = [(f"with its {len(indexes)} secondary indexes", indexes)]
if os.environ["EACH_INDEX"] == "1":
    runs += [(f"without {index_name(i)}", [j for j in indexes if j != i]) for i in indexes]
runs.append(("without them", []))
sync = os.environ["SYNCHRONOUS"]
for label, with_indexes in runs:
    path = f"{work}/t.db"
    for s in ("", "-wal", "-shm"):
        if os.path.exists(path + s):
            os.remove(path + s)
    c = sqlite3.connect(path, isolation_level=None)
    for p in ("journal_mode=wal", f"synchronous={sync}", "cache_size=-1048576",
              "wal_autocheckpoint=20000", "temp_store=memory"):
        c.execute(f"pragma {p}")
    c.execute(table)
    c.execute(keys)
    for i in with_indexes:
        c.execute(i)
    t0 = time.time()
    for start in range(0, rows, tx):
        c.execute("begin")
        for s in range(start, min(rows, start + tx), 200):
            chunk = data[s:min(rows, start + tx, s + 200)]
            c.execute("insert into contacts values " + ",".join(["(" + ",".join("?" * ncols) + ")"] * len(chunk)),
                      [v for r in chunk for v in r])
            c.execute("insert into import_keys values " + ",".join(["(?,?,?)"] * len(chunk)) + " on conflict do nothing",
                      [v for r in chunk for v in ("contact", f"row:0123456789abcdef:{int.from_bytes(r[ID], 'big')}", r[ID])])
        c.execute("commit")
    dt = time.time() - t0
    c.close()
    print(f"{rows:,} contacts, {tx:,} per transaction, {label}: {dt:.1f} s, {rows / dt:,.0f} rows/s")
print(f"SQLite {sqlite3.sqlite_version}; synchronous={sync}; {os.cpu_count()} cores")
PY
