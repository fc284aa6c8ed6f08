#!/usr/bin/env bash
# tracking.sh [DURATION_S]: load test of campaign tracking with wrk over loopback:
#   open_pixel      GET /t/o/{campaign}/{contact}/{sig}, the open pixel of MEMBERS members in turn
#   click_redirect  GET /t/c/{campaign}/{contact}/{sig}?u=…, their tracked link (a 303)
# each at 32 and 128 connections after a warm-up. A fresh database gets a launched campaign
# with MEMBERS members (default 100,000) and their signed links (the tracking_links
# example, built in release), so most requests are a member's first open or click: the
# response is queued and recorded after the answer, in batches.
#
# Environment: DATABASE (default a fresh sqlite:$WORK/tracking.db), MEMBERS, PORT (18081),
# DURATION (20 s), WARMUP (5 s), CONNS ("32 128"), GUANXI_BIN (target/release/guanxi).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=${PORT:-18081}
DURATION=${1:-${DURATION:-20}}
WARMUP=${WARMUP:-5}
CONNS=${CONNS:-32 128}
MEMBERS=${MEMBERS:-100000}
DB=${DATABASE:-sqlite:$WORK/tracking.db}

need_wrk
gx_prepare
log "making a campaign of $MEMBERS members and their links in $DB"
(cd "$REPO_DIR" && cargo run -q --release -p guanxi-app --example tracking_links -- \
  "$DB" "$MEMBERS" "$WORK/opens" "$WORK/clicks")
gx_start "$DB" "$PORT"
# The wrk script sends a bearer token; tracking needs none.
TOKEN=none
for c in $CONNS; do
  bench open_pixel "$c" "http://127.0.0.1:$PORT/" PATHS_FILE="$WORK/opens"
  bench click_redirect "$c" "http://127.0.0.1:$PORT/" PATHS_FILE="$WORK/clicks"
done
# What the recorder made of it, once its queue has drained.
sleep 2
log "server log tail:"
tail -n 5 "$WORK/server.log" >&2
cat "$RESULTS"
