# shellcheck shell=bash
# ports.bash - free_ports, shared by tests/integration/tap-lib.bash, 20-broker-lib.bash,
# tests/integration/lb-lib.bash and tests/brokers/lib.bash (sourced by
# them; it sets nothing else). Uses $PY when the sourcing library set it,
# python3 otherwise.

# free_ports N: N distinct ports that bind on 127.0.0.1 now, at random in
# 20000-60000 but below the kernel's ephemeral range when that leaves room:
# an outgoing connection (ours, a balancer's, another test's) takes its
# local port from that range and could grab a port between this check and
# the bind (a broker that takes seconds to bind, RabbitMQ, most of all).
free_ports() {
	"${PY:-python3}" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1]); out = []
lo, hi = 20000, 60000
try:
    eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    if eph - 1 - lo >= 5000:
        hi = min(hi, eph - 1)
except (OSError, ValueError, IndexError):
    pass
while len(out) < n:
    p = random.randint(lo, hi)
    if p in out:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        out.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, out)))
EOF
}
