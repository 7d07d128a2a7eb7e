#!/usr/bin/env bash
# tbmq.sh - run TBMQ for ppmq-conform with Docker Compose, the way TBMQ's
# own single-node deployment does (tbmq/docker-compose.yml beside this
# script says what was taken from where): PostgreSQL, Kafka and Valkey
# started once and left running, the tbmq service (re)created for each
# start with the PROXY settings of the environment.
#
#   tbmq.sh [run]      start the dependencies (if they are not up), create the
#                      tbmq service afresh, wait until its REST API answers,
#                      create the MQTT credentials through it, print one line
#                      "tbmq.sh: ready ...", then stay in the foreground while
#                      the container runs, its log on stdout; SIGTERM stops
#                      the tbmq service only
#   tbmq.sh stop       stop the tbmq service only (the profile's launch.stop:
#                      TBMQ shuts down in order, within 30 s)
#   tbmq.sh pull       pull the four images first (the first run then waits
#                      only for TBMQ's own installation)
#   tbmq.sh down [-v]  remove the services (-v: and their volumes: TBMQ's
#                      database is installed again on the next run)
#   tbmq.sh --help
#
# Environment:
#   TBMQ_VERSION        image tag of thingsboard/tbmq (default 2.3.0)
#   TBMQ_TCP_PORT, TBMQ_SSL_PORT, TBMQ_WS_PORT, TBMQ_WSS_PORT, TBMQ_HTTP_PORT
#                       the ports TBMQ binds on 127.0.0.1 (defaults 1883, 8883,
#                       8084, 8085, 8083: TBMQ's own)
#   TBMQ_PG_PORT, TBMQ_KAFKA_PORT, TBMQ_VALKEY_PORT
#                       where PostgreSQL, Kafka and Valkey are published on
#                       127.0.0.1 (15432, 19092, 16379: not their usual ports,
#                       which a local service may hold)
#   TBMQ_CERT_DIR       a directory with server.pem and server.key: the ssl
#                       and wss listeners are enabled with them; unset or empty:
#                       those two stay off (TBMQ's default)
#   MQTT_PROXY_PROTOCOL_ENABLED, MQTT_TCP_PROXY_PROTOCOL_ENABLED,
#   MQTT_SSL_PROXY_PROTOCOL_ENABLED, MQTT_WS_PROXY_PROTOCOL_ENABLED,
#   MQTT_WSS_PROXY_PROTOCOL_ENABLED
#                       passed to TBMQ exactly when set (unset stays unset:
#                       a listener then inherits the global switch)
#   TBMQ_ADMIN_USER, TBMQ_ADMIN_PASSWORD   the REST API's system administrator
#                       (TBMQ's installation: sysadmin@thingsboard.org / sysadmin)
#   TBMQ_MQTT_USER, TBMQ_MQTT_PASSWORD     the MQTT basic credentials created at
#                       start (default ppmq / ppmq-secret)
#   TBMQ_READY_TIMEOUT  seconds to wait for the REST API (default 540: the
#                       first start installs the database)
#
# Needs docker with the compose plugin, curl and python3. Not run where ppmq
# is developed (no Docker there): what it does was read in TBMQ's sources
# (paths in the comments), not run.
set -u

ME=tbmq.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=conformance/targets/launch/common.sh
. "$HERE/common.sh"

PROXY_VARS=(MQTT_PROXY_PROTOCOL_ENABLED MQTT_TCP_PROXY_PROTOCOL_ENABLED MQTT_SSL_PROXY_PROTOCOL_ENABLED
	MQTT_WS_PROXY_PROTOCOL_ENABLED MQTT_WSS_PROXY_PROTOCOL_ENABLED)

compose() { docker compose -f "$HERE/tbmq/docker-compose.yml" "$@"; }

need() {
	docker compose version >/dev/null 2>&1 || die "docker with the compose plugin is needed" 4
	command -v curl >/dev/null || die "curl not found" 4
	command -v python3 >/dev/null || die "python3 not found" 4
}

DIR=""
# The environment of the tbmq service, for this start. Variable names:
# thingsboard-mqtt-broker.yml. SECURITY_MQTT_BASIC_ENABLED, still in
# TBMQ's compose files, is read by nothing any more: MQTT basic
# authentication is a provider kept in the database, enabled by the
# installation (DefaultSystemDataLoaderService.createMqttAuthProviders).
write_env() {
	local f=$DIR/tbmq.env v ssl=false
	[ -n "${TBMQ_CERT_DIR:-}" ] && ssl=true
	{
		echo "TB_SERVICE_ID=tbmq"
		echo "SPRING_DATASOURCE_URL=jdbc:postgresql://127.0.0.1:$TBMQ_PG_PORT/thingsboard_mqtt_broker"
		echo "SPRING_DATASOURCE_USERNAME=postgres"
		echo "SPRING_DATASOURCE_PASSWORD=postgres"
		echo "TB_KAFKA_SERVERS=127.0.0.1:$TBMQ_KAFKA_PORT"
		echo "REDIS_HOST=127.0.0.1"
		echo "REDIS_PORT=$TBMQ_VALKEY_PORT"
		echo "HTTP_BIND_ADDRESS=127.0.0.1"
		echo "HTTP_BIND_PORT=$TBMQ_HTTP_PORT"
		echo "LISTENER_TCP_BIND_ADDRESS=127.0.0.1"
		echo "LISTENER_TCP_BIND_PORT=$TBMQ_TCP_PORT"
		echo "LISTENER_WS_BIND_ADDRESS=127.0.0.1"
		echo "LISTENER_WS_BIND_PORT=$TBMQ_WS_PORT"
		echo "LISTENER_SSL_ENABLED=$ssl"
		echo "LISTENER_WSS_ENABLED=$ssl"
		if [ "$ssl" = true ]; then
			# PEM credentials (listener.ssl.config.credentials.pem); the
			# key is not encrypted, so no key password applies.
			for l in SSL WSS; do
				echo "LISTENER_${l}_BIND_ADDRESS=127.0.0.1"
				echo "LISTENER_${l}_CREDENTIALS_TYPE=PEM"
				echo "LISTENER_${l}_PEM_CERT=/config/ppmq-certs/server.pem"
				echo "LISTENER_${l}_PEM_KEY=/config/ppmq-certs/server.key"
				echo "LISTENER_${l}_PEM_KEY_PASSWORD="
			done
			echo "LISTENER_SSL_BIND_PORT=$TBMQ_SSL_PORT"
			echo "LISTENER_WSS_BIND_PORT=$TBMQ_WSS_PORT"
		fi
		for v in "${PROXY_VARS[@]}"; do
			[ -n "${!v+set}" ] && echo "$v=${!v}"
		done
	} >"$f"
	export TBMQ_ENV_FILE=$f
}

# The certificates, readable by the image's own user (it does not run as
# ours): a copy in the run's directory.
mount_certs() {
	mkdir -p "$DIR/certs"
	if [ -n "${TBMQ_CERT_DIR:-}" ]; then
		cp "$TBMQ_CERT_DIR/server.pem" "$TBMQ_CERT_DIR/server.key" "$DIR/certs/" ||
			die "TBMQ_CERT_DIR=$TBMQ_CERT_DIR has no server.pem and server.key" 2
		chmod 644 "$DIR/certs/"*
	fi
	chmod 755 "$DIR" "$DIR/certs"
	export TBMQ_CERTS_MOUNT=$DIR/certs
}

api() { printf 'http://127.0.0.1:%s%s' "$TBMQ_HTTP_PORT" "$1"; }

# login: a JWT for the system administrator on stdout (POST /api/auth/login,
# RestLoginProcessingFilter; the answer's "token", RestAwareAuthenticationSuccessHandler).
login() {
	python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
		"$TBMQ_ADMIN_USER" "$TBMQ_ADMIN_PASSWORD" |
		curl -fsS -m 5 -H 'Content-Type: application/json' --data-binary @- "$(api /api/auth/login)" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' 2>/dev/null
}

# The MQTT client credentials of the profile, MQTT_BASIC with every topic
# allowed (POST /api/mqtt/client/credentials, MqttClientCredentialsController;
# credentialsValue is BasicMqttCredentials as JSON text). Already there
# (a persistent database): TBMQ answers "already registered", which is fine.
create_credentials() {
	local jwt=$1 body answer
	body=$(python3 -c 'import json, sys
value = {"clientId": None, "userName": sys.argv[1], "password": sys.argv[2],
         "authRules": {"pubAuthRulePatterns": [".*"], "subAuthRulePatterns": [".*"]}}
print(json.dumps({"name": "ppmq-" + sys.argv[1], "clientType": "DEVICE",
                  "credentialsType": "MQTT_BASIC", "credentialsValue": json.dumps(value)}))' \
		"$TBMQ_MQTT_USER" "$TBMQ_MQTT_PASSWORD")
	answer=$(curl -sS -m 10 -H 'Content-Type: application/json' -H "X-Authorization: Bearer $jwt" \
		--data-binary "$body" -w '\n%{http_code}' "$(api /api/mqtt/client/credentials)" 2>&1)
	case "${answer##*$'\n'}" in
	200) say "MQTT credentials for '$TBMQ_MQTT_USER' created" ;;
	*) grep -q 'already registered' <<<"$answer" ||
		die "could not create the MQTT credentials: ${answer//$'\n'/ }" 1 ;;
	esac
}

# until the REST API logs us in (the first start installs the database)
wait_ready() {
	local deadline=$((SECONDS + ${TBMQ_READY_TIMEOUT:-540}))
	JWT=""
	while [ $SECONDS -lt $deadline ]; do
		[ -n "$(compose ps -q --status running tbmq)" ] || die "the tbmq container stopped while starting" 1
		JWT=$(login) && [ -n "$JWT" ] && return 0
		sleep 2
	done
	die "TBMQ's REST API did not log us in within ${TBMQ_READY_TIMEOUT:-540}s" 1
}

STOPPING=""
cleanup() {
	[ -n "$STOPPING" ] && return
	STOPPING=1
	trap '' TERM INT HUP
	# the broker only: the dependencies and the volumes stay for the next start
	compose stop -t 30 tbmq >/dev/null 2>&1
	[ -n "${LOGS_PID:-}" ] && kill -TERM "$LOGS_PID" 2>/dev/null
	[ -n "$DIR" ] && rm -rf "$DIR"
}

cmd_run() {
	local cid
	need
	: "${TBMQ_TCP_PORT:=1883}" "${TBMQ_SSL_PORT:=8883}" "${TBMQ_WS_PORT:=8084}" "${TBMQ_WSS_PORT:=8085}"
	: "${TBMQ_HTTP_PORT:=8083}" "${TBMQ_PG_PORT:=15432}" "${TBMQ_KAFKA_PORT:=19092}" "${TBMQ_VALKEY_PORT:=16379}"
	: "${TBMQ_ADMIN_USER:=sysadmin@thingsboard.org}" "${TBMQ_ADMIN_PASSWORD:=sysadmin}"
	: "${TBMQ_MQTT_USER:=ppmq}" "${TBMQ_MQTT_PASSWORD:=ppmq-secret}"
	export TBMQ_PG_PORT TBMQ_KAFKA_PORT TBMQ_VALKEY_PORT
	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-tbmq.XXXXXX") || die "mktemp failed"
	write_env
	mount_certs
	compose up -d --wait postgres kafka valkey || die "the dependencies did not start" 1
	compose up -d --no-deps --force-recreate tbmq || die "the tbmq service did not start" 1
	wait_ready
	create_credentials "$JWT"
	say "ready: tcp $TBMQ_TCP_PORT, ws $TBMQ_WS_PORT$([ -n "${TBMQ_CERT_DIR:-}" ] &&
		echo ", ssl $TBMQ_SSL_PORT, wss $TBMQ_WSS_PORT"), REST API $TBMQ_HTTP_PORT"
	compose logs -f --no-log-prefix --since 1s tbmq &
	LOGS_PID=$!
	cid=$(compose ps -q tbmq)
	# in the foreground while the container lives: its end is the target's
	docker wait "$cid" >/dev/null
	die "the tbmq container ended" 1
}

# The commands other than run use no per-start file: placeholders for
# the compose file's required variables.
idle_env() { export TBMQ_ENV_FILE=/dev/null TBMQ_CERTS_MOUNT=$HERE/tbmq; }

case "${1:-run}" in
run) shift $(($# > 0 ? 1 : 0)); cmd_run "$@" ;;
stop) need; idle_env; compose stop -t 30 tbmq ;;
pull) need; idle_env; compose pull ;;
down) need; idle_env; if [ "${2:-}" = -v ]; then compose down -v; else compose down; fi ;;
-h | --help) usage ;;
*) die "unknown command '$1' (try --help)" 2 ;;
esac
