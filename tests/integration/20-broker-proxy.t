#!/usr/bin/env bash
# 20-broker-proxy.t - ppmq-broker with PROXY enabled (strict) on every
# listener: valid v1 / v2 / LOCAL / UNKNOWN / TLV headers are accepted and
# the real client address is recorded; missing, malformed and stalled
# headers are refused without a byte written back and counted by reason;
# split headers and header + CONNECT in one segment work. Headers are
# sent by `proxygen send`, outcomes checked through the admin API.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
have_proxygen || skip_all "no usable $PROXYGEN (make bin/proxygen)"

KINDS="tcp ws"
if certs_init; then
	KINDS="tcp ssl ws wss"
else
	CERTS=
fi
nk=$(wc -w <<<"$KINDS")
plan $((nk * 29 + 4))

start_broker proxy MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_PROXY_PROTOCOL_TIMEOUT=1s || exit 1

# accepted KIND ID DESC [send options]: CONNACK 0.
accepted() {
	local kind=$1 id=$2 d=$3 out
	shift 3
	if out=$(pg_send "$kind" --client-id "$id" "$@" 2>&1); then
		ok "$kind: $d: accepted"
	else
		not_ok "$kind: $d: accepted" "$out"
	fi
}
# refused KIND DESC [send options]: closed (or reset) before any byte.
refused() {
	local kind=$1 d=$2 out st
	shift 2
	out=$(pg_send "$kind" --client-id refused "$@" 2>&1)
	st=$?
	if [ $st -eq 1 ] && grep -q 'before any byte' <<<"$out"; then
		ok "$kind: $d: closed without a byte written"
	else
		not_ok "$kind: $d: closed without a byte written"
		diag "status $st: $out"
	fi
}
# recorded ID FIELD WANT DESC
recorded() {
	is "$(session_field "$1" "$2")" "$3" "$4"
}

for k in $KINDS; do
	accepted "$k" "$k-v1" "v1 TCP4" --v1 --src 203.0.113.1:1111 --dst 198.51.100.1:1883
	recorded "$k-v1" clientIp 203.0.113.1 "$k: v1: clientIp is the header's source"
	recorded "$k-v1" clientPort 1111 "$k: v1: clientPort is the header's source port"
	recorded "$k-v1" peerIp 127.0.0.1 "$k: v1: peerIp is the socket peer"
	recorded "$k-v1" listener "$k" "$k: v1: listener recorded"
	is "$(json_get "/api/v1/sessions/$k-v1" "d['proxy']['version']")" 1 "$k: v1: proxy.version 1"

	accepted "$k" "$k-v2" "v2 PROXY TCP4" --v2 --src 203.0.113.2:2222
	recorded "$k-v2" clientIp 203.0.113.2 "$k: v2: clientIp is the header's source"
	is "$(json_get "/api/v1/sessions/$k-v2" "(d['proxy']['version'], d['proxy']['command'])")" \
		"(2, 'proxy')" "$k: v2: proxy version and command recorded"

	accepted "$k" "$k-v2-6" "v2 PROXY TCP6" --v2 --src '[2001:db8::7]:3333' --dst '[2001:db8::1]:1883'
	recorded "$k-v2-6" clientIp 2001:db8::7 "$k: v2 TCP6: IPv6 source recorded"

	accepted "$k" "$k-mapped" "v2 IPv4-mapped IPv6 source" --v2 --family inet6 \
		--src 203.0.113.9:4444 --dst 198.51.100.1:1883
	recorded "$k-mapped" clientIp 203.0.113.9 "$k: IPv4-mapped source shown as IPv4"

	accepted "$k" "$k-local" "v2 LOCAL" --local
	recorded "$k-local" clientIp 127.0.0.1 "$k: LOCAL: the socket's own address recorded"

	accepted "$k" "$k-unknown" "v1 UNKNOWN" --v1 --unknown
	recorded "$k-unknown" clientIp 127.0.0.1 "$k: UNKNOWN: the socket's own address recorded"

	accepted "$k" "$k-tlv" "v2 with TLVs and CRC32C" --v2 --src 203.0.113.3:5555 \
		--authority broker.example --alpn mqtt --unique-id abc123 --aws-vpce vpce-0123 \
		--ssl-cn client.example --crc32c
	is "$(json_get "/api/v1/sessions/$k-tlv" \
		"(d['proxy']['tlvs']['authority'], d['proxy']['tlvs']['alpn'], d['proxy']['tlvs']['awsVpceId'])")" \
		"('broker.example', 'mqtt', 'vpce-0123')" "$k: TLVs recorded"

	accepted "$k" "$k-split" "v1 header split into 1-byte writes" --v1 \
		--src 203.0.113.4:6666 --split 1 --delay 5
	recorded "$k-split" clientIp 203.0.113.4 "$k: split header: source recorded"

	refused "$k" "no header" --no-header
	refused "$k" "v1 bad source port" --mutate v1-port-65536
	refused "$k" "v1 LF only" --mutate v1-lf-only
	refused "$k" "v2 bad version" --mutate v2-version-3
	refused "$k" "v2 CRC32C mismatch" --mutate v2-crc-wrong
	refused "$k" "v2 TLV overflow" --mutate v2-tlv-overflow

	# A header that never completes: closed after proxy_timeout (1 s).
	t0=$(date +%s%N)
	refused "$k" "stalled header (timeout)" --v2 --send-only 10 --stall 3000 --timeout 4000
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$ms" -ge 900 ] && [ "$ms" -lt 3500 ]; then
		ok "$k: stalled header closed after the 1 s timeout (${ms} ms)"
	else
		not_ok "$k: stalled header closed after the 1 s timeout (${ms} ms)"
	fi
done

# Header and CONNECT in one segment (tcp): bytes after the header reach MQTT.
accepted tcp tcp-coalesced "header and CONNECT in one write" --v2 --src 203.0.113.5:7777 --coalesce

m=$(metric 'ppmq_proxy_headers_rejected_total{reason="missing"}')
is "$m" "$nk" "missing headers counted by reason ($nk)"
m=$(metric 'ppmq_proxy_headers_rejected_total{reason="v2-crc-mismatch"}')
is "$m" "$nk" "CRC32C mismatches counted by reason ($nk)"

stop_broker
check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
