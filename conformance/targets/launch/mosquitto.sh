#!/usr/bin/env bash
# mosquitto.sh - run a throwaway mosquitto with a TCP and a WebSocket
# listener on loopback, one user, and a log file with every connection in
# it; all of it in a temporary directory removed on exit.
#
#   mosquitto.sh [run] [--env-file FILE]   start, wait until ready, stay in
#                                          the foreground until SIGTERM / SIGINT
#   mosquitto.sh --help
#
# Environment (unset ports are picked free, below the ephemeral range):
#   MOSQ_TCP_PORT, MOSQ_WS_PORT   the listeners (bound to 127.0.0.1)
#   MOSQ_DIR            run directory to create (it must not exist; default
#                       a new mktemp directory). The profile names it so its
#                       log observer knows where the log is.
#   MOSQ_PROXY          enabled (default) | disabled: whether the listeners
#                       are to read PROXY headers. mosquitto reads them from
#                       2.1 on (`enable_proxy_protocol`, on both the tcp and
#                       the ws listener); an older mosquitto has no such
#                       option and runs without it, which the launcher says
#                       on its output.
#   MOSQ_PROXY_VERSION  1 or 2 (default 2): the header version a 2.1
#                       listener takes (one version per listener)
#   MOSQ_CERT_DIR       not used for listeners: mosquitto 2.1 reads no PROXY
#                       header on a TLS listener (`enable_proxy_protocol 2`
#                       with certfile/keyfile is refused at start; with 1 the
#                       header is read through the TLS layer and every
#                       connection is dropped), so there are no ssl/wss
#                       listeners; the launcher says so when it is set.
#   MOSQ_USERNAME, MOSQ_PASSWORD   the one login (default ppmq / ppmq-secret)
#   MOSQUITTO, MOSQUITTO_PASSWD    the programs (default: from PATH, /usr/sbin;
#                       MOSQUITTO_BIN is taken for MOSQUITTO when that is unset).
#                       With MOSQUITTO set and MOSQUITTO_PASSWD not, the
#                       mosquitto_passwd beside it is used (same directory,
#                       or ../apps/mosquitto_passwd/ in a build tree) before
#                       the one in PATH.
#   MOSQ_READY_TIMEOUT  seconds to wait for the listeners (default 20)
#   PPMQ_KEEP_TMP=1     keep the run directory
#
# When ready it prints "mosquitto.sh: ready tcp=P ws=P log=FILE ...".
set -u

ME=mosquitto.sh
# shellcheck source=conformance/targets/launch/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# version_ge A B: dotted version A >= B.
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

DIR=""
MADE_DIR=""
BROKER_PID=""
STOPPING=""

cleanup() {
	[ -n "$STOPPING" ] && return
	STOPPING=1
	trap '' TERM INT HUP
	if [ -n "$BROKER_PID" ] && ! gone "$BROKER_PID"; then
		kill -TERM "$BROKER_PID" 2>/dev/null
		wait_gone "$BROKER_PID" 50 || kill -KILL "$BROKER_PID" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ -n "$MADE_DIR" ]; then
		if [ "${PPMQ_KEEP_TMP:-}" = 1 ]; then
			say "kept $DIR"
		else
			rm -rf "$DIR"
		fi
	fi
}

cmd_run() {
	local env_file="" mosq passwd_prog ver proxy pver user pass tmo start pp_line i
	local pls_line="per_listener_settings false" d

	while [ $# -gt 0 ]; do
		case "$1" in
		--env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument '$1' (try --help)" 2 ;;
		esac
	done
	: "${MOSQUITTO:=${MOSQUITTO_BIN:-}}"
	[ -n "$MOSQUITTO" ] || unset MOSQUITTO
	mosq=${MOSQUITTO:-$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v mosquitto)}
	passwd_prog=${MOSQUITTO_PASSWD:-}
	if [ -z "$passwd_prog" ] && [ -n "${MOSQUITTO:-}" ]; then
		# A mosquitto of its own (a 2.1 build, say): its own mosquitto_passwd.
		d=$(dirname "$MOSQUITTO")
		for i in "$d/mosquitto_passwd" "$d/../apps/mosquitto_passwd/mosquitto_passwd" \
			"$d/../bin/mosquitto_passwd"; do
			[ -x "$i" ] && { passwd_prog=$i; break; }
		done
	fi
	[ -n "$passwd_prog" ] || passwd_prog=$(command -v mosquitto_passwd)
	[ -n "$mosq" ] && [ -x "$mosq" ] || die "mosquitto not found: install the Debian package mosquitto" 4
	[ -n "$passwd_prog" ] && [ -x "$passwd_prog" ] || die "mosquitto_passwd not found (package mosquitto)" 4
	ver=$("$mosq" -h 2>&1 | sed -n 's/^mosquitto version \([0-9][0-9.]*\).*/\1/p' | head -n1)
	[ -n "$ver" ] || die "cannot tell the version of $mosq" 4
	proxy=${MOSQ_PROXY:-enabled}
	case "$proxy" in enabled | disabled) ;; *) die "MOSQ_PROXY must be enabled or disabled" 2 ;; esac
	pver=${MOSQ_PROXY_VERSION:-2}
	case "$pver" in 1 | 2) ;; *) die "MOSQ_PROXY_VERSION must be 1 or 2" 2 ;; esac
	user=${MOSQ_USERNAME:-ppmq}
	pass=${MOSQ_PASSWORD:-ppmq-secret}
	tmo=${MOSQ_READY_TIMEOUT:-20}
	: "${MOSQ_TCP_PORT:=$(free_port)}" "${MOSQ_WS_PORT:=$(free_port)}"

	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	if [ -n "${MOSQ_DIR:-}" ]; then
		DIR=$MOSQ_DIR
		# mkdir fails if it exists: never reuse (or follow) what is there.
		mkdir -m 700 "$DIR" 2>/dev/null || die "cannot create $DIR (it must not exist yet)"
	else
		DIR=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-mosquitto.XXXXXX") || die "mktemp failed"
	fi
	MADE_DIR=1

	rm -f "$DIR/passwd"
	"$passwd_prog" -c -b "$DIR/passwd" "$user" "$pass" >/dev/null 2>&1 ||
		die "mosquitto_passwd could not write $DIR/passwd"
	pp_line=""
	# 2.1 deprecates per_listener_settings (a warning at start); false is
	# the default in 2.0 and 2.1 alike.
	version_ge "$ver" 2.1 && pls_line=""
	[ -n "${MOSQ_CERT_DIR:-}" ] &&
		say "note: MOSQ_CERT_DIR ignored: no ssl/wss listeners (mosquitto reads" \
			"no PROXY header on a TLS listener)"
	if [ "$proxy" = enabled ]; then
		if version_ge "$ver" 2.1; then
			# Per listener, one version each; 2.1 reads it on the tcp
			# listener and on the built-in websockets one.
			pp_line="enable_proxy_protocol $pver"
		else
			say "WARNING: mosquitto $ver has no PROXY protocol support" \
				"(enable_proxy_protocol needs 2.1): its listeners run without it;" \
				"expect the PROXY scenarios to fail"
		fi
	fi
	cat >"$DIR/mosquitto.conf" <<EOF
# Written by $ME for one run; see docs/brokers.md.
$pls_line
allow_anonymous false
password_file $DIR/passwd
persistence false
log_dest file $DIR/mosquitto.log
log_dest stdout
log_type all
log_timestamp true
connection_messages true
listener $MOSQ_TCP_PORT 127.0.0.1
protocol mqtt
$pp_line
listener $MOSQ_WS_PORT 127.0.0.1
protocol websockets
$pp_line
EOF
	# Not readable by others: 2.1 warns about a world-readable file it opens.
	: >"$DIR/mosquitto.log" && chmod 600 "$DIR/mosquitto.log"
	# Started as root, mosquitto drops to the user `mosquitto` before it
	# opens its files: hand the directory over (root still removes it). If
	# that user cannot reach it (a parent directory closed to others), the
	# broker keeps running as root: it only listens on loopback.
	if [ "$(id -u)" -eq 0 ]; then
		if id mosquitto >/dev/null 2>&1 && chown -R mosquitto: "$DIR" &&
			command -v runuser >/dev/null &&
			runuser -u mosquitto -- test -w "$DIR" -a -r "$DIR/passwd" 2>/dev/null; then
			:
		else
			echo "user root" >>"$DIR/mosquitto.conf"
			say "note: $DIR is not reachable by the user mosquitto; mosquitto keeps running as root"
		fi
	fi

	say "starting mosquitto $ver in $DIR (tcp $MOSQ_TCP_PORT, ws $MOSQ_WS_PORT," \
		"PROXY ${pp_line:-off})"
	"$mosq" -c "$DIR/mosquitto.conf" </dev/null &
	BROKER_PID=$!
	start=$SECONDS
	until port_open "$MOSQ_TCP_PORT" && port_open "$MOSQ_WS_PORT"; do
		gone "$BROKER_PID" && die "mosquitto exited while starting (its output is above)"
		[ $((SECONDS - start)) -ge "$tmo" ] && die "mosquitto was not ready within ${tmo}s" 3
		sleep 0.1
	done
	if [ -n "$env_file" ]; then
		cat >"$env_file" <<EOF
MOSQ_TCP_PORT=$MOSQ_TCP_PORT
MOSQ_WS_PORT=$MOSQ_WS_PORT
MOSQ_LOG=$DIR/mosquitto.log
MOSQ_LAUNCHER_DIR=$DIR
MOSQ_LAUNCHER_PID=$$
EOF
	fi
	say "ready tcp=$MOSQ_TCP_PORT ws=$MOSQ_WS_PORT log=$DIR/mosquitto.log version=$ver" \
		"proxy=${pp_line:-off} pid=$$"
	wait "$BROKER_PID"
	say "mosquitto exited (status $?)"
	exit 1
}

case "${1:-run}" in
run) shift $(($# > 0 ? 1 : 0)); cmd_run "$@" ;;
-h | --help) usage ;;
--*) cmd_run "$@" ;;
*) die "unknown command '$1' (try --help)" 2 ;;
esac
