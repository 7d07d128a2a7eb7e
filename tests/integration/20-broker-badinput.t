#!/usr/bin/env bash
# 20-broker-badinput.t - bad input never crashes or blocks ppmq-broker:
# malformed and oversized MQTT packets, garbage on every listener (with
# PROXY off and on), WebSocket control frames (ping, close, text),
# a half-closed client, and connections stalled inside a PROXY header or
# an HTTP upgrade while other clients keep being served.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/20-broker-lib.bash

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
KINDS="tcp ws"
if certs_init; then
	KINDS="tcp ssl ws wss"
else
	CERTS=
fi
nk=$(wc -w <<<"$KINDS")
plan $((12 + nk * 4 + 5))

# ends KIND DESC [probe options]: the connection must end (closed, reset
# or an error answer), never hang and never reach CONNACK 0.
ends() {
	local kind=$1 d=$2 out
	shift 2
	out=$(probe "$kind" "$@" 2>&1)
	case $out in
	open | "connack 0" | "data 20020000" | timeout)
		not_ok "$kind: $d: connection ended"
		diag "probe said: $out" ;;
	*) ok "$kind: $d: connection ended ($out)" ;;
	esac
}

GARBAGE=$(head -c 300 /dev/urandom | od -An -tx1 | tr -d ' \n')
# make sure it cannot start like a PROXY header, TLS record or HTTP GET
GARBAGE=ff$GARBAGE

# ---- PROXY off: MQTT-level garbage ---------------------------------------------
start_broker badinput MQTT_MAX_PACKET_SIZE=1024 || exit 1

# CONNECT with protocol name "MQTX"
ends tcp "CONNECT with a bad protocol name" --mqtt-hex 100f00044d5154580402003c0003616263
# CONNECT with reserved flags in the fixed header
ends tcp "CONNECT with reserved fixed-header flags" --mqtt-hex 110f00044d5154540402003c0003616263
# PUBLISH before CONNECT
ends tcp "PUBLISH before CONNECT" --mqtt-hex 3007000161626364
# remaining length with a fifth byte
ends tcp "remaining length over 4 bytes" --mqtt-hex 10ffffffff7f
# PUBLISH of 2000 bytes when 1024 is the limit
big=$(python3 -c 'import struct; t=b"t/big"; p=b"x"*2000; body=struct.pack(">H",len(t))+t+p
n=len(body); v=b""
while True:
    d=n%128; n//=128; v+=bytes([d|(0x80 if n else 0)])
    if not n: break
print((bytes([0x30])+v+body).hex())')
ends tcp "PUBLISH over mqtt.max_packet_size" --client-id big --then-hex "$big"
ends ws "PUBLISH over mqtt.max_packet_size" --client-id bigws --then-hex "$big"

# WebSocket control frames after the CONNACK
is "$(probe ws --client-id ping --then-frame 9:68656c6c6f 2>&1)" "frame 10 68656c6c6f" \
	"ws: ping answered with a pong carrying the same payload"
is "$(probe ws --client-id wsclose --then-frame 8:03e8 2>&1)" "frame 8 03e8" \
	"ws: close frame answered with a close frame (1000)"
is "$(probe ws --client-id text --then-frame 1:00 2>&1 | cut -c1-12)" "frame 8 03eb" \
	"ws: a text frame is refused with close 1003"
out=$(probe ws --client-id badpath --path /nope 2>&1)
is "$out" "ws-fail 404" "ws: upgrade on another path refused with 404"
out=$(probe ws --client-id noproto --subprotocol "" 2>&1)
check "ws: upgrade without the mqtt subprotocol refused ($out)" grep -q '^ws-fail 4' <<<"$out"

# A client that half-closes right after CONNECT still gets its CONNACK.
is "$(probe tcp --client-id half --half-close 2>&1)" "connack 0" \
	"tcp: CONNACK delivered to a half-closed client"

for k in $KINDS; do
	ends "$k" "random bytes (PROXY off)" --transport tcp --pre-hex "$GARBAGE" --no-connect --timeout 3
done
for k in $KINDS; do
	check "$k: still serving after the garbage" \
		test "$(probe "$k" --client-id "after-$k" 2>&1)" = "connack 0"
done
stop_broker

# ---- PROXY on: garbage and stalls ------------------------------------------------
start_broker stalls MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_PROXY_PROTOCOL_TIMEOUT=5s || exit 1
for k in $KINDS; do
	ends "$k" "random bytes (PROXY on)" --transport tcp --pre-hex "$GARBAGE" --no-connect --timeout 3
done
# 50 connections stalled inside a header on every listener ...
ports=()
for k in $KINDS; do ports+=("$(port_of "$k")"); done
timeout 30 python3 - "${ports[@]}" >"$T/stallers.out" 2>&1 <<'EOF' &
import socket, sys, time
socks = []
for p in sys.argv[1:]:
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", int(p)))
        s.sendall(bytes.fromhex("0d0a0d0a000d0a5155"))
        socks.append(s)
print("stalled", len(socks), flush=True)
time.sleep(20)
EOF
EXTRA_PIDS+=("$!")
for i in $(seq 100); do
	grep -q stalled "$T/stallers.out" && break
	sleep 0.1
done
# ... do not delay anyone else.
V2=$(hdr_v2 203.0.113.44 198.51.100.1 4444 1883)
for k in $KINDS; do
	t0=$(date +%s%N)
	out=$(probe "$k" --pre-hex "$V2" --client-id "busy-$k" 2>&1)
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$out" = "connack 0" ] && [ "$ms" -lt 2000 ]; then
		ok "$k: served in ${ms} ms while 50 headers stall"
	else
		not_ok "$k: served in ${ms} ms while 50 headers stall"
		diag "probe said: $out"
	fi
done
is "$(admin_get /healthz)" ok "/healthz answers while headers stall"
n=$(metric 'ppmq_connections_current{listener="tcp"}')
is "${n:-x}" 50 "the 50 stalled connections on tcp are open"
# the stalled ones are closed by the header timeout (5 s after they began)
sleep 5
n=$(metric 'ppmq_connections_current{listener="tcp"}')
is "${n:-x}" 0 "stalled connections closed by the header timeout"
check "broker alive at the end" broker_alive
stop_broker

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
