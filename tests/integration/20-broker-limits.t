#!/usr/bin/env bash
# 20-broker-limits.t - what bounds a broker under hostile clients:
#   - connections: listener.max_connections (every listener together) and
#     listener.X.max_connections; one more is closed at accept, before any
#     byte, counted in /metrics and logged; below the limit again, new
#     connections are served;
#   - mqtt.max_connect_size: a CONNECT declaring more (a client stalling
#     inside a 1 MiB CONNECT) is refused as soon as its length is read:
#     MQTT 5 gets CONNACK Packet too large (0x95), 3.1.1 a close; on tcp
#     and ws; a CONNECT that fits is served;
#   - listener.ssl.handshake_timeout, listener.ws.upgrade_timeout: a stalled
#     handshake or upgrade is closed after the configured time (the log
#     line names it);
#   - log.refused_per_second: a burst of refused headers writes that many
#     lines a second and one "... N more ... suppressed" line; lines and
#     suppressed counts add up to every refusal.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.7", 0))' 2>/dev/null ||
	skip_all "cannot bind 127.0.0.7 (the refused headers come from there)"
certs_init || CERTS=
plan 26

# outcome OUT: "refused" for a connection the broker closed, else OUT.
outcome() {
	case $1 in
	closed* | reset*) echo refused ;;
	*) echo "$1" ;;
	esac
}

# ---- connection limits -------------------------------------------------------------
start_broker limits LISTENER_MAX_CONNECTIONS=3 LISTENER_WS_MAX_CONNECTIONS=1 || exit 1
# The clients that hold the slots: CONNECT, CONNACK, then they stay (the
# behaviour under test) until they are stopped.
holders=()
hold() { # KIND CLIENT_ID
	bg "$2" "$PY" "$PROBE" --port "$(port_of "$1")" --transport "$1" --client-id "$2" --hold 60
	holders+=("$BG_PID")
}
hold tcp hold-1
hold tcp hold-2
hold ws hold-ws
wait_metric_sum ppmq_connections_current 3
is "$METRIC_VALUE" 3 "three connections held"
is "$(outcome "$(probe tcp --client-id over-total)")" refused "the fourth connection is refused (total limit)"
wait_metric 'ppmq_connections_refused_total{listener="tcp",limit="total"}' 1
is "$METRIC_VALUE" 1 "counted: ppmq_connections_refused_total{listener=tcp,limit=total}"
check "logged with the peer and the key" \
	grep -q 'warn: tcp: connection from 127.0.0.1:[0-9]* refused: 3 connections open, the limit (listener.max_connections)' "$B_LOG"
is "$(admin_status /api/v1/sessions/over-total)" 404 "the refused client never reached MQTT"
stop_pid "${holders[0]}"
wait_metric_sum ppmq_connections_current 2
is "$(outcome "$(probe ws --client-id over-ws)")" refused "a second ws connection is refused (ws limit 1)"
wait_metric 'ppmq_connections_refused_total{listener="ws",limit="listener"}' 1
is "$METRIC_VALUE" 1 "counted: ppmq_connections_refused_total{listener=ws,limit=listener}"
check "logged with the listener's key" \
	grep -q 'warn: ws: connection from 127.0.0.1:[0-9]* refused: 1 connections open on this listener, the limit (listener.ws.max_connections)' "$B_LOG"
is "$(probe tcp --client-id below-limit)" "connack 0" "below the limit again: a tcp client is served"
for p in "${holders[@]}"; do stop_pid "$p"; done
wait_metric_sum ppmq_connections_current 0
is "$METRIC_VALUE" 0 "every held connection closed"
stop_broker

# ---- CONNECT size ------------------------------------------------------------------
start_broker connect MQTT_MAX_CONNECT_SIZE=1024 || exit 1
# The first bytes of a 1 MiB CONNECT (remaining length ff ff 3f), then the
# client stalls: nothing more is needed to refuse it.
BIG5=10ffff3f00044d5154540502003c00
BIG4=10ffff3f00044d5154540402003c
is "$(probe tcp --mqtt-hex "$BIG5")" "data 2003009500" "tcp: 1 MiB MQTT 5 CONNECT: CONNACK Packet too large"
is "$(probe ws --mqtt-hex "$BIG5")" "data 2003009500" "ws: 1 MiB MQTT 5 CONNECT: CONNACK Packet too large"
is "$(outcome "$(probe tcp --mqtt-hex "$BIG4")")" refused "tcp: 1 MiB MQTT 3.1.1 CONNECT: closed"
long=$(printf 'p%.0s' $(seq 1100))
is "$(outcome "$(probe tcp --client-id long-pw --user u --password "$long")")" refused \
	"a 1.1 kB CONNECT over a 1 kB limit: closed"
is "$(probe tcp --client-id fits --user u --password short)" "connack 0" "a CONNECT that fits is served"
wait_metric 'ppmq_connects_too_large_total{listener="tcp"}' 3
is "$METRIC_VALUE" 3 "counted: ppmq_connects_too_large_total{listener=tcp}"
check "logged with the size and the key" \
	grep -q 'warn: tcp: client 127.0.0.1:[0-9]*: CONNECT of 1048579 bytes refused, larger than mqtt.max_connect_size (1024): closed after CONNACK Packet too large' "$B_LOG"
stop_broker
start_broker connect-default || exit 1
is "$(probe tcp --client-id long-default --user u --password "$long")" "connack 0" \
	"the same CONNECT under the default limit (16 KiB) is served"
stop_broker

# ---- handshake timeouts ------------------------------------------------------------
if [ -n "$CERTS" ]; then
	start_broker hs LISTENER_SSL_HANDSHAKE_TIMEOUT=300ms LISTENER_WS_UPGRADE_TIMEOUT=400ms || exit 1
	# A ClientHello's first bytes, then nothing.
	is "$(outcome "$(probe ssl --transport tcp --pre-hex 160301 --no-connect --timeout 15)")" refused \
		"ssl: a stalled handshake is closed"
	check "ssl: after the configured time" \
		grep -q 'ssl: client 127.0.0.1:[0-9]*: TLS handshake timed out after 300 ms (listener.ssl.handshake_timeout)' "$B_LOG"
	is "$(outcome "$(probe ws --transport tcp --pre-hex 474554202f6d717474 --no-connect --timeout 15)")" \
		refused "ws: a stalled upgrade request is closed"
	check "ws: after the configured time" \
		grep -q 'ws: client 127.0.0.1:[0-9]*: no WebSocket upgrade within 400 ms (listener.ws.upgrade_timeout)' "$B_LOG"
	stop_broker
else
	skip "no test certificates (scripts/gen-certs)" 4
fi

# ---- refused headers, rate-limited -------------------------------------------------
N=40
start_broker thin MQTT_TCP_PROXY_PROTOCOL_ENABLED=true LOG_REFUSED_PER_SECOND=3 || exit 1
for i in $(seq $N); do echo "bad-$i 50524f585920424f47555320310d0a"; done |
	timeout 60 "$PY" "$ROOT/tests/lib/sweep.py" "$B_TCP" 10 >"$T/sweep.out"
wait_metric 'ppmq_proxy_headers_by_listener_total{listener="tcp",result="rejected"}' $N
is "$METRIC_VALUE" $N "every refused header counted ($N)"
# Every refusal is either a line or in a summary's count, once the
# summaries are written (a second after the burst).
logged_and_suppressed() {
	LINES=$(grep -c 'tcp: PROXY header rejected from' "$B_LOG")
	SUPPRESSED=$(sed -n 's/.*tcp: \.\.\. \([0-9]*\) more refused PROXY headers suppressed (log.refused_per_second = 3)$/\1/p' \
		"$B_LOG" | awk '{ s += $1 } END { print s + 0 }')
	[ $((LINES + SUPPRESSED)) -eq $N ]
}
wait_until 10 logged_and_suppressed
is "$((LINES + SUPPRESSED))" $N "lines written + suppressed = $N"
check "most were suppressed, and said so (lines: $LINES)" [ "$SUPPRESSED" -gt 0 ] && [ "$LINES" -lt $N ]
stop_broker

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
