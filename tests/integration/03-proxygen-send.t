#!/usr/bin/env bash
# 03-proxygen-send.t - `proxygen send` against small python3 fake brokers
# that record every byte (with its arrival time) and answer in one fixed
# way each: CONNACK 0, CONNACK 5, close after the header, or silence.
# Checks the bytes on the wire, the outcome printed and the exit status.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

PG=$PROXYGEN

[ -x "$PG" ] || bail "$PG is not built (make bin/proxygen)"

# ---- the fake broker ----------------------------------------------------------------
# fake.py DIR NAME MODE: listens on a kernel-chosen port (DIR/NAME.port),
# and for each connection records {"peer", "chunks": [[ms, hex], ...]} in
# DIR/NAME-K.json when the connection ends. MODE: connack0 | connack5 |
# close (after the header) | silent.
cat > "$T/fake.py" <<'EOF'
import json, os, socket, sys, threading, time
d, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
SIG = b'\r\n\r\n\x00\r\nQUIT\n'
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0))
s.listen(16)
open('%s/%s.tmp' % (d, name), 'w').write(str(s.getsockname()[1]))
os.rename('%s/%s.tmp' % (d, name), '%s/%s.port' % (d, name))
count = [0]
lock = threading.Lock()

def header_len(b):
    """Length of a complete header at the start of b, 0 for none, None if more is needed."""
    if b[:1] == b'P':
        i = b.find(b'\r\n')
        return None if i < 0 else i + 2
    if b[:1] == b'\r':
        if len(b) < 16:
            return None
        n = 16 + int.from_bytes(b[14:16], 'big')
        return n if len(b) >= n else None
    return 0 if b else None

def packet_len(b):
    """Length of the complete MQTT packet at the start of b, or None."""
    if len(b) < 2:
        return None
    mult, val, i = 1, 0, 1
    while i < len(b):
        val += (b[i] & 127) * mult
        mult *= 128
        if not b[i] & 128:
            return i + 1 + val if len(b) >= i + 1 + val else None
        i += 1
    return None

def handle(c, peer):
    t0 = time.monotonic()
    chunks, data, answered = [], b'', False
    c.settimeout(20)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            chunks.append([round((time.monotonic() - t0) * 1000, 1), b.hex()])
            data += b
            h = header_len(data)
            if h is None or answered:
                continue
            if mode == 'close':
                # FIN first, then read to the client's own close: closing
                # with its CONNECT unread would send a RST instead, and the
                # client would see a reset or a close by chance.
                c.shutdown(socket.SHUT_WR)
                while c.recv(65536):
                    pass
                break
            p = packet_len(data[h:])
            if p is None or mode == 'silent':
                continue
            level = data[h + 8] if len(data) > h + 8 else 4
            if mode == 'connack0':
                c.sendall(b'\x20\x03\x00\x00\x00' if level == 5 else b'\x20\x02\x00\x00')
            elif mode == 'connack5':
                c.sendall(b'\x20\x03\x00\x87\x00' if level == 5 else b'\x20\x02\x00\x05')
                break
            elif mode == 'v311only':
                # a 3.1.1-only broker: refuses level 5 with a 3.1.1 CONNACK 0x01
                c.sendall(b'\x20\x02\x00\x01' if level == 5 else b'\x20\x02\x00\x00')
                break
            answered = True
    except OSError:
        pass
    c.close()
    with lock:
        count[0] += 1
        k = count[0]
    f = '%s/%s-%d' % (d, name, k)
    json.dump({'peer': peer[0], 'chunks': chunks}, open(f + '.tmp', 'w'))
    os.rename(f + '.tmp', f + '.json')

while True:
    c, peer = s.accept()
    threading.Thread(target=handle, args=(c, peer), daemon=True).start()
EOF

declare -A PORT NCONN
for mode in connack0 connack5 close silent v311only; do
	timeout 300 "$PY" "$T/fake.py" "$T" "$mode" "$mode" 2> "$T/$mode.err" &
	PIDS+=($!)
	NCONN[$mode]=0
done
for mode in connack0 connack5 close silent v311only; do
	wait_file "$T/$mode.port" || bail "fake broker '$mode' did not start: $(cat "$T/$mode.err")"
	PORT[$mode]=$(cat "$T/$mode.port")
done

# seen MODE WHAT: what the fake broker saw on its next connection.
# WHAT: hex (all bytes) | chunks (number of reads) | peer | first (hex of
# the first read) | span (ms between the first and the last read).
next_conn() {
	local mode=$1 f
	NCONN[$mode]=$((NCONN[$mode] + 1))
	f="$T/$mode-${NCONN[$mode]}.json"
	wait_file "$f" || true
	CONN=$f
}
seen() {
	"$PY" - "$CONN" "$1" <<'EOF' 2>/dev/null
import json, sys
j = json.load(open(sys.argv[1]))
w, ch = sys.argv[2], j['chunks']
if w == 'hex': print(''.join(h for _, h in ch))
elif w == 'chunks': print(len(ch))
elif w == 'peer': print(j['peer'])
elif w == 'first': print(ch[0][1] if ch else '')
elif w == 'span': print(int(ch[-1][0] - ch[0][0]) if ch else 0)
EOF
}

send() { timeout 20 "$PG" send "$@"; }

# ---- CONNACK 0 --------------------------------------------------------------------------

H=$("$PG" header --v1 --src 203.0.113.7:5555 --format hex)
out=$(send --target "127.0.0.1:${PORT[connack0]}" --v1 --src 203.0.113.7:5555 --client-id pg-test)
rc=$?
is "$rc" 0 "CONNACK 0: exit status 0"
like "$out" "CONNACK 0 (accepted)*" "the outcome is printed in words: '$out'"
next_conn connack0
got=$(seen hex)
like "$got" "${H}10*" "the broker received the v1 header, then an MQTT CONNECT (0x10)"
like "$got" "*$(printf pg-test | od -An -tx1 | tr -d ' \n')*" "the CONNECT carries --client-id"

out=$(send --target "127.0.0.1:${PORT[connack0]}" --mqtt 5 --client-id pg-v5)
is "$?" 0 "MQTT 5 CONNACK 0x00: exit status 0"
next_conn connack0
got=$(seen hex)
H2=$("$PG" header --format hex)
is "${got:${#H2}:2}/${got:$((${#H2} + 16)):2}" "10/05" "--mqtt 5: CONNECT with protocol level 5, after the default v2 header"

out=$(send --target "127.0.0.1:${PORT[connack0]}" --no-header --bind 127.0.0.7)
is "$?" 0 "--no-header: exit status 0"
next_conn connack0
like "$(seen hex)" "10*" "--no-header: the first byte on the wire is the CONNECT"
is "$(seen peer)" "127.0.0.7" "--bind 127.0.0.7: the broker's peer is 127.0.0.7"

out=$(send --target "127.0.0.1:${PORT[connack0]}" --coalesce)
next_conn connack0
first=$(seen first)
if [ "${first:0:${#H2}}" = "$H2" ] && [ "${first:${#H2}:2}" = 10 ]; then
	ok "--coalesce: header and CONNECT arrive in one read"
else
	not_ok "--coalesce: header and CONNECT arrive in one read"; diag "first read: $first"
fi

out=$(send --target "127.0.0.1:${PORT[connack0]}" -v)
next_conn connack0
like "$out" "*header: 28 bytes: ${H2}*" "-v prints the header in hex"
like "$out" "*received: 4 bytes: 20020000*" "-v prints the bytes received"

start=$(date +%s%N)
out=$(send --target "127.0.0.1:${PORT[connack0]}" --hold 600)
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
next_conn connack0
span=$(seen span)
last=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"][-1][1])' "$CONN")
if [ "$rc" = 0 ] && [ "$el" -ge 600 ] && [ "$span" -ge 550 ] && [ "$last" = e000 ]; then
	ok "--hold 600: the session stays open ${span} ms, then DISCONNECT"
else
	not_ok "--hold 600"; diag "rc=$rc elapsed=$el span=$span last=$last"
fi

# ---- other outcomes --------------------------------------------------------------------------

out=$(send --target "127.0.0.1:${PORT[connack5]}" --username u --password wrong)
is "$?" 1 "CONNACK 5: exit status 1"
like "$out" "CONNACK 5*" "CONNACK 5 is printed: '$out'"
next_conn connack5

out=$(send --target "127.0.0.1:${PORT[v311only]}" --mqtt 5)
is "$?" 1 "MQTT 5 CONNECT to a 3.1.1-only broker: exit status 1"
like "$out" "CONNACK 0x01 (MQTT 3.1.1 answer to an MQTT 5 CONNECT*" "its 3.1.1 CONNACK is read as one: '$out'"
next_conn v311only

out=$(send --target "127.0.0.1:${PORT[close]}" --v1)
is "$?" 1 "the broker closes after the header: exit status 1"
like "$out" "closed by peer*" "the outcome says the peer closed: '$out'"
next_conn close

dead=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(send --target "127.0.0.1:$dead")
is "$?" 1 "nothing listening: exit status 1"
like "$out" "connection refused*" "the outcome says refused: '$out'"

start=$(date +%s%N)
out=$(send --target "127.0.0.1:${PORT[silent]}" --timeout 500)
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
next_conn silent
if [ "$rc" = 1 ] && [[ "$out" == timeout* ]] && [ "$el" -lt 4000 ]; then
	ok "a silent broker: 'timeout' after --timeout 500, exit 1 (${el} ms)"
else
	not_ok "a silent broker times out"; diag "rc=$rc el=$el out=$out"
fi

# ---- header delivery ------------------------------------------------------------------------------

out=$(send --target "127.0.0.1:${PORT[silent]}" --no-connect --timeout 300 --authority a.example)
is "$?" 0 "--no-connect, still open after --timeout: exit status 0"
next_conn silent
is "$(seen hex)" "$("$PG" header --authority a.example --format hex)" "--no-connect: exactly the header, nothing after it"

out=$(send --target "127.0.0.1:${PORT[silent]}" --no-connect --timeout 300 --split 5 --delay 60)
next_conn silent
is "$(seen hex)" "$H2" "--split 5 --delay 60: all 28 header bytes arrive"
chunks=$(seen chunks)
span=$(seen span)
if [ "$chunks" -ge 4 ] && [ "$span" -ge 200 ]; then
	ok "--split 5 --delay 60: in $chunks reads over $span ms"
else
	not_ok "--split 5 --delay 60 fragments the header"; diag "chunks=$chunks span=$span"
fi

out=$(send --target "127.0.0.1:${PORT[silent]}" --no-connect --timeout 300 --raw-hex '50 52 4f 58 59 0d 0a')
next_conn silent
is "$(seen hex)" "50524f58590d0a" "--raw-hex: exactly these bytes"

out=$(send --target "127.0.0.1:${PORT[silent]}" --no-connect --timeout 300 --mutate v2-version-0)
next_conn silent
is "$(seen hex)" "$("$PG" header --mutate v2-version-0 --format hex)" "--mutate: the malformation's bytes"

out=$(send --target "127.0.0.1:${PORT[silent]}" --send-only 10 --close-after-header)
rc=$?
next_conn silent
is "$(seen hex)" "${H2:0:20}" "--send-only 10 --close-after-header: the first 10 header bytes, then the close"
is "$rc" 0 "--close-after-header: exit status 0"

out=$(send --target "127.0.0.1:${PORT[silent]}" --send-only 50 2>&1)
rc=$?
if [ "$rc" = 2 ] && [[ "$out" == *"--send-only 50: the header has only 28 bytes"* ]]; then
	ok "--send-only beyond the header's length: usage error naming both lengths"
else
	not_ok "--send-only beyond the header's length"; diag "rc=$rc out=$out"
fi

done_testing
