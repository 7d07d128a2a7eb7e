# lb-lib.bash - shared by the 25..28-lb-*.t integration tests: a real load
# balancer (HAProxy, nginx, stunnel, proxygen relay) between an MQTT client
# bound to 127.0.0.7 and ppmq-broker, everything on loopback.
#
#   client 127.0.0.7 --> LB listening on 127.0.0.1 --> broker on 127.0.0.1
#
# What the helpers give a test: TAP output, free ports, background
# processes stopped by PID (on every exit path), ppmq-broker instances,
# configuration templates shared with docs/behind-a-load-balancer-examples.md,
# `proxygen send` as the client, and checks on what the broker recorded
# (admin API: sessions, unauthorized clients, /metrics).
#
# Source it from a test, after `cd` to the top of the tree is not needed:
# paths are found from this file. It sets `set -u`, $T (a temporary
# directory, removed on exit) and the traps.

set -u

LB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PPMQ_BIN=${PPMQ_BIN:-$LB_ROOT/bin}
BROKER=$PPMQ_BIN/ppmq-broker
PROXYGEN=$PPMQ_BIN/proxygen
LB_DOC=$LB_ROOT/docs/behind-a-load-balancer-examples.md

# The system python3 when there is one: version-manager shims on PATH can
# cost a tenth of a second per start, and the checks start it often.
PY=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# The real client and the balancer's address, as the broker must record them.
CLIENT_IP=127.0.0.7
LB_IP=127.0.0.1

# Every test file runs under one overall limit (LB_TIMEOUT seconds): a
# hung balancer or broker ends the file, and `timeout` signals the whole
# process group, so the cleanup below still runs.
if [ -z "${LB_BOUNDED:-}" ]; then
	export LB_BOUNDED=1
	exec timeout -k 5 "${LB_TIMEOUT:-60}" "$0" "$@"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-lb.XXXXXX")
chmod 755 "$T"
LB_PIDS=()

# stop_pid PID: SIGTERM, up to 3 s to exit, then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

lb_cleanup() {
	local p
	for p in "${LB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${LB_PIDS[@]}"; do stop_pid "$p"; done
	rm -rf "$T"
}
trap lb_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- TAP -----------------------------------------------------------------------

_tap_n=0
_tap_fail=0
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
skip() { # skip DESC REASON
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
is() { # is GOT WANT DESC
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:  '$1'" "want: '$2'"
	fi
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
bail() {
	echo "Bail out! $*"
	exit 1
}
done_testing() { exit $((_tap_fail > 0)); }

# need_tools TOOL...: skip the whole file when one is missing.
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip_all "$t not installed"
	done
}

# The programs under test must exist; the balancers may not (skip).
need_ppmq() {
	need_tools "$PY" curl timeout
	[ -x "$BROKER" ] || bail "$BROKER is not built (make bin/ppmq-broker)"
	[ -x "$PROXYGEN" ] || bail "$PROXYGEN is not built (make bin/proxygen)"
}

# ---- ports and processes ----------------------------------------------------------

# free_ports N: N distinct ports in 20000-60000 that bind on 127.0.0.1 now.
free_ports() {
	"$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1]); out = []
while len(out) < n:
    p = random.randint(20000, 60000)
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

# is_listening PORT: something listens on 127.0.0.1:PORT. Looked up in the
# kernel's socket table rather than by connecting: a probe connection would
# reach the broker through the balancer and show up in its counters.
if command -v ss >/dev/null 2>&1; then
	is_listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
else
	is_listening() {
		"$PY" -c '
import sys
p = "%04X" % int(sys.argv[1])
for l in open("/proc/net/tcp").readlines()[1:] + open("/proc/net/tcp6").readlines()[1:]:
    f = l.split()
    if f[1].endswith(":" + p) and f[3] == "0A":
        sys.exit(0)
sys.exit(1)' "$1"
	}
fi

# bg NAME CMD...: run CMD in the background, output in $T/NAME.log; its PID
# in $BG_PID (also stopped on exit).
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	BG_PID=$!
	LB_PIDS+=("$BG_PID")
}

# wait_listening PID PORT...: up to 5 s for every PORT to listen; fails early
# when PID has exited.
wait_listening() {
	local pid=$1 i p all
	shift
	for ((i = 0; i < 50; i++)); do
		all=1
		for p in "$@"; do
			is_listening "$p" || { all=0; break; }
		done
		[ $all = 1 ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# ---- certificates and templates ------------------------------------------------------

# certs_init: the test PKI in $CERTS (scripts/gen-certs).
certs_init() {
	CERTS=$T/certs
	"$LB_ROOT/scripts/gen-certs" "$CERTS" >"$T/gen-certs.log" 2>&1
}

# doc_block ID: the fenced block that follows `<!-- lb-config: ID -->` in
# docs/behind-a-load-balancer-examples.md.
doc_block() {
	"$PY" - "$LB_DOC" "$1" <<'EOF'
import sys
try:
    lines = open(sys.argv[1]).read().split("\n")
except OSError as e:
    print("(%s)" % e); sys.exit(1)
mark = "<!-- lb-config: %s -->" % sys.argv[2]
if mark not in lines:
    print("(no block marked %r in %s)" % (mark, sys.argv[1])); sys.exit(1)
i = lines.index(mark)
i += 1
while i < len(lines) and not lines[i].startswith("```"):
    i += 1
out = []
for l in lines[i + 1:]:
    if l.startswith("```"):
        break
    out.append(l)
print("\n".join(out))
EOF
}

# render TEMPLATE OUT: replace every ${NAME} in TEMPLATE with the exported
# variable NAME (an unset one is an error), write OUT.
render() {
	"$PY" - "$1" "$2" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
missing = []
def sub(m):
    v = os.environ.get(m.group(1))
    if v is None:
        missing.append(m.group(1)); return ""
    return v
out = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)
if missing:
    sys.stderr.write("render: unset: %s\n" % " ".join(sorted(set(missing)))); sys.exit(1)
open(sys.argv[2], "w").write(out)
EOF
}

# config_from_template ID TEMPLATE OUT: one test point that the template is
# shown verbatim in the examples document, then render it to OUT.
config_from_template() {
	local id=$1 tpl=$2 out=$3 doc
	doc=$(doc_block "$id" 2>&1)
	if [ "$doc" = "$(cat "$tpl")" ]; then
		ok "$id: the configuration is the one shown in docs/behind-a-load-balancer-examples.md"
	else
		not_ok "$id: the configuration is the one shown in docs/behind-a-load-balancer-examples.md"
		diag "$(diff <(printf '%s\n' "$doc") "$tpl" | head -20)"
	fi
	render "$tpl" "$out"
}

# ---- ppmq-broker ----------------------------------------------------------------------

# start_broker PFX [ENV=VALUE...]: a broker with tcp and ws listeners (and
# ssl, wss when $CERTS is set) on 127.0.0.1 and fresh ports, the admin API
# on a fresh port, the given environment on top; waits for "ready".
# Sets PFX_TCP PFX_SSL PFX_WS PFX_WSS PFX_ADMIN PFX_PID PFX_LOG.
start_broker() {
	local pfx=$1 tcp ssl ws wss adm i
	shift
	read -r tcp ssl ws wss adm <<<"$(free_ports 5)"
	local base=(
		LISTENER_TCP_ENABLED=true LISTENER_TCP_BIND_ADDRESS=127.0.0.1 LISTENER_TCP_BIND_PORT=$tcp
		LISTENER_WS_ENABLED=true LISTENER_WS_BIND_ADDRESS=127.0.0.1 LISTENER_WS_BIND_PORT=$ws
		ADMIN_ENABLED=true ADMIN_BIND_ADDRESS=127.0.0.1 ADMIN_BIND_PORT=$adm
	)
	if [ -n "${CERTS:-}" ]; then
		base+=(
			LISTENER_SSL_ENABLED=true LISTENER_SSL_BIND_ADDRESS=127.0.0.1 LISTENER_SSL_BIND_PORT=$ssl
			LISTENER_SSL_PEM_CERT=$CERTS/server.pem LISTENER_SSL_PEM_KEY=$CERTS/server.key
			LISTENER_WSS_ENABLED=true LISTENER_WSS_BIND_ADDRESS=127.0.0.1 LISTENER_WSS_BIND_PORT=$wss
			LISTENER_WSS_PEM_CERT=$CERTS/server.pem LISTENER_WSS_PEM_KEY=$CERTS/server.key
		)
	else
		base+=(LISTENER_SSL_ENABLED=false LISTENER_WSS_ENABLED=false)
	fi
	# The test decides every PROXY setting: nothing inherited from the caller.
	bg "broker-$pfx" env -u MQTT_PROXY_PROTOCOL_ENABLED -u MQTT_TCP_PROXY_PROTOCOL_ENABLED \
		-u MQTT_SSL_PROXY_PROTOCOL_ENABLED -u MQTT_WS_PROXY_PROTOCOL_ENABLED \
		-u MQTT_WSS_PROXY_PROTOCOL_ENABLED -u MQTT_PROXY_TRUSTED_PROXIES \
		-u MQTT_PROXY_PROTOCOL_MODE -u PPMQ_FAULT -u ADMIN_TOKEN -u LOG_FILE \
		"${base[@]}" "$@" "$BROKER"
	printf -v "${pfx}_TCP" %s "$tcp"
	printf -v "${pfx}_SSL" %s "$ssl"
	printf -v "${pfx}_WS" %s "$ws"
	printf -v "${pfx}_WSS" %s "$wss"
	printf -v "${pfx}_ADMIN" %s "$adm"
	printf -v "${pfx}_PID" %s "$BG_PID"
	printf -v "${pfx}_LOG" %s "$T/broker-$pfx.log"
	for ((i = 0; i < 100; i++)); do
		grep -q ' ready:' "$T/broker-$pfx.log" 2>/dev/null && return 0
		if ! kill -0 "$BG_PID" 2>/dev/null; then
			diag "broker $pfx exited before ready:" "$(cat "$T/broker-$pfx.log")"
			return 1
		fi
		sleep 0.1
	done
	diag "broker $pfx not ready after 10 s:" "$(tail -20 "$T/broker-$pfx.log")"
	return 1
}

# admin_get PFX PATH
admin_get() {
	local port=${1}_ADMIN
	curl -s --max-time 5 "http://127.0.0.1:${!port}$2"
}

# metric PFX NAME{LABELS}: the value from /metrics, "" when absent.
metric() {
	admin_get "$1" /metrics | awk -v k="$2" '$1 == k { print $2; exit }'
}
# metric_sum PFX NAME: sum over every label set of NAME.
metric_sum() {
	admin_get "$1" /metrics | awk -v k="$2" '
		index($1, k "{") == 1 || $1 == k { s += $2 } END { print s + 0 }'
}

# The JSON checker: document on stdin, then SELECT (a client id picked from
# an array, the newest entry with that id; "-" for an object) and checks,
# FIELD=WANT (equal) or FIELD~REGEX (matches), FIELD dotted
# (proxy.tlvs.ssl.cn). Values compare as JSON scalars without quotes
# (null, true, 2, text). Prints one "FIELD: got X, want Y" per
# mismatch; status 0 when all match, 1 on a mismatch, 2 when the document or
# the entry is missing.
cat >"$T/jcheck.py" <<'EOF'
import json, re, sys
sel, pairs = sys.argv[1], sys.argv[2:]
try:
    d = json.load(sys.stdin)
except Exception:
    print("not JSON"); sys.exit(2)
if isinstance(d, list):
    hits = [e for e in d if isinstance(e, dict) and e.get("clientId") == sel]
    if not hits:
        print("no entry for client id %r" % sel); sys.exit(2)
    d = hits[-1]
elif isinstance(d, dict) and d.get("status") == 404:
    print("404: %s" % d.get("error")); sys.exit(2)
def show(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    return str(v)
bad = 0
for p in pairs:
    k, op, want = re.match(r"([\w.]+)([=~])(.*)$", p).groups()
    v = d
    for part in k.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    if (show(v) != want) if op == "=" else not re.search(want, show(v)):
        print("%s: got %s, want %s%s" % (k, show(v), "" if op == "=" else "~ ", want))
        bad = 1
sys.exit(bad)
EOF

# expect_record PFX PATH SELECT DESC FIELD=WANT...: one test point; the
# record is fetched again (up to 2 s) while it is missing or differs, as the
# broker may write it a moment after the client saw its CONNACK.
expect_record() {
	local pfx=$1 path=$2 sel=$3 desc=$4 out i
	shift 4
	for ((i = 0; i < 20; i++)); do
		out=$(admin_get "$pfx" "$path" | "$PY" "$T/jcheck.py" "$sel" "$@") && break
		sleep 0.1
	done
	if [ -z "$out" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "GET $path:" "$out"
	fi
}

# expect_session PFX CLIENT_ID DESC FIELD=WANT...
expect_session() {
	local pfx=$1 id=$2
	shift 2
	expect_record "$pfx" "/api/v1/sessions/$id" - "$@"
}
# expect_unauthorized PFX CLIENT_ID DESC FIELD=WANT...
expect_unauthorized() {
	local pfx=$1 id=$2
	shift 2
	expect_record "$pfx" /api/v1/unauthorized-clients "$id" "$@"
}
# expect_no_session PFX CLIENT_ID DESC: the broker never let it in.
expect_no_session() {
	local st port=${1}_ADMIN
	st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:${!port}/api/v1/sessions/$2")
	is "$st" 404 "$3"
}

# wait_connected PFX CLIENT_ID: up to 5 s for the session to be connected.
wait_connected() {
	local i
	for ((i = 0; i < 50; i++)); do
		admin_get "$1" "/api/v1/sessions/$2" | "$PY" "$T/jcheck.py" - connected=true \
			>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---- the client: proxygen send ----------------------------------------------------------

# client DESC WANT -- SEND_ARGS...: one connection from 127.0.0.7 with
# `proxygen send --no-header` (the balancer writes the header). WANT is an
# extended regular expression the outcome line must match; 'CONNACK 0'
# also requires exit status 0, anything else exit status 1. Sets CLIENT_PORT
# (the client's source port) and CLIENT_OUT.
client() {
	local desc=$1 want=$2 rc st_ok
	shift 3
	CLIENT_OUT=$(timeout 15 "$PROXYGEN" send --bind "$CLIENT_IP" --no-header -v \
		--timeout 4000 "$@" 2>&1)
	rc=$?
	CLIENT_PORT=$(sed -n 's/^local: [0-9.]*:\([0-9]*\)$/\1/p' <<<"$CLIENT_OUT")
	# The outcome line: the first one after -v's "header:" line.
	local first
	first=$(grep -v -m1 '^header:' <<<"$CLIENT_OUT")
	case $want in
	'CONNACK 0'*) st_ok=0 ;;
	*) st_ok=1 ;;
	esac
	if [ "$rc" = "$st_ok" ] && grep -Eq -- "^($want)" <<<"$first"; then
		ok "$desc: $first"
	else
		not_ok "$desc"
		diag "proxygen send --bind $CLIENT_IP --no-header $*" \
			"exit $rc (want $st_ok), outcome must match ^($want); output:" "$CLIENT_OUT"
	fi
}

# What a client sees when the broker drops it behind a balancer: the
# balancer closes (or resets) the client's connection without a byte.
REFUSED='closed by peer before any byte|reset by peer before any byte|closed|reset'
