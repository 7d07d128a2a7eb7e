#!/usr/bin/env bash
# rabbitmq.sh - run a throwaway RabbitMQ node (Debian rabbitmq-server) with
# the MQTT and Web MQTT plugins and the PROXY protocol, on loopback ports,
# with every file in a temporary directory. Runs as root without systemd.
#
#   rabbitmq.sh [run] [--env-file FILE]   start, wait until ready, stay in the
#                                         foreground until SIGTERM / SIGINT
#   rabbitmq.sh stop PID [SECONDS]        stop a launcher started elsewhere
#                                         (SIGTERM) and wait for it to exit
#   rabbitmq.sh --help
#
# Environment (unset ports are picked free, below the ephemeral range):
#   RABBITMQ_MQTT_PORT, RABBITMQ_MQTTS_PORT          MQTT tcp / tls
#   RABBITMQ_WEB_MQTT_PORT, RABBITMQ_WEB_MQTTS_PORT  Web MQTT ws / wss (path /ws)
#   RABBITMQ_MGMT_PORT                               management HTTP API
#   RABBITMQ_NODE_PORT (AMQP), RABBITMQ_DIST_PORT, ERL_EPMD_PORT
#   RABBITMQ_MQTT_PROXY, RABBITMQ_WEB_MQTT_PROXY     enabled (default) | disabled:
#                       mqtt.proxy_protocol / web_mqtt.proxy_protocol
#   RABBITMQ_MQTT_USER, RABBITMQ_MQTT_PASSWORD       the one user (administrator,
#                       all permissions on /); default ppmq / ppmq-secret
#   RABBITMQ_STATS_MS   collect_statistics_interval (default 500)
#   RABBITMQ_READY_TIMEOUT   seconds to wait for the node (default 90)
#   RABBITMQ_SERVER     the start script (default /usr/lib/rabbitmq/bin/rabbitmq-server)
#   PPMQ_KEEP_TMP=1     keep the temporary directory (its path is printed)
#
# When ready it prints one line "rabbitmq.sh: ready ..." with every port
# (the profile's `launch.ready.log` waits for it) and, with --env-file,
# writes the ports, RABBITMQ_LAUNCHER_PID and RABBITMQ_LAUNCHER_DIR as shell
# assignments to FILE. The node's console log goes to stdout; its files are
# under the temporary directory.
set -u

ME=rabbitmq.sh
# shellcheck source=conformance/targets/launch/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---- stop: used as the profile's launch.stop -----------------------------------

cmd_stop() {
	local pid=${1:-} secs=${2:-40} i
	case "$pid" in '' | *[!0-9]*) die "stop: a PID is required" 2 ;; esac
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < secs * 10; i++)); do
		gone "$pid" && return 0
		sleep 0.1
	done
	say "stop: $pid still running after ${secs}s" >&2
	return 1
}

# ---- run ------------------------------------------------------------------------

# listeners_up USER:PASS: /api/overview lists the four MQTT listeners.
listeners_up() {
	curl -fsS -m 2 -u "$1" "http://127.0.0.1:$RABBITMQ_MGMT_PORT/api/overview" 2>/dev/null |
		python3 -c 'import json, sys
want = set(int(p) for p in sys.argv[1:])
got = set(l.get("port") for l in json.load(sys.stdin).get("listeners", []))
sys.exit(0 if want <= got else 1)' "$RABBITMQ_MQTT_PORT" "$RABBITMQ_MQTTS_PORT" \
			"$RABBITMQ_WEB_MQTT_PORT" "$RABBITMQ_WEB_MQTTS_PORT" 2>/dev/null
}

# truth MODE NAME: enabled -> true, disabled -> false.
truth() {
	case "$1" in
	enabled | true | 1) echo true ;;
	disabled | false | 0) echo false ;;
	*) die "$2 must be enabled or disabled, not '$1'" 2 ;;
	esac
}

DIR=""
EPMD_PID=""
SERVER_PID=""
STOPPING=""

# beam_pid: the Erlang VM's OS pid, from the pid file RabbitMQ writes.
beam_pid() {
	local p=""
	[ -n "$DIR" ] && [ -r "$DIR/rabbit.pid" ] && p=$(tr -dc 0-9 <"$DIR/rabbit.pid")
	echo "$p"
}

cleanup() {
	local bp
	[ -n "$STOPPING" ] && return
	STOPPING=1
	trap '' TERM INT HUP
	bp=$(beam_pid)
	# The start script forwards SIGTERM to the VM, which then shuts down in
	# order; the VM itself is killed if that takes too long.
	if [ -n "$SERVER_PID" ] && ! gone "$SERVER_PID"; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		[ -n "$bp" ] && kill -TERM "$bp" 2>/dev/null
		wait_gone "$SERVER_PID" 200 || kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	if [ -n "$bp" ] && ! gone "$bp"; then
		wait_gone "$bp" 50 || kill -KILL "$bp" 2>/dev/null
	fi
	# epmd outlives the node (rabbitmqctl stop leaves it too): ours is
	# stopped by its PID, never by name.
	if [ -n "$EPMD_PID" ]; then
		kill -TERM "$EPMD_PID" 2>/dev/null
		wait_gone "$EPMD_PID" 30 || kill -KILL "$EPMD_PID" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ -n "$DIR" ]; then
		if [ "${PPMQ_KEEP_TMP:-}" = 1 ]; then
			say "kept $DIR"
		else
			rm -rf "$DIR"
		fi
	fi
}

cmd_run() {
	local env_file="" server tmo i node user pass mqtt_pp web_pp start

	while [ $# -gt 0 ]; do
		case "$1" in
		--env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument '$1' (try --help)" 2 ;;
		esac
	done
	server=${RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}
	[ -x "$server" ] || die "$server not found: install the Debian package rabbitmq-server" 4
	command -v epmd >/dev/null || die "epmd not found (erlang-base)" 4
	command -v openssl >/dev/null || die "openssl not found" 4
	command -v curl >/dev/null || die "curl not found" 4
	command -v python3 >/dev/null || die "python3 not found" 4
	mqtt_pp=$(truth "${RABBITMQ_MQTT_PROXY:-enabled}" RABBITMQ_MQTT_PROXY) || exit 2
	web_pp=$(truth "${RABBITMQ_WEB_MQTT_PROXY:-enabled}" RABBITMQ_WEB_MQTT_PROXY) || exit 2
	tmo=${RABBITMQ_READY_TIMEOUT:-90}
	user=${RABBITMQ_MQTT_USER:-ppmq}
	pass=${RABBITMQ_MQTT_PASSWORD:-ppmq-secret}

	: "${RABBITMQ_MQTT_PORT:=$(free_port)}" "${RABBITMQ_MQTTS_PORT:=$(free_port)}"
	: "${RABBITMQ_WEB_MQTT_PORT:=$(free_port)}" "${RABBITMQ_WEB_MQTTS_PORT:=$(free_port)}"
	: "${RABBITMQ_MGMT_PORT:=$(free_port)}" "${RABBITMQ_NODE_PORT:=$(free_port)}"
	: "${RABBITMQ_DIST_PORT:=$(free_port)}" "${ERL_EPMD_PORT:=$(free_port)}"

	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-rabbitmq.XXXXXX") || die "mktemp failed"
	mkdir -p "$DIR/mnesia" "$DIR/log" "$DIR/home" "$DIR/plugins-expand"
	chmod 700 "$DIR"

	# A self-signed certificate for the TLS listeners (the profile does
	# not verify it: the point is the PROXY stage, not the PKI).
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$DIR/server.key" -out "$DIR/server.pem" >/dev/null 2>&1 ||
		die "openssl could not make a certificate"
	cp "$DIR/server.pem" "$DIR/ca.pem"

	cat >"$DIR/rabbitmq.conf" <<EOF
# Written by $ME for one run; see docs/brokers.md.
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
default_user = $user
default_pass = $pass
default_vhost = /
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
loopback_users = none
collect_statistics_interval = ${RABBITMQ_STATS_MS:-500}
log.file = rabbit.log
log.file.level = debug
log.console = true
log.console.level = info
log.console.use_colors = off
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBITMQ_MGMT_PORT
ssl_options.cacertfile = $DIR/ca.pem
ssl_options.certfile = $DIR/server.pem
ssl_options.keyfile = $DIR/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
mqtt.listeners.tcp.default = 127.0.0.1:$RABBITMQ_MQTT_PORT
mqtt.listeners.ssl.default = 127.0.0.1:$RABBITMQ_MQTTS_PORT
mqtt.allow_anonymous = false
mqtt.proxy_protocol = $mqtt_pp
web_mqtt.tcp.ip = 127.0.0.1
web_mqtt.tcp.port = $RABBITMQ_WEB_MQTT_PORT
web_mqtt.ssl.ip = 127.0.0.1
web_mqtt.ssl.port = $RABBITMQ_WEB_MQTTS_PORT
web_mqtt.ssl.cacertfile = $DIR/ca.pem
web_mqtt.ssl.certfile = $DIR/server.pem
web_mqtt.ssl.keyfile = $DIR/server.key
web_mqtt.proxy_protocol = $web_pp
EOF
	# The management agent samples connections every 5 s by default: a new
	# connection shows in /api/connections only after up to 5 s. The
	# smallest sample interval sets that period; 1 s keeps the observer fast.
	cat >"$DIR/advanced.config" <<EOF
[{rabbitmq_management_agent,
  [{sample_retention_policies,
    [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{605, 1}]}]}]},
 {rabbitmq_management,
  [{sample_retention_policies,
    [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{605, 1}]}]}]}].
EOF
	echo '[rabbitmq_management,rabbitmq_mqtt,rabbitmq_web_mqtt].' >"$DIR/enabled_plugins"
	: >"$DIR/rabbitmq-env.conf"

	node="ppmq$$@localhost"
	export HOME="$DIR/home"
	export RABBITMQ_BASE="$DIR"
	export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
	export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
	export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
	export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
	export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
	export RABBITMQ_LOG_BASE="$DIR/log"
	export RABBITMQ_PLUGINS_EXPAND_DIR="$DIR/plugins-expand"
	export RABBITMQ_PID_FILE="$DIR/rabbit.pid"
	export RABBITMQ_NODENAME="$node"
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT ERL_EPMD_PORT
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_CRASH_DUMP="$DIR/erl_crash.dump"
	# Erlang distribution on loopback too (it listens on every address
	# otherwise).
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	# Its own epmd, on its own port, so that it can be stopped by PID.
	epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 &
	EPMD_PID=$!
	for ((i = 0; i < 50; i++)); do
		port_open "$ERL_EPMD_PORT" && break
		gone "$EPMD_PID" && die "epmd did not start on port $ERL_EPMD_PORT"
		sleep 0.1
	done

	say "starting $node in $DIR (mqtt $RABBITMQ_MQTT_PORT, mqtts $RABBITMQ_MQTTS_PORT," \
		"ws $RABBITMQ_WEB_MQTT_PORT, wss $RABBITMQ_WEB_MQTTS_PORT, management $RABBITMQ_MGMT_PORT," \
		"mqtt.proxy_protocol=$mqtt_pp web_mqtt.proxy_protocol=$web_pp)"
	"$server" </dev/null &
	SERVER_PID=$!

	# Ready: the management API answers with the user's credentials and
	# lists every MQTT and Web MQTT listener as started. (Not a TCP probe:
	# an empty connection to a PROXY listener is logged as a crash report.)
	start=$SECONDS
	until listeners_up "$user:$pass"; do
		gone "$SERVER_PID" && die "the node exited while starting (its console output is above)"
		[ $((SECONDS - start)) -ge "$tmo" ] && die "the node was not ready within ${tmo}s" 3
		sleep 0.2
	done
	if [ -n "$env_file" ]; then
		cat >"$env_file" <<EOF
RABBITMQ_MQTT_PORT=$RABBITMQ_MQTT_PORT
RABBITMQ_MQTTS_PORT=$RABBITMQ_MQTTS_PORT
RABBITMQ_WEB_MQTT_PORT=$RABBITMQ_WEB_MQTT_PORT
RABBITMQ_WEB_MQTTS_PORT=$RABBITMQ_WEB_MQTTS_PORT
RABBITMQ_MGMT_PORT=$RABBITMQ_MGMT_PORT
RABBITMQ_NODE_PORT=$RABBITMQ_NODE_PORT
RABBITMQ_LAUNCHER_DIR=$DIR
RABBITMQ_LAUNCHER_PID=$$
EOF
	fi
	say "ready mqtt=$RABBITMQ_MQTT_PORT mqtts=$RABBITMQ_MQTTS_PORT ws=$RABBITMQ_WEB_MQTT_PORT" \
		"wss=$RABBITMQ_WEB_MQTTS_PORT management=$RABBITMQ_MGMT_PORT pid=$$ dir=$DIR"
	# `wait` returns early on a trapped signal, and then the trap runs.
	wait "$SERVER_PID"
	say "the node exited (status $?)"
	exit 1
}

case "${1:-run}" in
run) shift $(($# > 0 ? 1 : 0)); cmd_run "$@" ;;
stop) shift; cmd_stop "$@" ;;
-h | --help) usage ;;
--*) cmd_run "$@" ;;
*) die "unknown command '$1' (try --help)" 2 ;;
esac
