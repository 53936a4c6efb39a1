#!/bin/sh
# Instructions per GET /data?limit=100, reproducibly: callgrind on `colibri serve` (one HTTP
# thread) while N requests go over one keep-alive connection; prints the instructions counted in
# the request handler (on_request, inclusive) and in the whole process (libmicrohttpd's own work
# included) per request, and the top functions (exclusive). The raw profile is kept if KEEP=1.
#   bench/callgrind_page.sh DB [BIN [N [PATH]]]      e.g. DB from BENCH_CACHE (bench/scaling.py)
set -eu
DB=$1 BIN=${2:-build/colibri} N=${3:-200} P=${4:-/data?limit=100}
OUT=$(mktemp /tmp/callgrind.XXXXXX)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
COLIBRI_STORE=sqlite:$DB COLIBRI_LISTEN=127.0.0.1:$PORT COLIBRI_LOG_LEVEL=warn COLIBRI_HTTP_THREADS=1 \
COLIBRI_CURSOR_SECRET=callgrind COLIBRI_SCHEMA=${COLIBRI_SCHEMA:-schema/flights.json} \
    valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve >/dev/null 2>&1 &
VP=$!
python3 - "$PORT" "$N" "$P" <<'PY'
import http.client, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for _ in range(300):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/healthz"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.2)
for _ in range(n):
    c.request("GET", path); r = c.getresponse(); r.read(); assert r.status == 200
PY
kill -TERM $VP; wait $VP || true
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | awk -v n="$N" '/server.c:on_request/ {gsub(",","",$1); printf "instructions per request (on_request, inclusive): %d\n", $1/n; exit}'
callgrind_annotate "$OUT" 2>/dev/null | awk -v n="$N" '/PROGRAM TOTALS/ {gsub(",","",$1); printf "instructions per request (whole process / N, start-up included): %d\n", $1/n; exit}'
callgrind_annotate "$OUT" 2>/dev/null | sed -n '/file:function/,$p' | sed -n 3,22p | sed -E 's/ \[[^]]*\]$//'
if [ "${KEEP:-}" = 1 ]; then echo "profile: $OUT"; else rm -f "$OUT"; fi
