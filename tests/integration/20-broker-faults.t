#!/usr/bin/env bash
# 20-broker-faults.t - the test-only fault switches (--fault NAME, env
# PPMQ_FAULT) exist so that conformance tools can be shown a broker that
# is wrong in a known way. Each scenario is run against a correct broker
# and against one with the fault on: the correct one must behave, the
# faulty one must really show the bug.
# shellcheck disable=SC2317 # the sc_* scenarios are called by name, from fault()
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
if certs_init; then :; else CERTS=; fi

if [ -n "$CERTS" ]; then plan 24; else plan 20; fi

V1=$(hdr_v1 203.0.113.7 198.51.100.1 5555 1883)
V2=$(hdr_v2 203.0.113.7 198.51.100.1 5555 1883)
LOCAL=$(hdr_v2_local)
# A v2 header whose CRC32C TLV does not match (one bit flipped).
"$PY" - >"$T/badcrc.hex" <<'EOF'
import socket, struct
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
addr = socket.inet_aton("203.0.113.7") + socket.inet_aton("198.51.100.1") + struct.pack(">HH", 5555, 1883)
tlv = bytes([0x03, 0, 4, 0, 0, 0, 0])
body = addr + tlv
hdr = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body
crc = crc32c(hdr) ^ 0x1
print((hdr[:-4] + struct.pack(">I", crc)).hex())
EOF
BADCRC=$(cat "$T/badcrc.hex")

ENVS=(MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_WS_PROXY_PROTOCOL_ENABLED=false
	MQTT_PROXY_PROTOCOL_TIMEOUT=1s)

outcome() { # probe output -> accepted | refused | open
	case $1 in
	"connack 0") echo accepted ;;
	open) echo open ;;
	closed* | reset | "ws-fail "* | "tls-fail "* | "data "* | "connack "*) echo refused ;;
	*) echo "error ($1)" ;;
	esac
}

# Scenarios: each prints one observation.
sc_record_proxy_ip() {
	probe tcp --pre-hex "$V2" --client-id f-rec >/dev/null 2>&1
	session_field f-rec clientIp
}
sc_accept_missing() { outcome "$(probe tcp --client-id f-miss 2>&1)"; }
sc_reject_local() { outcome "$(probe tcp --pre-hex "$LOCAL" --client-id f-local 2>&1)"; }
# 4 bytes at a time, 20 ms apart: ~220 ms in all, read in pieces even on a
# busy machine and well before the 1 s header timeout (byte by byte took 900 ms)
sc_drop_split() { outcome "$(probe tcp --pre-hex "$V1" --split 4 --delay 0.02 --client-id f-split 2>&1)"; }
sc_no_header_timeout() {
	# 8 bytes of the v2 signature, then silence for 2 s (timeout is 1 s).
	outcome "$(probe tcp --pre-hex 0d0a0d0a000d0a51 --stall 2 --no-connect --timeout 1 2>&1)"
}
sc_ignore_crc() { outcome "$(probe tcp --pre-hex "$BADCRC" --client-id f-crc 2>&1)"; }
sc_strip_disabled() { outcome "$(probe ws --pre-hex "$V1" --client-id f-strip 2>&1)"; }
sc_tls_outside() { outcome "$(probe ssl --pre-hex "$V2" --client-id f-out 2>&1)"; }
sc_tls_inside() { outcome "$(probe ssl --inner-hex "$V2" --client-id f-in 2>&1)"; }

# fault NAME SCENARIO CORRECT WRONG
fault() {
	local name=$1 sc=$2 good=$3 bad=$4
	start_broker "ok-$name" "${ENVS[@]}" || { not_ok "$name: broker"; not_ok "$name: broker"; return; }
	is "$($sc)" "$good" "$name: without the fault: $good"
	stop_broker
	start_broker "fault-$name" "${ENVS[@]}" -- --fault "$name" ||
		{ not_ok "$name: faulty broker"; return; }
	is "$($sc)" "$bad" "$name: with --fault $name: $bad"
	stop_broker
}

fault record-proxy-ip sc_record_proxy_ip 203.0.113.7 127.0.0.1
fault accept-missing sc_accept_missing refused accepted
fault reject-local sc_reject_local accepted refused
fault drop-split sc_drop_split accepted refused
fault no-header-timeout sc_no_header_timeout refused open
fault ignore-crc sc_ignore_crc refused accepted
fault strip-disabled sc_strip_disabled refused accepted
if [ -n "$CERTS" ]; then
	fault header-inside-tls sc_tls_outside accepted refused
	fault header-inside-tls sc_tls_inside refused accepted
fi

# PPMQ_FAULT works like --fault, and the broker says so loudly.
start_broker env-fault "${ENVS[@]}" PPMQ_FAULT=accept-missing,ignore-crc || exit 1
is "$(sc_accept_missing)" accepted "PPMQ_FAULT=accept-missing,ignore-crc: accept-missing on"
is "$(sc_ignore_crc)" accepted "PPMQ_FAULT=accept-missing,ignore-crc: ignore-crc on"
grep -q 'warn: FAULTS ENABLED.*accept-missing,ignore-crc' "$B_LOG"
check "enabled faults logged as a warning" [ $? -eq 0 ]
stop_broker

"$BROKER" --fault no-such-fault >"$T/unk.out" 2>&1
is "$?" 2 "unknown fault name: exit status 2"
grep -q "unknown fault 'no-such-fault'" "$T/unk.out"
check "unknown fault name named in the message" [ $? -eq 0 ]

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
