#!/usr/bin/env bash
# 10-client.t - the shared client (lib/client.c) end to end, through
# `proxygen send`, against independent peers:
#   mosquitto  tcp, ws, tls, wss listeners (no PROXY support: --no-header)
#   haproxy    accept-proxy in front of each of them: the header must come
#              first on every transport, and haproxy logs the source it read
# Loopback only, random ports, everything stopped on exit.
set -u

BIN=${PPMQ_BIN:-bin}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG="$BIN/proxygen"

for p in mosquitto haproxy openssl; do
	if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
		echo "1..0 # SKIP $p not installed"; exit 0
	fi
done
[ -x "$PG" ] || { echo "1..0 # SKIP $PG not built"; exit 0; }
PATH=$PATH:/usr/sbin

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-10-client.XXXXXX")
chmod 755 "$tmp" # mosquitto started as root reads the certificates as user mosquitto
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
	shift; for l in "$@"; do echo "#   $l"; done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

"$SRC/scripts/gen-certs" "$tmp/certs" || { echo "1..0 # SKIP gen-certs failed"; exit 0; }
CA=$tmp/certs/ca.pem

# Ten consecutive free ports: 0-3 mosquitto tcp/ws/tls/wss, 4-7 haproxy
# accept-proxy in front of them, 8 haproxy holding every byte, 9 unused.
for try in 1 2 3 4 5 6 7 8 9 10; do
	B=$((20000 + RANDOM % 40000))
	all=1
	for i in 0 1 2 3 4 5 6 7 8 9; do port_free $((B + i)) || all=0; done
	[ $all = 1 ] && break
done

cat >"$tmp/mosq.conf" <<EOF
per_listener_settings false
allow_anonymous true
log_dest stderr
log_type all
listener $B 127.0.0.1
listener $((B + 1)) 127.0.0.1
protocol websockets
listener $((B + 2)) 127.0.0.1
certfile $tmp/certs/server.pem
keyfile $tmp/certs/server.key
listener $((B + 3)) 127.0.0.1
protocol websockets
certfile $tmp/certs/server.pem
keyfile $tmp/certs/server.key
EOF

cat >"$tmp/hap.cfg" <<EOF
global
  log stdout format raw local0
defaults
  mode tcp
  log global
  log-format "src=%ci:%cp fe=%f"
  timeout connect 2s
  timeout client 5s
  timeout server 5s
EOF
for i in 0 1 2 3; do
	cat >>"$tmp/hap.cfg" <<EOF
frontend f$i
  bind 127.0.0.1:$((B + 4 + i)) accept-proxy
  default_backend b$i
backend b$i
  server s 127.0.0.1:$((B + i))
EOF
done
# A peer that reads and waits: nothing is forwarded for 10 s.
cat >>"$tmp/hap.cfg" <<EOF
frontend hold
  bind 127.0.0.1:$((B + 8))
  tcp-request inspect-delay 10s
  tcp-request content accept if WAIT_END
  default_backend b0
EOF

mosquitto -c "$tmp/mosq.conf" >"$tmp/mosq.log" 2>&1 &
pids+=($!)
haproxy -f "$tmp/hap.cfg" >"$tmp/hap.log" 2>&1 &
pids+=($!)

# wait until every port accepts
for _ in $(seq 50); do
	up=1
	for i in 0 1 2 3 4 5 6 7 8; do port_free $((B + i)) && up=0; done
	[ $up = 1 ] && break
	sleep 0.1
done
if [ $up != 1 ]; then
	echo "1..0 # SKIP mosquitto/haproxy did not start"
	sed 's/^/# /' "$tmp/mosq.log" "$tmp/hap.log"
	exit 0
fi

echo "1..25"

# send EXPECTED_RC PATTERN DESCRIPTION -- proxygen send args...
# EXPECTED_RC "any" accepts 0 or 1 (where the exit status is proxygen's
# policy, not the client's outcome).
send() {
	local want=$1 pat=$2 desc=$3
	shift 4
	local out rc
	out=$(timeout 20 "$PG" send "$@" 2>&1)
	rc=$?
	if { [ "$rc" = "$want" ] || { [ "$want" = any ] && [ "$rc" -lt 2 ]; }; } &&
		echo "$out" | grep -Eq -- "$pat"; then
		ok "$desc: $(echo "$out" | head -1)"
	else
		not_ok "$desc" "command: proxygen send $*" "exit $rc (want $want), output:" "$out"
	fi
}

tr_port() { case $1 in tcp) echo 0 ;; ws) echo 1 ;; tls) echo 2 ;; wss) echo 3 ;; esac; }
tls_opt() { case $1 in tls | wss) echo "--ca $CA --sni localhost" ;; esac; }

# 1-4: every transport, straight to mosquitto
for t in tcp ws tls wss; do
	# shellcheck disable=SC2046
	send 0 '^CONNACK 0 \(accepted\)' "$t direct" -- --target "localhost:$((B + $(tr_port $t)))" \
		--transport $t $(tls_opt $t) --no-header --client-id "d-$t"
done

# 5-12: v1 and v2 headers through haproxy; it logs the source it read
sp=0
for v in v1 v2; do
	for t in tcp ws tls wss; do
		sp=$((sp + 1))
		# shellcheck disable=SC2046
		send 0 '^CONNACK 0' "$t behind haproxy, $v header" -- \
			--target "127.0.0.1:$((B + 4 + $(tr_port $t)))" --transport $t $(tls_opt $t) \
			--$v --src "203.0.113.$sp:4100$sp" --dst 198.51.100.1:1883 \
			--client-id "h-$v-$t"
	done
done
# 13: haproxy logged every header source (header went before TLS / HTTP)
sleep 0.3
missing=""
for s in $(seq 1 $sp); do
	grep -q "src=203.0.113.$s:4100$s " "$tmp/hap.log" || missing="$missing $s"
done
if [ -z "$missing" ]; then ok "haproxy saw the header's source on all 8 connections"
else not_ok "haproxy saw the header's source" "missing:$missing" "$(cat "$tmp/hap.log")"; fi

# 14: header and CONNECT coalesced in one write, MQTT 5
send 0 '^CONNACK 0x00 \(accepted\)' "coalesced header + CONNECT, MQTT 5" -- \
	--target "127.0.0.1:$((B + 4))" --v2 --coalesce --mqtt 5 --client-id c5

# 15: header and ClientHello in one segment (what a broker's PROXY stage
# must hand over to TLS untouched)
send 0 '^CONNACK 0' "coalesced header + ClientHello" -- --target "127.0.0.1:$((B + 6))" \
	--transport tls --ca "$CA" --sni localhost --v2 --coalesce --client-id ctls

# 16-17: no header on an accept-proxy listener: refused before any byte
send 1 'before any byte' "tcp without header behind haproxy" -- \
	--target "127.0.0.1:$((B + 4))" --no-header --client-id nh1
send 1 'before any byte' "tls without header behind haproxy" -- \
	--target "127.0.0.1:$((B + 6))" --transport tls --ca "$CA" --no-header --client-id nh2

# 18: certificate name mismatch
send 1 '^TLS failure.*hostname mismatch' "tls with a wrong SNI" -- \
	--target "127.0.0.1:$((B + 2))" --transport tls --ca "$CA" --sni wrong.example --no-header

# 19: unknown CA
send 1 '^TLS failure.*certificate verify failed' "tls against the system store" -- \
	--target "localhost:$((B + 2))" --transport tls --no-header --timeout 3000

# 20: nobody listens
send 1 '^connection refused' "closed port" -- --target "127.0.0.1:$((B + 9))" --no-header

# 21-22: source address 127.0.0.7, as mosquitto sees it
send 0 '^CONNACK 0' "bind to 127.0.0.7" -- --target "127.0.0.1:$B" --no-header \
	--bind 127.0.0.7 --client-id bound7
sleep 0.2
if grep -q "New client connected from 127.0.0.7:[0-9]* as bound7" "$tmp/mosq.log"; then
	ok "mosquitto saw 127.0.0.7"
else
	not_ok "mosquitto saw 127.0.0.7" "$(grep bound7 "$tmp/mosq.log")"
fi

# 23: no CONNECT: mosquitto keeps waiting, the connection stays open
send any '^sent.*still open' "no CONNECT" -- --target "127.0.0.1:$B" --no-header --no-connect \
	--timeout 300

# 24: a partial header that the peer sits on: the client times out
send 1 '^timeout.*partial header' "partial header, peer waits" -- \
	--target "127.0.0.1:$((B + 8))" --v1 --send-only 10 --timeout 300

# 25: we close right after the header
send any '^sent.*closed by us after 10 of 46 header bytes' "close after header" -- --target "127.0.0.1:$((B + 4))" \
	--v1 --send-only 10 --close-after-header

exit $((fails > 0))
