#!/usr/bin/env bash
# 50-broker-mosquitto.t - a bounded sample of the catalog against mosquitto
# 2.0 (Debian, no PROXY support; conformance/targets/mosquitto.yml): with
# the listeners graded as PROXY-enabled the suite shows the missing support
# and finishes; graded as PROXY-disabled the plain scenarios pass.
# Expectations: tests/brokers/expect/mosquitto*.txt (full runs:
# tests/brokers/mosquitto.t).
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

MOSQ=${MOSQUITTO:-$(PATH=$PATH:/usr/sbin command -v mosquitto)}
need_conform
if [ -z "$MOSQ" ] || [ ! -x "$MOSQ" ]; then
	skip_all "mosquitto not installed (Debian package mosquitto)"
fi
command -v mosquitto_passwd >/dev/null || skip_all "mosquitto_passwd not installed"
case "$("$MOSQ" -h 2>&1 | sed -n 's/^mosquitto version \([0-9][0-9.]*\).*/\1/p')" in
2.0.*) ;;
*) skip_all "the expectations are for mosquitto 2.0 (no PROXY support)" ;;
esac

read -r MT MW <<<"$(free_ports 2)"
conform_run preflight 50 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=enabled \
	-- --target conformance/targets/mosquitto.yml -j 4 --only pp1/tcp4/basic
is "$RUN_RC" 3 "graded as PROXY-enabled: the pre-flight stops the run (exit 3)"
check "pre-flight: tcp takes no PROXY header (one diagnosis)" \
	grep -q '^Bail out! pre-flight: listener tcp .* takes no PROXY header, but the profile says PROXY enabled' "$T/preflight.tap"
check "every port closed after the run" ports_closed "$MT" "$MW"

read -r MT MW <<<"$(free_ports 2)"
conform_run on 50 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=enabled \
	-- --target conformance/targets/mosquitto.yml -j 4 --no-preflight \
	--only 'pp1/tcp4/basic,pp2/inet/basic,missing/connect,mal/v2-version-3,mal/v1-lf-only,record/sessions/v1-tcp4,transport/stall-inside-header-v2'
check_run on mosquitto subset 1
check "every port closed after the run" ports_closed "$MT" "$MW"

read -r MT MW <<<"$(free_ports 2)"
conform_run off 50 MOSQ_TCP_PORT="$MT" MOSQ_WS_PORT="$MW" MOSQ_PROXY=disabled \
	-- --target conformance/targets/mosquitto.yml -j 4 --only 'disabled/*,record/sessions/disabled-listener'
check_run off mosquitto-proxy-disabled subset 1
check "every port closed after the run" ports_closed "$MT" "$MW"
check "nothing left in TMPDIR after the runs" tmp_empty

done_testing
