#!/usr/bin/env bash
# 20-broker-modes.t - PROXY modes on every listener kind:
#   disabled:  a plain CONNECT is accepted (peer address recorded, no
#              proxy details); a header is not understood (refused);
#   optional:  with or without a header; invalid headers still refused;
#              without trusted_proxies the broker does not start; trusting
#              every source must be said (0.0.0.0/0,::/0) and is warned about;
#   trusted_proxies (optional and strict): a header is honoured only from
#              a listed source (127.0.0.7 here), others are refused and
#              counted as untrusted-source; strict still requires one.
# Connections are made by a raw python3 probe (tests/lib/probe.py).
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.7", 0))' 2>/dev/null ||
	skip_all "cannot bind 127.0.0.7 (needed for trusted / untrusted sources)"

KINDS="tcp ws"
if certs_init; then
	KINDS="tcp ssl ws wss"
else
	CERTS=
fi
nk=$(wc -w <<<"$KINDS")
plan $((nk * 17 + 6))

V1=$(hdr_v1 203.0.113.10 198.51.100.1 1010 1883)
V2=$(hdr_v2 203.0.113.20 198.51.100.1 2020 1883)
BAD=$(printf 'PROXY TCP4 203.0.113.1 198.51.100.1 99999 1883\r\n' | od -An -tx1 | tr -d ' \n')

# expect KIND WANT DESC [probe options]: WANT is "accepted" or "refused".
expect() {
	local kind=$1 want=$2 d=$3 out got
	shift 3
	out=$(probe "$kind" "$@" 2>&1)
	case $out in
	"connack 0") got=accepted ;;
	closed* | reset | "ws-fail "* | "tls-fail "* | "data "* | "connack "*) got=refused ;;
	*) got="error ($out)" ;;
	esac
	if [ "$got" = "$want" ]; then
		ok "$kind: $d: $want"
	else
		not_ok "$kind: $d: $want"
		diag "probe said: $out"
	fi
}

# ---- disabled ---------------------------------------------------------------
start_broker disabled || exit 1
for k in $KINDS; do
	expect "$k" accepted "disabled, no header" --client-id "$k-plain"
	is "$(session_field "$k-plain" clientIp)" 127.0.0.1 "$k: disabled: peer address recorded"
	is "$(session_field "$k-plain" proxy)" None "$k: disabled: no proxy details"
	expect "$k" refused "disabled, v1 header" --pre-hex "$V1" --client-id "$k-hdr"
	is "$(admin_status "/api/v1/sessions/$k-hdr")" 404 "$k: disabled: no session for the header connection"
done
stop_broker

# ---- optional, every source trusted --------------------------------------------
# Without a trusted list, optional mode would let any client choose its
# recorded address: a configuration error.
out=$(timeout 10 env MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_PROXY_PROTOCOL_MODE=optional \
	LISTENER_TCP_BIND_ADDRESS=127.0.0.1 ADMIN_ENABLED=false "$BROKER" 2>&1)
is "$?" 2 "optional mode without trusted_proxies: exit 2"
check "optional mode without trusted_proxies: the message says what to write" \
	grep -q 'listener.tcp.proxy_mode: optional mode .*trusted_proxies is not set.*0.0.0.0/0,::/0' <<<"$out"
start_broker optional MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_PROXY_PROTOCOL_MODE=optional \
	MQTT_PROXY_TRUSTED_PROXIES=0.0.0.0/0,::/0 || exit 1
check "trusting every source is warned about" \
	grep -q 'warn: tcp: PROXY headers are taken from any source (listener.tcp.trusted_proxies holds a /0 network)' "$B_LOG"
for k in $KINDS; do
	expect "$k" accepted "optional, no header" --client-id "$k-o-plain"
	is "$(session_field "$k-o-plain" clientIp)" 127.0.0.1 "$k: optional: no header: peer recorded"
	expect "$k" accepted "optional, v2 header" --pre-hex "$V2" --client-id "$k-o-v2"
	is "$(session_field "$k-o-v2" clientIp)" 203.0.113.20 "$k: optional: header source recorded"
	expect "$k" refused "optional, invalid header" --pre-hex "$BAD" --client-id "$k-o-bad"
done
stop_broker

# ---- optional with trusted_proxies --------------------------------------------
start_broker trusted-opt MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_PROXY_PROTOCOL_MODE=optional \
	MQTT_PROXY_TRUSTED_PROXIES=127.0.0.7/32 || exit 1
for k in $KINDS; do
	expect "$k" accepted "optional, header from a trusted proxy" --bind 127.0.0.7 \
		--pre-hex "$V1" --client-id "$k-t-ok"
	is "$(session_field "$k-t-ok" clientIp)" 203.0.113.10 "$k: trusted proxy: header source recorded"
	expect "$k" refused "optional, header from an untrusted source" --pre-hex "$V1" --client-id "$k-t-bad"
	expect "$k" accepted "optional, untrusted source without header" --client-id "$k-t-plain"
done
is "$(metric 'ppmq_proxy_headers_rejected_total{reason="untrusted-source"}')" "$nk" \
	"untrusted sources counted ($nk)"
stop_broker

# ---- strict with trusted_proxies ----------------------------------------------
start_broker trusted-strict MQTT_PROXY_PROTOCOL_ENABLED=true \
	MQTT_PROXY_TRUSTED_PROXIES=127.0.0.7 || exit 1
for k in $KINDS; do
	expect "$k" accepted "strict, header from a trusted proxy" --bind 127.0.0.7 \
		--pre-hex "$V2" --client-id "$k-s-ok"
	expect "$k" refused "strict, header from an untrusted source" --pre-hex "$V2"
	expect "$k" refused "strict, trusted proxy without header" --bind 127.0.0.7
done
grep -q 'PROXY header rejected from 127.0.0.1:[0-9]*: untrusted-source' "$B_LOG"
check "untrusted source logged with its address and reason" [ $? -eq 0 ]
stop_broker

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
