#!/usr/bin/env bash
# 20-broker-idle10k.t - ppmq-broker holds 10,000 idle proxied MQTT
# connections on one event loop: a python3 client opens them (PROXY v2
# header with a distinct source each, then CONNECT), checks every CONNACK,
# keeps them idle, and the broker must still answer /healthz and a fresh
# client, with every connection still open and counted.
# IDLE_CONNS overrides the count (the file's own limits permitting).
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
N=${IDLE_CONNS:-10000}
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((N + 100)) ]; then
	skip_all "open files hard limit $hard is below $((N + 100))"
fi
ulimit -n "$hard" 2>/dev/null || ulimit -n $((N + 100))

plan 8

start_broker idle MQTT_TCP_PROXY_PROTOCOL_ENABLED=true SESSIONS_MAX_KEPT=$((N + 100)) \
	LISTENER_MAX_CONNECTIONS=$((N + 100)) || exit 1

timeout 180 "$PY" - "$B_TCP" "$N" "$B_ADMIN" >"$T/idle.out" 2>&1 <<'EOF' &
import resource, selectors, socket, struct, sys, time, urllib.request
port, n, admin = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def hdr(i):
    src = socket.inet_aton("10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255))
    body = src + socket.inet_aton("198.51.100.1") + struct.pack(">HH", 10000 + i % 50000, 1883)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body

def connect_pkt(cid):
    cid = cid.encode()
    body = struct.pack(">H", 4) + b"MQTT" + bytes([4, 0x02]) + struct.pack(">H", 600) \
        + struct.pack(">H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body

t0 = time.time()
socks, ok, bad = [], 0, 0
sel = selectors.DefaultSelector()
batch = 500
for start in range(0, n, batch):
    pending = {}
    for i in range(start, min(n, start + batch)):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(hdr(i) + connect_pkt("idle-%d" % i))
        s.setblocking(False)
        pending[s] = b""
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    deadline = time.time() + 20
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                d = s.recv(16)
            except BlockingIOError:
                continue
            pending[s] += d
            if not d or len(pending[s]) >= 4:
                if pending[s][:4] == b"\x20\x02\x00\x00":
                    ok += 1
                else:
                    bad += 1
                sel.unregister(s)
                del pending[s]
    bad += len(pending)
    for s in pending:
        sel.unregister(s)
elapsed = time.time() - t0
print("connected %d bad %d in %.1f s (%.0f/s)" % (ok, bad, elapsed, ok / elapsed), flush=True)

# Idle for a while (the behaviour under test), then: is every socket still
# open (no EOF, no data)?
time.sleep(3)
for s in socks:
    sel.register(s, selectors.EVENT_READ)
closed = len(sel.select(timeout=0.5))
print("after idle: %d of %d closed or readable" % (closed, len(socks)), flush=True)
try:
    h = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % admin, timeout=5).read().decode().strip()
except Exception as e:
    h = "error %s" % e
print("healthz %s" % h, flush=True)
print("holding", flush=True)
time.sleep(60)  # behaviour: the connections stay open until the client is stopped
EOF
client=$!
PIDS+=("$client")

wait_until -p "$client" 150 log_has "$T/idle.out" '^holding'
diag "$(cat "$T/idle.out")"
line=$(grep '^connected' "$T/idle.out")
is "$(awk '{print $2, $4}' <<<"$line")" "$N 0" "$N proxied connections got CONNACK 0"
is "$(sed -n 's/^after idle: \([0-9]*\) of.*/\1/p' "$T/idle.out")" 0 \
	"none of them closed while idle"
is "$(sed -n 's/^healthz //p' "$T/idle.out")" ok "/healthz answered while holding them"
is "$(metric 'ppmq_connections_current{listener="tcp"}')" "$N" "broker counts $N open tcp connections"
is "$(metric 'ppmq_sessions_connected')" "$N" "broker counts $N connected sessions"
V2=$(hdr_v2 203.0.113.99 198.51.100.1 9999 1883)
is "$(probe tcp --pre-hex "$V2" --client-id one-more 2>&1)" "connack 0" "a new client is still served"
rss=$(awk '/VmRSS/ {print $2, $3}' "/proc/$B_PID/status" 2>/dev/null)
diag "broker RSS with $N connections: $rss"
stop_pid "$client"
stop_broker
is "$?" 0 "clean shutdown with $N connections open"

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
