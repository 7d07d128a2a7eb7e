#!/usr/bin/env bash
# emqx.sh - run EMQX 5 in Docker for ppmq-conform: its four default
# listeners on 127.0.0.1 with the PROXY protocol as the environment says, a
# password authenticator with one user (so wrong credentials are refused),
# and an API key for the REST API.
#
#   emqx.sh [run]      write the user and API-key files, then run the container
#                      in the foreground (its console on stdout) until it ends
#   emqx.sh stop       stop it (the profile's launch.stop; docker stop -t 20)
#   emqx.sh --help
#
# Environment:
#   EMQX_IMAGE          default emqx/emqx:5.8.6
#   EMQX_TCP_PORT, EMQX_SSL_PORT, EMQX_WS_PORT, EMQX_WSS_PORT, EMQX_API_PORT
#                       the ports it binds on 127.0.0.1 (EMQX's own defaults:
#                       1883, 8883, 8083, 8084, and 18083 for the dashboard
#                       listener that serves the REST API)
#   EMQX_LISTENERS__<L>__DEFAULT__PROXY_PROTOCOL, L = TCP, SSL, WS, WSS
#                       passed to EMQX exactly when set (EMQX's default: false)
#   PPMQ_CERT_DIR       ca.pem, server.pem, server.key for ssl and wss
#   EMQX_MQTT_USER, EMQX_MQTT_PASSWORD   the one MQTT user (ppmq / ppmq-secret)
#   EMQX_API_KEY, EMQX_API_SECRET        the REST API key (ppmq / ppmq-api-secret)
#
# Facts from emqx/emqx (commit 50e0438): the variables are the configuration
# paths (EMQX_ + path, "__" between parts); listeners.<type>.default with
# bind, proxy_protocol, proxy_protocol_timeout (apps/emqx/src/emqx_schema.erl,
# emqx_listeners.erl), ssl_options certfile / keyfile / cacertfile; the
# built-in database authenticator seeded from a plain CSV "user_id,password,
# is_superuser" (apps/emqx_auth_mnesia: bootstrap_file, bootstrap_type);
# api_key.bootstrap_file "key:secret:role" lines (emqx_mgmt_api_key_schema).
# Not run here (no Docker): as read, not as run.
set -u

ME=emqx.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=conformance/targets/launch/common.sh
. "$HERE/common.sh"

NAME=ppmq-emqx
DIR=""

cmd_run() {
	local l args=()
	command -v docker >/dev/null || die "docker is needed" 4
	: "${EMQX_TCP_PORT:=1883}" "${EMQX_SSL_PORT:=8883}" "${EMQX_WS_PORT:=8083}" "${EMQX_WSS_PORT:=8084}"
	: "${EMQX_API_PORT:=18083}" "${PPMQ_CERT_DIR:?the test certificates}"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-emqx.XXXXXX") || die "mktemp failed"
	trap 'rm -rf "$DIR"' EXIT
	cp "$PPMQ_CERT_DIR/ca.pem" "$PPMQ_CERT_DIR/server.pem" "$PPMQ_CERT_DIR/server.key" "$DIR/" ||
		die "no ca.pem, server.pem, server.key in $PPMQ_CERT_DIR" 2
	printf 'user_id,password,is_superuser\n%s,%s,false\n' "${EMQX_MQTT_USER:-ppmq}" \
		"${EMQX_MQTT_PASSWORD:-ppmq-secret}" >"$DIR/users.csv"
	printf '%s:%s:administrator\n' "${EMQX_API_KEY:-ppmq}" "${EMQX_API_SECRET:-ppmq-api-secret}" >"$DIR/api-keys"
	chmod 755 "$DIR"
	chmod 644 "$DIR"/*
	# host network: EMQX sees the runner's own address as the socket peer
	args=(--rm --name "$NAME" --network host -v "$DIR:/opt/ppmq:ro"
		-e EMQX_NODE__NAME=emqx@127.0.0.1
		-e "EMQX_DASHBOARD__LISTENERS__HTTP__BIND=127.0.0.1:$EMQX_API_PORT"
		-e EMQX_API_KEY__BOOTSTRAP_FILE=/opt/ppmq/api-keys
		-e 'EMQX_AUTHENTICATION=[{mechanism = password_based, backend = built_in_database, user_id_type = username, bootstrap_file = "/opt/ppmq/users.csv", bootstrap_type = plain}]')
	for l in TCP SSL WS WSS; do
		local port_var="EMQX_${l}_PORT"
		args+=(-e "EMQX_LISTENERS__${l}__DEFAULT__BIND=127.0.0.1:${!port_var}"
			-e "EMQX_LISTENERS__${l}__DEFAULT__PROXY_PROTOCOL")
	done
	for l in SSL WSS; do
		args+=(-e "EMQX_LISTENERS__${l}__DEFAULT__SSL_OPTIONS__CERTFILE=/opt/ppmq/server.pem"
			-e "EMQX_LISTENERS__${l}__DEFAULT__SSL_OPTIONS__KEYFILE=/opt/ppmq/server.key"
			-e "EMQX_LISTENERS__${l}__DEFAULT__SSL_OPTIONS__CACERTFILE=/opt/ppmq/ca.pem")
	done
	# "-e NAME" passes NAME only when it is set: unset stays EMQX's default.
	docker run "${args[@]}" "${EMQX_IMAGE:-emqx/emqx:5.8.6}"
}

case "${1:-run}" in
run) cmd_run ;;
stop) docker stop -t 20 "$NAME" >/dev/null 2>&1; exit 0 ;;
-h | --help) usage ;;
*) die "unknown command '$1' (try --help)" 2 ;;
esac
