#!/usr/bin/env bash
# 20-broker-clients.t - real, independent MQTT clients against ppmq-broker:
#   - paho.mqtt.c (tests/progs/paho_client) over tcp, ssl, ws and wss, and
#     mosquitto_pub / mosquitto_sub over tcp and ssl, straight to
#     listeners with PROXY off: connect, subscribe, publish, receive;
#   - the same clients through `proxygen relay` (which puts a v1 or v2
#     header in front of each connection, like HAProxy's send-proxy) to
#     listeners with PROXY on; the relay's fixed source address must be
#     what the broker records, and the relay's own address the peer.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
[ -x "$PAHO" ] || skip_all "no $PAHO (make $PAHO)"

KINDS="tcp ws"
if certs_init; then
	KINDS="tcp ssl ws wss"
else
	CERTS=
fi
have_mosq=0
command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null && have_mosq=1
have_relay=0
have_proxygen && "$PROXYGEN" relay --help >/dev/null 2>&1 && have_relay=1
nk=$(wc -w <<<"$KINDS")
nm=1
[ -n "$CERTS" ] && nm=2
plan $((nk * 5 + nm * 4 + 1))

url_of() { # KIND PORT
	case $1 in
	tcp) echo "tcp://127.0.0.1:$2" ;;
	ssl) echo "ssl://127.0.0.1:$2" ;;
	ws) echo "ws://127.0.0.1:$2/mqtt" ;;
	wss) echo "wss://127.0.0.1:$2/mqtt" ;;
	esac
}
paho() { # KIND PORT CLIENT_ID [args]
	local kind=$1 port=$2 id=$3
	shift 3
	local extra=()
	case $kind in ssl|wss) extra=(--ca "$CERTS/ca.pem") ;; esac
	timeout 20 "$PAHO" --url "$(url_of "$kind" "$port")" --client-id "$id" "${extra[@]}" "$@" 2>&1
}
# mosq_roundtrip KIND PORT ID: subscriber waits for one message the
# publisher sends once the subscription is in place (its SUBACK).
mosq_roundtrip() {
	local kind=$1 port=$2 id=$3 tls=() out sub
	[ "$kind" = ssl ] && tls=(--cafile "$CERTS/ca.pem")
	timeout 10 "${MOSQ_SUB[@]}" -h 127.0.0.1 -p "$port" "${tls[@]}" -i "$id-sub" -t "mosq/$id" \
		-C 1 -W 8 >"$T/$id.sub" 2>&1 &
	sub=$!
	PIDS+=("$sub")
	wait_log "$T/$id.sub" "$MOSQ_SUBACK" || { cat "$T/$id.sub"; return 1; }
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" "${tls[@]}" -i "$id-pub" -t "mosq/$id" \
		-m "hello $id" -q 1 >"$T/$id.pub" 2>&1 || { cat "$T/$id.pub"; return 1; }
	wait "$sub" || { cat "$T/$id.sub"; return 1; }
	out=$(mosq_messages "$T/$id.sub")
	[ "$out" = "hello $id" ] || { echo "subscriber got: $out"; return 1; }
}

# ---- straight to listeners with PROXY off ---------------------------------------
start_broker direct || exit 1
for k in $KINDS; do
	if out=$(paho "$k" "$(port_of "$k")" "paho-$k" --qos 1); then
		ok "paho over $k: publish/subscribe round trip"
	else
		not_ok "paho over $k: publish/subscribe round trip" "$out"
	fi
	if out=$(paho "$k" "$(port_of "$k")" "paho5-$k" --qos 2 --mqtt 5); then
		ok "paho MQTT 5 over $k: QoS 2 round trip"
	else
		not_ok "paho MQTT 5 over $k: QoS 2 round trip" "$out"
	fi
done
for k in tcp ssl; do
	[ "$k" = ssl ] && [ -z "$CERTS" ] && continue
	if [ $have_mosq -eq 0 ]; then
		ok "# SKIP mosquitto clients not installed"
		ok "# SKIP mosquitto clients not installed"
		continue
	fi
	if out=$(mosq_roundtrip "$k" "$(port_of "$k")" "mosq-$k"); then
		ok "mosquitto_pub/sub over $k"
	else
		not_ok "mosquitto_pub/sub over $k" "$out"
	fi
	is "$(session_field "mosq-$k-pub" listener)" "$k" "mosquitto_pub session recorded on $k"
done
stop_broker

# ---- through proxygen relay to listeners with PROXY on ----------------------------
start_broker relayed MQTT_PROXY_PROTOCOL_ENABLED=true || exit 1
# start_relay KIND VERSION: sets R_PORT.
R_N=0
start_relay() {
	local kind=$1 ver=$2 log
	R_N=$((R_N + 1))
	log=$T/relay-$R_N-$kind.log
	: >"$log"
	"$PROXYGEN" relay --listen 127.0.0.1:0 --target "127.0.0.1:$(port_of "$kind")" \
		"--$ver" --source fixed:203.0.113.50:4242 >"$log" 2>&1 &
	PIDS+=("$!")
	if ! wait_log "$log" 'listening on 127\.0\.0\.1:[0-9]+'; then
		diag "relay for $kind did not start: $(cat "$log")"
		return 1
	fi
	R_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
}
ver=v1
for k in $KINDS; do
	if [ $have_relay -eq 0 ] || ! start_relay "$k" "$ver"; then
		for i in 1 2 3; do ok "# SKIP proxygen relay not available"; done
		continue
	fi
	if out=$(paho "$k" "$R_PORT" "relay-$k" --qos 1); then
		ok "paho over $k through a $ver relay"
	else
		not_ok "paho over $k through a $ver relay" "$out"
	fi
	is "$(session_field "relay-$k" clientIp):$(session_field "relay-$k" clientPort)" \
		203.0.113.50:4242 "$k: the relay's header source recorded as the client"
	is "$(session_field "relay-$k" peerIp)" 127.0.0.1 "$k: the relay recorded as the peer"
	# alternate header versions across listeners
	if [ $ver = v1 ]; then ver=v2; else ver=v1; fi
done
for k in tcp ssl; do
	[ "$k" = ssl ] && [ -z "$CERTS" ] && continue
	if [ $have_mosq -eq 0 ] || [ $have_relay -eq 0 ] || ! start_relay "$k" v2; then
		ok "# SKIP mosquitto clients or proxygen relay not available"
		ok "# SKIP mosquitto clients or proxygen relay not available"
		continue
	fi
	if out=$(mosq_roundtrip "$k" "$R_PORT" "mrelay-$k"); then
		ok "mosquitto_pub/sub over $k through a v2 relay"
	else
		not_ok "mosquitto_pub/sub over $k through a v2 relay" "$out"
	fi
	is "$(session_field "mrelay-$k-sub" clientIp)" 203.0.113.50 \
		"$k: mosquitto_sub through the relay: header source recorded"
done
stop_broker

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
