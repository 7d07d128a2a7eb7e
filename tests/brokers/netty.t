#!/usr/bin/env bash
# netty.t - Netty's PROXY decoder (HAProxyMessageDecoder of Debian's
# libnetty-java) as a real target, through
# conformance/targets/launch/netty/netty.sh (findings:
# docs/findings/netty-haproxy.md):
#   1. the launcher on its own: it compiles and says ready with the Netty
#      version; a header on tcp, one before TLS on ssl and one before the
#      upgrade on ws are recorded with the header's source, the socket peer
#      kept apart; a refused login is in /unauthorized/{id}; a v1 header with
#      source port 0 is closed with the decoder's own reason; a client with
#      no header is neither served nor closed; SIGTERM ends it;
#   2. the whole catalog, graded as in expect/netty.txt, the worst points
#      checked by name;
#   3. the header scenarios again with NETTY_ADDRESS_RULES=tbmq (what TBMQ's
#      handler does after the decoder: LOCAL, UNKNOWN and port 0 closed),
#      graded as in expect/netty-tbmq-rules.txt.
# Skips when java, javac or the Netty jars are missing (Debian:
# default-jdk-headless libnetty-java).
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

LAUNCH=$ROOT/conformance/targets/launch/netty/netty.sh
PROFILE=conformance/targets/netty.yml

need_conform
[ -x "$PROXYGEN" ] || skip_all "$PROXYGEN is not built (make bin/proxygen)"
why=$("$LAUNCH" check 2>&1) || skip_all "${why#netty.sh: }"
certs_init || skip_all "no test certificates (scripts/gen-certs): $(tail -1 "$T/gen-certs.log")"

# The classes are built once here (or found built), so that every start
# below is a JVM start only.
if timeout 300 "$LAUNCH" build >"$T/build.out" 2>&1; then
	ok "netty.sh build: NettyTarget.java compiled against the Netty jars ($(tail -1 "$T/build.out"))"
else
	not_ok "netty.sh build"
	diag "$(cat "$T/build.out")"
	bail "the target cannot be built"
fi

# start_launcher NAME [ENV=VALUE...]: netty.sh on fresh ports with every
# listener; sets LP (pid), L_TCP L_SSL L_WS L_WSS L_ADMIN; waits (bounded)
# for its ready line.
# shellcheck disable=SC2317 # run by check
start_launcher() {
	local name=$1
	shift
	read -r L_TCP L_SSL L_WS L_WSS L_ADMIN <<<"$(free_ports 5)"
	bg_ready "$name" 60 '^netty-target: ready ' \
		env NETTY_TCP_PORT="$L_TCP" NETTY_SSL_PORT="$L_SSL" NETTY_WS_PORT="$L_WS" NETTY_WSS_PORT="$L_WSS" \
		NETTY_ADMIN_PORT="$L_ADMIN" NETTY_CERT_DIR="$CERTS" MQTT_PROXY_PROTOCOL_ENABLED=true "$@" \
		timeout -k 5 300 "$LAUNCH" run
	local st=$?
	LP=$BG_PID
	return $st
}
# record KIND ID: the launcher's record of ID (sessions | unauthorized) in REC.
# shellcheck disable=SC2317 # run by wait_until
record() {
	REC=$(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/$1/$2")
	[ -n "$(echo "$REC" | json_field clientIp)" ]
}
addr_of() { echo "$(echo "$REC" | json_field clientIp):$(echo "$REC" | json_field clientPort) peer $(echo "$REC" | json_field peerIp) v$(echo "$REC" | json_field proxy.version) $(echo "$REC" | json_field listener)"; }

# ---- 1. the launcher alone --------------------------------------------------------

check "launcher: ready" start_launcher alone
ver=$(sed -n 's/^netty-target: ready .* netty=\([^ ]*\) .*/\1/p' "$T/alone.log")
like "$ver" '4.1.[0-9]*' "launcher: the decoder is Netty's codec-haproxy $ver"
is "$(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/healthz" | json_field wss)" "$L_WSS" "launcher: /healthz answers with the ports"

# Each client holds its session 1.5 s (--hold, the behaviour) while the
# launcher's API is asked for its record.
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --src 203.0.113.70:4070 --bind 127.0.0.7 \
	--client-id netty-t-1 --username ppmq --password ppmq-secret --hold 1500 --timeout 3000 >/dev/null 2>&1 &
sp=$!
wait_until 10 record sessions netty-t-1
is "$(addr_of)" "203.0.113.70:4070 peer 127.0.0.7 v1 tcp" "tcp: the v1 header's source is recorded, the socket peer apart"
wait "$sp"

"$PROXYGEN" send --target "127.0.0.1:$L_SSL" --transport tls --ca "$CERTS/ca.pem" --sni localhost \
	--v2 --src '[2001:db8::71]:4071' --bind 127.0.0.7 --client-id netty-t-2 --hold 1500 --timeout 3000 >/dev/null 2>&1 &
sp=$!
wait_until 10 record sessions netty-t-2
# Netty writes a v2 IPv6 address uncompressed, one group after the other.
is "$(addr_of)" "2001:db8:0:0:0:0:0:71:4071 peer 127.0.0.7 v2 ssl" "ssl: a v2 header before TLS is read; the address as the decoder writes it"
wait "$sp"

"$PROXYGEN" send --target "127.0.0.1:$L_WS" --transport ws --path /mqtt \
	--v1 --src 198.51.100.72:4072 --bind 127.0.0.7 --client-id netty-t-3 --hold 1500 --timeout 3000 >/dev/null 2>&1 &
sp=$!
wait_until 10 record sessions netty-t-3
is "$(addr_of)" "198.51.100.72:4072 peer 127.0.0.7 v1 ws" "ws: a header before the HTTP upgrade is read"
wait "$sp"

"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v2 --src 203.0.113.73:4073 --bind 127.0.0.7 \
	--client-id netty-t-4 --username ppmq --password wrong --timeout 3000 >"$T/send4.out" 2>&1
wait_until 10 record unauthorized netty-t-4
is "$(head -c 9 "$T/send4.out") $(addr_of)" "CONNACK 4 203.0.113.73:4073 peer 127.0.0.7 v2 tcp" \
	"tcp: a refused login is recorded in /unauthorized/{id} with the header's source"

"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --src 203.0.113.74:0 --bind 127.0.0.7 \
	--client-id netty-t-5 --timeout 3000 >"$T/send5.out" 2>&1
# Netty closes with the CONNECT unread, so the kernel may send a RST: a
# reset is the same refusal.
like "$(head -1 "$T/send5.out")" '@(closed|connection reset) by peer before any byte*' \
	"v1 source port 0: closed before any byte"
check "v1 source port 0: the decoder's reason in the output" \
	wait_log "$T/alone.log" '^netty-target: tcp 127\.0\.0\.7:[0-9]+: closed: HAProxyProtocolException: invalid port: 0 '

# No header: the decoder waits for a line end that never comes (the CONNECT
# is shorter than its 108-byte limit), so the client's own deadline ends it.
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --no-header --bind 127.0.0.7 \
	--client-id netty-t-6 --timeout 1500 >"$T/send6.out" 2>&1
like "$(head -1 "$T/send6.out")" 'timeout *' "tcp without a header: neither served nor closed (held until the client gives up)"

kill -TERM "$LP"
wait_exit "$LP" 20
is "$?" 0 "launcher: exits 0 on SIGTERM"
check "launcher: its ports are closed" ports_closed "$L_TCP" "$L_SSL" "$L_WS" "$L_WSS" "$L_ADMIN"

# ---- 2. the catalog ----------------------------------------------------------------

ports() {
	read -r NT NS NW NWS NA <<<"$(free_ports 5)"
	PORTS=("NETTY_TCP_PORT=$NT" "NETTY_SSL_PORT=$NS" "NETTY_WS_PORT=$NW" "NETTY_WSS_PORT=$NWS"
		"NETTY_ADMIN_PORT=$NA" "NETTY_CERT_DIR=$CERTS")
}

ports
conform_run record 900 "${PORTS[@]}" NETTY_ADDRESS_RULES=record -- --target "$PROFILE" -j 4
check_run record netty full 1
is "$(result_of record pp1/tcp4/port-0 tcp grade) $(result_of record pp2/inet/port-0 tcp grade)" "FAIL PASS" \
	"source port 0 refused in a v1 header, taken in a v2 one"
is "$(result_of record missing/connect tcp grade) $(result_of record missing/connect ssl grade) $(result_of record missing/connect ws grade)" \
	"FAIL PASS PASS" "no header: held on tcp; closed on ssl (ClientHello over 108 bytes) and ws (GET is no PROXY line)"
like "$(result_of record mal/raw/v2-v1-mixed tcp actual)" 'timeout *' \
	"a v2 signature with a bad version byte: the decoder waits for the length the next bytes spell"
is "$(result_of record mal/v1-trailing-space tcp grade) $(result_of record mal/v1-port-plus-sign tcp grade) $(result_of record mal/v1-ipv6-brackets tcp grade)" \
	"FAIL FAIL FAIL" "v1: a trailing space, a '+' port and a bracketed IPv6 source are accepted"
is "$(result_of record pp2/local/no-addresses tcp grade) $(result_of record record/sessions/v2-local wss grade)" "PASS PASS" \
	"LOCAL: accepted, the socket peer recorded (the decoder hands over no address)"
check "every port closed after the run" ports_closed "$NT" "$NS" "$NW" "$NWS" "$NA"
check "nothing left in TMPDIR after the run" tmp_empty

# ---- 3. TBMQ's rules after the decoder -------------------------------------------------

ports
conform_run tbmq 300 "${PORTS[@]}" NETTY_ADDRESS_RULES=tbmq -- --target "$PROFILE" -j 4 \
	--only 'pp1/*,pp2/*,record/*,mixed/*,transport/coalesce*'
check_run tbmq netty-tbmq-rules full 1
is "$(result_of tbmq pp2/local/no-addresses tcp grade) $(result_of tbmq mixed/health-check-held-open ws grade)" "FAIL FAIL" \
	"tbmq rules: LOCAL health checks are closed"
is "$(result_of tbmq pp1/unknown/short ssl grade) $(result_of tbmq pp2/inet/port-0 wss grade)" "NON-STRICT FAIL" \
	"tbmq rules: v1 UNKNOWN closed (SHOULD accept), v2 source port 0 closed (MUST accept)"
is "$(result_of tbmq pp1/tcp4/basic tcp grade) $(result_of tbmq record/sessions/v2-inet6 wss grade)" "PASS PASS" \
	"tbmq rules: headers with an address are read and recorded as before"
check "every port closed after the run" ports_closed "$NT" "$NS" "$NW" "$NWS" "$NA"
check "nothing left in TMPDIR after the run" tmp_empty

done_testing
