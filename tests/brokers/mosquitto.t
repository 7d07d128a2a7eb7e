#!/usr/bin/env bash
# mosquitto.t - mosquitto (Debian 2.0: no PROXY protocol support) as a real
# target, through conformance/targets/launch/mosquitto.sh:
#   1. the launcher on its own: says that this mosquitto cannot read PROXY
#      headers, is ready, logs "New client connected from IP:PORT as ID",
#      refuses to reuse an existing run directory, cleans up on SIGTERM;
#   2. the catalog with the listeners graded as PROXY-enabled (what a load
#      balancer in front needs): the suite shows the missing support
#      (expect/mosquitto.txt) and finishes, without hanging;
#   3. the catalog with the listeners graded as PROXY-disabled
#      (expect/mosquitto-proxy-disabled.txt).
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

LAUNCH=$ROOT/conformance/targets/launch/mosquitto.sh
PROFILE=conformance/targets/mosquitto.yml
MOSQ=${MOSQUITTO:-$(PATH=$PATH:/usr/sbin command -v mosquitto)}

need_conform
if [ -z "$MOSQ" ] || [ ! -x "$MOSQ" ]; then
	skip_all "mosquitto not installed (Debian package mosquitto)"
fi
command -v mosquitto_passwd >/dev/null || skip_all "mosquitto_passwd not installed"
[ -x "$PROXYGEN" ] || skip_all "$PROXYGEN is not built (make bin/proxygen)"
VER=$("$MOSQ" -h 2>&1 | sed -n 's/^mosquitto version \([0-9][0-9.]*\).*/\1/p' | head -n1)
# The expectations are those of a mosquitto without PROXY support.
case "$VER" in
2.0.*) ;;
*) skip_all "the expectations are for mosquitto 2.0 (no PROXY support); this is '$VER'" ;;
esac

# ---- 1. the launcher alone --------------------------------------------------------

read -r MT MW <<<"$(free_ports 2)"
env TMPDIR="$T/tmp" MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=enabled \
	timeout -k 5 300 "$LAUNCH" run --env-file "$T/launcher.env" >"$T/launcher.out" 2>&1 &
LP=$!
PIDS+=("$LP")
wait_until -p "$LP" 20 file_ready "$T/launcher.env"
check "launcher: ready" grep -q '^mosquitto.sh: ready ' "$T/launcher.out"
check "launcher: says mosquitto $VER has no PROXY protocol support" \
	grep -q "WARNING: mosquitto $VER has no PROXY protocol support" "$T/launcher.out"
# shellcheck disable=SC1091
. "$T/launcher.env" 2>/dev/null
"$PROXYGEN" send --target "127.0.0.1:$MT" --no-header --bind 127.0.0.7 --client-id mosq-t-1 \
	--username ppmq --password ppmq-secret --timeout 3000 >"$T/send1.out" 2>&1
line=$(grep -o 'New client connected from [^ ]* as mosq-t-1 ' "${MOSQ_LOG:-/nonexistent}" 2>/dev/null)
case "$line" in
"New client connected from 127.0.0.7:"[0-9]*" as mosq-t-1 ") ok "launcher: the log has the connection line with the client's address" ;;
*) not_ok "launcher: the log has the connection line with the client's address"; diag "got: '$line'" ;;
esac
"$PROXYGEN" send --target "127.0.0.1:$MT" --v1 --src 203.0.113.70:4070 --client-id mosq-t-2 \
	--username ppmq --password ppmq-secret --timeout 3000 >"$T/send2.out" 2>&1
st=$?
is "$st $(grep -c 'as mosq-t-2 ' "${MOSQ_LOG:-/nonexistent}" 2>/dev/null)" "1 0" \
	"no PROXY support: a v1 header before CONNECT is a protocol error, no session"
kill -TERM "$LP"
wait "$LP"
check "launcher: its directory is removed on SIGTERM" tmp_empty
check "launcher: its ports are closed" ports_closed "$MT" "$MW"

mkdir "$T/tmp/taken"
env TMPDIR="$T/tmp" MOSQ_DIR="$T/tmp/taken" timeout 30 "$LAUNCH" run >"$T/taken.out" 2>&1
st=$?
is "$st $(find "$T/tmp/taken" -mindepth 1 | wc -l)" "1 0" "launcher: refuses an existing MOSQ_DIR and leaves it alone"
rmdir "$T/tmp/taken"

# ---- 2. the catalog, listeners graded as PROXY-enabled ------------------------------

read -r MT MW <<<"$(free_ports 2)"
conform_run preflight 120 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=enabled \
	-- --target "$PROFILE" -j 4 --only pp1/tcp4/basic
is "$RUN_RC" 3 "graded as PROXY-enabled: the pre-flight stops the run (exit 3)"
check "pre-flight: tcp takes no PROXY header (one diagnosis instead of a matrix of failures)" \
	grep -q '^Bail out! pre-flight: listener tcp .* takes no PROXY header, but the profile says PROXY enabled' "$T/preflight.tap"
read -r MT MW <<<"$(free_ports 2)"
conform_run on 600 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=enabled \
	-- --target "$PROFILE" -j 4 --no-preflight
check_run on mosquitto full 1
is "$(result_of on pp1/tcp4/basic tcp grade) $(result_of on pp2/inet/basic tcp grade)" "FAIL FAIL" \
	"no PROXY support: valid v1 and v2 headers are not read"
is "$(result_of on missing/connect tcp grade)" FAIL "no PROXY support: a client without a header is served"
is "$(result_of on mal/v2-version-3 tcp grade)" PASS "a malformed header is refused (as any non-MQTT bytes)"
is "$(result_of on pp1/tcp4/basic ws grade) $(result_of on record/sessions/v1-tcp4 ws grade)" "FAIL FAIL" \
	"ws (libwebsockets): a v1 line before the upgrade is skipped and the proxy's address recorded: the address check fails both"
check "every port closed after the run" ports_closed "$MT" "$MW"
check "nothing left in TMPDIR after the run" tmp_empty

# ---- 3. the catalog, listeners graded as PROXY-disabled -----------------------------

read -r MT MW <<<"$(free_ports 2)"
conform_run off 300 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=disabled \
	-- --target "$PROFILE" -j 4
check_run off mosquitto-proxy-disabled full 1
is "$(result_of off disabled/plain tcp grade) $(result_of off disabled/v1-header tcp grade) $(result_of off disabled/v1-header ws grade)" \
	"PASS PASS FAIL" "PROXY off: plain clients served; a v1 header refused on tcp, swallowed on ws"
check "every port closed after the run" ports_closed "$MT" "$MW"
check "nothing left in TMPDIR after the run" tmp_empty

done_testing
