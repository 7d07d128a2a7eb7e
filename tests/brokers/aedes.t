#!/usr/bin/env bash
# aedes.t - aedes 1.2 + aedes-server-factory 0.2 (trustProxy) on Node.js as
# a real target, through conformance/targets/launch/aedes/launcher.js:
#   1. the launcher on its own: ready line, /healthz, the header's source in
#      /clients/{id} and /unauthorized/{id}; a v1 UNKNOWN header ends the
#      whole process as aedes ships (the decoder throws in a stream
#      callback); with AEDES_DECODER_GUARD=1 only that connection closes;
#   2. the catalog as aedes is (tcp optional, ws without PROXY), graded as
#      in expect/aedes.txt;
#   3. the catalog with tcp graded as a PROXY-enabled listener and the
#      decoder guarded (expect/aedes-tcp-enabled.txt): how it parses v1 /
#      v2 / malformed headers;
#   4. without the guard, the run loses the broker at the first v1 UNKNOWN.
# Skips when node (>= 20) is missing, or when the pinned packages are not
# installed and `npm ci` cannot install them (no registry).
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

DIR=$ROOT/conformance/targets/launch/aedes
PROFILE=conformance/targets/aedes.yml
NODE=${NODE:-node}

need_conform
command -v "$NODE" >/dev/null || skip_all "node not installed (Debian package nodejs)"
major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
[ "${major:-0}" -ge 20 ] 2>/dev/null || skip_all "node $major is too old (aedes 1.2 needs 20 or later)"
[ -x "$PROXYGEN" ] || skip_all "$PROXYGEN is not built (make bin/proxygen)"
if [ ! -f "$DIR/node_modules/aedes/package.json" ] || [ ! -f "$DIR/node_modules/aedes-server-factory/package.json" ]; then
	command -v npm >/dev/null || skip_all "aedes packages not installed and npm missing"
	(cd "$DIR" && timeout 180 npm ci --no-audit --no-fund --omit=dev) >"$T/npm.out" 2>&1 ||
		skip_all "aedes packages not installed and 'npm ci' failed (registry unreachable?): $(tail -1 "$T/npm.out")"
fi

# start_launcher NAME [ENV=VALUE...]: launcher.js on fresh ports; sets LP
# (pid), L_TCP L_WS L_ADMIN; waits (bounded) for its ready line.
# shellcheck disable=SC2317 # run by check
start_launcher() {
	local name=$1
	shift
	read -r L_TCP L_WS L_ADMIN <<<"$(free_ports 3)"
	bg_ready "$name" 20 '^aedes-launcher: ready ' \
		env AEDES_TCP_PORT="$L_TCP" AEDES_WS_PORT="$L_WS" AEDES_ADMIN_PORT="$L_ADMIN" "$@" \
		timeout -k 5 300 "$NODE" "$DIR/launcher.js"
	local st=$?
	LP=$BG_PID
	return $st
}
alive() { kill -0 "$1" 2>/dev/null; }

# ---- 1. the launcher alone --------------------------------------------------------

check "launcher: ready (stock decoder)" start_launcher stock
is "$(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/healthz" | json_field tcp)" "$L_TCP" "launcher: /healthz answers with the TCP port"
# The client stays 1.5 s (its --hold, the behaviour) while the launcher's
# API is asked for its record.
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --src 203.0.113.60:4060 --bind 127.0.0.7 \
	--client-id aedes-t-1 --username ppmq --password ppmq-secret --hold 1500 --timeout 3000 >/dev/null 2>&1 &
sp=$!
# shellcheck disable=SC2317 # run by wait_until
client_seen() {
	rec=$(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/clients/aedes-t-1")
	[ -n "$(echo "$rec" | json_field connDetails.ipAddress)" ]
}
wait_until 10 client_seen
is "$(echo "$rec" | json_field connDetails.ipAddress):$(echo "$rec" | json_field connDetails.port) $(echo "$rec" | json_field connDetails.isProxy)" \
	"203.0.113.60:4060 1" "launcher: /clients/{id} shows the v1 header's source, isProxy 1"
wait "$sp"
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v2 --src '[2001:db8::61]:4061' \
	--client-id aedes-t-2 --username ppmq --password wrong --timeout 3000 >"$T/send2.out" 2>&1
rec=$(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/unauthorized/aedes-t-2")
is "$(head -c 9 "$T/send2.out") $(echo "$rec" | json_field connDetails.ipAddress)" "CONNACK 4 2001:db8::61" \
	"launcher: a refused login is recorded in /unauthorized/{id} with the v2 source"
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --unknown --client-id aedes-t-3 \
	--username ppmq --password ppmq-secret --timeout 3000 >/dev/null 2>&1
if wait_gone "$LP" && grep -q 'V1BinaryProxyProtocolParseError' "$T/stock.log"; then
	ok "stock aedes: one 'PROXY UNKNOWN' header ends the whole process (V1BinaryProxyProtocolParseError uncaught)"
else
	not_ok "stock aedes: one 'PROXY UNKNOWN' header ends the whole process"
	diag "$(tail -5 "$T/stock.log")"
fi
wait "$LP" 2>/dev/null

check "launcher: ready (AEDES_DECODER_GUARD=1)" start_launcher guard AEDES_DECODER_GUARD=1
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --unknown --client-id aedes-t-4 \
	--username ppmq --password ppmq-secret --timeout 3000 >"$T/send4.out" 2>&1
"$PROXYGEN" send --target "127.0.0.1:$L_TCP" --v1 --client-id aedes-t-5 \
	--username ppmq --password ppmq-secret --timeout 3000 >"$T/send5.out" 2>&1
is "$(alive "$LP" && echo alive) $(curl -s -m 2 "http://127.0.0.1:$L_ADMIN/healthz" | json_field decoderErrors) $(head -c 9 "$T/send5.out")" \
	"alive 1 CONNACK 0" "guarded: the bad header closes its connection only; the next client is served"
kill -TERM "$LP"
start=$SECONDS
wait "$LP"
st=$?
is "$st" 0 "launcher: exits 0 on SIGTERM (in $((SECONDS - start))s)"
check "launcher: its ports are closed" ports_closed "$L_TCP" "$L_WS" "$L_ADMIN"

# ---- 2. the catalog, aedes as it is -------------------------------------------------

read -r AT AW AA <<<"$(free_ports 3)"
PORTS=("AEDES_TCP_PORT=$AT" "AEDES_WS_PORT=$AW" "AEDES_ADMIN_PORT=$AA")
conform_run optional 600 "${PORTS[@]}" AEDES_TCP_PROXY=optional AEDES_DECODER_GUARD=0 \
	-- --target "$PROFILE" -j 4
check_run optional aedes full 1
is "$(result_of optional mixed/optional/untrusted-with-header tcp grade)" FAIL \
	"no trusted proxy list: a header from any source is honoured"
is "$(result_of optional record/sessions/optional-with-header tcp grade) $(result_of optional record/sessions/optional-without-header tcp grade)" \
	"PASS PASS" "tcp records the header's source with a header, the socket peer without"
is "$(result_of optional disabled/v1-header ws grade)" PASS \
	"ws: a PROXY header before the HTTP upgrade is an HTTP 400"
check "every port closed after the run" ports_closed "$AT" "$AW" "$AA"
check "nothing left in TMPDIR after the run" tmp_empty

# ---- 3. the catalog, tcp graded as PROXY-enabled, decoder guarded --------------------

read -r AT AW AA <<<"$(free_ports 3)"
PORTS=("AEDES_TCP_PORT=$AT" "AEDES_WS_PORT=$AW" "AEDES_ADMIN_PORT=$AA")
conform_run preflight 120 "${PORTS[@]}" AEDES_TCP_PROXY=enabled AEDES_DECODER_GUARD=1 \
	-- --target "$PROFILE" -j 4 --only pp1/tcp4/basic
is "$RUN_RC" 3 "graded as PROXY-enabled: the pre-flight stops the run (exit 3)"
check "pre-flight: tcp serves clients without a header (aedes's PROXY is optional)" \
	grep -q '^Bail out! pre-flight: listener tcp .* serves clients without a PROXY header, but the profile says PROXY enabled' "$T/preflight.tap"
read -r AT AW AA <<<"$(free_ports 3)"
PORTS=("AEDES_TCP_PORT=$AT" "AEDES_WS_PORT=$AW" "AEDES_ADMIN_PORT=$AA")
conform_run enabled 600 "${PORTS[@]}" AEDES_TCP_PROXY=enabled AEDES_DECODER_GUARD=1 \
	-- --target "$PROFILE" -j 4 --no-preflight
check_run enabled aedes-tcp-enabled full 1
is "$(result_of enabled pp2/inet/basic tcp grade) $(result_of enabled pp2/tlv/alpn tcp grade)" "PASS FAIL" \
	"v2 without TLVs is read; any TLV breaks the connection (TLV bytes reach the MQTT parser)"
is "$(result_of enabled mal/v1-octet-256 tcp grade)" FAIL \
	"v1 addresses are not validated: 256.1.1.1 is accepted"
is "$(result_of enabled transport/split-halves tcp grade) $(result_of enabled transport/split-halves-v2 tcp grade)" "INFO NON-STRICT" \
	"only the first segment is looked at: a split header is lost (a MAY for a v1 line, against the recommendation for v2)"
check "every port closed after the run" ports_closed "$AT" "$AW" "$AA"
check "nothing left in TMPDIR after the run" tmp_empty

# ---- 4. without the guard the run stops at the crash -------------------------------

read -r AT AW AA <<<"$(free_ports 3)"
PORTS=("AEDES_TCP_PORT=$AT" "AEDES_WS_PORT=$AW" "AEDES_ADMIN_PORT=$AA")
conform_run crash 120 "${PORTS[@]}" AEDES_TCP_PROXY=enabled AEDES_DECODER_GUARD=0 \
	-- --target "$PROFILE" -j 4 --no-preflight --listener tcp \
	--only pp1/tcp4/basic,pp1/unknown/short,pp1/tcp4/port-65535,pp2/inet/basic
is "$RUN_RC $(result_of crash pp1/tcp4/basic tcp grade) $(result_of crash pp1/unknown/short tcp grade)" "1 PASS FAIL" \
	"stock decoder: v1 TCP4 served, v1 UNKNOWN takes the broker down"
case "$(result_of crash pp1/unknown/short tcp reason)" in
"the target went down after this scenario: its process ended"*) ok "the crash is the UNKNOWN point's, with how the process ended" ;;
*) not_ok "the crash is the UNKNOWN point's, with how the process ended"; diag "got: $(result_of crash pp1/unknown/short tcp reason)" ;;
esac
# The target is restarted: the points after it are graded on their own.
is "$(result_of crash pp1/tcp4/port-65535 tcp grade) $(result_of crash pp2/inet/basic tcp grade)" "PASS PASS" \
	"after the crash the target is restarted: the other points are not collateral"
check "every port closed after the run" ports_closed "$AT" "$AW" "$AA"

done_testing
