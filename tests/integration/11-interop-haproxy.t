#!/usr/bin/env bash
# 11-interop-haproxy.t - our PROXY codec against HAProxy (Debian 2.6), both
# ways:
#   - HAProxy receives (`bind ... accept-proxy`): it must accept proxygen's
#     v1 and v2 headers and log the header's source address (%ci:%cp); it
#     must refuse the catalog's malformations; through it, proxygen send
#     reaches mosquitto and gets a CONNACK;
#   - HAProxy sends (`server ... send-proxy` / `send-proxy-v2`, with CRC32C
#     and UNIQUE_ID, and its LOCAL health checks) to pp_capture, which
#     parses with lib/pp and must see the real client, bound to 127.0.0.7.
# HAProxy runs in the foreground (-db) from a temporary configuration, logs
# to its stdout (a file here), and is stopped by PID.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

PG=$PROXYGEN
CAPTURE=$PPMQ_BUILD/tests/progs/pp_capture
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}

[ -x "$HAPROXY" ] || skip_all "haproxy not installed ($HAPROXY)"
for f in "$PG" "$CAPTURE"; do
	[ -x "$f" ] || bail "$f is not built (make bin/proxygen build/tests/progs/pp_capture)"
done

# hap_log REGEX (grep -E): wait for a line of HAProxy's log.
hap_log() { wait_log "$T/haproxy.log" "$1"; }

# ---- helpers: a sink behind HAProxy, a raw sender ----------------------------------

# sink.py DIR: accepts connections, stores everything each one sent (until
# EOF) in DIR/sink-K.bin, then closes: a connection's file is in place
# before its client sees the end of it.
cat > "$T/sink.py" <<'EOF'
import os, socket, sys, threading
d = sys.argv[1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0))
s.listen(128)
open(d + '/sink.tmp', 'w').write(str(s.getsockname()[1]))
os.rename(d + '/sink.tmp', d + '/sink.port')
lock = threading.Lock()
count = [0]
def handle(c):
    c.settimeout(20)
    data = b''
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    with lock:
        count[0] += 1
        k = count[0]
    open('%s/sink-%d.tmp' % (d, k), 'wb').write(data)
    os.rename('%s/sink-%d.tmp' % (d, k), '%s/sink-%d.bin' % (d, k))
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
EOF

# rawsend.py PORT HEX PAYLOAD [BIND]: connect (from BIND), send the header
# bytes then PAYLOAD, half-close, read until the peer closes. Prints the
# local port, then closed | reset | timeout.
cat > "$T/rawsend.py" <<'EOF'
import socket, sys
port, hdr, payload = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3].encode()
bind = sys.argv[4] if len(sys.argv) > 4 else '127.0.0.7'
c = socket.socket()
c.settimeout(5)
c.bind((bind, 0))
c.connect(('127.0.0.1', port))
print(c.getsockname()[1], flush=True)
try:
    c.sendall(hdr + payload)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):
        pass
    print('closed')
except socket.timeout:
    print('timeout')
except OSError:
    print('reset')
EOF

# in_sink PAYLOAD: one connection delivered exactly PAYLOAD to the sink.
in_sink() {
	local f
	for f in "$T"/sink-*.bin; do
		[ -e "$f" ] || continue
		[ "$(cat "$f")" = "$1" ] && return 0
	done
	return 1
}

# ---- start the receivers of HAProxy's headers and the sink -------------------------

timeout 300 "$PY" "$T/sink.py" "$T" 2> "$T/sink.err" &
PIDS+=($!)
for c in v1 v2 check; do
	timeout 120 "$CAPTURE" -l 127.0.0.1 -p 0 -P "$T/cap-$c.port" -t 100000 > "$T/cap-$c.out" 2>&1 &
	PIDS+=($!)
done
for f in sink cap-v1 cap-v2 cap-check; do
	wait_file "$T/$f.port" || bail "$f did not start"
done
SINK=$(cat "$T/sink.port")

read -r FE_RECV FE_MQTT READY LS_V1 LS_V2 LS_CHECK MOSQ <<< "$(free_ports 7)"

HAVE_MOSQ=0
if command -v mosquitto > /dev/null; then
	cat > "$T/mosquitto.conf" <<EOF
listener $MOSQ 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/mosquitto.log
EOF
	timeout 300 mosquitto -c "$T/mosquitto.conf" > /dev/null 2>&1 &
	PIDS+=($!)
	HAVE_MOSQ=1
fi

cat > "$T/haproxy.cfg" <<EOF
global
    log stdout format raw local0 info
    maxconn 512

defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 2s
    timeout server 5s

# readiness probe: accepted, then refused
frontend fe_ready
    bind 127.0.0.1:$READY
    tcp-request connection reject

# HAProxy as a receiver of proxygen's headers
frontend fe_recv
    bind 127.0.0.1:$FE_RECV accept-proxy
    log-format "RECV src=%ci:%cp dst=%fi:%fp auth=%[fc_pp_authority] uid=%[fc_pp_unique_id] up=%U"
    default_backend be_sink

backend be_sink
    server sink 127.0.0.1:$SINK

frontend fe_mqtt
    bind 127.0.0.1:$FE_MQTT accept-proxy
    log-format "MQTT src=%ci:%cp"
    default_backend be_mqtt

backend be_mqtt
    server mosquitto 127.0.0.1:$MOSQ

# HAProxy as a sender of headers to pp_capture
listen ls_v1
    bind 127.0.0.1:$LS_V1
    log-format "SEND1 %ci:%cp"
    server cap 127.0.0.1:$(cat "$T/cap-v1.port") send-proxy

listen ls_v2
    bind 127.0.0.1:$LS_V2
    log-format "SEND2 %ci:%cp"
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    server cap 127.0.0.1:$(cat "$T/cap-v2.port") send-proxy-v2 proxy-v2-options crc32c,unique-id

listen ls_check
    bind 127.0.0.1:$LS_CHECK
    server cap 127.0.0.1:$(cat "$T/cap-check.port") send-proxy-v2 check check-send-proxy inter 10s
EOF

if "$HAPROXY" -c -f "$T/haproxy.cfg" > "$T/check.out" 2>&1; then
	ok "haproxy -c accepts the configuration"
else
	not_ok "haproxy -c accepts the configuration"; diag "$(cat "$T/check.out")"
	done_testing
fi
timeout 300 "$HAPROXY" -f "$T/haproxy.cfg" -db > "$T/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
if wait_port "$READY"; then ok "haproxy is up (pid $HAPROXY_PID)"; else not_ok "haproxy is up"; diag "$(cat "$T/haproxy.log")"; fi

# ---- HAProxy receives ------------------------------------------------------------------

# recv_case DESCRIPTION WANT_SRC PAYLOAD HEADER-OPTIONS...: send the header
# proxygen builds plus PAYLOAD to fe_recv; HAProxy must log WANT_SRC
# (@CPORT@ stands for the client's own port) and forward PAYLOAD alone.
recv_case() {
	local desc=$1 want=$2 payload=$3 hex out cport line=
	shift 3
	hex=$("$PG" header "$@" --format hex)
	out=$(timeout 10 "$PY" "$T/rawsend.py" "$FE_RECV" "$hex" "$payload")
	cport=$(echo "$out" | head -1)
	want=${want//@CPORT@/$cport}
	if hap_log "^RECV src=$want "; then
		line=$(grep -E -m1 -- "^RECV src=$want " "$T/haproxy.log")
		ok "$desc: HAProxy logs src=$want"
	else
		not_ok "$desc: HAProxy logs src=$want"
		diag "sent: $hex" "$(tail -3 "$T/haproxy.log")"
	fi
	LAST_LINE=$line
	if wait_until 10 in_sink "$payload"; then
		ok "$desc: the payload alone reaches the server"
	else
		not_ok "$desc: the payload alone reaches the server"
	fi
}

recv_case "v1 TCP4" "203\.0\.113\.10:4001 dst=198\.51\.100\.1:1883" "payload-1" \
	--v1 --src 203.0.113.10:4001
recv_case "v1 TCP6" "2001:db8::10:4002 dst=2001:db8::100:1883" "payload-2" \
	--v1 --src '[2001:db8::10]:4002'
recv_case "v1 UNKNOWN (real addresses)" "127\.0\.0\.7:@CPORT@ dst=127\.0\.0\.1:$FE_RECV" "payload-3" \
	--unknown
recv_case "v2 INET" "203\.0\.113\.11:4003 dst=198\.51\.100\.1:1883" "payload-4" \
	--src 203.0.113.11:4003
recv_case "v2 INET6" "2001:db8::11:4004 dst=2001:db8::100:1883" "payload-5" \
	--src '[2001:db8::11]:4004'
recv_case "v2 LOCAL (real addresses)" "127\.0\.0\.7:@CPORT@ dst=127\.0\.0\.1:$FE_RECV" "payload-6" \
	--local
recv_case "v2 with TLVs and CRC32C" "203\.0\.113\.12:4005" "payload-7" \
	--src 203.0.113.12:4005 --authority mqtt.example.com --unique-id pg-uid-7 \
	--alpn mqtt --ssl-cn c1 --noop 5 --aws-vpce vpce-1 --crc32c
case "$LAST_LINE" in
*"auth=mqtt.example.com uid=pg-uid-7 "*) ok "HAProxy decodes AUTHORITY and UNIQUE_ID from proxygen's TLVs" ;;
*) not_ok "HAProxy decodes AUTHORITY and UNIQUE_ID from proxygen's TLVs"; diag "$LAST_LINE" ;;
esac

# proxygen send (lib/client) rather than raw bytes. HAProxy reads the
# header with one MSG_PEEK and drops a header that arrives in pieces, which
# the spec allows ("the receiver may ... simply drop the connection when
# receiving a partial header"): seen from HAProxy, --split does split.
out=$(timeout 10 "$PG" send --target "127.0.0.1:$FE_RECV" --src 203.0.113.13:4006 \
	--split 3 --delay 20 --no-connect --timeout 400)
rc=$?
if [ $rc = 1 ] && hap_log "fe_recv/1: Truncated PROXY protocol header"; then
	ok "proxygen send --split 3 --delay 20: HAProxy sees a truncated header and drops it (exit 1: $out)"
else
	not_ok "proxygen send --split 3 --delay 20 reaches HAProxy in pieces"
	diag "rc=$rc $out" "$(tail -3 "$T/haproxy.log")"
fi
out=$(timeout 10 "$PG" send --target "127.0.0.1:$FE_RECV" --v1 --src 203.0.113.14:4007 --no-connect --timeout 300)
rc=$?
if [ $rc = 0 ] && hap_log "^RECV src=203\.0\.113\.14:4007 "; then
	ok "proxygen send --v1 --no-connect: exit 0, HAProxy logs the source"
else
	not_ok "proxygen send --v1 --no-connect"; diag "rc=$rc $out"
fi

# A CRC32C mismatch is refused (its connection has ended when rawsend.py
# returns: had anything reached the sink, its file would be there).
out=$(timeout 10 "$PY" "$T/rawsend.py" "$FE_RECV" "$("$PG" header --mutate v2-crc-wrong --src 203.0.113.15:4008 --format hex)" "crc-payload")
if hap_log "203\.0\.113\.15:4008 .*invalid PROXY protocol header" && ! in_sink "crc-payload"; then
	ok "v2 with a wrong CRC32C: HAProxy refuses it, nothing reaches the server"
else
	not_ok "v2 with a wrong CRC32C is refused"; diag "$out" "$(tail -3 "$T/haproxy.log")"
fi

# The whole catalog, in parallel: no malformation of the kinds a receiver
# must refuse may reach the server; which others HAProxy lets through is
# reported, not judged here (that is ppmq-conform's job).
"$PG" mutations --format tsv > "$T/mutations.tsv"
cut -f1 "$T/mutations.tsv" | while read -r m; do
	echo "$m $("$PG" header --mutate "$m" --format hex)"
done > "$T/mutations.txt"
# Every connection has ended when sweep returns, and the sink writes a
# connection's file before it closes it: what came through is on disk.
sweep "$FE_RECV" 5 payload < "$T/mutations.txt" > "$T/sweep.out"
for f in "$T"/sink-*.bin; do cat "$f"; echo; done > "$T/sink-all.txt"
core="not-proxy v2-bad-sig v2-bad-version v2-bad-command v2-bad-family v2-bad-transport v2-short-addr v2-tlv-truncated v2-crc-mismatch v2-bad-crc-len v1-bad-proto v1-too-long v1-bad-eol v1-bad-spacing v1-field-count v1-family-mismatch"
through_core=()
through_other=()
ncore=0
while IFS=$'\t' read -r name _ verdict reason _; do
	is_core=0
	if [ "$verdict" = incomplete ] || [[ " $core " == *" $reason "* ]]; then
		is_core=1
		ncore=$((ncore + 1))
	fi
	if grep -qFx -- "mut-$name" "$T/sink-all.txt"; then
		if [ $is_core = 1 ]; then through_core+=("$name"); else through_other+=("$name ($reason)"); fi
	fi
done < "$T/mutations.tsv"
if [ ${#through_core[@]} = 0 ] && [ "$ncore" -ge 40 ]; then
	ok "HAProxy refuses all $ncore signature/version/command/family/length/TLV/CRC/v1-syntax and incomplete malformations"
else
	not_ok "HAProxy refuses the core malformations"; diag "let through: ${through_core[*]}" "core count: $ncore"
fi
if [ ${#through_other[@]} -gt 0 ]; then
	diag "HAProxy $("$HAPROXY" -v | head -1 | awk '{print $3}') lets these catalog entries through (lenient, not an interop failure):"
	diag "${through_other[*]}"
fi

# Through HAProxy to a real broker.
if [ $HAVE_MOSQ = 1 ]; then
	wait_port "$MOSQ" || true
	for v in v1 v2; do
		src=203.0.113.2$([ $v = v1 ] && echo 1 || echo 2)
		out=$(timeout 15 "$PG" send --target "127.0.0.1:$FE_MQTT" --$v --src "$src:4321" --client-id "pg-hap-$v" --timeout 3000)
		rc=$?
		if [ $rc = 0 ] && [[ "$out" == "CONNACK 0"* ]] && hap_log "^MQTT src=${src//./\\.}:4321$"; then
			ok "proxygen send --$v through HAProxy to mosquitto: CONNACK 0, HAProxy logs $src:4321"
		else
			not_ok "proxygen send --$v through HAProxy to mosquitto"
			diag "rc=$rc $out" "$(tail -3 "$T/haproxy.log")" "$(tail -3 "$T/mosquitto.log" 2>/dev/null)"
		fi
	done
else
	skip "proxygen send --v1 through HAProxy to mosquitto" "mosquitto not installed"
	skip "proxygen send --v2 through HAProxy to mosquitto" "mosquitto not installed"
fi

# ---- HAProxy sends --------------------------------------------------------------------------

# cap_field FILE KEY: the value of KEY in pp_capture's output.
cap_field() { sed -n "s/^$2=//p" "$1" | head -1; }

for v in v1 v2; do
	port=$LS_V1
	[ $v = v2 ] && port=$LS_V2
	out=$(timeout 10 "$PY" "$T/rawsend.py" "$port" "" "via haproxy $v")
	cport=$(echo "$out" | head -1)
	wait_log "$T/cap-$v.out" '^end='
	f="$T/cap-$v.out"
	got="$(cap_field "$f" result) v$(cap_field "$f" version) $(cap_field "$f" command) $(cap_field "$f" src_ip):$(cap_field "$f" src_port) -> $(cap_field "$f" dst_ip):$(cap_field "$f" dst_port)"
	is "$got" "ok v${v#v} proxy 127.0.0.7:$cport -> 127.0.0.1:$port" \
		"HAProxy $([ $v = v1 ] && echo send-proxy || echo send-proxy-v2): lib/pp parses its $v header, source = the real client 127.0.0.7:$cport"
	is "$(cap_field "$f" payload_hex)" "$(printf 'via haproxy %s' $v | od -An -v -tx1 | tr -d ' \n')" \
		"HAProxy $v: the client's bytes follow the header untouched"
done
f="$T/cap-v2.out"
uid=$(cap_field "$f" unique_id)
crc=$(cap_field "$f" crc32c)
if [ -n "$crc" ] && [[ "$uid" == 7F000007:* ]]; then
	ok "HAProxy's CRC32C verifies with lib/pp ($crc); UNIQUE_ID '$uid' decoded"
else
	not_ok "HAProxy's CRC32C and UNIQUE_ID"; diag "$(cat "$f")"
fi

wait_log "$T/cap-check.out" '^end='
f="$T/cap-check.out"
got="$(cap_field "$f" result) v$(cap_field "$f" version) $(cap_field "$f" command) $(cap_field "$f" family) len=$(cap_field "$f" len)"
is "$got" "ok v2 local unspec len=16" "HAProxy's health check (check-send-proxy): a v2 LOCAL header"

# ---- stop -------------------------------------------------------------------------------------

kill -TERM "$HAPROXY_PID"
check "haproxy stops on SIGTERM" wait_gone "$HAPROXY_PID"

done_testing
