#!/usr/bin/env bash
# lifetimes.sh: `guanxi analytics predict` side by side with the Python lifetimes package
# (issue 5), on the same transaction logs, one after the other:
#   cdnow      CDNOW_master.txt as customer_id,date,amount (69,659 rows, 23,570 customers)
#   cdnow-xN   the same log COPIES times over, each copy with new customer ids
#              (29 copies: 2,020,111 rows, 683,530 customers)
# Both sides do the same work, as the published CDNOW fit does it: calibration up to
# 1997-09-30, weeks (days collapsed, times in days / 7), BG/NBD, Gamma-Gamma on the repeat
# buyers with a positive mean spend, then per customer the expected purchases over 39
# weeks, P(alive), the expected spend and a 12-month CLV at 1 % a month; output as CSV.
#   guanxi     target/release/guanxi analytics predict … --format csv; the fit times are
#              its own in-process timings (GUANXI_LOG=guanxi=debug); run on both cores,
#              and pinned to one core (taskset -c 0) for a like-for-like figure.
#   lifetimes  bench/lifetimes_driver.py run …, in a virtualenv under /tmp with
#              PIP_SPECS from PyPI; the fit times are time.perf_counter() around .fit().
# Whole-process time is /usr/bin/time's elapsed time (start to exit, Python's imports
# included), with the peak RSS. Each figure is the median of RUNS runs. Then the fitted
# parameters and every customer's predictions are compared.
#
# Build first: cargo build --release -p guanxi. Tables (markdown) go to stdout, progress
# to stderr.
#
# Environment: RUNS (3), COPIES (29), VENV (/tmp/gx-lifetimes-venv, made when missing and
# kept), PIP_SPECS (the versions below), GUANXI_BIN (target/release/guanxi),
# CDNOW_DIR (../shared/data/cdnow), KEEP_WORK=1 keeps the data and outputs.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
CDNOW_DIR=${CDNOW_DIR:-$REPO_DIR/../shared/data/cdnow}
VENV=${VENV:-/tmp/gx-lifetimes-venv}
# The newest releases when this was written; lifetimes 0.11.3 (2020) works with them.
PIP_SPECS=${PIP_SPECS:-lifetimes==0.11.3 pandas==3.1.1 numpy==2.4.6 scipy==1.17.1 autograd==1.9.1}
RUNS=${RUNS:-3}
COPIES=${COPIES:-29}
END=1997-09-30
HORIZON=39
MONTHS=12
RATE=0.01
WORK=$(mktemp -d /tmp/gx-lifetimes.XXXXXX)
RESULTS=$WORK/results.jsonl

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v /usr/bin/time > /dev/null || die "/usr/bin/time is missing (apt-get install time)"
command -v taskset > /dev/null || die "taskset is missing (apt-get install util-linux)"

# The binary, copied so a rebuild during the run changes nothing.
src=${GUANXI_BIN:-$REPO_DIR/target/release/guanxi}
cp "$src" "$WORK/guanxi" 2> /dev/null || die "$src is missing: cargo build --release -p guanxi"
GX=$WORK/guanxi
"$GX" analytics predict --help > /dev/null || die "$src has no 'analytics predict'"

# The virtualenv.
PY=$VENV/bin/python
if ! [ -x "$PY" ] || ! "$PY" -c 'import lifetimes' 2> /dev/null; then
  log "creating $VENV with: $PIP_SPECS"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # PIP_SPECS is a list of requirements
  "$VENV/bin/pip" install -q $PIP_SPECS
fi
log "lifetimes side: $("$PY" -c 'import sys, lifetimes, pandas, numpy, scipy; print("Python", sys.version.split()[0], "lifetimes", lifetimes.__version__, "pandas", pandas.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)')"

# The data: CDNOW's master log as CSV with ISO dates, and COPIES copies of it.
[ -f "$CDNOW_DIR/CDNOW_master.txt" ] || die "no $CDNOW_DIR/CDNOW_master.txt"
awk 'BEGIN { print "customer_id,date,amount" }
     NR > 1 && NF == 4 { printf "%s,%s-%s-%s,%s\n", $1, substr($2, 1, 4), substr($2, 5, 2), substr($2, 7, 2), $4 }' \
  "$CDNOW_DIR/CDNOW_master.txt" > "$WORK/cdnow.csv"
awk -v copies="$COPIES" 'NR == 1 { print; next } { rows[++n] = $0 }
     END { for (k = 0; k < copies; k++) for (i = 1; i <= n; i++) printf "%d_%s\n", k, rows[i] }' \
  "$WORK/cdnow.csv" > "$WORK/cdnow-x$COPIES.csv"
log "data: cdnow $(($(wc -l < "$WORK/cdnow.csv") - 1)) rows, cdnow-x$COPIES $(($(wc -l < "$WORK/cdnow-x$COPIES.csv") - 1)) rows"

# ms_of STAGE FILE: the milliseconds guanxi logged for a stage ("fitted bgnbd in 1.2 ms").
ms_of() {
  sed -n "s/.*$1 in \([0-9.]*\) ms.*/\1/p" "$2" | head -n 1
}

# guanxi_run DATA SIDE [taskset prefix…]: one timed guanxi run, recorded in $RESULTS.
guanxi_run() {
  local data=$1 side=$2
  shift 2
  GUANXI_LOG=guanxi=debug /usr/bin/time -f '%e %M' -o "$WORK/time" \
    "$@" "$GX" analytics predict --model bgnbd --transactions "$WORK/$data.csv" \
    --calibration-end "$END" --period week --horizon "$HORIZON" \
    --spend-model gamma-gamma --clv-months "$MONTHS" --discount-rate "$RATE" --format csv \
    > "$WORK/$data.guanxi.csv" 2> "$WORK/guanxi.err" || { cat "$WORK/guanxi.err" >&2; die "guanxi failed"; }
  local wall rss key stage ms stages="" fit="" gg=""
  read -r wall rss < "$WORK/time"
  for key in "read:read [0-9]* transactions of [0-9]* customers" "summary:summarised [0-9]* customers" \
    "fit_bgnbd:fitted bgnbd" "fit_gamma_gamma:fitted gamma-gamma to [0-9]* repeat buyers" \
    "predict:predicted [0-9]* customers" "write:wrote the output"; do
    stage=${key%%:*}
    ms=$(ms_of "${key#*:}" "$WORK/guanxi.err")
    [ -n "$ms" ] || die "no '$stage' timing in guanxi's log: $(cat "$WORK/guanxi.err")"
    stages+="${stages:+,}\"$stage\":$(awk -v v="$ms" 'BEGIN { print v / 1000 }')"
    case $stage in
      fit_bgnbd) fit=$ms ;;
      fit_gamma_gamma) gg=$ms ;;
    esac
  done
  printf '{"data":"%s","side":"%s","wall":%s,"rss_mib":%s,"fit_bgnbd":%s,"fit_gamma_gamma":%s,"stages":{%s}}\n' \
    "$data" "$side" "$wall" "$((rss / 1024))" "$(awk -v v="$fit" 'BEGIN { print v / 1000 }')" \
    "$(awk -v v="$gg" 'BEGIN { print v / 1000 }')" "$stages" >> "$RESULTS"
  log "  $side: ${wall} s, fit BG/NBD ${fit} ms, Gamma-Gamma ${gg} ms, peak $((rss / 1024)) MiB"
}

# lifetimes_run DATA: one timed lifetimes run, recorded in $RESULTS.
lifetimes_run() {
  local data=$1 wall rss
  /usr/bin/time -f '%e %M' -o "$WORK/time" \
    "$PY" "$BENCH_DIR/lifetimes_driver.py" run "$WORK/$data.csv" "$WORK/$data.lifetimes.csv" \
    "$END" "$HORIZON" "$MONTHS" "$RATE" > "$WORK/$data.lifetimes.json" 2> "$WORK/lifetimes.err" \
    || { cat "$WORK/lifetimes.err" >&2; die "lifetimes failed"; }
  read -r wall rss < "$WORK/time"
  "$PY" - "$WORK/$data.lifetimes.json" "$data" "$wall" "$((rss / 1024))" >> "$RESULTS" << 'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"data": sys.argv[2], "side": "lifetimes", "wall": float(sys.argv[3]),
                  "rss_mib": int(sys.argv[4]), "fit_bgnbd": r["times"]["fit_bgnbd"],
                  "fit_gamma_gamma": r["times"]["fit_gamma_gamma"], "stages": r["times"],
                  "customers": r["customers"], "transactions": r["transactions"]}))
EOF
  log "  lifetimes: ${wall} s, peak $((rss / 1024)) MiB"
}

for data in cdnow "cdnow-x$COPIES"; do
  for ((run = 1; run <= RUNS; run++)); do
    log "$data, run $run of $RUNS"
    guanxi_run "$data" guanxi
    guanxi_run "$data" guanxi-1core taskset -c 0
    lifetimes_run "$data"
  done
  # The parameters guanxi fitted, and every customer's predictions on both sides.
  for model in bgnbd gamma-gamma; do
    "$GX" analytics fit --model "$model" --transactions "$WORK/$data.csv" \
      --calibration-end "$END" --period week --format csv
  done | awk 'NR == 1 || !/^model,/' > "$WORK/$data.params.csv"
  "$PY" "$BENCH_DIR/lifetimes_driver.py" compare "$data" "$WORK/$data.params.csv" \
    "$WORK/$data.guanxi.csv" "$WORK/$data.lifetimes.json" "$WORK/$data.lifetimes.csv" >> "$RESULTS"
done

"$PY" "$BENCH_DIR/lifetimes_driver.py" report "$RESULTS"
