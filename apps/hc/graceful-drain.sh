#!/bin/sh
# graceful-drain.sh: the seed's preStop reference (DESIGN §2.3), POSIX sh.
# Seven steps: [1] hc /drain -> [2] Envoy drain_listeners -> [3] poll
# downstream/upstream_rq_active until 0 or DRAIN_TIMEOUT -> [4] hc /close-lb
# -> [5] sleep LB_BUFFER -> [6] hc /close -> [7] done.
# Best effort: every call is `curl -sf -m 5`, a failure is logged and the
# sequence goes on. Known flaw, kept on purpose (the Rust `drain` fixes it):
# when the stats cannot be fetched the awk sum reads 0 and the drain ends
# early; and on a plain Envoy the admin's own http.admin.downstream_rq_active
# (the stats request itself) is summed too, so the sum never reaches 0.
# Log lines use the same msg= names as `drain`, so the harness reads both.
set -u

HC_URL="${HC_URL:-http://127.0.0.1:18180}"
ENVOY_ADMIN="${ENVOY_ADMIN:-http://127.0.0.1:15000}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-120}"
POLL_INTERVAL="${POLL_INTERVAL:-2}"
LB_BUFFER="${LB_BUFFER:-10}"

START_TS=$(date +%s)

log() {
    printf 'ts=%s elapsed_s=%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(( $(date +%s) - START_TS ))" "$*"
}

do_curl() {
    out=$(curl -sf -m 5 "$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        log "level=warn msg=curl_failed args=\"$*\" rc=$rc output=\"${out}\""
    fi
    [ -n "$out" ] && printf '%s\n' "$out"
    return $rc
}

log "level=info msg=drain_start step=0 hc_url=${HC_URL} envoy_admin=${ENVOY_ADMIN} drain_timeout=${DRAIN_TIMEOUT} poll_interval=${POLL_INTERVAL} lb_buffer=${LB_BUFFER}"

# [1] FSM OPEN -> DRAINING (HAProxy/readiness stay 200)
do_curl -X POST "${HC_URL}/drain" || true
log "level=info msg=hc_drain step=1"

# [2] Envoy listener graceful drain (discourage new conns, keep the process)
do_curl -X POST "${ENVOY_ADMIN}/drain_listeners?graceful&skip_exit" || true
log "level=info msg=envoy_drain_listeners step=2"

# [3] Poll Envoy's active gauges until 0 or the deadline
DEADLINE=$((START_TS + DRAIN_TIMEOUT))

while true; do
    NOW=$(date +%s)
    STATS=$(curl -sf -m 5 \
        "${ENVOY_ADMIN}/stats?filter=downstream_rq_active%7Cupstream_rq_active" 2>/dev/null || true)

    ACTIVE=$(printf '%s\n' "$STATS" | awk -F': ' '
        /downstream_rq_active|upstream_rq_active/ { sum += $2 }
        END { print (sum+0) }
    ')
    log "level=info msg=poll step=3 active=${ACTIVE}"

    if [ "${ACTIVE}" -eq 0 ] 2>/dev/null; then
        log "level=info msg=drained step=3"
        break
    fi
    if [ "$NOW" -ge "$DEADLINE" ]; then
        log "level=warn msg=drain_timeout step=3 active=${ACTIVE} elapsed=$((NOW - START_TS))s"
        break
    fi
    sleep "${POLL_INTERVAL}"
done

# [4] Flip /health_check.html -> 503
do_curl -X POST "${HC_URL}/close-lb" || true
log "level=info msg=hc_close_lb step=4"

# [5] Wait for HAProxy to notice (inter 2s x fall 2 = 4s at most)
log "level=info msg=lb_wait step=5 buffer_s=${LB_BUFFER}"
sleep "${LB_BUFFER}"

# [6] Flip /health -> 503
do_curl -X POST "${HC_URL}/close" || true
log "level=info msg=hc_close step=6"

# [7] Done
ELAPSED=$(( $(date +%s) - START_TS ))
log "level=info msg=done step=7 [done] preStop completed in ${ELAPSED}s"
