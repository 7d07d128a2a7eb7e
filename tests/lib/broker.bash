# shellcheck shell=bash
# broker.bash - ppmq-broker instances and the clients that talk to them,
# on top of proc.bash. Sourced once (a second source is a no-op).
#
# Brokers have names: start_broker NAME starts one, and every helper that
# asks a broker something takes the broker's NAME as an optional first
# argument (a word that names a started broker); without it, the current
# broker: the one started last, or chosen with use_broker NAME. Its ports,
# PID and log are in B_TCP B_SSL B_WS B_WSS B_ADMIN B_PID B_LOG (B_NAME);
# a NAME that is a shell identifier also gets NAME_TCP ... NAME_LOG.
#
#   start_broker NAME [ENV=VALUE...] [-- ARGS...]
#   stop_broker [NAME]                 SIGTERM; its exit status
#   brokers_clean                      all exited 0, no sanitizer report
#   broker_alive [NAME]
#   port_of [NAME] KIND                listener port (tcp ssl ws wss)
#   admin_get [NAME] PATH, admin_status [NAME] PATH
#   json_get [NAME] PATH EXPR, session_field [NAME] CLIENT_ID FIELD
#   metric [NAME] SERIES, metric_sum [NAME] METRIC
#   wait_metric [NAME] SERIES WANT [SECONDS]       the value in METRIC_VALUE
#   wait_metric_sum [NAME] METRIC WANT [SECONDS]   the sum in METRIC_VALUE
#   wait_session [NAME] CLIENT_ID [SECONDS]        session connected
#   expect_session / expect_unauthorized / expect_no_session (test points)
#   pg_send [NAME] KIND ARGS...        proxygen send to a listener
#   probe [NAME] KIND ARGS...          tests/lib/probe.py to a listener
#   sweep PORT TIMEOUT [payload]       tests/lib/sweep.py
#   mqtt_case SECONDS CASE [ARGS...]   tests/lib/mqtt_cases.py CASE on the current broker's tcp
#                                      port (at most SECONDS x PPMQ_TEST_SLOW): its output in CASE_OUT
#   case_val KEY                       the value of KEY=... in CASE_OUT
#   MOSQ_SUB, MOSQ_SUBACK, mosq_messages FILE: mosquitto_sub, subscribed, its messages
#   hdr_v1, hdr_v1_unknown, hdr_v2, hdr_v2_local: PROXY headers in hex
#
# PPMQ_BROKER_WRAP runs every broker under a wrapper, e.g.
#   PPMQ_BROKER_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite" PPMQ_TEST_SLOW=30
# and PPMQ_BIN=build-san/bin runs the sanitizer build; brokers_clean then
# fails on any report in a broker's log.

[ -n "${_PPMQ_BROKER_LOADED:-}" ] && return 0
_PPMQ_BROKER_LOADED=1

# shellcheck source=tests/lib/proc.bash
. "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

BROKER=$PPMQ_BIN/ppmq-broker
# shellcheck disable=SC2034 # used by the tests that source this file
PAHO=$PPMQ_BUILD/tests/progs/paho_client
PROBE=$ROOT/tests/lib/probe.py
JCHECK=$ROOT/tests/lib/jcheck.py
read -r -a BROKER_WRAP <<<"${PPMQ_BROKER_WRAP:-}"

declare -gA BR_TCP=() BR_SSL=() BR_WS=() BR_WSS=() BR_ADMIN=() BR_PID=() BR_LOG=()
B_NAME=
BROKER_BAD_EXITS=0

# _is_broker WORD: WORD names a broker started here.
_is_broker() { [ -n "${1:-}" ] && [ -n "${BR_PID[$1]+x}" ]; }

# use_broker NAME: NAME is the current broker (B_*).
# shellcheck disable=SC2034 # B_*: used by the tests that source this file
use_broker() {
	B_NAME=$1
	B_TCP=${BR_TCP[$1]}
	B_SSL=${BR_SSL[$1]}
	B_WS=${BR_WS[$1]}
	B_WSS=${BR_WSS[$1]}
	B_ADMIN=${BR_ADMIN[$1]}
	B_PID=${BR_PID[$1]}
	B_LOG=${BR_LOG[$1]}
}

# start_broker NAME [ENV=VALUE...] [-- ARGS...]: ppmq-broker with the tcp
# and ws listeners (and ssl, wss with the test certificates when $CERTS is
# set) and the admin API on 127.0.0.1 and fresh ports, every refused
# connection logged (LOG_REFUSED_PER_SECOND=0: tests read those lines),
# the given environment on top of that, ARGS on its command line; waits
# for its "ready" line (20 s). Nothing PROXY-related is inherited from the
# caller's environment. A port taken meanwhile: again with new ports (3
# tries). NAME becomes the current broker.
start_broker() {
	local name=$1 _
	case $name in
	tcp | ssl | tls | ws | wss | /* | ppmq_*) bail "start_broker: '$name' cannot name a broker" ;;
	esac
	for _ in 1 2 3; do
		_start_broker_once "$@" && return 0
		grep -qi 'in use' "${BR_LOG[$name]}" 2>/dev/null || return 1
		stop_pid "${BR_PID[$name]}"
	done
	return 1
}
_broker_ready() { grep -q ' ready:' "$1" 2>/dev/null; }
_start_broker_once() {
	local name=$1 envs=() args=() log k=1 tcp ssl ws wss adm st
	shift
	while [ $# -gt 0 ]; do
		if [ "$1" = "--" ]; then
			shift
			args=("$@")
			break
		fi
		envs+=("$1")
		shift
	done
	# One log per start, also when a name comes back.
	log=$T/broker-$name.log
	while [ -e "$log" ]; do
		k=$((k + 1))
		log=$T/broker-$name.$k.log
	done
	read -r tcp ssl ws wss adm <<<"$(free_ports 5)"
	local base=(
		LISTENER_TCP_ENABLED=true LISTENER_TCP_BIND_ADDRESS=127.0.0.1 "LISTENER_TCP_BIND_PORT=$tcp"
		LISTENER_WS_ENABLED=true LISTENER_WS_BIND_ADDRESS=127.0.0.1 "LISTENER_WS_BIND_PORT=$ws"
		ADMIN_ENABLED=true ADMIN_BIND_ADDRESS=127.0.0.1 "ADMIN_BIND_PORT=$adm"
		LOG_REFUSED_PER_SECOND=0
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
	env -u MQTT_PROXY_PROTOCOL_ENABLED -u MQTT_TCP_PROXY_PROTOCOL_ENABLED \
		-u MQTT_SSL_PROXY_PROTOCOL_ENABLED -u MQTT_WS_PROXY_PROTOCOL_ENABLED \
		-u MQTT_WSS_PROXY_PROTOCOL_ENABLED -u MQTT_PROXY_TRUSTED_PROXIES \
		-u MQTT_PROXY_PROTOCOL_MODE -u PPMQ_FAULT -u ADMIN_TOKEN -u LOG_FILE \
		"${base[@]}" ${envs[@]+"${envs[@]}"} ${BROKER_WRAP[@]+"${BROKER_WRAP[@]}"} "$BROKER" \
		${args[@]+"${args[@]}"} </dev/null >"$log" 2>&1 &
	BR_PID[$name]=$!
	PIDS+=("$!")
	BR_TCP[$name]=$tcp
	BR_SSL[$name]=$ssl
	BR_WS[$name]=$ws
	BR_WSS[$name]=$wss
	BR_ADMIN[$name]=$adm
	BR_LOG[$name]=$log
	use_broker "$name"
	if [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		printf -v "${name}_TCP" %s "$tcp"
		printf -v "${name}_SSL" %s "$ssl"
		printf -v "${name}_WS" %s "$ws"
		printf -v "${name}_WSS" %s "$wss"
		printf -v "${name}_ADMIN" %s "$adm"
		printf -v "${name}_PID" %s "$B_PID"
		printf -v "${name}_LOG" %s "$log"
	fi
	wait_until -p "$B_PID" 20 _broker_ready "$log"
	st=$?
	case $st in
	0) return 0 ;;
	2) grep -qi 'in use' "$log" || diag "broker $name exited before ready:" "$(cat "$log")" ;;
	*) diag "broker $name not ready after $(($(_ms 20) / 1000)) s:" "$(tail -20 "$log")" ;;
	esac
	return 1
}

# stop_broker [NAME]: SIGTERM, up to 20 s to exit (then SIGKILL: 99);
# returns the broker's exit status. A status other than 0 is counted for
# brokers_clean.
# shellcheck disable=SC2120 # NAME is optional
stop_broker() {
	local b=$B_NAME st=0
	_is_broker "${1:-}" && b=$1
	stop_pid "${BR_PID[$b]}" 20 || st=$?
	[ "$st" -eq 0 ] || BROKER_BAD_EXITS=$((BROKER_BAD_EXITS + 1))
	return "$st"
}

# brokers_clean: every broker stopped so far exited 0 after SIGTERM, and
# no broker log holds a sanitizer or valgrind report (run the tests with
# PPMQ_BIN=build-san/bin, or PPMQ_BROKER_WRAP=valgrind..., to make this bite).
brokers_clean() {
	local f bad=0
	for f in "$T"/broker-*.log; do
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

# shellcheck disable=SC2120 # NAME is optional
broker_alive() {
	local b=$B_NAME
	_is_broker "${1:-}" && b=$1
	kill -0 "${BR_PID[$b]}" 2>/dev/null
}

# port_of [NAME] KIND: the port of a broker's listener.
port_of() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	case $1 in
	tcp) echo "${BR_TCP[$b]}" ;; ssl | tls) echo "${BR_SSL[$b]}" ;;
	ws) echo "${BR_WS[$b]}" ;; wss) echo "${BR_WSS[$b]}" ;;
	esac
}
# transport_of KIND: the transport name proxygen and the probe use.
transport_of() {
	case $1 in ssl) echo tls ;; *) echo "$1" ;; esac
}

# ---- admin API ------------------------------------------------------------------------

admin_get() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	curl -s --max-time 5 "http://127.0.0.1:${BR_ADMIN[$b]}$1"
}
admin_status() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${BR_ADMIN[$b]}$1"
}

# json_get [NAME] PATH EXPR: a python expression on the JSON document (as
# `d`) at admin PATH; prints the result ("None" when absent).
json_get() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	admin_get "$b" "$1" | "$PY" -c '
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

# session_field [NAME] CLIENT_ID FIELD
session_field() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	json_get "$b" "/api/v1/sessions/$1" "d.get('$2') if isinstance(d, dict) else None"
}

# metric [NAME] SERIES: the value of SERIES (NAME{LABELS}) in /metrics,
# "" when absent.
metric() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	admin_get "$b" /metrics | awk -v k="$1" '$1 == k { print $2; exit }'
}
# metric_sum [NAME] METRIC: the sum over every label set of METRIC.
metric_sum() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	admin_get "$b" /metrics | awk -v k="$1" '
		index($1, k "{") == 1 || $1 == k { s += $2 } END { print s + 0 }'
}

_metric_is() { # FUNCTION NAME SERIES WANT
	METRIC_VALUE=$("$1" "$2" "$3")
	[ "$METRIC_VALUE" = "$4" ]
}
# wait_metric [NAME] SERIES WANT [SECONDS]: until the value is WANT (10 s);
# the last value read is in METRIC_VALUE.
wait_metric() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	wait_until "${3:-10}" _metric_is metric "$b" "$1" "$2"
}
# wait_metric_sum [NAME] METRIC WANT [SECONDS]: the same for metric_sum.
wait_metric_sum() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	wait_until "${3:-10}" _metric_is metric_sum "$b" "$1" "$2"
}

# _record_check NAME PATH SELECT FIELD=WANT...: one look at a record
# (tests/lib/jcheck.py): RECORD_ST 0 when it matches, 1 when it differs
# (RECORD_DIFF says how), 2 when it is missing.
_record_check() {
	local b=$1 path=$2 sel=$3
	shift 3
	RECORD_DIFF=$(admin_get "$b" "$path" | "$PY" "$JCHECK" "$sel" "$@")
	RECORD_ST=$?
}
_record_matches() { _record_check "$@" && [ "$RECORD_ST" = 0 ]; }
_record_there() { _record_check "$@"; [ "$RECORD_ST" != 2 ]; }
# wait_session [NAME] CLIENT_ID [SECONDS]: until the session is connected (10 s).
wait_session() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	wait_until "${2:-10}" _record_matches "$b" "/api/v1/sessions/$1" - connected=true
}

# expect_record [NAME] PATH SELECT DESC FIELD=WANT...: one test point: the
# record (see tests/lib/jcheck.py) has every FIELD=WANT (or FIELD~REGEX).
# Fetched again (10 s) while it is missing: the broker may write it a
# moment after the client saw its CONNACK. The fields checked do not
# change once it is there.
expect_record() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	local path=$1 sel=$2 desc=$3
	shift 3
	wait_until 10 _record_there "$b" "$path" "$sel" "$@"
	if [ "$RECORD_ST" = 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "GET $path:" "$RECORD_DIFF"
	fi
}
# expect_session [NAME] CLIENT_ID DESC FIELD=WANT...
expect_session() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	local id=$1
	shift
	expect_record "$b" "/api/v1/sessions/$id" - "$@"
}
# expect_unauthorized [NAME] CLIENT_ID DESC FIELD=WANT...
expect_unauthorized() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	local id=$1
	shift
	expect_record "$b" /api/v1/unauthorized-clients "$id" "$@"
}
# expect_no_session [NAME] CLIENT_ID DESC: the broker never let it in.
expect_no_session() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	is "$(admin_status "$b" "/api/v1/sessions/$1")" 404 "$2"
}

# ---- clients ---------------------------------------------------------------------------

have_proxygen() { [ -x "$PROXYGEN" ] && "$PROXYGEN" send --help >/dev/null 2>&1; }

# pg_send [NAME] KIND [proxygen send options...]: one connection to a
# broker's KIND listener. Prints proxygen's output; returns its status.
pg_send() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	local kind=$1 extra=()
	shift
	case $kind in ssl | wss) extra+=(--ca "$CERTS/ca.pem" --sni localhost) ;; esac
	timeout 20 "$PROXYGEN" send --target "127.0.0.1:$(port_of "$b" "$kind")" \
		--transport "$(transport_of "$kind")" --timeout 4000 ${extra[@]+"${extra[@]}"} "$@"
}

# probe [NAME] KIND [probe options...]: one raw connection (tests/lib/probe.py)
# to a broker's KIND listener; prints what came back.
probe() {
	local b=$B_NAME
	_is_broker "$1" && { b=$1; shift; }
	local kind=$1 extra=()
	shift
	case $kind in ssl | wss) extra+=(--ca "$CERTS/ca.pem") ;; esac
	timeout 20 "$PY" "$PROBE" --port "$(port_of "$b" "$kind")" \
		--transport "$(transport_of "$kind")" ${extra[@]+"${extra[@]}"} "$@"
}

# MOSQ_SUB: mosquitto_sub printing its debug lines as they happen (line
# buffered): its "received SUBACK" line says that the subscription is in
# place. mosq_messages FILE: the messages of such a run, without the debug
# lines ("Client ...", "Subscribed ...").
# shellcheck disable=SC2034 # used by lb.bash and the tests
MOSQ_SUB=(stdbuf -oL mosquitto_sub -d)
# shellcheck disable=SC2034
MOSQ_SUBACK='^Client .* received SUBACK'
mosq_messages() { grep -v -e '^Client ' -e '^Subscribed (' "$1"; }

# sweep PORT TIMEOUT [payload] < "NAME HEX" lines: every header at once
# (tests/lib/sweep.py, 30 s at most); "NAME<TAB>what came back" per line.
sweep() { timeout 30 "$PY" "$ROOT/tests/lib/sweep.py" "$@"; }

# PROXY headers in hex.
# hdr_v1 SRC_IP DST_IP SRC_PORT DST_PORT
hdr_v1() { printf 'PROXY TCP4 %s %s %s %s\r\n' "$1" "$2" "$3" "$4" | hexof; }
hdr_v1_unknown() { texthex $'PROXY UNKNOWN\r\n'; }
# hdr_v2 SRC_IP DST_IP SRC_PORT DST_PORT (IPv4; same order as hdr_v1)
hdr_v2() {
	"$PY" -c '
import socket, struct, sys
s, d, sp, dp = sys.argv[1:5]
body = socket.inet_aton(s) + socket.inet_aton(d) + struct.pack(">HH", int(sp), int(dp))
print((b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body).hex())' "$@"
}
hdr_v2_local() {
	"$PY" -c 'print((b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20, 0x00, 0, 0])).hex())'
}

# ---- tests/lib/mqtt_cases.py -----------------------------------------------

CASE_OUT=
mqtt_case() {
	local secs=$1
	shift
	CASE_OUT=$(timeout $((secs * PPMQ_TEST_SLOW)) "$PY" "$ROOT/tests/lib/mqtt_cases.py" "$1" \
		--port "$B_TCP" --slow "$PPMQ_TEST_SLOW" "${@:2}" 2>&1)
}
case_val() { sed -n "s/^$1=//p" <<<"$CASE_OUT" | head -1; }
