#!/usr/bin/env bash
# 02-proxygen-relay.t - `proxygen relay` in front of a small python3 echo
# server that records the bytes before the payload (the PROXY header) and
# echoes the payload back once the client has half-closed. Clients bind to
# 127.0.0.7, so their address differs from the relay's 127.0.0.1.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

PG=$PROXYGEN

[ -x "$PG" ] || bail "$PG is not built (make bin/proxygen)"

# ---- the echo server ------------------------------------------------------------
# Accepts connections (a thread each), reads until EOF, splits off the PROXY
# header, stores it as conn-N.hdr (renamed into place when complete) and
# sends the payload back, then closes.
cat > "$T/echo.py" <<'EOF'
import os, socket, sys, threading
out = sys.argv[1]
SIG = b'\r\n\r\n\x00\r\nQUIT\n'
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0))
s.listen(64)
with open(out + '/echo.port.tmp', 'w') as f:
    f.write(str(s.getsockname()[1]))
os.rename(out + '/echo.port.tmp', out + '/echo.port')
lock = threading.Lock()
count = [0]
def handle(c):
    c.settimeout(30)
    data = bytearray()
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        if data.startswith(b'PROXY '):
            i = data.index(b'\r\n') + 2
        elif data[:12] == SIG:
            i = 16 + int.from_bytes(data[14:16], 'big')
        else:
            i = 0
        with lock:
            count[0] += 1
            k = count[0]
        with open('%s/conn-%d.tmp' % (out, k), 'wb') as f:
            f.write(bytes(data[:i]))
        os.rename('%s/conn-%d.tmp' % (out, k), '%s/conn-%d.hdr' % (out, k))
        c.sendall(bytes(data[i:]))
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    except OSError as e:
        sys.stderr.write('echo: %s\n' % e)
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
EOF

# ---- a client: bind, send SIZE bytes, half-close, read the echo -----------------
# Prints "LOCALPORT ok" when the echo equals what was sent.
cat > "$T/client.py" <<'EOF'
import os, socket, sys
host, port, size, bind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
c = socket.socket(fam)
c.settimeout(20)
c.bind((bind, 0))
c.connect((host, port))
lport = c.getsockname()[1]
payload = (b'hello relay %d\n' % lport) * (size // 16 + 1)
payload = payload[:size]
c.sendall(payload)
c.shutdown(socket.SHUT_WR)
back = bytearray()
try:
    while True:
        b = c.recv(65536)
        if not b:
            break
        back += b
except OSError as e:
    print(lport, 'error', e)
    sys.exit(1)
print(lport, 'ok' if bytes(back) == payload else 'mismatch %d/%d bytes' % (len(back), len(payload)))
EOF

timeout 120 "$PY" "$T/echo.py" "$T" 2> "$T/echo.err" &
PIDS+=($!)

wait_file "$T/echo.port" || bail "the echo server did not start: $(cat "$T/echo.err")"
ECHO_PORT=$(cat "$T/echo.port")

# relay_port LOG: the port of the relay's "listening on" line (waits for it).
relay_port() {
	wait_log "$1" 'listening on .*:[0-9]+,' || return 1
	sed -n 's/.*listening on .*:\([0-9][0-9]*\),.*/\1/p' "$1"
}

# start_relay NAME ARGS...: runs the relay in the background with its log in
# $T/NAME.log, sets RELAY_PID and RELAY_PORT.
start_relay() {
	local name=$1
	shift
	timeout 60 "$PG" relay --target "127.0.0.1:$ECHO_PORT" "$@" 2> "$T/$name.log" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	RELAY_PORT=$(relay_port "$T/$name.log")
}

# hdr_hex N: hex of the header of the server's N-th connection (waits for it).
conn_no=0
hdr_hex() {
	wait_until 10 test -e "$T/conn-$1.hdr" || true
	hexof < "$T/conn-$1.hdr" 2>/dev/null
}

# ---- v1, --once --------------------------------------------------------------------

if start_relay v1 --listen 127.0.0.1:0 --v1 --once; then
	ok "relay v1 listening on 127.0.0.1:$RELAY_PORT"
else
	not_ok "relay v1 started"; diag "$(cat "$T/v1.log")"
fi
read -r cport status < <(timeout 30 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 100 127.0.0.7)
is "${status:-none}" ok "client from 127.0.0.7: payload relayed to the server and echoed back (half-close both ways)"
conn_no=$((conn_no + 1))
is "$(hdr_hex $conn_no)" "$(texthex "PROXY TCP4 127.0.0.7 127.0.0.1 $cport $RELAY_PORT"$'\r\n')" \
	"the server received 'PROXY TCP4 127.0.0.7 127.0.0.1 $cport $RELAY_PORT' first"
wait_exit "$RELAY_PID"
is "$?" 0 "--once: the relay exits with status 0 after the connection"
if grep -q "127.0.0.7:$cport -> 127.0.0.1:$ECHO_PORT: header PROXY TCP4 127.0.0.7 127.0.0.1 $cport $RELAY_PORT" "$T/v1.log"; then
	ok "one log line with the client address and the header sent"
else
	not_ok "log line with the client address and the header"; diag "$(cat "$T/v1.log")"
fi

# ---- v2 with TLVs ------------------------------------------------------------------

start_relay v2 --listen 127.0.0.1:0 --v2 --authority relay.test --crc32c --once
read -r cport status < <(timeout 30 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 5000 127.0.0.7)
is "${status:-none}" ok "v2 relay: 5000 bytes through and back"
want=$("$PG" header --src "127.0.0.7:$cport" --dst "127.0.0.1:$RELAY_PORT" --authority relay.test --crc32c --format hex)
conn_no=$((conn_no + 1))
is "$(hdr_hex $conn_no)" "$want" "v2 header: source 127.0.0.7:$cport, destination the relay's address, AUTHORITY, CRC32C"
wait_exit "$RELAY_PID"
is "$?" 0 "v2 relay exits after --once"

# ---- --source fixed / random --------------------------------------------------------

start_relay fixed --listen 127.0.0.1:0 --v1 --source fixed:203.0.113.5:4444 --once
read -r cport status < <(timeout 30 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 10 127.0.0.7)
conn_no=$((conn_no + 1))
is "$(hdr_hex $conn_no)" "$(texthex "PROXY TCP4 203.0.113.5 127.0.0.1 4444 $RELAY_PORT"$'\r\n')" \
	"--source fixed:203.0.113.5:4444 is the header's source"
wait_exit "$RELAY_PID" >/dev/null

start_relay random --listen 127.0.0.1:0 --v2 --source random:198.18.0.0/15 --once
read -r cport status < <(timeout 30 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 10 127.0.0.7)
conn_no=$((conn_no + 1))
got=$(hdr_hex $conn_no | "$PY" -c '
import ipaddress, sys
b = bytes.fromhex(sys.stdin.read().strip())
src = ipaddress.ip_address(b[16:20]); dst = ipaddress.ip_address(b[20:24])
sp = int.from_bytes(b[24:26], "big"); dp = int.from_bytes(b[26:28], "big")
print(b[13] == 0x11 and src in ipaddress.ip_network("198.18.0.0/15") and sp >= 1024, dst, dp)')
is "$got" "True 127.0.0.1 $RELAY_PORT" "--source random:198.18.0.0/15: a source inside the network, the real destination"
wait_exit "$RELAY_PID" >/dev/null

# ---- IPv6 ------------------------------------------------------------------------------

if "$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	start_relay v6 --listen '[::1]:0' --v1 --once
	read -r cport status < <(timeout 30 "$PY" "$T/client.py" ::1 "$RELAY_PORT" 10 ::1)
	conn_no=$((conn_no + 1))
	is "$(hdr_hex $conn_no)" "$(texthex "PROXY TCP6 ::1 ::1 $cport $RELAY_PORT"$'\r\n')" "IPv6 client: PROXY TCP6 ::1 ::1"
	wait_exit "$RELAY_PID" >/dev/null
else
	ok "# SKIP no IPv6 loopback"
fi

# ---- many connections at once, big transfers, no fd leak ------------------------------------

start_relay multi --listen 127.0.0.1:0 --v2 -v
# RELAY_PID is timeout(1); the relay is its child.
RELAY_PROC=$(pgrep -P "$RELAY_PID" | head -1)
base_fds=$(find /proc/"$RELAY_PROC"/fd -mindepth 1 -maxdepth 1 | wc -l)
for i in 1 2 3 4 5 6 7; do
	timeout 60 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 262144 127.0.0.7 > "$T/multi-$i.out" &
	PIDS+=($!)
done
timeout 60 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 4194304 127.0.0.7 > "$T/multi-8.out"
bad=0
for i in 1 2 3 4 5 6 7 8; do
	wait_file "$T/multi-$i.out" 30
	read -r p s < "$T/multi-$i.out"
	[ "${s:-}" = ok ] || { bad=$((bad + 1)); diag "client $i: $(cat "$T/multi-$i.out")"; }
done
is "$bad" 0 "8 concurrent clients (7 x 256 KiB, 1 x 4 MiB): every byte relayed both ways"
conn_no=$((conn_no + 8))
hdrs_ok=0
for i in 1 2 3 4 5 6 7 8; do
	read -r p s < "$T/multi-$i.out"
	want=$("$PG" header --src "127.0.0.7:$p" --dst "127.0.0.1:$RELAY_PORT" --format hex)
	for f in "$T"/conn-*.hdr; do
		[ "$(hexof < "$f")" = "$want" ] && { hdrs_ok=$((hdrs_ok + 1)); break; }
	done
done
is "$hdrs_ok" 8 "each client's own address is in a header the server received"
# shellcheck disable=SC2317 # run by wait_until
closed_8() {
	closed=$(grep -c ': closed (' "$T/multi.log")
	[ "$closed" -ge 8 ]
}
wait_until 10 closed_8
is "$closed" 8 "-v logs the end of each of the 8 connections"
now_fds=$(find /proc/"$RELAY_PROC"/fd -mindepth 1 -maxdepth 1 | wc -l)
if [ -n "$RELAY_PROC" ] && [ "$now_fds" = "$base_fds" ] && [ "$(readlink /proc/"$RELAY_PROC"/exe)" = "$(readlink -f "$PG")" ]; then
	ok "no file descriptor left open after the connections ended ($now_fds)"
else
	not_ok "no file descriptor left open after the connections ended"
	diag "relay pid '$RELAY_PROC' fds before $base_fds, after $now_fds"
fi
kill -TERM "$RELAY_PID"
wait_exit "$RELAY_PID"
is "$?" 0 "SIGTERM: the relay stops with status 0"

# ---- target down ----------------------------------------------------------------------------

dead=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 30 "$PG" relay --listen 127.0.0.1:0 --target "127.0.0.1:$dead" --once 2> "$T/dead.log" &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
RELAY_PORT=$(relay_port "$T/dead.log")
out=$(timeout 30 "$PY" "$T/client.py" 127.0.0.1 "$RELAY_PORT" 10 127.0.0.7 2>&1)
case "$out" in
*ok*) not_ok "target down: the client is closed without an echo"; diag "$out" ;;
*) ok "target down: the client is closed without an echo" ;;
esac
wait_exit "$RELAY_PID"
is "$?" 1 "target down with --once: exit status 1"
if grep -q "127.0.0.7:.*127.0.0.1:$dead" "$T/dead.log"; then
	ok "the failed connect is logged with the client's address"
else
	not_ok "the failed connect is logged"; diag "$(cat "$T/dead.log")"
fi

done_testing
