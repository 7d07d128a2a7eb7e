#!/usr/bin/env bash
# 50-broker-netty.t - a bounded sample of the catalog against Netty's PROXY
# decoder (HAProxyMessageDecoder of Debian's libnetty-java, through
# conformance/targets/netty.yml): the decoder as it is, and with TBMQ's
# rules after it (LOCAL, UNKNOWN and port 0 closed); graded as in
# tests/brokers/expect/netty*.txt (the full runs: tests/brokers/netty.t).
# Skips when java, javac or the Netty jars are missing.
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

LAUNCH=$ROOT/conformance/targets/launch/netty/netty.sh
need_conform
why=$("$LAUNCH" check 2>&1) || skip_all "${why#netty.sh: }"
certs_init || skip_all "no test certificates (scripts/gen-certs): $(tail -1 "$T/gen-certs.log")"
# Compiled once (or found compiled): the runs below then start a JVM only.
timeout 300 "$LAUNCH" build >"$T/build.out" 2>&1 || bail "netty.sh build failed: $(tail -3 "$T/build.out")"

ports() {
	read -r NT NS NW NWS NA <<<"$(free_ports 5)"
	PORTS=("NETTY_TCP_PORT=$NT" "NETTY_SSL_PORT=$NS" "NETTY_WS_PORT=$NW" "NETTY_WSS_PORT=$NWS"
		"NETTY_ADMIN_PORT=$NA" "NETTY_CERT_DIR=$CERTS")
}

ports
conform_run record 60 "${PORTS[@]}" NETTY_ADDRESS_RULES=record -- --target conformance/targets/netty.yml -j 4 \
	--only 'pp1/tcp4/basic,pp1/tcp4/port-0,pp1/unknown/short,pp2/inet/basic,pp2/local/no-addresses,mal/v1-trailing-space,mal/v1-port-plus-sign,mal/v2-version-3,mal/v2-tlv-value-cut,record/sessions/v2-inet6,record/unauthorized/v1-tcp4,missing/http-get'
check_run record netty subset 1
check "every port closed after the run" ports_closed "$NT" "$NS" "$NW" "$NWS" "$NA"

ports
conform_run tbmq 60 "${PORTS[@]}" NETTY_ADDRESS_RULES=tbmq -- --target conformance/targets/netty.yml -j 4 \
	--listener tcp,ws --only 'pp1/tcp4/basic,pp1/unknown/short,pp2/local/no-addresses,pp2/inet/port-0,record/sessions/v2-inet'
check_run tbmq netty-tbmq-rules subset 1
check "every port closed after the run" ports_closed "$NT" "$NS" "$NW" "$NWS" "$NA"
check "nothing left in TMPDIR after the runs" tmp_empty

done_testing
