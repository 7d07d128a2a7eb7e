#!/usr/bin/env bash
# 50-broker-rabbitmq.t - a bounded sample of the catalog against RabbitMQ
# 3.10 (Debian rabbitmq-server, PROXY on, conformance/targets/rabbitmq.yml):
# one scenario or two per family, on the four listeners, graded as in
# tests/brokers/expect/rabbitmq.txt (the full run is tests/brokers/rabbitmq.t,
# `make check-brokers`). About 30 s, most of it the node starting.
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

SERVER=${RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}
need_conform
[ -x "$SERVER" ] || skip_all "RabbitMQ not installed ($SERVER; Debian package rabbitmq-server)"
for p in epmd curl openssl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done

ONLY=pp1/tcp4/basic,pp1/unknown/short,pp1/tcp4/port-0,pp2/inet/basic,pp2/local/no-addresses
ONLY=$ONLY,mal/v2-version-3,transport/split-halves,missing/connect,record/sessions/v2-inet

read -r MQ MQS WS WSS MG AM DI EP <<<"$(free_ports 8)"
conform_run sample 55 RABBITMQ_MQTT_PORT="$MQ" RABBITMQ_MQTTS_PORT="$MQS" \
	RABBITMQ_WEB_MQTT_PORT="$WS" RABBITMQ_WEB_MQTTS_PORT="$WSS" RABBITMQ_MGMT_PORT="$MG" \
	RABBITMQ_NODE_PORT="$AM" RABBITMQ_DIST_PORT="$DI" ERL_EPMD_PORT="$EP" \
	RABBITMQ_MQTT_PROXY=enabled RABBITMQ_WEB_MQTT_PROXY=enabled \
	-- --target conformance/targets/rabbitmq.yml -j 4 --only "$ONLY"
check_run sample rabbitmq subset 1
check "every port closed after the run (node, epmd)" ports_closed "$MQ" "$MQS" "$WS" "$WSS" "$MG" "$AM" "$DI" "$EP"
check "nothing left in TMPDIR after the run" tmp_empty

done_testing
