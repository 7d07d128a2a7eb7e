#!/usr/bin/env bash
# 20-broker-tls-memory.t - stalled TLS handshakes leave no memory behind:
# 500 clients send a ClientHello and never answer; each holds some 50 KB
# of TLS state until listener.ssl.handshake_timeout closes it. Once they
# are all closed, the broker's resident size comes back near where it
# started (the freed heap is given back to the system), instead of
# staying at its peak.
# Not under a sanitizer or a wrapper (they keep their own heaps).
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
certs_init || skip_all "no test certificates (scripts/gen-certs)"
[ -z "${PPMQ_BROKER_WRAP:-}" ] || skip_all "a wrapper's heap is not the broker's"
ldd "$BROKER" 2>/dev/null | grep -q libasan && skip_all "a sanitizer's heap is not the C library's"
N=500
plan 5

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$B_PID/status"; }

# The timeout is longer than the client takes to open them all on a busy
# machine, so that they all stall at once.
start_broker mem LISTENER_SSL_HANDSHAKE_TIMEOUT=6s || exit 1
base=$(rss_kb)
bg stall "$PY" "$ROOT/tests/lib/tls_stall.py" "$B_SSL" "$N" "$(($(_ms 60) / 1000))"
stall=$BG_PID
# The peak is watched until the client has seen every connection closed:
# on a busy machine the broker may still be reading ClientHellos when the
# client has sent the last one.
peak=0
watch_peak() {
	local r
	r=$(rss_kb)
	[ "${r:-0}" -gt "$peak" ] && peak=$r
	grep -Eq '^(closed|timeout)' "$T/stall.log"
}
wait_until 90 watch_peak
check "$N stalled handshakes made" grep -q "^stalled $N" "$T/stall.log"
wait_gone "$stall" 60
check "the broker closed every one (its handshake timeout)" grep -q "^closed $N" "$T/stall.log"
wait_metric_sum ppmq_connections_current 0
is "$METRIC_VALUE" 0 "no connection left"
diag "resident size: $base kB at start, $peak kB with the stalled handshakes"
check "they cost memory while they stalled (peak $peak kB, start $base kB)" [ $((peak - base)) -gt $((N * 10)) ]
# The freed state goes back to the system within a second or so.
back() {
	NOW=$(rss_kb)
	[ "$NOW" -lt $((base + (peak - base) / 4)) ]
}
wait_until 10 back
check "resident size back near the start once they are closed ($NOW kB)" [ "$NOW" -lt $((base + (peak - base) / 4)) ]
stop_broker
done_testing
