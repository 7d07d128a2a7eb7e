#!/usr/bin/env bash
# 10-client.t - the shared client (lib/client.c) end to end, through
# `proxygen send`, against independent peers:
#   mosquitto  tcp, ws, tls, wss listeners (no PROXY support: --no-header)
#   haproxy    accept-proxy in front of each of them: the header must come
#              first on every transport, and haproxy logs the source it read
# Loopback only, random ports, everything stopped on exit.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

PG=$PROXYGEN
for p in mosquitto haproxy openssl; do
	if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
		skip_all "$p not installed"
	fi
done
[ -x "$PG" ] || skip_all "$PG not built"
PATH=$PATH:/usr/sbin

# (mosquitto started as root reads the certificates as user mosquitto: $T is 755)
certs_init || skip_all "gen-certs failed: $(cat "$T/gen-certs.log")"
CA=$CERTS/ca.pem

# Ten free ports: 0-3 mosquitto tcp/ws/tls/wss, 4-7 haproxy accept-proxy in
# front of them, 8 haproxy holding every byte, 9 nothing.
read -r -a P <<<"$(free_ports 10)"

cat >"$T/mosq.conf" <<EOF
per_listener_settings false
allow_anonymous true
log_dest stderr
log_type all
listener ${P[0]} 127.0.0.1
listener ${P[1]} 127.0.0.1
protocol websockets
listener ${P[2]} 127.0.0.1
certfile $T/certs/server.pem
keyfile $T/certs/server.key
listener ${P[3]} 127.0.0.1
protocol websockets
certfile $T/certs/server.pem
keyfile $T/certs/server.key
EOF

cat >"$T/hap.cfg" <<EOF
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
	cat >>"$T/hap.cfg" <<EOF
frontend f$i
  bind 127.0.0.1:${P[4 + i]} accept-proxy
  default_backend b$i
backend b$i
  server s 127.0.0.1:${P[i]}
EOF
done
# A peer that reads and waits: nothing is forwarded for 10 s.
cat >>"$T/hap.cfg" <<EOF
frontend hold
  bind 127.0.0.1:${P[8]}
  tcp-request inspect-delay 10s
  tcp-request content accept if WAIT_END
  default_backend b0
EOF

mosquitto -c "$T/mosq.conf" >"$T/mosq.log" 2>&1 &
PIDS+=($!)
haproxy -f "$T/hap.cfg" >"$T/hap.log" 2>&1 &
PIDS+=($!)

# wait until every port accepts
# shellcheck disable=SC2317 # run by wait_until
all_up() {
	local i
	for i in 0 1 2 3 4 5 6 7 8; do port_open "${P[i]}" || return 1; done
}
if ! wait_until 20 all_up; then
	diag <"$T/mosq.log"
	diag <"$T/hap.log"
	skip_all "mosquitto/haproxy did not start"
fi

plan 25

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
	send 0 '^CONNACK 0 \(accepted\)' "$t direct" -- --target "localhost:${P[$(tr_port $t)]}" \
		--transport $t $(tls_opt $t) --no-header --client-id "d-$t"
done

# 5-12: v1 and v2 headers through haproxy; it logs the source it read
sp=0
for v in v1 v2; do
	for t in tcp ws tls wss; do
		sp=$((sp + 1))
		# shellcheck disable=SC2046
		send 0 '^CONNACK 0' "$t behind haproxy, $v header" -- \
			--target "127.0.0.1:${P[4 + $(tr_port $t)]}" --transport $t $(tls_opt $t) \
			--$v --src "203.0.113.$sp:4100$sp" --dst 198.51.100.1:1883 \
			--client-id "h-$v-$t"
	done
done
# 13: haproxy logged every header source (header went before TLS / HTTP);
# it logs a connection when it ends, which may be a moment after the client's.
# shellcheck disable=SC2317 # run by wait_until
hap_logged() {
	local s
	missing=""
	for s in $(seq 1 "$sp"); do
		grep -q "src=203.0.113.$s:4100$s " "$T/hap.log" || missing="$missing $s"
	done
	[ -z "$missing" ]
}
if wait_until 10 hap_logged; then
	ok "haproxy saw the header's source on all 8 connections"
else
	not_ok "haproxy saw the header's source" "missing:$missing" "$(cat "$T/hap.log")"
fi

# 14: header and CONNECT coalesced in one write, MQTT 5
send 0 '^CONNACK 0x00 \(accepted\)' "coalesced header + CONNECT, MQTT 5" -- \
	--target "127.0.0.1:${P[4]}" --v2 --coalesce --mqtt 5 --client-id c5

# 15: header and ClientHello in one segment (what a broker's PROXY stage
# must hand over to TLS untouched)
send 0 '^CONNACK 0' "coalesced header + ClientHello" -- --target "127.0.0.1:${P[6]}" \
	--transport tls --ca "$CA" --sni localhost --v2 --coalesce --client-id ctls

# 16-17: no header on an accept-proxy listener: refused before any byte
send 1 'before any byte' "tcp without header behind haproxy" -- \
	--target "127.0.0.1:${P[4]}" --no-header --client-id nh1
send 1 'before any byte' "tls without header behind haproxy" -- \
	--target "127.0.0.1:${P[6]}" --transport tls --ca "$CA" --no-header --client-id nh2

# 18: certificate name mismatch
send 1 '^TLS failure.*hostname mismatch' "tls with a wrong SNI" -- \
	--target "127.0.0.1:${P[2]}" --transport tls --ca "$CA" --sni wrong.example --no-header

# 19: unknown CA
send 1 '^TLS failure.*certificate verify failed' "tls against the system store" -- \
	--target "localhost:${P[2]}" --transport tls --no-header --timeout 3000

# 20: nobody listens
send 1 '^connection refused' "closed port" -- --target "127.0.0.1:${P[9]}" --no-header

# 21-22: source address 127.0.0.7, as mosquitto sees it
send 0 '^CONNACK 0' "bind to 127.0.0.7" -- --target "127.0.0.1:${P[0]}" --no-header \
	--bind 127.0.0.7 --client-id bound7
if wait_log "$T/mosq.log" "New client connected from 127\.0\.0\.7:[0-9]* as bound7" &&
	grep -q "New client connected from 127.0.0.7:[0-9]* as bound7" "$T/mosq.log"; then
	ok "mosquitto saw 127.0.0.7"
else
	not_ok "mosquitto saw 127.0.0.7" "$(grep bound7 "$T/mosq.log")"
fi

# 23: no CONNECT: mosquitto keeps waiting, the connection stays open
send any '^sent.*still open' "no CONNECT" -- --target "127.0.0.1:${P[0]}" --no-header --no-connect \
	--timeout 300

# 24: a partial header that the peer sits on: the client times out
send 1 '^timeout.*partial header' "partial header, peer waits" -- \
	--target "127.0.0.1:${P[8]}" --v1 --send-only 10 --timeout 300

# 25: we close right after the header
send any '^sent.*closed by us after 10 of 46 header bytes' "close after header" -- --target "127.0.0.1:${P[4]}" \
	--v1 --send-only 10 --close-after-header

done_testing
