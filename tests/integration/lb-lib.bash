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
# Source it first thing in a test (from any working directory: paths are
# found from this file). It re-runs the test under `timeout` (LB_TIMEOUT
# seconds, default 60), sets `set -u`, $T (a temporary directory, removed on
# exit) and the traps that stop every process started with `bg`.

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

# free_ports N: N distinct free TCP ports on 127.0.0.1, below the kernel's
# ephemeral range (see ports.bash).
# shellcheck source=tests/integration/ports.bash
. "$LB_ROOT/tests/integration/ports.bash"

# is_listening PORT PIDS: one of the processes PIDS listens on
# 127.0.0.1:PORT. Looked up in the kernel's socket table rather than by
# connecting: a probe connection would reach the broker through the
# balancer and show up in its counters. The owner matters: when someone
# else took the port first, the balancer fails to bind while the port
# does listen.
if command -v ss >/dev/null 2>&1; then
	is_listening() {
		local out p
		out=$(ss -Hltnp "sport = :$1" 2>/dev/null)
		for p in $2; do
			case $out in *"pid=$p,"*) return 0 ;; esac
		done
		return 1
	}
else
	is_listening() {
		# shellcheck disable=SC2086 # $2: a list of PIDs
		"$PY" - "$1" $2 <<'EOF'
import os, sys
port = "%04X" % int(sys.argv[1])
inodes = set()
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for l in open(f).readlines()[1:]:
            x = l.split()
            if x[1].endswith(":" + port) and x[3] == "0A":
                inodes.add("socket:[%s]" % x[9])
    except OSError:
        pass
for pid in sys.argv[2:]:
    d = "/proc/%s/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)) in inodes:
                    sys.exit(0)
            except OSError:
                pass
    except OSError:
        pass
sys.exit(1)
EOF
	}
fi

# bg NAME CMD...: run CMD in the background, output in $T/NAME.log; its PID
# in $BG_PID (also stopped on exit).
bg() {
	local name=$1
	shift
	"$@" </dev/null >"$T/$name.log" 2>&1 &
	BG_PID=$!
	LB_PIDS+=("$BG_PID")
}

# wait_listening "PID..." PORT...: up to 5 s for every PORT to listen, owned
# by one of the PIDs; fails early when one of them has exited.
wait_listening() {
	local pids=$1 i p all
	shift
	for ((i = 0; i < 50; i++)); do
		all=1
		for p in "$@"; do
			is_listening "$p" "$pids" || { all=0; break; }
		done
		[ $all = 1 ] && return 0
		for p in $pids; do
			kill -0 "$p" 2>/dev/null || return 1
		done
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

# doc_matches ID TEMPLATE: one test point, the template is shown verbatim
# in docs/behind-a-load-balancer-examples.md (block ID).
doc_matches() {
	local id=$1 tpl=$2 doc
	doc=$(doc_block "$id" 2>&1)
	if [ "$doc" = "$(cat "$tpl")" ]; then
		ok "$id: the configuration is the one shown in docs/behind-a-load-balancer-examples.md"
	else
		not_ok "$id: the configuration is the one shown in docs/behind-a-load-balancer-examples.md"
		diag "$(diff <(printf '%s\n' "$doc") "$tpl" | head -20)"
	fi
}

# lb_start NAME TEMPLATE CONF "PORT_VAR..." CMD...: the balancer, started
# from TEMPLATE with fresh ports: each PORT_VAR gets a free port (exported),
# TEMPLATE is rendered to CONF, CMD runs in the background (log in
# $T/NAME.log) and every port must listen within 5 s. When a port was taken
# in the meantime ("in use" in the log), again with new ports, up to 3
# times. Sets LB_PID.
lb_start() {
	local name=$1 tpl=$2 conf=$3 vars=$4 _ ports v k
	shift 4
	for _ in 1 2 3; do
		read -r -a ports <<<"$(free_ports "$(wc -w <<<"$vars")")"
		k=0
		for v in $vars; do
			printf -v "$v" %s "${ports[$k]}"
			export "${v?}"
			k=$((k + 1))
		done
		render "$tpl" "$conf" || return 1
		bg "$name" "$@"
		LB_PID=$BG_PID
		wait_listening "$LB_PID" "${ports[@]}" && return 0
		grep -qi "in use" "$T/$name"*.log || return 1
		stop_pid "$LB_PID"
	done
	return 1
}

# ---- ppmq-broker ----------------------------------------------------------------------

# start_broker PFX [ENV=VALUE...]: a broker with tcp and ws listeners (and
# ssl, wss when $CERTS is set) on 127.0.0.1 and fresh ports, the admin API
# on a fresh port, the given environment on top; waits for "ready".
# Sets PFX_TCP PFX_SSL PFX_WS PFX_WSS PFX_ADMIN PFX_PID PFX_LOG.
# LB_BROKER_ARGS (split on spaces) is added to the command line, e.g.
# "--fault record-proxy-ip" to see that these tests catch that bug.
start_broker() {
	local _
	for _ in 1 2 3; do
		_start_broker_once "$@" && return 0
		# Lost a race for one of the ports: again, with new ones.
		grep -qi 'in use' "$T/broker-$1.log" 2>/dev/null || return 1
		stop_pid "$BG_PID"
	done
	return 1
}
_start_broker_once() {
	local pfx=$1 tcp ssl ws wss adm i
	shift
	read -r tcp ssl ws wss adm <<<"$(free_ports 5)"
	local base=(
		LISTENER_TCP_ENABLED=true LISTENER_TCP_BIND_ADDRESS=127.0.0.1 "LISTENER_TCP_BIND_PORT=$tcp"
		LISTENER_WS_ENABLED=true LISTENER_WS_BIND_ADDRESS=127.0.0.1 "LISTENER_WS_BIND_PORT=$ws"
		ADMIN_ENABLED=true ADMIN_BIND_ADDRESS=127.0.0.1 "ADMIN_BIND_PORT=$adm"
	)
	if [ -n "${CERTS:-}" ]; then
		base+=(
			LISTENER_SSL_ENABLED=true LISTENER_SSL_BIND_ADDRESS=127.0.0.1 "LISTENER_SSL_BIND_PORT=$ssl"
			"LISTENER_SSL_PEM_CERT=$CERTS/server.pem" "LISTENER_SSL_PEM_KEY=$CERTS/server.key"
			LISTENER_WSS_ENABLED=true LISTENER_WSS_BIND_ADDRESS=127.0.0.1 "LISTENER_WSS_BIND_PORT=$wss"
			"LISTENER_WSS_PEM_CERT=$CERTS/server.pem" "LISTENER_WSS_PEM_KEY=$CERTS/server.key"
		)
	else
		base+=(LISTENER_SSL_ENABLED=false LISTENER_WSS_ENABLED=false)
	fi
	# The test decides every PROXY setting: nothing inherited from the caller.
	# shellcheck disable=SC2086 # LB_BROKER_ARGS: words, split on purpose
	bg "broker-$pfx" env -u MQTT_PROXY_PROTOCOL_ENABLED -u MQTT_TCP_PROXY_PROTOCOL_ENABLED \
		-u MQTT_SSL_PROXY_PROTOCOL_ENABLED -u MQTT_WS_PROXY_PROTOCOL_ENABLED \
		-u MQTT_WSS_PROXY_PROTOCOL_ENABLED -u MQTT_PROXY_TRUSTED_PROXIES \
		-u MQTT_PROXY_PROTOCOL_MODE -u PPMQ_FAULT -u ADMIN_TOKEN -u LOG_FILE \
		"${base[@]}" "$@" "$BROKER" ${LB_BROKER_ARGS:-}
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
			grep -qi 'in use' "$T/broker-$pfx.log" ||
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
	local desc=$1 want=$2 rc st_ok first
	shift 3
	CLIENT_OUT=$(timeout 15 "$PROXYGEN" send --bind "$CLIENT_IP" --no-header -v \
		--timeout 4000 "$@" 2>&1)
	rc=$?
	CLIENT_PORT=$(sed -n 's/^local: [0-9.]*:\([0-9]*\)$/\1/p' <<<"$CLIENT_OUT")
	# The outcome line: the first one after -v's "header:" line.
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
REFUSED='(connection )?(closed|reset)'

# ---- the cases every balancer goes through ---------------------------------------------

# Set by the test: LB (the balancer's name in test descriptions) and IDP
# (client id prefix). Brokers: P has PROXY enabled, N has it disabled, and
# both want CREDS.
LB=${LB:-balancer}
IDP=${IDP:-lb}
CREDS=(--username alice --password secret)

# through NAME PORT KIND VERSION [SEND_ARGS...] -- [FIELD=WANT...]: two test
# points: a client (bound to 127.0.0.7) through the balancer's PORT gets
# CONNACK 0; broker P's session for it names the client (address and source
# port), the balancer as the socket peer, the listener KIND, the PROXY
# VERSION, and the balancer's PORT as the header's destination; plus FIELDs.
through() {
	local name=$1 port=$2 kind=$3 ver=$4 args=() id=$IDP-$1
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	client "$name: client through $LB" 'CONNACK 0' -- --target "127.0.0.1:$port" \
		--client-id "$id" "${CREDS[@]}" ${args[@]+"${args[@]}"}
	expect_session P "$id" "$name: session: client $CLIENT_IP:$CLIENT_PORT, peer $LB_IP ($LB), $kind listener, PROXY v$ver" \
		clientIp=$CLIENT_IP clientPort="$CLIENT_PORT" peerIp=$LB_IP listener="$kind" \
		username=alice proxy.version="$ver" proxy.command=proxy proxy.srcIp=$CLIENT_IP \
		proxy.srcPort="$CLIENT_PORT" proxy.dstIp=$LB_IP proxy.dstPort="$port" "$@"
}

# bad_password NAME PORT KIND [SEND_ARGS...] -- [FIELD=WANT...]: two points:
# a wrong password through the balancer gets CONNACK 4 (or 5), and broker
# P's unauthorized-clients record names the client, not the balancer.
bad_password() {
	local name=$1 port=$2 kind=$3 args=() id=$IDP-badpw-$1
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	client "$name: wrong password through $LB: refused by CONNACK" 'CONNACK (4|5) ' -- \
		--target "127.0.0.1:$port" --client-id "$id" --username alice --password wrong \
		${args[@]+"${args[@]}"}
	expect_unauthorized P "$id" "$name: unauthorized-clients record: client $CLIENT_IP:$CLIENT_PORT, not $LB" \
		clientIp=$CLIENT_IP clientPort="$CLIENT_PORT" peerIp=$LB_IP listener="$kind" \
		username=alice reason=bad-password passwordProvided=true "$@"
}

# refused_no_header NAME PORT [SEND_ARGS...]: two points: through a
# balancer route that sends no header to broker P's tcp listener, the
# client is rejected; P counted one missing header and made no session.
refused_no_header() {
	local name=$1 port=$2 id=$IDP-$1 m0 m1 st
	shift 2
	m0=$(metric P 'ppmq_proxy_headers_rejected_total{reason="missing"}')
	client "$name: $LB sends no header to a PROXY listener: client rejected" "$REFUSED" -- \
		--target "127.0.0.1:$port" --client-id "$id" "${CREDS[@]}" "$@"
	m1=$(metric P 'ppmq_proxy_headers_rejected_total{reason="missing"}')
	st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$P_ADMIN/api/v1/sessions/$id")
	is "missing+$((m1 - m0)) session:$st" "missing+1 session:404" \
		"$name: broker counted the missing header and made no session"
}

# refused_by_disabled NAME PORT KIND [SEND_ARGS...]: two points: through a
# balancer route that sends its header to broker N's KIND listener (PROXY
# disabled), the client is rejected; N did get the connection (so the
# rejection is the broker's, not the balancer's) and made no session. On
# ws, N answers the header with an HTTP 400, which the client reads as a
# failed upgrade or, when it comes before the client's own request, as
# unexpected bytes.
refused_by_disabled() {
	local name=$1 port=$2 kind=$3 id=$IDP-$1 c0 c1 st
	shift 3
	c0=$(metric N "ppmq_connections_total{listener=\"$kind\"}")
	client "$name: $LB's header to a PROXY-disabled $kind listener: client rejected" \
		"$REFUSED|WebSocket failure|protocol error" -- \
		--target "127.0.0.1:$port" --client-id "$id" "${CREDS[@]}" "$@"
	c1=$(metric N "ppmq_connections_total{listener=\"$kind\"}")
	st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$N_ADMIN/api/v1/sessions/$id")
	is "connections+$((c1 - c0)) session:$st" "connections+1 session:404" \
		"$name: the disabled listener got the connection and made no session"
}

# start_brokers: P (PROXY on every listener) and N (PROXY off), both with
# authentication (alice / secret), all listeners when $CERTS is set.
start_brokers() {
	start_broker P MQTT_PROXY_PROTOCOL_ENABLED=true SECURITY_ALLOW_ANONYMOUS=false \
		SECURITY_USERS=alice:secret || bail "broker P (PROXY enabled) did not start"
	start_broker N MQTT_PROXY_PROTOCOL_ENABLED=false SECURITY_ALLOW_ANONYMOUS=false \
		SECURITY_USERS=alice:secret || bail "broker N (PROXY disabled) did not start"
}

# mosquitto_through SUB_PORT PUB_PORT DESC KIND VERSION: three points:
# mosquitto_sub through the balancer's SUB_PORT is connected (seen by broker
# P), mosquitto_pub through PUB_PORT reaches it, and the subscriber's
# session came on the KIND listener with a PROXY VERSION header whose
# destination is the balancer's port. "Connected" does not mean
# "subscribed" yet, so the message is published again (bounded) until the
# subscriber has it. Extra options in the arrays MSUB_ARGS
# and MPUB_ARGS (--cafile ...). mosquitto clients cannot bind a source
# address, so their client address is 127.0.0.1 here.
HAVE_MOSQ=1
command -v mosquitto_sub >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1 || HAVE_MOSQ=0
MSUB_ARGS=()
MPUB_ARGS=()
mosquitto_through() {
	local sp=$1 pp=$2 desc=$3 kind=$4 ver=$5 sub_pid i
	if [ "$HAVE_MOSQ" != 1 ]; then
		skip "mosquitto_sub through $LB ($desc)" "mosquitto clients not installed"
		skip "mosquitto_pub -> mosquitto_sub through $LB" "mosquitto clients not installed"
		skip "mosquitto_sub's session" "mosquitto clients not installed"
		return
	fi
	bg mosquitto_sub timeout 15 mosquitto_sub -h 127.0.0.1 -p "$sp" -u alice -P secret \
		-i "$IDP-msub" -t "lb/$IDP" -C 1 -W 10 ${MSUB_ARGS[@]+"${MSUB_ARGS[@]}"}
	sub_pid=$BG_PID
	if wait_connected P "$IDP-msub"; then
		ok "mosquitto_sub connected through $LB ($desc)"
		for ((i = 0; i < 40; i++)); do
			timeout 10 mosquitto_pub -h 127.0.0.1 -p "$pp" -u alice -P secret -i "$IDP-mpub" \
				-t "lb/$IDP" -m "through $LB" ${MPUB_ARGS[@]+"${MPUB_ARGS[@]}"} \
				>"$T/mosquitto_pub.log" 2>&1
			kill -0 "$sub_pid" 2>/dev/null || break
			sleep 0.2
			kill -0 "$sub_pid" 2>/dev/null || break
		done
		wait "$sub_pid"
		is "$(cat "$T/mosquitto_sub.log" "$T/mosquitto_pub.log")" "through $LB" \
			"mosquitto_pub -> mosquitto_sub through $LB: message delivered"
	else
		not_ok "mosquitto_sub connected through $LB ($desc)"
		diag "$(cat "$T/mosquitto_sub.log")"
		skip "mosquitto_pub -> mosquitto_sub through $LB" "the subscriber is not connected"
	fi
	expect_session P "$IDP-msub" "mosquitto_sub's session: PROXY v$ver from $LB on the $kind listener" \
		listener="$kind" proxy.version="$ver" proxy.dstPort="$sp" clientIp=$LB_IP peerIp=$LB_IP
}
