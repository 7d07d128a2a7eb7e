#!/usr/bin/env bash
# rabbitmq.t - RabbitMQ 3.10 (Debian rabbitmq-server) as a real target:
#   1. the launcher on its own: ready, the management API shows the header's
#      source address for a proxied MQTT client, `rabbitmq.sh stop PID`
#      stops the node and its epmd and removes every file;
#   2. the whole catalog with mqtt.proxy_protocol / web_mqtt.proxy_protocol
#      on (conformance/targets/rabbitmq.yml), every point graded as in
#      expect/rabbitmq.txt, and the known RabbitMQ / ranch problems spelled
#      out;
#   3. the whole catalog with both switches off (expect/rabbitmq-proxy-disabled.txt).
# Each step is bounded (timeout); nothing is left listening or on disk.
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

SERVER=${RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}
LAUNCH=$ROOT/conformance/targets/launch/rabbitmq.sh
PROFILE=conformance/targets/rabbitmq.yml

need_conform
[ -x "$SERVER" ] || skip_all "RabbitMQ not installed ($SERVER; Debian package rabbitmq-server)"
for p in epmd curl openssl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
[ -x "$PROXYGEN" ] || skip_all "$PROXYGEN is not built (make bin/proxygen)"

# ---- 1. the launcher alone --------------------------------------------------------

read -r MQ MQS WS WSS MG AM DI EP <<<"$(free_ports 8)"
PORTS=("RABBITMQ_MQTT_PORT=$MQ" "RABBITMQ_MQTTS_PORT=$MQS" "RABBITMQ_WEB_MQTT_PORT=$WS"
	"RABBITMQ_WEB_MQTTS_PORT=$WSS" "RABBITMQ_MGMT_PORT=$MG" "RABBITMQ_NODE_PORT=$AM"
	"RABBITMQ_DIST_PORT=$DI" "ERL_EPMD_PORT=$EP")
env TMPDIR="$T/tmp" "${PORTS[@]}" RABBITMQ_MQTT_PROXY=enabled RABBITMQ_WEB_MQTT_PROXY=enabled \
	timeout -k 10 600 "$LAUNCH" run --env-file "$T/launcher.env" >"$T/launcher.out" 2>&1 &
LPID=$!
PIDS+=("$LPID")
start=$SECONDS
wait_until -p "$LPID" 120 file_ready "$T/launcher.env"
if [ -s "$T/launcher.env" ] && grep -q '^rabbitmq.sh: ready ' "$T/launcher.out"; then
	ok "launcher: node ready in $((SECONDS - start))s"
else
	not_ok "launcher: node ready within $((120 * PPMQ_TEST_SLOW))s"
	diag "$(tail -30 "$T/launcher.out")"
fi

# The management API lists the four MQTT listeners on the ports given.
listeners=$(curl -s -m 5 -u ppmq:ppmq-secret "http://127.0.0.1:$MG/api/overview" |
	"$PY" -c 'import json, sys
print(" ".join(sorted("%s:%s" % (l["protocol"], l["port"]) for l in json.load(sys.stdin)["listeners"]
      if "mqtt" in l["protocol"])))' 2>/dev/null)
is "$listeners" "http/web-mqtt:$WS https/web-mqtt:$WSS mqtt/ssl:$MQS mqtt:$MQ" \
	"launcher: management API lists the MQTT listeners on the given ports"

# A proxied client (it stays 8 s: its --hold, the behaviour): the header's
# source is what the management API shows.
"$PROXYGEN" send --target "127.0.0.1:$MQ" --v1 --src 203.0.113.50:4050 --client-id rmq-t-1 \
	--username ppmq --password ppmq-secret --hold 8000 --timeout 5000 >"$T/send1.out" 2>&1 &
SPID=$!
PIDS+=("$SPID")
# shellcheck disable=SC2317 # run by wait_until
client_seen() {
	seen=$(curl -s -m 2 -u ppmq:ppmq-secret "http://127.0.0.1:$MG/api/connections" | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    if (c.get("client_properties") or {}).get("client_id") == "rmq-t-1":
        print("%s:%s" % (c.get("peer_host"), c.get("peer_port")))' 2>/dev/null)
	[ -n "$seen" ]
}
wait_until 10 client_seen
is "$seen" "203.0.113.50:4050" "launcher: /api/connections shows client_properties.client_id with the header's peer_host:peer_port"
wait "$SPID"
is "$(head -c 9 "$T/send1.out")" "CONNACK 0" "launcher: the proxied client got CONNACK 0"

# Stop by PID: bounded, and the node, its epmd and its directory are gone.
start=$SECONDS
if timeout 90 "$LAUNCH" stop "$LPID" 60; then
	ok "launcher: 'rabbitmq.sh stop' returned in $((SECONDS - start))s"
else
	not_ok "launcher: 'rabbitmq.sh stop' within 60s"
fi
wait "$LPID" 2>/dev/null
check "launcher: every port closed after stop (epmd included)" ports_closed "$MQ" "$MQS" "$WS" "$WSS" "$MG" "$AM" "$DI" "$EP"
check "launcher: its temporary directory removed" tmp_empty

# ---- 2. the catalog, PROXY on ---------------------------------------------------

read -r MQ MQS WS WSS MG AM DI EP <<<"$(free_ports 8)"
PORTS=("RABBITMQ_MQTT_PORT=$MQ" "RABBITMQ_MQTTS_PORT=$MQS" "RABBITMQ_WEB_MQTT_PORT=$WS"
	"RABBITMQ_WEB_MQTTS_PORT=$WSS" "RABBITMQ_MGMT_PORT=$MG" "RABBITMQ_NODE_PORT=$AM"
	"RABBITMQ_DIST_PORT=$DI" "ERL_EPMD_PORT=$EP")
conform_run on 900 "${PORTS[@]}" RABBITMQ_MQTT_PROXY=enabled RABBITMQ_WEB_MQTT_PROXY=enabled \
	-- --target "$PROFILE" -j 4
check_run on rabbitmq full 1

# The findings, one by one (they are in the expectation too; these say why).
is "$(result_of on pp1/tcp4/basic tcp grade) $(result_of on record/sessions/v2-inet wss grade)" "PASS PASS" \
	"PROXY on every listener, the header's source in the management API (tcp, wss)"
is "$(result_of on pp1/unknown/short tcp grade)" NON-STRICT \
	"v1 UNKNOWN: rabbit_net:socket_ends/2 badmatch, the connection process crashes (the spec says SHOULD accept)"
is "$(result_of on pp2/local/no-addresses tcp grade)" FAIL \
	"v2 LOCAL (load balancer health check): same crash"
is "$(result_of on pp1/tcp4/port-0 tcp grade)" FAIL \
	"source port 0 is refused by ranch's parser ('Failed to parse a port number')"
is "$(result_of on transport/split-halves tcp grade) $(result_of on transport/split-halves-v2 tcp grade)" "INFO NON-STRICT" \
	"a header split across two segments is refused (ranch reads one segment): a MAY for a v1 line, against the recommendation for v2"
is "$(result_of on missing/connect ssl grade)" FAIL \
	"MQTT/TLS listener, no header: held open until a 5 s timeout instead of refused at once"
check "every port closed after the run" ports_closed "$MQ" "$MQS" "$WS" "$WSS" "$MG" "$AM" "$DI" "$EP"
check "nothing left in TMPDIR after the run" tmp_empty

# ---- 3. the catalog, PROXY off --------------------------------------------------

read -r MQ MQS WS WSS MG AM DI EP <<<"$(free_ports 8)"
PORTS=("RABBITMQ_MQTT_PORT=$MQ" "RABBITMQ_MQTTS_PORT=$MQS" "RABBITMQ_WEB_MQTT_PORT=$WS"
	"RABBITMQ_WEB_MQTTS_PORT=$WSS" "RABBITMQ_MGMT_PORT=$MG" "RABBITMQ_NODE_PORT=$AM"
	"RABBITMQ_DIST_PORT=$DI" "ERL_EPMD_PORT=$EP")
conform_run off 600 "${PORTS[@]}" RABBITMQ_MQTT_PROXY=disabled RABBITMQ_WEB_MQTT_PROXY=disabled \
	-- --target "$PROFILE" -j 4
check_run off rabbitmq-proxy-disabled full 1
is "$(result_of off disabled/v1-header tcp grade) $(result_of off disabled/v2-header wss grade)" "PASS PASS" \
	"PROXY off: a header is refused"
check "every port closed after the run" ports_closed "$MQ" "$MQS" "$WS" "$WSS" "$MG" "$AM" "$DI" "$EP"
check "nothing left in TMPDIR after the run" tmp_empty

done_testing
