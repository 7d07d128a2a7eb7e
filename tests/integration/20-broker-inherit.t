#!/usr/bin/env bash
# 20-broker-inherit.t - TBMQ's global / per-listener PROXY inheritance,
# checked by behaviour: for each combination of environment variables the
# broker is started and every listener is probed twice. A listener with
# PROXY on accepts a header and refuses a plain CONNECT; one with PROXY
# off does the opposite. Also through a YAML file with ${ENV:default}
# placeholders, and --print-config's source of each value.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
if certs_init; then :; else CERTS=; fi

HDR=$(hdr_v1 203.0.113.33 198.51.100.1 3333 1883)

# refused OUTCOME: the probe saw the broker refuse (not a local error).
refused() {
	case $1 in
	closed* | reset | "ws-fail "* | "tls-fail "* | "data "* | "connack "[1-9]*) return 0 ;;
	*) return 1 ;;
	esac
}

# state KIND: "on" or "off" by behaviour, "?" when inconsistent.
state() {
	local kind=$1 h p
	h=$(probe "$kind" --pre-hex "$HDR" --client-id "inh-h-$kind" --timeout 3 2>&1)
	p=$(probe "$kind" --client-id "inh-p-$kind" --timeout 3 2>&1)
	if [ "$h" = "connack 0" ] && refused "$p"; then
		echo on
	elif refused "$h" && [ "$p" = "connack 0" ]; then
		echo off
	else
		echo "? (header: $h; plain: $p)"
	fi
}

# row DESC "ENV=V ..." "kind=on|off ..." [-- broker args]
row() {
	local d=$1 row_envs=$2 want=$3 kv kind w
	shift 3
	# shellcheck disable=SC2086
	if ! start_broker inherit $row_envs "$@"; then
		for kv in $want; do not_ok "$d: broker did not start"; done
		return
	fi
	for kv in $want; do
		kind=${kv%%=*}
		w=${kv#*=}
		is "$(state "$kind")" "$w" "$d: $kind is $w"
	done
	stop_broker
}

if [ -n "$CERTS" ]; then
	plan 28
else
	plan 20
fi

row "nothing set" "" "tcp=off ws=off"
row "global true" "MQTT_PROXY_PROTOCOL_ENABLED=true" "tcp=on ws=on"
row "global true, tcp false" \
	"MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_TCP_PROXY_PROTOCOL_ENABLED=false" "tcp=off ws=on"
row "global false, tcp true" \
	"MQTT_PROXY_PROTOCOL_ENABLED=false MQTT_TCP_PROXY_PROTOCOL_ENABLED=true" "tcp=on ws=off"
row "global unset, ws true" "MQTT_WS_PROXY_PROTOCOL_ENABLED=true" "tcp=off ws=on"
row "global true, tcp empty (unset: inherits)" \
	"MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_TCP_PROXY_PROTOCOL_ENABLED=" "tcp=on ws=on"
if [ -n "$CERTS" ]; then
	# TBMQ's documented example: global on, tcp off, ssl unset -> on.
	row "TBMQ example" \
		"MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_TCP_PROXY_PROTOCOL_ENABLED=false MQTT_SSL_PROXY_PROTOCOL_ENABLED=" \
		"tcp=off ssl=on ws=on wss=on"
	row "global false, wss true, ssl true" \
		"MQTT_PROXY_PROTOCOL_ENABLED=false MQTT_SSL_PROXY_PROTOCOL_ENABLED=true MQTT_WSS_PROXY_PROTOCOL_ENABLED=true" \
		"tcp=off ssl=on ws=off wss=on"
fi

# Through a file: placeholders with defaults, an explicit per-listener false.
cat >"$T/inherit.yml" <<'EOF'
listener:
  proxy_enabled: "${MQTT_PROXY_PROTOCOL_ENABLED:true}"
  tcp:
    proxy_enabled: false
  ws:
    proxy_enabled: "${MQTT_WS_PROXY_PROTOCOL_ENABLED:}"
EOF
row "file: global default true, tcp false, ws placeholder unset" "" "tcp=off ws=on" -- -c "$T/inherit.yml"
row "file: env overrides the placeholder default" "MQTT_PROXY_PROTOCOL_ENABLED=false" \
	"tcp=off ws=off" -- -c "$T/inherit.yml"

out=$(env -u MQTT_PROXY_PROTOCOL_ENABLED "$BROKER" -c "$T/inherit.yml" --print-config 2>&1)
grep -q '^listener.ws.proxy_enabled = true .*inherited' <<<"$out"
check "--print-config: ws value inherited from the global key" [ $? -eq 0 ]
grep -q '^listener.tcp.proxy_enabled = false .*file' <<<"$out"
check "--print-config: tcp value from the file" [ $? -eq 0 ]
out=$(MQTT_TCP_PROXY_PROTOCOL_ENABLED=true "$BROKER" --print-config 2>&1)
grep -q '^listener.tcp.proxy_enabled = true .*env MQTT_TCP_PROXY_PROTOCOL_ENABLED' <<<"$out"
check "--print-config: tcp value from its environment variable" [ $? -eq 0 ]

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
