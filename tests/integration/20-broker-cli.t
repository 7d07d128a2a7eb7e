#!/usr/bin/env bash
# 20-broker-cli.t - ppmq-broker's command line, start-up and shutdown:
# --help / --version / usage errors (exit 2), configuration errors naming
# file, line and key (exit 2), a port already in use naming the listener,
# address and port (exit 1), the start-up lines (each listener with its
# PROXY state and where that came from, then "ready"), and a clean exit 0
# on SIGTERM and SIGINT with sessions open.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
plan 23

out=$("$BROKER" --help 2>&1)
is "$?" 0 "--help: exit 0"
grep -q -- '--fault' <<<"$out" && grep -q 'header-inside-tls' <<<"$out"
check "--help documents the test-only faults" [ $? -eq 0 ]
out=$("$BROKER" --version 2>&1)
check "--version prints the version" grep -q '^ppmq-broker [0-9]' <<<"$out"
"$BROKER" --no-such-option >/dev/null 2>&1
is "$?" 2 "unknown option: exit 2"
"$BROKER" extra-argument >/dev/null 2>&1
is "$?" 2 "stray argument: exit 2"
"$BROKER" --log-level loud >/dev/null 2>&1
is "$?" 2 "bad --log-level: exit 2"

printf 'listener:\n  tcp:\n    bind_port: 70000\n' >"$T/bad-port.yml"
out=$("$BROKER" -c "$T/bad-port.yml" 2>&1)
is "$?" 2 "bad value in the file: exit 2"
check "bad value: message names file, line and key" \
	grep -q "bad-port.yml:3:.*listener.tcp.bind_port" <<<"$out"
"$BROKER" -c "$T/missing.yml" >/dev/null 2>&1
is "$?" 2 "missing configuration file: exit 2"
out=$(LISTENER_TCP_BIND_PORT=notaport "$BROKER" 2>&1)
is "$?" 2 "bad value from the environment: exit 2"
check "bad env value: message names the variable" grep -q "LISTENER_TCP_BIND_PORT" <<<"$out"

out=$(MQTT_PROXY_PROTOCOL_ENABLED=true "$BROKER" --print-config 2>&1)
is "$?" 0 "--print-config: exit 0"
check "--print-config shows the inherited value and its origin" \
	grep -q '^listener.tcp.proxy_enabled = true .*inherited from listener.proxy_enabled' <<<"$out"

# A port already taken: exit 1, naming listener, address, port and why.
read -r busy <<<"$(free_ports 1)"
# The holder keeps the port (its sleep is the behaviour: a port in use)
# until it is killed below.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$busy" &
holder=$!
PIDS+=("$holder")
wait_listening "$holder" "$busy" || diag "the port holder is not listening on $busy"
read -r p1 p2 <<<"$(free_ports 2)"
out=$(timeout 10 env LISTENER_TCP_BIND_ADDRESS=127.0.0.1 LISTENER_TCP_BIND_PORT="$busy" \
	LISTENER_WS_BIND_ADDRESS=127.0.0.1 LISTENER_WS_BIND_PORT="$p1" ADMIN_BIND_PORT="$p2" \
	"$BROKER" 2>&1)
is "$?" 1 "port in use: exit 1"
check "port in use: message names listener, address, port and reason" \
	grep -q "tcp listener on 127.0.0.1 port $busy: .*[Aa]ddress already in use" <<<"$out"
check "port in use: no ready line" test -z "$(grep " ready:" <<<"$out")"
stop_pid "$holder"

# Start-up lines, then a clean SIGTERM with sessions open.
# The header timeout (default 3 s) must not close the stalled connection
# below before the broker is stopped, however slowly the clients start.
start_broker cli MQTT_PROXY_PROTOCOL_ENABLED=true MQTT_WS_PROXY_PROTOCOL_ENABLED=false \
	MQTT_PROXY_PROTOCOL_TIMEOUT=60s || exit 1
check "start-up: tcp listener with proxy on and its origin" \
	grep -q "tcp: listening on 127.0.0.1:$B_TCP, proxy on.*inherited from listener.proxy_enabled (env MQTT_PROXY_PROTOCOL_ENABLED)" "$B_LOG"
check "start-up: ws listener with proxy off from its own variable" \
	grep -q "ws: listening on 127.0.0.1:$B_WS path /mqtt, proxy off.*env MQTT_WS_PROXY_PROTOCOL_ENABLED" "$B_LOG"
check "ready line lists the bound ports" \
	grep -q "ready: tcp=127.0.0.1:$B_TCP ws=127.0.0.1:$B_WS admin=127.0.0.1:$B_ADMIN" "$B_LOG"
# one open session and one connection stalled inside a header (both stay
# for 8 s: their --hold and --stall are the behaviour), and SIGTERM once
# the broker has them: the session connected, 2 connections open.
timeout 10 "$PY" "$PROBE" --port "$B_WS" --transport ws --client-id held --hold 8 \
	--timeout 9 >/dev/null 2>&1 &
PIDS+=("$!")
timeout 10 "$PY" "$PROBE" --port "$B_TCP" --pre-hex 50524f5859 --stall 8 --timeout 9 \
	>/dev/null 2>&1 &
PIDS+=("$!")
if ! wait_session held || ! wait_metric_sum ppmq_connections_current 2; then
	diag "before SIGTERM: session 'held' connected: $(session_field held connected)," \
		"connections open: $(metric_sum ppmq_connections_current)"
fi
stop_broker
is "$?" 0 "SIGTERM with connections open: exit 0"
check "shutdown logged" grep -q 'shutting down (SIGTERM), 2 connections open' "$B_LOG"

start_broker cli-int || exit 1
kill -INT "$B_PID"
wait_exit "$B_PID" 20
is "$?" 0 "SIGINT: exit 0"

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
