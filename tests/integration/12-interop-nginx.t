#!/usr/bin/env bash
# 12-interop-nginx.t - our PROXY codec against nginx's stream module
# (Debian nginx 1.22 + libnginx-mod-stream), both ways:
#   - nginx sends (`proxy_protocol on;`) to pp_capture, which parses with
#     lib/pp and must see the real client (bound to 127.0.0.7);
#   - nginx receives (`listen ... proxy_protocol;`) proxygen's v1 and v2
#     headers and answers with what it parsed ($proxy_protocol_addr ...),
#     directly and through `proxygen relay`.
# nginx runs in the foreground from a temporary configuration and prefix,
# and is stopped by PID.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

PG=$PROXYGEN
CAPTURE=$PPMQ_BUILD/tests/progs/pp_capture
NGINX=${NGINX:-/usr/sbin/nginx}
STREAM_MOD=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

[ -x "$NGINX" ] || skip_all "nginx not installed ($NGINX)"
[ -f "$STREAM_MOD" ] || skip_all "nginx stream module not installed ($STREAM_MOD)"
for f in "$PG" "$CAPTURE"; do
	[ -x "$f" ] || bail "$f is not built (make bin/proxygen build/tests/progs/pp_capture)"
done

# ask.py PORT HEX [PAYLOAD] [BIND]: connect from BIND (default 127.0.0.7),
# send the header bytes and PAYLOAD, half-close, print the local port on
# the first line and then what came back (one line, may be empty).
cat > "$T/ask.py" <<'EOF'
import socket, sys
port, hdr = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
payload = sys.argv[3].encode() if len(sys.argv) > 3 else b''
bind = sys.argv[4] if len(sys.argv) > 4 else '127.0.0.7'
c = socket.socket()
c.settimeout(5)
c.bind((bind, 0))
c.connect(('127.0.0.1', port))
print(c.getsockname()[1], flush=True)
back = b''
try:
    c.sendall(hdr + payload)
    c.shutdown(socket.SHUT_WR)
    while True:
        b = c.recv(4096)
        if not b:
            break
        back += b
except OSError as e:
    back += b'<%s>' % type(e).__name__.encode()
print(back.decode(errors='replace').strip())
EOF

# ---- start pp_capture and nginx ---------------------------------------------------------

timeout 120 "$CAPTURE" -l 127.0.0.1 -p 0 -P "$T/cap.port" -t 100000 > "$T/cap.out" 2>&1 &
PIDS+=($!)
wait_file "$T/cap.port" || bail "pp_capture did not start"

read -r SEND RECV READY <<< "$(free_ports 3)"
mkdir -p "$T/logs"
cat > "$T/nginx.conf" <<EOF
load_module $STREAM_MOD;
user root;
worker_processes 1;
error_log $T/logs/error.log info;
events { worker_connections 256; }
stream {
    log_format pp '\$remote_addr:\$remote_port pp=\$proxy_protocol_addr:\$proxy_protocol_port';
    access_log $T/logs/access.log pp;
    # readiness probe
    server {
        listen 127.0.0.1:$READY;
        return "ready\n";
    }
    # nginx as a sender of v1 headers
    server {
        listen 127.0.0.1:$SEND;
        proxy_pass 127.0.0.1:$(cat "$T/cap.port");
        proxy_protocol on;
    }
    # nginx as a receiver: answer with what the header said
    server {
        listen 127.0.0.1:$RECV proxy_protocol;
        proxy_protocol_timeout 2s;
        return "src=\$proxy_protocol_addr:\$proxy_protocol_port dst=\$proxy_protocol_server_addr:\$proxy_protocol_server_port\n";
    }
}
EOF
if "$NGINX" -t -c "$T/nginx.conf" -p "$T" > "$T/check.out" 2>&1; then
	ok "nginx -t accepts the configuration"
else
	not_ok "nginx -t accepts the configuration"; diag "$(cat "$T/check.out")"
	done_testing
fi
timeout 120 "$NGINX" -c "$T/nginx.conf" -p "$T" -g "daemon off; pid $T/nginx.pid;" > "$T/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
if wait_port "$READY"; then ok "nginx is up"; else not_ok "nginx is up"; diag "$(cat "$T/nginx.out" "$T/logs/error.log")"; fi

# ---- nginx sends --------------------------------------------------------------------------

cap_field() { sed -n "s/^$1=//p" "$T/cap.out" | head -1; }

out=$(timeout 10 "$PY" "$T/ask.py" "$SEND" "" "via nginx")
cport=$(echo "$out" | head -1)
wait_log "$T/cap.out" '^end='
got="$(cap_field result) v$(cap_field version) $(cap_field src_ip):$(cap_field src_port) -> $(cap_field dst_ip):$(cap_field dst_port)"
is "$got" "ok v1 127.0.0.7:$cport -> 127.0.0.1:$SEND" \
	"nginx proxy_protocol on: lib/pp parses its v1 header, source = the real client 127.0.0.7:$cport"
is "$(cap_field payload_hex)" "$(printf 'via nginx' | od -An -v -tx1 | tr -d ' \n')" \
	"nginx: the client's bytes follow the header untouched"
is "$(cap_field peer_ip)" "127.0.0.1" "pp_capture's socket peer is nginx (127.0.0.1), kept apart from the header's source"

# ---- nginx receives ---------------------------------------------------------------------------

# ask DESCRIPTION WANT HEADER-OPTIONS...: nginx's answer must be WANT
# (@CPORT@ = the client's port).
ask() {
	local desc=$1 want=$2 hex out cport answer
	shift 2
	hex=$("$PG" header "$@" --format hex)
	out=$(timeout 10 "$PY" "$T/ask.py" "$RECV" "$hex")
	cport=$(echo "$out" | head -1)
	answer=$(echo "$out" | sed -n 2p)
	is "$answer" "${want//@CPORT@/$cport}" "$desc"
}

ask "v1 TCP4: nginx reads the source and destination" \
	"src=203.0.113.30:4001 dst=198.51.100.1:1883" --v1 --src 203.0.113.30:4001
ask "v1 TCP6" "src=2001:db8::30:4002 dst=2001:db8::100:1883" --v1 --src '[2001:db8::30]:4002'
ask "v1 ports 1 and 65535" "src=203.0.113.31:1 dst=198.51.100.2:65535" \
	--v1 --src 203.0.113.31:1 --dst 198.51.100.2:65535
ask "v2 INET" "src=203.0.113.32:4003 dst=198.51.100.1:1883" --src 203.0.113.32:4003
ask "v2 INET6" "src=2001:db8::32:4004 dst=2001:db8::100:1883" --src '[2001:db8::32]:4004'
ask "v2 with TLVs and CRC32C (nginx skips the TLVs)" "src=203.0.113.33:4005 dst=198.51.100.1:1883" \
	--src 203.0.113.33:4005 --authority mqtt.example.com --ssl-cn c1 --aws-vpce vpce-9 --noop 7 --crc32c
ask "v2 LOCAL: no proxied address" "src=: dst=:" --local
ask "v1 UNKNOWN: no proxied address" "src=: dst=:" --unknown

# Malformed headers: nginx must close without answering on these; the
# rest of the catalog is tried too, and what nginx lets through is reported
# (its leniency is not an interop failure).
must="v1-bad-proto-tcp5 v1-double-space v1-lf-only v1-too-long v2-sig-quit v2-sig-nul v2-version-0 v2-version-3 v2-len-short-inet"
"$PG" mutations --format tsv | cut -f1 | while read -r m; do
	echo "$m $("$PG" header --mutate "$m" --format hex)"
done > "$T/mutations.txt"
sweep "$RECV" 5 < "$T/mutations.txt" > "$T/sweep.out"
bad=
lenient=
while IFS=$'\t' read -r m answer; do
	if [[ "$answer" == src=* ]]; then
		if [[ " $must " == *" $m "* ]]; then bad="$bad $m"; else lenient="$lenient $m"; fi
	fi
done < "$T/sweep.out"
if [ -z "$bad" ]; then
	ok "nginx refuses $(echo "$must" | wc -w) catalog malformations (v1 syntax, v2 signature, version, short address)"
else
	not_ok "nginx refuses the catalog's malformations"; diag "answered:$bad"
fi
if [ -n "$lenient" ]; then
	diag "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') answers despite these catalog entries (lenient, not an interop failure):"
	diag "$lenient"
fi
if grep -q "broken header" "$T/logs/error.log"; then
	ok "nginx logs 'broken header' for them"
else
	not_ok "nginx logs 'broken header'"; diag "$(tail -5 "$T/logs/error.log")"
fi

# Through proxygen relay: client 127.0.0.7 -> relay (v2) -> nginx, which
# answers with the address it read from the relay's header.
for v in v1 v2; do
	timeout 30 "$PG" relay --listen 127.0.0.1:0 --target "127.0.0.1:$RECV" --$v --once 2> "$T/relay-$v.log" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	wait_log "$T/relay-$v.log" 'listening on .*:[0-9]+,'
	RELAY_PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\),.*/\1/p' "$T/relay-$v.log")
	out=$(timeout 10 "$PY" "$T/ask.py" "$RELAY_PORT" "")
	cport=$(echo "$out" | head -1)
	is "$(echo "$out" | sed -n 2p)" "src=127.0.0.7:$cport dst=127.0.0.1:$RELAY_PORT" \
		"client -> proxygen relay --$v -> nginx: nginx sees the client 127.0.0.7:$cport"
	wait_gone "$RELAY_PID"
done

if grep -q "^127.0.0.7:[0-9]* pp=203.0.113.30:4001$" "$T/logs/access.log"; then
	ok "nginx's access log: socket peer 127.0.0.7, proxied address 203.0.113.30:4001"
else
	not_ok "nginx's access log records the proxied address"; diag "$(head -3 "$T/logs/access.log")"
fi

# ---- stop ---------------------------------------------------------------------------------------

master=$(cat "$T/nginx.pid" 2>/dev/null)
if [ -n "$master" ] && kill -TERM "$master" 2>/dev/null && wait_gone "$master"; then
	ok "nginx (pid $master) stops on SIGTERM"
else
	not_ok "nginx stops on SIGTERM"
fi

done_testing
