# 20-broker-lib.bash - shared by the 20-broker-*.t integration tests:
# TAP helpers, free ports, starting / stopping ppmq-broker, admin API
# queries, and a raw-socket MQTT probe (python3) for what no client does
# on purpose (garbage, oversized packets, stalls, many idle sockets).
#
# Source it from a test; it sets `set -u`, a temporary directory $T and a
# trap that stops every broker it started and removes $T.

set -u

PPMQ_BIN=${PPMQ_BIN:-bin}
PPMQ_BUILD=${PPMQ_BUILD:-build}
BROKER=$PPMQ_BIN/ppmq-broker
PROXYGEN=$PPMQ_BIN/proxygen
PAHO=$PPMQ_BUILD/tests/progs/paho_client
# Optional wrapper for the broker, e.g.
#   PPMQ_BROKER_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite" READY_WAIT=300
read -r -a BROKER_WRAP <<<"${PPMQ_BROKER_WRAP:-}"
READY_WAIT=${READY_WAIT:-100}   # tenths of a second

T=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-it.XXXXXX")
BROKER_PIDS=()
EXTRA_PIDS=()

_tap_n=0
_tap_fail=0

cleanup() {
	local p
	for p in "${EXTRA_PIDS[@]}" "${BROKER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${EXTRA_PIDS[@]}" "${BROKER_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

plan() { echo "1..$1"; }
ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}
not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n - $*"
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:  '$1'" "want: '$2'"
	fi
}
done_testing() {
	[ "$_tap_fail" -eq 0 ]
}

# skip_all REASON
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# ---- ports -----------------------------------------------------------------

# free_ports N: N distinct free TCP ports on 127.0.0.1 (see ports.bash).
# shellcheck source=tests/integration/ports.bash
. "$(dirname "${BASH_SOURCE[0]}")/ports.bash"

# ---- broker ----------------------------------------------------------------

# start_broker NAME [ENV=VALUE...] [-- ARGS...]: start ppmq-broker with
# the four listeners on fresh ports (all enabled; TLS ones with the test
# certificates when $CERTS is set), the admin API on a fresh port, the
# given environment on top, and wait for its "ready" line.
# Sets B_TCP B_SSL B_WS B_WSS B_ADMIN B_PID B_LOG (and B_NAME).
start_broker() {
	local name=$1
	shift
	local envs=() args=() ports
	while [ $# -gt 0 ]; do
		if [ "$1" = "--" ]; then
			shift
			args=("$@")
			break
		fi
		envs+=("$1")
		shift
	done
	read -r B_TCP B_SSL B_WS B_WSS B_ADMIN <<<"$(free_ports 5)"
	B_NAME=$name
	B_LOG=$T/$name.log
	local base=(
		LISTENER_TCP_ENABLED=true LISTENER_TCP_BIND_ADDRESS=127.0.0.1 LISTENER_TCP_BIND_PORT=$B_TCP
		LISTENER_WS_ENABLED=true LISTENER_WS_BIND_ADDRESS=127.0.0.1 LISTENER_WS_BIND_PORT=$B_WS
		ADMIN_BIND_ADDRESS=127.0.0.1 ADMIN_BIND_PORT=$B_ADMIN
	)
	if [ -n "${CERTS:-}" ]; then
		base+=(
			LISTENER_SSL_ENABLED=true LISTENER_SSL_BIND_ADDRESS=127.0.0.1 LISTENER_SSL_BIND_PORT=$B_SSL
			LISTENER_SSL_PEM_CERT=$CERTS/server.pem LISTENER_SSL_PEM_KEY=$CERTS/server.key
			LISTENER_WSS_ENABLED=true LISTENER_WSS_BIND_ADDRESS=127.0.0.1 LISTENER_WSS_BIND_PORT=$B_WSS
			LISTENER_WSS_PEM_CERT=$CERTS/server.pem LISTENER_WSS_PEM_KEY=$CERTS/server.key
		)
	else
		base+=(LISTENER_SSL_ENABLED=false LISTENER_WSS_ENABLED=false)
	fi
	env -u MQTT_PROXY_PROTOCOL_ENABLED -u MQTT_TCP_PROXY_PROTOCOL_ENABLED \
		-u MQTT_SSL_PROXY_PROTOCOL_ENABLED -u MQTT_WS_PROXY_PROTOCOL_ENABLED \
		-u MQTT_WSS_PROXY_PROTOCOL_ENABLED -u PPMQ_FAULT \
		"${base[@]}" "${envs[@]}" ${BROKER_WRAP[@]+"${BROKER_WRAP[@]}"} "$BROKER" \
		${args[@]+"${args[@]}"} >"$B_LOG" 2>&1 &
	B_PID=$!
	BROKER_PIDS+=("$B_PID")
	local i
	for i in $(seq "$READY_WAIT"); do
		if grep -q ' ready:' "$B_LOG" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$B_PID" 2>/dev/null; then
			diag "broker $name exited before ready:" "$(cat "$B_LOG")"
			return 1
		fi
		sleep 0.1
	done
	diag "broker $name not ready after $((READY_WAIT / 10)) s:" "$(tail -20 "$B_LOG")"
	return 1
}

# stop_broker: SIGTERM, wait (bounded); returns the broker's exit status.
stop_broker() {
	local pid=${1:-$B_PID} i st
	kill -TERM "$pid" 2>/dev/null || return 1
	for i in $(seq "$READY_WAIT"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 99
	fi
	wait "$pid"
	st=$?
	[ "$st" -eq 0 ] || BROKER_BAD_EXITS=$((BROKER_BAD_EXITS + 1))
	return $st
}

# brokers_clean: every broker stopped so far exited 0 after SIGTERM, and
# no broker log holds a sanitizer or valgrind report (run the tests with
# PPMQ_BIN=build-san/bin, or BROKER_WRAP=(valgrind ...), to make this bite).
BROKER_BAD_EXITS=0
brokers_clean() {
	local f bad=0
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:|==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Process terminating|.* are (definitely|indirectly) lost)' "$f"; then
			diag "report in $(basename "$f"):" "$(grep -E -A8 'Sanitizer|runtime error|==[0-9]+== [A-Z]' "$f" | head -30)"
			bad=1
		fi
	done
	if [ "$BROKER_BAD_EXITS" -ne 0 ]; then
		diag "$BROKER_BAD_EXITS broker(s) did not exit 0 on SIGTERM"
		bad=1
	fi
	[ $bad -eq 0 ]
}

broker_alive() { kill -0 "$B_PID" 2>/dev/null; }

# port_of KIND: the port of the current broker's listener.
port_of() {
	case $1 in
	tcp) echo "$B_TCP" ;; ssl|tls) echo "$B_SSL" ;; ws) echo "$B_WS" ;; wss) echo "$B_WSS" ;;
	esac
}
# transport name proxygen / the probe use for a listener kind.
transport_of() {
	case $1 in ssl) echo tls ;; *) echo "$1" ;; esac
}

# ---- admin API -------------------------------------------------------------

admin_get() {
	curl -s --max-time 5 "http://127.0.0.1:$B_ADMIN$1"
}
admin_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$B_ADMIN$1"
}

# json_get PATH EXPR: evaluate a python expression on the JSON document
# (as `d`) at admin PATH; prints the result ("None" when absent).
json_get() {
	admin_get "$1" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception as e:
    print("BADJSON"); sys.exit(0)
try:
    v = eval(sys.argv[1])
except (KeyError, IndexError, TypeError):
    v = None
print(v)' "$2"
}

# session_field CLIENT_ID FIELD
session_field() {
	json_get "/api/v1/sessions/$1" "d.get('$2') if isinstance(d, dict) else None"
}

# metric NAME_WITH_LABELS: the value from /metrics ("" when absent).
metric() {
	admin_get /metrics | awk -v k="$1" '$1 == k { print $2; exit }'
}

# ---- sending: proxygen send -------------------------------------------------

# pg_send KIND [proxygen send options...]: one connection to the current
# broker's KIND listener. Prints proxygen's output; returns its status.
pg_send() {
	local kind=$1
	shift
	local extra=()
	case $kind in ssl|wss) extra+=(--ca "$CERTS/ca.pem" --sni localhost) ;; esac
	timeout 20 "$PROXYGEN" send --target "127.0.0.1:$(port_of "$kind")" \
		--transport "$(transport_of "$kind")" --timeout 4000 "${extra[@]}" "$@"
}

have_proxygen() { [ -x "$PROXYGEN" ] && "$PROXYGEN" send --help >/dev/null 2>&1; }

# ---- sending: raw probe (python3) --------------------------------------------

PROBE=$T/probe.py
cat >"$PROBE" <<'EOF'
# probe.py - one raw connection: optional bytes first (a PROXY header,
# in pieces), then TLS / WebSocket as asked, then MQTT bytes (a CONNECT by
# default, or given hex), and report what came back:
#   "connack RC" | "closed" | "reset" | "timeout" | "tls-fail WHY"
#   | "ws-fail STATUS" | "data HEX" | "open"
import argparse, base64, os, select, socket, ssl, struct, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--bind", default=None)
ap.add_argument("--transport", default="tcp")
ap.add_argument("--ca", default=None)
ap.add_argument("--path", default="/mqtt")
ap.add_argument("--subprotocol", default="mqtt")
ap.add_argument("--pre-hex", default="", help="raw bytes first (PROXY header)")
ap.add_argument("--split", type=int, default=0)
ap.add_argument("--delay", type=float, default=0.0, help="seconds between pieces")
ap.add_argument("--stall", type=float, default=0.0, help="seconds after the pre bytes")
ap.add_argument("--inner-hex", default="", help="bytes after TLS, before the upgrade")
ap.add_argument("--mqtt-hex", default=None, help="MQTT bytes instead of a CONNECT")
ap.add_argument("--client-id", default="probe")
ap.add_argument("--user", default=None)
ap.add_argument("--password", default=None)
ap.add_argument("--keepalive", type=int, default=60)
ap.add_argument("--no-connect", action="store_true")
ap.add_argument("--timeout", type=float, default=4.0)
ap.add_argument("--then-hex", default=None, help="after CONNACK 0, send these bytes and report")
ap.add_argument("--then-frame", default=None, help="ws: after CONNACK 0, send a frame OPCODE:HEX and report the first frame back")
ap.add_argument("--half-close", action="store_true", help="shut down writing after the CONNECT")
ap.add_argument("--then-publish", type=int, default=None, help="after CONNACK 0, PUBLISH this many payload bytes and report")
ap.add_argument("--hold", type=float, default=0.0, help="after CONNACK 0, stay connected this long")
a = ap.parse_args()

def s_(b): return struct.pack(">H", len(b)) + b
def varint(n):
    out = b""
    while True:
        d = n % 128; n //= 128
        out += bytes([d | (0x80 if n else 0)])
        if not n: return out

def connect_pkt():
    flags = 0x02
    payload = s_(a.client_id.encode())
    if a.user is not None:
        flags |= 0x80; payload += s_(a.user.encode())
    if a.password is not None:
        flags |= 0x40; payload += s_(a.password.encode())
    vh = s_(b"MQTT") + bytes([4, flags]) + struct.pack(">H", a.keepalive)
    body = vh + payload
    return bytes([0x10]) + varint(len(body)) + body

def out(msg, code):
    print(msg); sys.stdout.flush(); os._exit(code)

deadline = time.time() + a.timeout
def left(): return max(0.01, deadline - time.time())

try:
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout,
                                    source_address=(a.bind, 0) if a.bind else None)
except OSError as e:
    out("refused %s" % e, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

pre = bytes.fromhex(a.pre_hex)
if pre:
    pieces = [pre] if a.split <= 0 else [pre[i:i + a.split] for i in range(0, len(pre), a.split)]
    for i, p in enumerate(pieces):
        try:
            sock.sendall(p)
        except BrokenPipeError:
            out("closed (while sending the first bytes)", 1)
        except ConnectionResetError:
            out("reset", 1)
        if a.delay and i + 1 < len(pieces): time.sleep(a.delay)
if a.stall: time.sleep(a.stall)

def peer_state(s):
    """After the pre bytes: did the server close already?"""
    r, _, _ = select.select([s], [], [], 0)
    if r:
        try:
            d = s.recv(1, socket.MSG_PEEK)
            if d == b"": return "closed"
        except ConnectionResetError:
            return "reset"
    return None

st = peer_state(sock)
if st: out(st, 1)

conn = sock
if a.transport in ("tls", "wss", "ssl"):
    ctx = ssl.create_default_context(cafile=a.ca) if a.ca else ssl._create_unverified_context()
    if a.ca: ctx.check_hostname = False
    try:
        sock.settimeout(left())
        conn = ctx.wrap_socket(sock, server_hostname="localhost")
    except ssl.SSLError as e:
        out("tls-fail %s" % e.reason, 1)
    except (ConnectionResetError, BrokenPipeError):
        out("reset", 1)
    except socket.timeout:
        out("timeout", 1)
    except OSError as e:
        out("tls-fail %s" % e, 1)

ws = a.transport in ("ws", "wss")
rbuf = b""
if a.inner_hex:
    try:
        conn.sendall(bytes.fromhex(a.inner_hex))
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def recv_some():
    conn.settimeout(left())
    try:
        d = conn.recv(65536)
    except socket.timeout:
        out("timeout", 1)
    except ConnectionResetError:
        out("reset", 1)
    except ssl.SSLError as e:
        out("closed (tls %s)" % e.reason, 1)
    if not d:
        out("closed", 1)
    return d

if ws:
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (a.path, key))
    if a.subprotocol: req += "Sec-WebSocket-Protocol: %s\r\n" % a.subprotocol
    req += "\r\n"
    try:
        conn.sendall(req.encode())
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)
    while b"\r\n\r\n" not in rbuf:
        rbuf += recv_some()
    head, rbuf = rbuf.split(b"\r\n\r\n", 1)
    status = head.split(b" ")[1].decode()
    if status != "101": out("ws-fail %s" % status, 1)

def send_frame(op, b):
    m = os.urandom(4)
    hdr = bytes([0x80 | op])
    n = len(b)
    if n < 126: hdr += bytes([0x80 | n])
    elif n < 65536: hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else: hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    try:
        conn.sendall(hdr + m + bytes(x ^ m[i % 4] for i, x in enumerate(b)))
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def send_mqtt(b):
    if ws:
        m = os.urandom(4)
        hdr = bytes([0x82])
        n = len(b)
        if n < 126: hdr += bytes([0x80 | n])
        elif n < 65536: hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else: hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        b = hdr + m + bytes(x ^ m[i % 4] for i, x in enumerate(b))
    try:
        conn.sendall(b)
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def recv_mqtt(n):
    """At least n bytes of MQTT stream (WebSocket payloads joined)."""
    global rbuf
    data = b""
    while True:
        if ws:
            while len(rbuf) >= 2:
                if rbuf[1] & 0x80: out("masked server frame", 1)
                ln = rbuf[1] & 0x7f; off = 2
                if ln == 126:
                    if len(rbuf) < 4: break
                    ln = struct.unpack(">H", rbuf[2:4])[0]; off = 4
                elif ln == 127:
                    if len(rbuf) < 10: break
                    ln = struct.unpack(">Q", rbuf[2:10])[0]; off = 10
                if len(rbuf) < off + ln: break
                op = rbuf[0] & 0x0f
                if op == 0x8: out("closed (ws close)", 1)
                if op in (0x0, 0x2): data += rbuf[off:off + ln]
                rbuf = rbuf[off + ln:]
        else:
            data += rbuf; rbuf = b""
        if len(data) >= n: return data
        rbuf += recv_some()

if a.no_connect:
    # Nothing to send: still open at the deadline?
    try:
        conn.settimeout(left())
        d = conn.recv(1)
        out("closed" if not d else "data " + d.hex(), 1)
    except socket.timeout:
        out("open", 0)
    except ConnectionResetError:
        out("reset", 1)

if a.mqtt_hex is not None:
    send_mqtt(bytes.fromhex(a.mqtt_hex))
    d = recv_mqtt(1)
    out("data " + d.hex(), 1)

send_mqtt(connect_pkt())
if a.half_close:
    conn.shutdown(socket.SHUT_WR)
d = recv_mqtt(4)
if d[0] != 0x20: out("data " + d.hex(), 1)
rc = d[3]
if rc == 0 and a.hold:
    print("connack 0 (holding %.1f s)" % a.hold); sys.stdout.flush()
    time.sleep(a.hold)
if rc == 0 and a.then_publish is not None:
    t = b"t/big"
    body = struct.pack(">H", len(t)) + t + b"x" * a.then_publish
    a.then_hex = (bytes([0x30]) + varint(len(body)) + body).hex()
if rc == 0 and a.then_frame is not None:
    op, _, hx = a.then_frame.partition(":")
    send_frame(int(op, 0), bytes.fromhex(hx))
    while True:
        while len(rbuf) < 2:
            rbuf += recv_some()
        ln = rbuf[1] & 0x7f
        if ln >= 126: out("frame-too-long", 1)
        while len(rbuf) < 2 + ln:
            rbuf += recv_some()
        op2 = rbuf[0] & 0x0f
        if op2 in (0x0, 0x2):   # MQTT data: skip
            rbuf = rbuf[2 + ln:]
            continue
        out("frame %d %s" % (op2, rbuf[2:2 + ln].hex()), 0)
if rc != 0 or a.then_hex is None:
    out("connack %d" % rc, 0 if rc == 0 else 1)
send_mqtt(bytes.fromhex(a.then_hex))
try:
    d = recv_mqtt(1)
    out("after: data " + d.hex(), 1)
except SystemExit:
    raise
EOF

# probe KIND [probe options...]: raw connection to the KIND listener.
probe() {
	local kind=$1
	shift
	local extra=()
	case $kind in ssl|wss) extra+=(--ca "$CERTS/ca.pem") ;; esac
	timeout 20 python3 "$PROBE" --port "$(port_of "$kind")" \
		--transport "$(transport_of "$kind")" "${extra[@]}" "$@"
}

# PROXY headers as hex, for the probe.
hdr_v1() { printf 'PROXY TCP4 %s %s %s %s\r\n' "$1" "$2" "$3" "$4" | od -An -tx1 | tr -d ' \n'; }
hdr_v1_unknown() { printf 'PROXY UNKNOWN\r\n' | od -An -tx1 | tr -d ' \n'; }
# hdr_v2 SRC_IP DST_IP SRC_PORT DST_PORT (IPv4; same order as hdr_v1)
hdr_v2() {
	python3 -c '
import socket, struct, sys
s, d, sp, dp = sys.argv[1:5]
body = socket.inet_aton(s) + socket.inet_aton(d) + struct.pack(">HH", int(sp), int(dp))
print((b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body).hex())' "$@"
}
hdr_v2_local() {
	python3 -c 'print((b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20, 0x00, 0, 0])).hex())'
}

# certificates for ssl / wss, once per test file
certs_init() {
	CERTS=$T/certs
	if [ ! -x scripts/gen-certs ]; then
		return 1
	fi
	scripts/gen-certs "$CERTS" >/dev/null 2>&1
}
