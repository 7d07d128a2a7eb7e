# shellcheck shell=bash
# proc.bash - processes, ports, files and waiting, on top of tap.bash.
# Sourced once (a second source is a no-op). It sets:
#
#   set -u
#   ROOT          the repository (found from this file's path)
#   PPMQ_BIN      programs (default $ROOT/bin), PPMQ_BUILD test programs
#                 (default $ROOT/build); relative values are taken from the
#                 directory the test was started in
#   PROXYGEN      $PPMQ_BIN/proxygen
#   PY            python3 (the system one when there is one: version
#                 manager shims cost a tenth of a second per start)
#   T             a fresh scratch directory, removed on exit
#
# and a trap that, on every exit path, runs the functions registered with
# on_exit, stops every process in PIDS (SIGTERM, then SIGKILL after a
# deadline) and removes $T.
#
# Waiting: every wait is for a condition, with a deadline in seconds
# (fractions allowed) multiplied by PPMQ_TEST_SLOW (a whole number,
# default 1; e.g. PPMQ_TEST_SLOW=3 on a slow machine or under valgrind).
#
#   wait_until [-p "PID..."] SECONDS COMMAND...   until COMMAND succeeds
#   wait_file FILE [SECONDS]                       exists, not empty
#   wait_log FILE REGEX [SECONDS]                  a line matches (grep -E)
#   wait_port PORT [SECONDS]                       127.0.0.1:PORT accepts
#   wait_listening "PID..." PORT...                the PIDs listen on PORTs
#   wait_gone PID [SECONDS]                        PID has exited
#   wait_exit PID [SECONDS]                        its exit status (124: still running)
#
# Programs: need_bins PROG... (bail out unless built in $PPMQ_BIN).
#
# Files: jf FILE EXPR (JSON), xq FILE EXPR (XML): a Python expression on
# the parsed file; json_field PATH: a field (a.b.c) of the JSON on stdin;
# hexof, texthex: bytes as hex.
#
# Processes: bg NAME COMMAND... (output in $T/NAME.log, BG_PID), or
# PIDS+=("$!") for one started by hand; bg_ready NAME SECONDS REGEX
# COMMAND... (bg, then its ready line); stop_pid PID [SECONDS].

[ -n "${_PPMQ_PROC_LOADED:-}" ] && return 0
_PPMQ_PROC_LOADED=1

# shellcheck source=tests/lib/tap.bash
. "$(dirname "${BASH_SOURCE[0]}")/tap.bash"

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PPMQ_BIN=${PPMQ_BIN:-$ROOT/bin}
PPMQ_BUILD=${PPMQ_BUILD:-$ROOT/build}
case $PPMQ_BIN in /*) ;; *) PPMQ_BIN=$PWD/$PPMQ_BIN ;; esac
case $PPMQ_BUILD in /*) ;; *) PPMQ_BUILD=$PWD/$PPMQ_BUILD ;; esac
# shellcheck disable=SC2034 # used by the tests that source this file
PROXYGEN=$PPMQ_BIN/proxygen
PY=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

PPMQ_TEST_SLOW=${PPMQ_TEST_SLOW:-1}
case $PPMQ_TEST_SLOW in
'' | *[!0-9]* | 0) bail "PPMQ_TEST_SLOW must be a whole number from 1 up, not '$PPMQ_TEST_SLOW'" ;;
esac
# How often a wait looks again: a poll interval, not a synchronisation.
WAIT_POLL=0.05

T=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-$(basename "$0" .t).XXXXXX") || bail "mktemp failed"
# Peers started as root that drop privileges (mosquitto, nginx workers)
# read their files here.
chmod 755 "$T"

# ---- exit -------------------------------------------------------------------------

PIDS=()
_EXIT_HOOKS=()

# on_exit FUNCTION: run FUNCTION first on exit (in the order registered).
on_exit() { _EXIT_HOOKS+=("$1"); }

_proc_cleanup() {
	local f p
	for f in ${_EXIT_HOOKS[@]+"${_EXIT_HOOKS[@]}"}; do "$f"; done
	for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null; done
	for p in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$p" 5; done
	rm -rf "$T"
}
trap _proc_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- waiting ------------------------------------------------------------------------

# _ms SECONDS: milliseconds, scaled by PPMQ_TEST_SLOW ("2.5" -> 2500).
_ms() {
	local i=${1%%.*} f
	f=${1#"$i"}
	f=${f#.}000
	echo $(((10#${i:-0} * 1000 + 10#${f:0:3}) * PPMQ_TEST_SLOW))
}
_now_ms() { echo $((${EPOCHREALTIME//[!0-9]/} / 1000)); }

# wait_until [-p "PID..."] SECONDS COMMAND...: run COMMAND until it
# succeeds; 0 then, 1 when SECONDS (scaled) have passed first. With -p,
# 2 as soon as one of the PIDs has exited (a server that died need not be
# waited for).
wait_until() {
	local pids="" end p
	if [ "$1" = -p ]; then
		pids=$2
		shift 2
	fi
	end=$(($(_now_ms) + $(_ms "$1")))
	shift
	until "$@"; do
		for p in $pids; do
			kill -0 "$p" 2>/dev/null || return 2
		done
		[ "$(_now_ms)" -lt "$end" ] || return 1
		sleep "$WAIT_POLL"
	done
}

# The conditions, one look each.
file_ready() { [ -s "$1" ]; }
log_has() { grep -E -q -- "$2" "$1" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

wait_file() { wait_until "${2:-10}" file_ready "$1"; }
wait_log() { wait_until "${3:-10}" log_has "$1" "$2"; }
wait_port() { wait_until "${2:-10}" port_open "$1"; }
wait_gone() { wait_until "${2:-10}" gone "$1"; }

# wait_exit PID [SECONDS]: PID's exit status once it has ended (a child of
# this shell), 124 when it still runs at the deadline.
wait_exit() {
	wait_gone "$1" "${2:-10}" || return 124
	wait "$1"
}

# is_listening PORT "PID...": one of the PIDs listens on 127.0.0.1:PORT.
# Looked up in the kernel's socket table rather than by connecting (a
# connection through a balancer would show up in a broker's counters),
# and the owner matters: when someone else took the port, that process
# failed to bind while the port does listen.
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
		"$PY" - "$1" $2 <<'PYEOF'
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
PYEOF
	}
fi
_all_listening() {
	local pids=$1 p
	shift
	for p in "$@"; do
		is_listening "$p" "$pids" || return 1
	done
}
# wait_listening "PID..." PORT...: every PORT listens, owned by one of the
# PIDs (20 s); fails early when one of the PIDs has exited.
wait_listening() {
	local pids=$1
	shift
	wait_until -p "$pids" 20 _all_listening "$pids" "$@"
}

# ---- processes ----------------------------------------------------------------------

# bg NAME COMMAND...: COMMAND in the background, stdin /dev/null, output in
# $T/NAME.log; its PID in BG_PID, stopped on exit.
bg() {
	local name=$1
	shift
	"$@" </dev/null >"$T/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# bg_ready NAME SECONDS REGEX COMMAND...: bg, then wait up to SECONDS for
# a line of $T/NAME.log that matches REGEX (it fails at once when the
# process exits first); on failure the log goes to diag, status 1.
bg_ready() {
	local name=$1 secs=$2 re=$3
	shift 3
	bg "$name" "$@"
	wait_until -p "$BG_PID" "$secs" log_has "$T/$name.log" "$re" && return 0
	diag "$(cat "$T/$name.log")"
	return 1
}

# stop_pid PID [SECONDS]: SIGTERM, up to SECONDS (default 10, scaled) to
# exit, then SIGKILL. Returns the exit status of a child of this shell
# (0 for another process), 99 when it had to be killed. PID leaves PIDS.
stop_pid() {
	local pid=$1 i st=0
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$pid" ] && unset "PIDS[$i]"
	done
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return; }
	if ! wait_gone "$pid" "${2:-10}"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 99
	fi
	wait "$pid" 2>/dev/null || st=$?
	[ "$st" = 127 ] && st=0 # not our child
	return "$st"
}

# ---- ports ----------------------------------------------------------------------------

# free_ports N: N distinct ports that bind on 127.0.0.1 now, at random in
# 20000-60000 but below the kernel's ephemeral range when that leaves room:
# an outgoing connection (ours, a balancer's, another test's) takes its
# local port from that range and could grab a port between this check and
# the bind (a broker that takes seconds to bind, RabbitMQ, most of all).
free_ports() {
	"$PY" - "$1" <<'PYEOF'
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
PYEOF
}

# ---- files and bytes --------------------------------------------------------------------

# need_bins PROG...: bail out unless every $PPMQ_BIN/PROG is built.
need_bins() {
	local p
	for p in "$@"; do
		[ -x "$PPMQ_BIN/$p" ] || bail "$PPMQ_BIN/$p is not built (make)"
	done
}

# certs_init: the test PKI in $CERTS (scripts/gen-certs), its output in
# $T/gen-certs.log.
certs_init() {
	CERTS=$T/certs
	[ -x "$ROOT/scripts/gen-certs" ] || return 1
	timeout 60 "$ROOT/scripts/gen-certs" "$CERTS" >"$T/gen-certs.log" 2>&1
}

# jf FILE EXPR: a Python expression on `d`, the JSON in FILE (jq-like);
# xq FILE EXPR: the same on `r`, the root element of the XML in FILE.
# "ERROR why" when the file does not parse or the expression fails.
jf() { _py_eval json "$@"; }
xq() { _py_eval xml "$@"; }
_py_eval() {
	"$PY" -c '
import json, sys, xml.etree.ElementTree as ET
try:
    if sys.argv[1] == "json":
        d = json.load(open(sys.argv[2]))
    else:
        r = ET.parse(sys.argv[2]).getroot()
    print(eval(sys.argv[3]))
except Exception as e:
    print("ERROR %s" % e)' "$@"
}

# json_field PATH: the field PATH (keys joined by dots) of the JSON on
# stdin: text and numbers as they are, objects, lists and null as JSON;
# nothing when it is missing or the input is not JSON.
json_field() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[k]
print(json.dumps(d) if isinstance(d, (dict, list)) or d is None else d)' "$1" 2>/dev/null
}

# hexof: stdin as lowercase hex; texthex TEXT: TEXT as hex.
hexof() { od -An -v -tx1 | tr -d ' \n'; }
texthex() { printf '%s' "$1" | hexof; }
