#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): resident memory of `backend` per
# in-flight /sleep request at N concurrent connections (default 10000; goal:
# under 20 KiB each). Usage: scripts/bench-backend-rss.sh [N] [seconds]
# Needs python3 (asyncio client). Loopback only.
set -euo pipefail

N="${1:-10000}"
SLEEP_S="${2:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release/backend"

# Both the server and the client need one descriptor per connection.
hard="$(ulimit -Hn)"
want=$((N + 1024))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "ulimit -Hn is $hard, need $want for N=$N; lower N or raise the hard limit" >&2
  exit 1
fi
ulimit -n "$want"

(cd "$ROOT" && cargo build --release -p backend >&2)

LOG="$(mktemp)"
PORT_FILE="$(mktemp)"
RUST_LOG=info,request=debug "$BIN" --addr 127.0.0.1:0 --pod-name bench --shutdown-timeout 2s 2>"$LOG" &
PID=$!
cleanup() { kill -9 "$PID" 2>/dev/null || true; rm -f "$LOG" "$PORT_FILE"; }
trap cleanup EXIT

for _ in $(seq 100); do
  addr="$(grep -o 'msg=listening addr=[^ ]*' "$LOG" | head -1 | cut -d= -f3 || true)"
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "${addr:-}" ] || { echo "backend did not start" >&2; cat "$LOG" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$PID/status"; }

# Warm up: one request so the runtime's lazily built parts are counted in the baseline.
python3 - "$addr" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
while s.recv(4096):
    pass
PY
BASE="$(rss_kib)"

# Hold N /sleep requests open until killed.
python3 - "$addr" "$N" "$SLEEP_S" <<'PY' &
import asyncio, sys, time
host, port = sys.argv[1].rsplit(":", 1)
n, secs = int(sys.argv[2]), int(sys.argv[3])
req = f"GET /sleep?seconds={secs} HTTP/1.1\r\nHost: b\r\n\r\n".encode()

async def one(conns):
    for attempt in range(50):
        try:
            r, w = await asyncio.open_connection(host, int(port))
            break
        except OSError:
            await asyncio.sleep(0.05 * (attempt + 1))
    else:
        return
    w.write(req)
    await w.drain()
    conns.append(w)

async def main():
    conns = []
    t = time.monotonic()
    sem = asyncio.Semaphore(500)
    async def gated():
        async with sem:
            await one(conns)
    await asyncio.gather(*(gated() for _ in range(n)))
    print(f"client: {len(conns)} requests sent in {time.monotonic() - t:.1f}s", flush=True)
    await asyncio.sleep(secs + 5)

asyncio.run(main())
PY
CLIENT=$!

# Wait until the server has started every request (one request_started debug line each).
deadline=$((SECONDS + 120))
while :; do
  started="$(grep -c 'msg=request_started' "$LOG" || true)"
  [ "$started" -ge "$N" ] && break
  [ "$SECONDS" -ge "$deadline" ] && { echo "only $started requests started after 120s" >&2; break; }
  sleep 0.2
done
RSS="$(rss_kib)"
HWM="$(hwm_kib)"
FDS="$(ls "/proc/$PID/fd" | wc -l)"

kill "$CLIENT" 2>/dev/null || true
wait "$CLIENT" 2>/dev/null || true
# The server notices every client leaving (EOF while the handler sleeps).
sleep 2
GONE="$(grep -c 'msg=client_disconnected' "$LOG" || true)"
kill -TERM "$PID"
wait "$PID" || true
AFTER="$(grep 'msg=shutdown_complete' "$LOG" || true)"

awk -v n="$N" -v base="$BASE" -v rss="$RSS" -v hwm="$HWM" -v fds="$FDS" -v gone="$GONE" 'BEGIN {
  printf "in-flight /sleep requests: %d  (server fds open: %d)\n", n, fds
  printf "RSS baseline: %d KiB   RSS with %d in flight: %d KiB   peak: %d KiB\n", base, n, rss, hwm
  printf "RSS per in-flight /sleep: %.1f KiB (goal < 20 KiB)\n", (rss - base) / n
  printf "client_disconnected logged after the client left: %d of %d\n", gone, n
}'
echo "shutdown: ${AFTER:-<none>}"
