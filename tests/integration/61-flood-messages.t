#!/usr/bin/env bash
# 61-flood-messages.t - `proxygen flood` as an MQTT load generator against
# ppmq-broker with PROXY on every listener: publish loads at QoS 0, 1 and
# 2 with subscribers counting what arrives (exact for QoS 1 and 2), over
# tcp and ws, MQTT 3.1.1 and 5; 300 TLS connections (and ws, wss) with a
# header each, held at once on the event loop and seen by the broker's
# metrics; the CPU figures (--broker-pid); usage errors. Counts, never
# timings.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

FLOODPY=$ROOT/tests/lib/flood.py

if [ ! -x "$PROXYGEN" ] || [ ! -x "$BROKER" ]; then
	bail "$PROXYGEN or $BROKER is not built (make)"
fi
certs_init || bail "no test certificates: $(cat "$T/gen-certs.log")"

plan 61

# flood OUT [options...]: a bounded run, JSON summary to OUT; returns its status.
flood() {
	local out=$1
	shift
	timeout 120 "$PROXYGEN" flood --quiet --json "$@" >"$out" 2>"$out.err"
}
msg() { jf "$1" "d['messages']$2"; }

start_broker load MQTT_PROXY_PROTOCOL_ENABLED=true || bail "broker did not start"

# ---- QoS 1: 20 publishers x 200 on 2 topics, 2 subscribers: exact ---------------------
# Connection k uses topic k mod 2: subscribers 0 and 1 get 10 publishers' messages each.
flood "$T/q1.json" --target "127.0.0.1:$B_TCP" --v2 --src-cidr 10.0.0.0/8 \
	--connections 22 --subscribers 2 --topics 2 --qos 1 --messages 200 --publish-rate 4000
is "$?" 0 "QoS 1: exit 0"
is "$(msg "$T/q1.json" "['published'], d['messages']['acknowledged']")" "(4000, 4000)" \
	"QoS 1: 4000 published, 4000 acknowledged"
is "$(msg "$T/q1.json" "['expected'], d['messages']['received']")" "(4000, 4000)" \
	"QoS 1: the subscribers got all 4000 they expected"
is "$(msg "$T/q1.json" "['missing'], d['messages']['extra']")" "(0, 0)" \
	"QoS 1: nothing missing, nothing twice"
is "$(msg "$T/q1.json" "['latency_histogram_us']['count']")" 4000 \
	"QoS 1: every message's latency is in the histogram"
is "$(msg "$T/q1.json" "['latency_ms']['p50'] <= d['messages']['latency_ms']['p99_9'] <= d['messages']['latency_ms']['max']")" \
	True "QoS 1: latency percentiles are ordered"
is "$("$PY" "$FLOODPY" percentiles "$T/q1.json")" ok "QoS 1: percentiles are those of the histograms"
is "$(jf "$T/q1.json" "d['succeeded'], d['errors']['suback_refused'], d['dropped']")" "(22, 0, 0)" \
	"QoS 1: 22 connections set up, subscriptions granted, none dropped"
is "$(metric 'ppmq_proxy_headers_accepted_total{version="2"}')" 22 \
	"QoS 1: a header on every connection"

# ---- QoS 0: every message published; what arrives is counted ------------------------
flood "$T/q0.json" --target "127.0.0.1:$B_TCP" --v1 --connections 22 --subscribers 2 \
	--topics 2 --qos 0 --messages 200 --publish-rate 4000
st=$?
is "$(msg "$T/q0.json" "['published'], d['messages']['acknowledged'], d['messages']['expected']")" \
	"(4000, 4000, 4000)" "QoS 0: 4000 published (QoS 0: sent is acknowledged), 4000 expected"
is "$(jf "$T/q0.json" "0 < d['messages']['received'] <= 4000 and d['messages']['extra'] == 0")" True \
	"QoS 0: the subscribers counted what arrived, no more than was sent"
is "$(jf "$T/q0.json" "d['exit'] == $st and (d['exit'] == 0) == (d['messages']['missing'] == 0)")" \
	True "QoS 0: exit 0 exactly when nothing went missing"

# ---- QoS 2, MQTT 5, over WebSocket ----------------------------------------------------
flood "$T/q2.json" --target "127.0.0.1:$B_WS" --transport ws --mqtt 5 --v2 \
	--connections 6 --subscribers 1 --qos 2 --messages 100 --payload-size 1000
is "$?" 0 "QoS 2 over ws, MQTT 5: exit 0"
is "$(msg "$T/q2.json" "['received'], d['messages']['expected'], d['messages']['acknowledged']")" \
	"(500, 500, 500)" "QoS 2 over ws: 500 published, acknowledged (PUBCOMP) and received"
is "$(jf "$T/q2.json" "d['transport'], d['mqtt'], d['messages']['payload_size']")" \
	"('ws', '5', 1000)" "QoS 2 over ws: the summary names transport, MQTT version and payload"

# ---- the same QoS 1 load over tls and wss --------------------------------------------
for kind in ssl wss; do
	flood "$T/$kind.json" --target "127.0.0.1:$(port_of "$kind")" \
		--transport "$(transport_of "$kind")" --ca "$CERTS/ca.pem" --sni localhost --v2 \
		--connections 12 --subscribers 2 --topics 2 --qos 1 --messages 50
	is "$?" 0 "QoS 1 over $kind: exit 0"
	is "$(msg "$T/$kind.json" "['received'], d['messages']['expected']")" "(500, 500)" \
		"QoS 1 over $kind: all 500 arrived"
done

# ---- --tls-resume: one connection at a time, each offers the last ticket ---------------
for kind in ssl wss; do
	flood "$T/resume-$kind.json" --target "127.0.0.1:$(port_of "$kind")" \
		--transport "$(transport_of "$kind")" --ca "$CERTS/ca.pem" --sni localhost --v2 \
		--connections 20 --concurrency 1 --tls-resume
	is "$?" 0 "--tls-resume over $kind: exit 0"
	is "$(jf "$T/resume-$kind.json" "d['tls_handshakes'], d['tls_resumed']")" "(20, 19)" \
		"--tls-resume over $kind: 20 handshakes, each after the first resumed"
done
is "$(jf "$T/ssl.json" "d['tls_handshakes'], d['tls_resumed']")" "(12, 0)" \
	"without --tls-resume: 12 full handshakes"

# ---- 300 TLS connections held at once, each with a header ----------------------------
# (held until the broker shows them all; SIGINT then ends the run). A
# broker of their own, so that its counters are theirs.
start_broker held MQTT_PROXY_PROTOCOL_ENABLED=true || bail "second broker did not start"
held_run() { # KIND N OUT [options...]
	local kind=$1 n=$2 out=$3 fpid
	shift 3
	timeout 120 "$PROXYGEN" flood --target "127.0.0.1:$(port_of "$kind")" \
		--transport "$(transport_of "$kind")" --v2 --src-cidr 10.20.0.0/16 --connections "$n" \
		--concurrency "$n" --hold 600000 --timeout 60000 --quiet --json "$@" >"$out" 2>"$out.err" &
	fpid=$!
	PIDS+=("$fpid")
	wait_metric "ppmq_mqtt_connects_total{listener=\"$kind\",result=\"accepted\"}" "$n" 90
	HELD=$METRIC_VALUE
	wait_metric ppmq_sessions_connected "$n" 30
	HELD_AT_ONCE=$METRIC_VALUE
	kill -INT "$fpid"
	wait_exit "$fpid" 30
}
held_run ssl 300 "$T/tls300.json" --ca "$CERTS/ca.pem" --sni localhost
is "$?" 1 "300 TLS: a run ended by SIGINT exits 1"
is "$HELD" 300 "300 TLS: the broker accepted 300 CONNECTs on its ssl listener"
is "$HELD_AT_ONCE" 300 "300 TLS: all 300 sessions connected at once"
is "$(metric 'ppmq_proxy_headers_by_listener_total{listener="ssl",result="accepted"}')" 300 \
	"300 TLS: 300 headers accepted before TLS"
is "$(metric 'ppmq_tls_handshake_failures_total{listener="ssl"}')" 0 "300 TLS: no failed handshake"
is "$(jf "$T/tls300.json" "d['succeeded'], d['dropped'], d['stopped_by']")" "(300, 0, 'signal')" \
	"300 TLS: the summary counts 300 set up, none dropped, stopped by the signal"
ip=$(session_field flood-299 clientIp)
like "$ip" '10.20.*' "300 TLS: the broker recorded a source from 10.20.0.0/16 (got $ip)"
wait_metric ppmq_sessions_connected 0 30
is "$METRIC_VALUE" 0 "300 TLS: every session closed after the signal"

for kind in ws wss; do
	extra=()
	[ "$kind" = wss ] && extra=(--ca "$CERTS/ca.pem" --sni localhost)
	held_run "$kind" 100 "$T/$kind-held.json" --client-prefix "$kind-" "${extra[@]}"
	is "$HELD_AT_ONCE" 100 "100 $kind connections held at once on the event loop"
	is "$(metric "ppmq_proxy_headers_by_listener_total{listener=\"$kind\",result=\"accepted\"}")" 100 \
		"$kind: 100 headers accepted before the upgrade"
	wait_metric ppmq_sessions_connected 0 30
done

# ---- --threads: 4 loops hold 400 connections, each loop its share ----------------------
held_run tcp 400 "$T/thr-held.json" --threads 4 --client-prefix thr-
is "$?" 1 "--threads 4, held: a run ended by SIGINT exits 1 (every loop saw the signal)"
is "$HELD_AT_ONCE" 400 "--threads 4, held: 400 sessions connected at once"
is "$(jf "$T/thr-held.json" "d['threads'], d['succeeded'], d['dropped'], d['stopped_by']")" \
	"(4, 400, 0, 'signal')" "--threads 4, held: the summary merges the 4 loops' 400 connections"
is "$(session_field thr-0 clientId) $(session_field thr-399 clientId)" "thr-0 thr-399" \
	"--threads 4, held: the first and the last client id of the load are there"
wait_metric ppmq_sessions_connected 0 30

stop_broker held
use_broker load

# ---- --threads: subscribers and publishers on different loops --------------------------
flood "$T/thr-q1.json" --target "127.0.0.1:$B_TCP" --v2 --src-cidr 10.0.0.0/8 --connections 24 \
	--subscribers 4 --topics 4 --qos 1 --messages 100 --publish-rate 4000 --threads 3
is "$?" 0 "--threads 3, QoS 1: exit 0"
is "$(jf "$T/thr-q1.json" "d['threads'], d['succeeded'], d['messages']['published'], d['messages']['expected'], d['messages']['received'], d['messages']['missing']")" \
	"(3, 24, 2000, 2000, 2000, 0)" \
	"--threads 3, QoS 1: 2000 published and every one arrived (publishing waits for every loop's subscribers)"
flood "$T/thr-tls.json" --target "127.0.0.1:$(port_of ssl)" --transport tls --ca "$CERTS/ca.pem" \
	--sni localhost --v2 --connections 20 --concurrency 2 --threads 2 --tls-resume
is "$?" 0 "--threads 2 --tls-resume: exit 0"
is "$(jf "$T/thr-tls.json" "d['tls_handshakes'], d['tls_resumed']")" "(20, 18)" \
	"--threads 2 --tls-resume: each loop resumes its own sessions (10 + 10 handshakes, 9 + 9 resumed)"

# ---- CPU: this process's, and the broker's over the same run -------------------------
flood "$T/cpu.json" --target "127.0.0.1:$B_TCP" --v2 --connections 11 --subscribers 1 \
	--qos 1 --messages 100 --broker-pid "$B_PID"
is "$?" 0 "--broker-pid: exit 0"
is "$(jf "$T/cpu.json" "d['cpu']['broker']['pid']")" "$B_PID" "--broker-pid: the broker's CPU is reported"
is "$(jf "$T/cpu.json" "all(d['cpu'][k] >= 0 for k in ('user_s', 'system_s', 'us_per_connection', 'us_per_message')) and d['cpu']['broker']['cpu_s'] >= 0")" \
	True "--broker-pid: CPU per connection and per message, of proxygen and of the broker"
timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$B_TCP" --v2 --connections 11 --subscribers 1 \
	--qos 1 --messages 100 --broker-pid "$B_PID" --quiet >"$T/cpu.txt" 2>&1
check "text summary: messages, received and latency lines" \
	grep -Eq '^received: +1 subscribers: 1000 of 1000 expected \(0 missing, 0 extra\)' "$T/cpu.txt"
check "text summary: the latency line has p99.9" \
	grep -Eq '^latency: +p50 [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms, p99.9 [0-9.]+ ms, max' "$T/cpu.txt"
check "text summary: proxygen and broker CPU" grep -Eq "^broker cpu: +pid $B_PID: " "$T/cpu.txt"

# ---- usage errors ------------------------------------------------------------------------
usage() { # DESC WANT-IN-MESSAGE options...
	local desc=$1 want=$2 st
	shift 2
	"$PROXYGEN" flood --target "127.0.0.1:$B_TCP" "$@" >"$T/usage.out" 2>&1
	st=$?
	if [ "$st" = 2 ] && grep -qF -- "$want" "$T/usage.out"; then
		ok "$desc"
	else
		not_ok "$desc" "exit $st, wanted 2 and '$want' in:" "$(cat "$T/usage.out")"
	fi
}
usage "--qos without a publish load" "--qos needs a publish load" --qos 1
usage "--subscribers as many as --connections" "must leave at least one" \
	--connections 5 --subscribers 5 --messages 1
usage "--hold with a publish load" "--hold is for connection loads" --messages 1 --hold 100
usage "--payload-size below 16" "--payload-size '8': must be at least 16" --messages 1 --payload-size 8
usage "--qos 3" "--qos '3'" --messages 1 --qos 3
usage "--concurrency below --connections in a publish load" "keeps all" \
	--connections 10 --concurrency 5 --messages 1
usage "--topic-prefix with a wildcard" "not the start of a topic name" --messages 1 --topic-prefix 'a/+/'
usage "--broker-pid of no process" "cannot read /proc/" --broker-pid 4194304
usage "--tls-resume over tcp" "--tls-resume needs --transport tls or wss" --tls-resume
usage "--threads above --connections" "--threads 5: more than the 4 --connections" --connections 4 --threads 5

check "broker still alive" broker_alive
stop_broker
done_testing
