#!/usr/bin/env bash
# 60-flood.t - `proxygen flood` against ppmq-broker: 200 connections per
# run (v2 and v1 headers with random sources, no header on a PROXY
# listener, a closed port, a run cut by --duration, a held run from the
# addresses of a --bind CIDR watched through the admin API). Checks the
# summary counts (--json), the broker's own counters and the exit status.
# Never asserts timings.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

N=200

if [ ! -x "$PROXYGEN" ] || [ ! -x "$BROKER" ]; then
	bail "$PROXYGEN or $BROKER is not built (make)"
fi
"$PROXYGEN" flood --help >/dev/null 2>&1 ||
	bail "'$PROXYGEN flood' is not available (dispatch line in proxygen/main.c)"

plan 35

# flood OUT [options...]: run flood (bounded), JSON summary to OUT; returns its status.
flood() {
	local out=$1
	shift
	timeout 60 "$PROXYGEN" flood --connections "$N" --quiet --json "$@" >"$out" 2>"$out.err"
}

errors_sum() { jf "$1" "sum(d['errors'].values())"; }

start_broker flood MQTT_TCP_PROXY_PROTOCOL_ENABLED=true || bail "broker did not start"
TGT=127.0.0.1:$B_TCP

# ---- v2, random IPv4 sources ------------------------------------------------------
flood "$T/v2.json" --target "$TGT" --v2 --src-cidr 10.0.0.0/8 --concurrency 50
is "$?" 0 "v2 flood: exit 0"
is "$(jf "$T/v2.json" "d['attempted']")" "$N" "v2 flood: $N attempted"
is "$(jf "$T/v2.json" "d['succeeded']")" "$N" "v2 flood: $N succeeded"
is "$(jf "$T/v2.json" "d['connacks']")" "$N" "v2 flood: $N CONNACKs"
is "$(errors_sum "$T/v2.json")" 0 "v2 flood: no error of any kind"
is "$(jf "$T/v2.json" "d['header'] + ' ' + d['src_cidr'] + ' ' + d['stopped_by']")" \
	"v2 10.0.0.0/8 done" "v2 flood: summary names header, sources and end"
is "$(jf "$T/v2.json" "(lambda l: 0 < l['p50'] <= l['p90'] <= l['p99'] <= l['max'])(d['connack_latency_ms'])")" \
	True "v2 flood: latency percentiles are ordered and positive"
is "$(jf "$T/v2.json" "d['connections_per_s'] > 0")" True "v2 flood: a rate is reported"
is "$(metric 'ppmq_proxy_headers_accepted_total{version="2"}')" "$N" \
	"broker counted $N accepted v2 headers"

# ---- v1, random IPv6 sources, MQTT 5, held: sessions seen by the broker --------------
flood "$T/v1.json" --target "$TGT" --v1 --src-cidr 2001:db8::/32 --mqtt 5 \
	--concurrency "$N" --hold 10000 --client-prefix held- --bind 127.0.4.0/29 &
FPID=$!
PIDS+=("$FPID")
# (the flood holds them 10 s: its --hold is the behaviour)
wait_metric ppmq_sessions_connected "$N"
is "$METRIC_VALUE" "$N" "held flood: the broker has $N sessions connected at once"
ip=$(session_field held-7 clientIp)
like "$ip" '2001:db8:*' "held flood: the broker recorded a source from 2001:db8::/32 (got $ip)"
is "$(session_field held-7 peerIp)" 127.0.4.2 "held flood: the proxy address is the socket peer"
is "$(for k in 0 5 6 11 199; do session_field "held-$k" peerIp; done | tr '\n' ' ')" \
	"127.0.4.1 127.0.4.6 127.0.4.1 127.0.4.6 127.0.4.2 " \
	"held flood: --bind 127.0.4.0/29: connection k binds host 1 + k mod 6 (.0 and .7 left out)"
is "$(session_field held-7 mqttVersion)" 5 "held flood: MQTT 5 session"
wait "$FPID"
is "$?" 0 "held flood: exit 0"
is "$(jf "$T/v1.json" "d['succeeded'], d['dropped'], d['hold_ms']")" "($N, 0, 10000)" \
	"held flood: $N succeeded, none dropped during the hold"
is "$(metric 'ppmq_proxy_headers_accepted_total{version="1"}')" "$N" \
	"broker counted $N accepted v1 headers"
wait_metric ppmq_sessions_connected 0
is "$METRIC_VALUE" 0 "held flood: every session disconnected after the hold"

# ---- no header on a PROXY listener: every connection refused by closing -------------
flood "$T/none.json" --target "$TGT" --no-header --concurrency 50
is "$?" 1 "no header on a PROXY listener: exit 1"
is "$(jf "$T/none.json" "d['attempted'], d['succeeded']")" "($N, 0)" \
	"no header: $N attempted, none succeeded"
is "$(jf "$T/none.json" "d['errors']['closed'] + d['errors']['reset']")" "$N" \
	"no header: all $N closed (or reset) by the broker"
is "$(jf "$T/none.json" "d['connacks']")" 0 "no header: no CONNACK at all"

# ---- text summary ----------------------------------------------------------------------
timeout 60 "$PROXYGEN" flood --target "$TGT" --v2 --connections "$N" --quiet >"$T/text.out" 2>&1
is "$?" 0 "text summary run: exit 0"
check "text summary: counts line" grep -q "^connections: *$N attempted, $N succeeded (CONNACK 0), 0 failed" "$T/text.out"
check "text summary: latency line" grep -Eq '^connack latency: p50 [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms, p99.9 [0-9.]+ ms, max [0-9.]+ ms' "$T/text.out"
check "text summary: errors line" grep -Eq '^errors: +refused 0, closed 0, reset 0, timeout 0, connack!=0 0' "$T/text.out"

# ---- nothing listening: refused ---------------------------------------------------------
read -r CLOSED_PORT <<<"$(free_ports 1)"
flood "$T/refused.json" --target "127.0.0.1:$CLOSED_PORT" --v2
is "$?" 1 "closed port: exit 1"
is "$(jf "$T/refused.json" "d['errors']['refused'], d['succeeded']")" "($N, 0)" \
	"closed port: all $N refused"

# ---- bounded in time: --duration stops a slow run -----------------------------------
start=$(date +%s)
timeout 30 "$PROXYGEN" flood --target "$TGT" --v2 --rate 20 --connections 1000 --duration 1 \
	--quiet --json >"$T/dur.json" 2>&1
st=$?
elapsed=$(($(date +%s) - start))
is "$st" 1 "--duration cut the run short: exit 1"
is "$(jf "$T/dur.json" "d['stopped_by']")" duration "--duration: stopped_by duration"
is "$(jf "$T/dur.json" "0 < d['attempted'] < 1000 and d['succeeded'] + d['errors']['unfinished'] == d['attempted']")" True \
	"--duration: fewer than 1000 started, each succeeded or was cut short"
is "$([ "$elapsed" -le 10 ] && echo yes)" yes "--duration: ended by itself"

# ---- usage errors --------------------------------------------------------------------------
"$PROXYGEN" flood --target "$TGT" --connections 0 >/dev/null 2>&1
is "$?" 2 "--connections 0: usage error"
"$PROXYGEN" flood --target "$TGT" --no-header --v1 >/dev/null 2>&1
is "$?" 2 "--no-header with --v1: usage error"

check "broker still alive" broker_alive
stop_broker
done_testing
