# shellcheck shell=bash
# lb.bash - a real load balancer (HAProxy, nginx, stunnel, proxygen relay)
# between an MQTT client bound to 127.0.0.7 and a broker, everything on
# loopback; on top of broker.bash. Shared by tests/integration/25..28-lb-*.t
# (ppmq-broker behind the balancer) and tests/brokers/lb-rabbitmq.t.
#
#   client 127.0.0.7 --> LB listening on 127.0.0.1 --> broker on 127.0.0.1
#
# What it adds: the whole test file re-run under `timeout` (LB_TIMEOUT
# seconds, default 60, times PPMQ_TEST_SLOW), configuration templates
# shared with docs/behind-a-load-balancer-examples.md (doc_block, render,
# doc_matches), lb_start, `proxygen send` as the client, and the cases
# every balancer goes through (through, bad_password, refused_no_header,
# refused_by_disabled, mosquitto_through) against two brokers, P (PROXY
# on) and N (PROXY off), started by start_brokers. LB_BROKER_ARGS (split
# on spaces) goes on both brokers' command line, e.g. "--fault
# record-proxy-ip" to see that these tests catch that bug.

[ -n "${_PPMQ_LB_LOADED:-}" ] && return 0
_PPMQ_LB_LOADED=1

# Every test file runs under one overall limit: a hung balancer or broker
# ends the file, and `timeout` signals the whole process group, so the
# cleanup still runs. Before anything else: the scratch directory is the
# re-run's.
if [ -z "${LB_BOUNDED:-}" ]; then
	export LB_BOUNDED=1
	_lb_limit=${LB_TIMEOUT:-60}
	case ${PPMQ_TEST_SLOW:-1} in
	'' | *[!0-9]*) ;;
	*) _lb_limit=$((_lb_limit * ${PPMQ_TEST_SLOW:-1})) ;;
	esac
	exec timeout -k 5 "$_lb_limit" "$0" "$@"
fi

# shellcheck source=tests/lib/broker.bash
. "$(dirname "${BASH_SOURCE[0]}")/broker.bash"

LB_DOC=$ROOT/docs/behind-a-load-balancer-examples.md

# The real client and the balancer's address, as the broker must record them.
CLIENT_IP=127.0.0.7
LB_IP=127.0.0.1

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

# ---- templates ------------------------------------------------------------------------

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
# in $LB_DOC (block ID).
doc_matches() {
	local id=$1 tpl=$2 doc
	doc=$(doc_block "$id" 2>&1)
	if [ "$doc" = "$(cat "$tpl")" ]; then
		ok "$id: the configuration is the one shown in ${LB_DOC#"$ROOT"/}"
	else
		not_ok "$id: the configuration is the one shown in ${LB_DOC#"$ROOT"/}"
		diag "$(diff <(printf '%s\n' "$doc") "$tpl" | head -20)"
	fi
}

# lb_start NAME TEMPLATE CONF "PORT_VAR..." CMD...: the balancer, started
# from TEMPLATE with fresh ports: each PORT_VAR gets a free port (exported),
# TEMPLATE is rendered to CONF, CMD runs in the background (log in
# $T/NAME.log) and every port must listen (wait_listening). When a port was taken
# in the meantime ("in use" in the log), again with new ports, up to 3
# times. Sets LB_PID.
lb_start() {
	local name=$1 tpl=$2 conf=$3 vars=$4 _
	shift 4
	for _ in 1 2 3; do
		# shellcheck disable=SC2086 # a list of names
		ports_to $vars
		render "$tpl" "$conf" || return 1
		bg "$name" "$@"
		LB_PID=$BG_PID
		wait_listening "$LB_PID" "${PORTS_SET[@]}" && return 0
		grep -qi "in use" "$T/$name"*.log || return 1
		stop_pid "$LB_PID"
	done
	return 1
}

# ports_to VAR...: a fresh port in each VAR, exported (for render); the
# ports also in the array PORTS_SET.
ports_to() {
	local v k=0
	read -r -a PORTS_SET <<<"$(free_ports $#)"
	for v in "$@"; do
		printf -v "$v" %s "${PORTS_SET[$k]}"
		export "${v?}"
		k=$((k + 1))
	done
}

# start_relays TEMPLATE PORT_VAR...: one `proxygen relay` process per
# command line of TEMPLATE (rendered to $T/relays; blank lines and comments
# skipped), on fresh ports (see ports_to), until all of them listen; again
# with new ports (up to 3 times) when one was taken in the meantime.
start_relays() {
	local tpl=$1 _ k prog args pids p
	shift
	for _ in 1 2 3; do
		ports_to "$@"
		render "$tpl" "$T/relays" || return 1
		k=0
		pids=()
		while read -r prog args; do
			case $prog in '' | '#'*) continue ;; esac
			[ "$prog" = proxygen ] || bail "unexpected command in $T/relays: $prog"
			k=$((k + 1))
			# shellcheck disable=SC2086 # plain words, no quoting in the template
			bg "relay-$k" "$PROXYGEN" $args
			pids+=("$BG_PID")
		done <"$T/relays"
		wait_listening "${pids[*]}" "${PORTS_SET[@]}" && return 0
		grep -qi 'in use' "$T"/relay-*.log || return 1
		for p in "${pids[@]}"; do stop_pid "$p"; done
	done
	return 1
}

# hap_stat BACKEND FIELD...: fields of the line of server HAP_SERVER
# (default "broker") in BACKEND, from HAProxy's `show stat` on the stats
# socket $T/haproxy.sock.
HAP_SERVER=broker
hap_stat() {
	"$PY" - "$T/haproxy.sock" "$HAP_SERVER" "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
lines = data.decode().splitlines()
head = lines[0].lstrip("# ").split(",")
for l in lines[1:]:
    f = dict(zip(head, l.split(",")))
    if f.get("pxname") == sys.argv[3] and f.get("svname") == sys.argv[2]:
        # "* " before a check status: a check is running right now
        print(" ".join(f.get(k, "?").replace("* ", "", 1) for k in sys.argv[4:]))
EOF
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
		clientIp="$CLIENT_IP" clientPort="$CLIENT_PORT" peerIp="$LB_IP" listener="$kind" \
		username=alice proxy.version="$ver" proxy.command=proxy proxy.srcIp="$CLIENT_IP" \
		proxy.srcPort="$CLIENT_PORT" proxy.dstIp="$LB_IP" proxy.dstPort="$port" "$@"
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
		clientIp="$CLIENT_IP" clientPort="$CLIENT_PORT" peerIp="$LB_IP" listener="$kind" \
		username=alice reason=bad-password passwordProvided=true "$@"
}

# refused_no_header NAME PORT [SEND_ARGS...]: two points: through a
# balancer route that sends no header to broker P's tcp listener, the
# client is rejected; P counted one missing header and made no session.
refused_no_header() {
	local name=$1 port=$2
	shift 2
	_refused P 'ppmq_proxy_headers_rejected_total{reason="missing"}' missing "$IDP-$name" \
		"$name: $LB sends no header to a PROXY listener: client rejected" "$REFUSED" \
		"$name: broker counted the missing header and made no session" "$port" "$@"
}

# refused_by_disabled NAME PORT KIND [SEND_ARGS...]: two points: through a
# balancer route that sends its header to broker N's KIND listener (PROXY
# disabled), the client is rejected; N did get the connection (so the
# rejection is the broker's, not the balancer's) and made no session. On
# ws, N answers the header with an HTTP 400, which the client reads as a
# failed upgrade or, when it comes before the client's own request, as
# unexpected bytes.
refused_by_disabled() {
	local name=$1 port=$2 kind=$3
	shift 3
	_refused N "ppmq_connections_total{listener=\"$kind\"}" connections "$IDP-$name" \
		"$name: $LB's header to a PROXY-disabled $kind listener: client rejected" \
		"$REFUSED|WebSocket failure|protocol error" \
		"$name: the disabled listener got the connection and made no session" "$port" "$@"
}

# _refused BROKER SERIES LABEL ID DESC WANT COUNT_DESC PORT [SEND_ARGS...]:
# the two points of the cases above: the client (ID) through the
# balancer's PORT gets an outcome matching WANT, and BROKER's SERIES went
# up by one while it made no session for ID.
_refused() {
	local b=$1 series=$2 label=$3 id=$4 desc=$5 want=$6 cdesc=$7 port=$8 v0 v1 st
	shift 8
	v0=$(metric "$b" "$series")
	client "$desc" "$want" -- --target "127.0.0.1:$port" --client-id "$id" "${CREDS[@]}" "$@"
	v1=$(metric "$b" "$series")
	st=$(admin_status "$b" "/api/v1/sessions/$id")
	is "$label+$((v1 - v0)) session:$st" "$label+1 session:404" "$cdesc"
}

# start_brokers: P (PROXY on every listener) and N (PROXY off), both with
# authentication (alice / secret), all listeners when $CERTS is set, and
# LB_BROKER_ARGS on their command line.
start_brokers() {
	local args
	read -r -a args <<<"${LB_BROKER_ARGS:-}"
	start_broker P MQTT_PROXY_PROTOCOL_ENABLED=true SECURITY_ALLOW_ANONYMOUS=false \
		SECURITY_USERS=alice:secret -- ${args[@]+"${args[@]}"} ||
		bail "broker P (PROXY enabled) did not start"
	start_broker N MQTT_PROXY_PROTOCOL_ENABLED=false SECURITY_ALLOW_ANONYMOUS=false \
		SECURITY_USERS=alice:secret -- ${args[@]+"${args[@]}"} ||
		bail "broker N (PROXY disabled) did not start"
}

# mosquitto_through SUB_PORT PUB_PORT DESC KIND VERSION: three points:
# mosquitto_sub through the balancer's SUB_PORT is connected (seen by broker
# P) and subscribed (its SUBACK, in its -d output), then one message from
# mosquitto_pub through PUB_PORT reaches it, and the subscriber's session
# came on the KIND listener with a PROXY VERSION header whose destination
# is the balancer's port. Extra options in the arrays MSUB_ARGS
# and MPUB_ARGS (--cafile ...). mosquitto clients cannot bind a source
# address, so their client address is 127.0.0.1 here.
HAVE_MOSQ=1
command -v mosquitto_sub >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1 || HAVE_MOSQ=0
MSUB_ARGS=()
MPUB_ARGS=()
mosquitto_through() {
	local sp=$1 pp=$2 desc=$3 kind=$4 ver=$5 sub_pid
	if [ "$HAVE_MOSQ" != 1 ]; then
		skip "mosquitto_sub through $LB ($desc)" "mosquitto clients not installed"
		skip "mosquitto_pub -> mosquitto_sub through $LB" "mosquitto clients not installed"
		skip "mosquitto_sub's session" "mosquitto clients not installed"
		return
	fi
	bg mosquitto_sub timeout 15 "${MOSQ_SUB[@]}" -h 127.0.0.1 -p "$sp" -u alice -P secret \
		-i "$IDP-msub" -t "lb/$IDP" -C 1 -W 10 ${MSUB_ARGS[@]+"${MSUB_ARGS[@]}"}
	sub_pid=$BG_PID
	if wait_session P "$IDP-msub" && wait_log "$T/mosquitto_sub.log" "$MOSQ_SUBACK"; then
		ok "mosquitto_sub connected through $LB ($desc)"
		timeout 10 mosquitto_pub -h 127.0.0.1 -p "$pp" -u alice -P secret -i "$IDP-mpub" \
			-t "lb/$IDP" -m "through $LB" ${MPUB_ARGS[@]+"${MPUB_ARGS[@]}"} \
			>"$T/mosquitto_pub.log" 2>&1
		wait "$sub_pid" # bounded by its -W 10 and timeout 15
		is "$(mosq_messages "$T/mosquitto_sub.log"; cat "$T/mosquitto_pub.log")" "through $LB" \
			"mosquitto_pub -> mosquitto_sub through $LB: message delivered"
	else
		not_ok "mosquitto_sub connected through $LB ($desc)"
		diag "$(cat "$T/mosquitto_sub.log")"
		skip "mosquitto_pub -> mosquitto_sub through $LB" "the subscriber is not connected"
	fi
	expect_session P "$IDP-msub" "mosquitto_sub's session: PROXY v$ver from $LB on the $kind listener" \
		listener="$kind" proxy.version="$ver" proxy.dstPort="$sp" clientIp="$LB_IP" peerIp="$LB_IP"
}
