# tap-lib.bash - shared by the proxygen and interop tests (01-03, 11, 12):
# TAP output with the plan at the end, cleanup of the scratch directory
# and of every background process, free ports, waiting for a file or a
# listening port, hex of bytes, and a parallel raw-header client (sweep).
# Not a test itself: prove runs the *.t files only.
#
# Source it once $T (a fresh temporary directory) is set. Background
# processes go into PIDS (PIDS+=($!)): on exit each is killed and reaped,
# then $T is removed. End the test with done_testing.

PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- TAP -----------------------------------------------------------------------

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; diag "got:  '$1'" "want: '$2'"; fi
}
like() { # GOT PATTERN(glob) DESCRIPTION
	# shellcheck disable=SC2053
	if [[ "$1" == $2 ]]; then ok "$3"; else not_ok "$3"; diag "got:  '$1'" "want: $2"; fi
}
# done_testing: the plan (the number of points run), and the status of
# the test as its last command: 0 when none failed.
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}

# ---- bytes -----------------------------------------------------------------------

hexof() { od -An -v -tx1 | tr -d ' \n'; }
texthex() { printf '%s' "$1" | hexof; }

# ---- ports and waiting -------------------------------------------------------------

# free_ports N: see ports.bash.
# shellcheck source=tests/integration/ports.bash
. "$(dirname "${BASH_SOURCE[0]}")/ports.bash"

wait_for_file() { # FILE SECONDS: until FILE exists and is not empty
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_port PORT: until 127.0.0.1:PORT accepts a connection (5 s at most).
wait_port() {
	local i
	for ((i = 0; i < 50; i++)); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---- sweep -----------------------------------------------------------------------

# sweep PORT TIMEOUT [payload] < "NAME HEX" lines: all at once (a thread
# each, 30 s in all at most): connect from 127.0.0.7, send the header (and,
# with "payload", the bytes "mut-NAME"), half-close, read until the peer
# closes. Prints "NAME<TAB>what came back" per line.
sweep() {
	[ -e "$T/sweep.py" ] || cat > "$T/sweep.py" <<'EOF'
import socket, sys, threading
port, tmo = int(sys.argv[1]), float(sys.argv[2])
with_payload = len(sys.argv) > 3 and sys.argv[3] == 'payload'
jobs = [l.split() for l in sys.stdin if l.strip()]
res = {}
def one(name, hexs):
    back = b''
    try:
        c = socket.create_connection(('127.0.0.1', port), tmo, ('127.0.0.7', 0))
        c.settimeout(tmo)
        c.sendall(bytes.fromhex(hexs) + (b'mut-' + name.encode() if with_payload else b''))
        c.shutdown(socket.SHUT_WR)
        while True:
            b = c.recv(4096)
            if not b:
                break
            back += b
    except OSError as e:
        back += b'<%s>' % type(e).__name__.encode()
    res[name] = back.decode(errors='replace').replace('\n', ' ').strip()
ts = [threading.Thread(target=one, args=(n, h)) for n, h in jobs]
for t in ts:
    t.start()
for t in ts:
    t.join()
for n, _ in jobs:
    print('%s\t%s' % (n, res.get(n, '')))
EOF
	timeout 30 python3 "$T/sweep.py" "$@"
}
