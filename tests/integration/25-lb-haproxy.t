#!/usr/bin/env bash
# 25-lb-haproxy.t - HAProxy 2.6 (tcp mode) in front of ppmq-broker, for
# real, on loopback. The client is `proxygen send --bind 127.0.0.7
# --no-header` (HAProxy writes the header); HAProxy listens on 127.0.0.1
# and connects to the broker from 127.0.0.1. For every case the broker's
# session must show clientIp 127.0.0.7 (the client), peerIp 127.0.0.1
# (HAProxy) and the PROXY version HAProxy sends:
#   send-proxy (v1) to tcp and ws; send-proxy-v2 to tcp, ws, ssl and wss
#   (TLS passed through, end to end); TLS terminated on HAProxy with
#   send-proxy-v2-ssl-cn / send-proxy-v2-ssl to the plain tcp listener (the
#   SSL TLV, and the CN of a client certificate);
#   health checks with send-proxy-v2 (LOCAL) and send-proxy: the servers stay
#   UP and the broker counts no rejection; an MQTT-level check with the
#   same header towards a PROXY-disabled listener goes DOWN;
#   failed authentication: the unauthorized-clients record has the client's
#   address, not HAProxy's;
#   mosquitto_sub / mosquitto_pub through HAProxy: a message goes through;
#   negative controls: no header to a PROXY listener, and HAProxy's v1 / v2
#   header to a PROXY-disabled listener, reject the client.
# The configuration is the one in docs/behind-a-load-balancer-examples.md.
source "$(dirname "$0")/lb-lib.bash"

HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
need_ppmq
[ -x "$HAPROXY" ] || skip_all "haproxy not installed ($HAPROXY)"
"$HAPROXY" -v 2>/dev/null | grep -q '^HAProxy version 2\.' ||
	skip_all "haproxy 2.x needed ($("$HAPROXY" -v 2>&1 | head -1))"
certs_init || skip_all "cannot make test certificates: $(cat "$T/gen-certs.log")"
HAVE_MOSQ=1
command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null || HAVE_MOSQ=0

plan 44

CREDS=(--username alice --password secret)
TLSOPT=(--ca "$CERTS/ca.pem" --sni localhost)

# P: PROXY on every listener, authentication required. N: PROXY off.
start_broker P MQTT_PROXY_PROTOCOL_ENABLED=true SECURITY_ALLOW_ANONYMOUS=false \
	SECURITY_USERS=alice:secret || bail "broker P did not start"
start_broker N MQTT_PROXY_PROTOCOL_ENABLED=false SECURITY_ALLOW_ANONYMOUS=false \
	SECURITY_USERS=alice:secret || bail "broker N did not start"

read -r HAP_V1_TCP HAP_V1_WS HAP_V2_TCP HAP_V2_WS HAP_V2_SSL HAP_V2_WSS HAP_TERM_CN \
	HAP_TERM_SSL HAP_NOHDR HAP_OFF_V1 HAP_OFF_V2 HAP_OFF_V2_WS <<<"$(free_ports 12)"
cat "$CERTS/server.pem" "$CERTS/server.key" >"$T/haproxy.pem"
HAPROXY_PEM=$T/haproxy.pem
export T CERTS HAPROXY_PEM P_TCP P_SSL P_WS P_WSS N_TCP N_WS HAP_V1_TCP HAP_V1_WS \
	HAP_V2_TCP HAP_V2_WS HAP_V2_SSL HAP_V2_WSS HAP_TERM_CN HAP_TERM_SSL HAP_NOHDR \
	HAP_OFF_V1 HAP_OFF_V2 HAP_OFF_V2_WS

cat >"$T/haproxy.cfg.tpl" <<'EOF'
global
    stats socket ${T}/haproxy.sock mode 600 level user
    log stdout format raw local0

defaults
    mode tcp
    log global
    log-format "%ci:%cp -> %ft -> %b/%s %ts %B/%U"
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s

# v1 header to the tcp and ws listeners
listen v1_tcp
    bind 127.0.0.1:${HAP_V1_TCP}
    server broker 127.0.0.1:${P_TCP} send-proxy
listen v1_ws
    bind 127.0.0.1:${HAP_V1_WS}
    server broker 127.0.0.1:${P_WS} send-proxy

# v2 header to every listener; ssl and wss are TLS passthrough: the header
# goes first, then the client's own TLS handshake with the broker
listen v2_tcp
    bind 127.0.0.1:${HAP_V2_TCP}
    server broker 127.0.0.1:${P_TCP} send-proxy-v2
listen v2_ws
    bind 127.0.0.1:${HAP_V2_WS}
    server broker 127.0.0.1:${P_WS} send-proxy-v2
listen v2_ssl
    bind 127.0.0.1:${HAP_V2_SSL}
    server broker 127.0.0.1:${P_SSL} send-proxy-v2
listen v2_wss
    bind 127.0.0.1:${HAP_V2_WSS}
    server broker 127.0.0.1:${P_WSS} send-proxy-v2

# TLS terminated on HAProxy, plain MQTT to the tcp listener; the v2 header
# carries the SSL TLV (and the client certificate's CN)
listen term_cn
    bind 127.0.0.1:${HAP_TERM_CN} ssl crt ${HAPROXY_PEM} verify optional ca-file ${CERTS}/ca.pem
    server broker 127.0.0.1:${P_TCP} send-proxy-v2-ssl-cn
listen term_ssl
    bind 127.0.0.1:${HAP_TERM_SSL} ssl crt ${HAPROXY_PEM}
    server broker 127.0.0.1:${P_TCP} send-proxy-v2-ssl

# health checks: HAProxy sends a v2 LOCAL header (send-proxy-v2) or a v1
# header naming the check's own connection (send-proxy); fall 1: a single
# failed check marks the server DOWN
backend hc_v2_l4
    server broker 127.0.0.1:${P_TCP} send-proxy-v2 check inter 500 fall 1
# the same, and an MQTT CONNECT that must be answered by CONNACK 0
# (client id hc-v2, user alice, password secret)
backend hc_v2_mqtt
    option tcp-check
    tcp-check connect default
    tcp-check send-binary 102000044d51545404c2003c000568632d76320005616c6963650006736563726574
    tcp-check expect binary 20020000
    server broker 127.0.0.1:${P_TCP} send-proxy-v2 check inter 500 fall 1
backend hc_v1_mqtt
    option tcp-check
    tcp-check connect default
    tcp-check send-binary 102000044d51545404c2003c000568632d76310005616c6963650006736563726574
    tcp-check expect binary 20020000
    server broker 127.0.0.1:${P_TCP} send-proxy check inter 500 fall 1

# negative controls: no header to a PROXY listener; headers (and an MQTT
# check with a header) to a listener with PROXY disabled
listen neg_no_header
    bind 127.0.0.1:${HAP_NOHDR}
    server broker 127.0.0.1:${P_TCP}
listen neg_v1_to_disabled
    bind 127.0.0.1:${HAP_OFF_V1}
    server broker 127.0.0.1:${N_TCP} send-proxy
listen neg_v2_to_disabled
    bind 127.0.0.1:${HAP_OFF_V2}
    server broker 127.0.0.1:${N_TCP} send-proxy-v2
listen neg_v2_to_disabled_ws
    bind 127.0.0.1:${HAP_OFF_V2_WS}
    server broker 127.0.0.1:${N_WS} send-proxy-v2
backend neg_hc_to_disabled
    option tcp-check
    tcp-check connect default
    tcp-check send-binary 102100044d51545404c2003c000668632d6f66660005616c6963650006736563726574
    tcp-check expect binary 20020000
    server broker 127.0.0.1:${N_TCP} send-proxy-v2 check inter 500 fall 1
EOF

# 1
config_from_template haproxy "$T/haproxy.cfg.tpl" "$T/haproxy.cfg" || bail "cannot render the configuration"
"$HAPROXY" -c -q -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 ||
	bail "haproxy rejects the configuration: $(cat "$T/haproxy-check.log")"
bg haproxy "$HAPROXY" -db -f "$T/haproxy.cfg"
HAP_PID=$BG_PID
wait_listening "$HAP_PID" "$HAP_V1_TCP" "$HAP_V1_WS" "$HAP_V2_TCP" "$HAP_V2_WS" "$HAP_V2_SSL" \
	"$HAP_V2_WSS" "$HAP_TERM_CN" "$HAP_TERM_SSL" "$HAP_NOHDR" "$HAP_OFF_V1" "$HAP_OFF_V2" \
	"$HAP_OFF_V2_WS" || bail "haproxy did not start: $(cat "$T/haproxy.log")"

# hap_stat BACKEND FIELD...: fields of the server line in `show stat`.
hap_stat() {
	"$PY" - "$T/haproxy.sock" "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
lines = data.decode().splitlines()
head = lines[0].lstrip("# ").split(",")
for l in lines[1:]:
    f = dict(zip(head, l.split(",")))
    if f.get("pxname") == sys.argv[2] and f.get("svname") == "broker":
        print(" ".join(f.get(k, "?") for k in sys.argv[3:]))
EOF
}

# ---- 2-19: through HAProxy, the session records the client, not HAProxy ----------------

# through NAME PORT KIND VERSION TRANSPORT_ARGS... -- FIELD=WANT...: one
# connection through HAProxy's PORT, then the broker's record.
through() {
	local name=$1 port=$2 kind=$3 ver=$4 args=() id=hap-$1
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	client "$name: client through HAProxy" 'CONNACK 0' -- --target "127.0.0.1:$port" \
		--client-id "$id" "${CREDS[@]}" "${args[@]}"
	expect_session P "$id" "$name: session records the client $CLIENT_IP, HAProxy as the peer, PROXY v$ver" \
		clientIp=$CLIENT_IP clientPort="$CLIENT_PORT" peerIp=$LB_IP listener="$kind" \
		username=alice proxy.version="$ver" proxy.command=proxy proxy.srcIp=$CLIENT_IP \
		proxy.srcPort="$CLIENT_PORT" proxy.dstIp=$LB_IP proxy.dstPort="$port" "$@"
}

through send-proxy-tcp "$HAP_V1_TCP" tcp 1 --transport tcp -- tls=null
through send-proxy-ws "$HAP_V1_WS" ws 1 --transport ws -- tls=null
through send-proxy-v2-tcp "$HAP_V2_TCP" tcp 2 --transport tcp -- tls=null proxy.tlvs.ssl=null
through send-proxy-v2-ws "$HAP_V2_WS" ws 2 --transport ws -- tls=null
through send-proxy-v2-ssl-passthrough "$HAP_V2_SSL" ssl 2 --transport tls "${TLSOPT[@]}" -- \
	'tls.version~^TLSv1' proxy.tlvs.ssl=null
through send-proxy-v2-wss-passthrough "$HAP_V2_WSS" wss 2 --transport wss "${TLSOPT[@]}" -- \
	'tls.version~^TLSv1' proxy.tlvs.ssl=null
# TLS ends on HAProxy: the broker sees plain MQTT and learns about TLS from
# the SSL TLV. client 7 = SSL | CERT_CONN | CERT_SESS, verify 0 = verified.
through tls-terminated-ssl-cn-with-cert "$HAP_TERM_CN" tcp 2 --transport tls "${TLSOPT[@]}" \
	--cert "$CERTS/client.pem" --key "$CERTS/client.key" -- tls=null \
	proxy.tlvs.ssl.client=7 proxy.tlvs.ssl.verify=0 proxy.tlvs.ssl.cn=ppmq-client \
	'proxy.tlvs.ssl.version~^TLSv1'
through tls-terminated-ssl-cn-no-cert "$HAP_TERM_CN" tcp 2 --transport tls "${TLSOPT[@]}" -- \
	tls=null proxy.tlvs.ssl.client=1 proxy.tlvs.ssl.cn=null
through tls-terminated-ssl "$HAP_TERM_SSL" tcp 2 --transport tls "${TLSOPT[@]}" -- \
	tls=null proxy.tlvs.ssl.client=1 proxy.tlvs.ssl.cn=null 'proxy.tlvs.ssl.version~^TLSv1'

# ---- 20-27: health checks -----------------------------------------------------------------

# Wait (bounded) until every check has run: the negative one has failed, the
# MQTT checks have logged in (their sessions exist), and the broker has seen
# at least three LOCAL headers.
for ((i = 0; i < 60; i++)); do
	[ "$(hap_stat neg_hc_to_disabled status)" = DOWN ] &&
		[ "$(hap_stat hc_v2_l4 check_status)" = L4OK ] &&
		[ "$(metric P 'ppmq_proxy_headers_accepted_by_command_total{command="local"}')" -ge 3 ] 2>/dev/null &&
		admin_get P /api/v1/sessions/hc-v2 | grep -q '"clientId"' &&
		admin_get P /api/v1/sessions/hc-v1 | grep -q '"clientId"' && break
	sleep 0.1
done
is "$(hap_stat hc_v2_l4 status check_status chkfail)" "UP L4OK 0" \
	"health check send-proxy-v2 (LOCAL), layer 4: server UP, no check failed"
is "$(hap_stat hc_v2_mqtt status check_status chkfail)" "UP L7OK 0" \
	"health check send-proxy-v2 (LOCAL) + MQTT CONNECT: server UP, CONNACK 0 every time"
is "$(hap_stat hc_v1_mqtt status check_status chkfail)" "UP L7OK 0" \
	"health check send-proxy (v1) + MQTT CONNECT: server UP, CONNACK 0 every time"
is "$(hap_stat neg_hc_to_disabled status)" DOWN \
	"negative control: the same MQTT check with a v2 header to a PROXY-disabled listener: DOWN"
local_n=$(metric P 'ppmq_proxy_headers_accepted_by_command_total{command="local"}')
if [ "${local_n:-0}" -ge 3 ]; then
	ok "broker accepted HAProxy's LOCAL health-check headers ($local_n)"
else
	not_ok "broker accepted HAProxy's LOCAL health-check headers (${local_n:-none})"
fi
# No client so far sent anything wrong: any rejection here is a health check.
is "$(metric_sum P ppmq_proxy_headers_rejected_total)" 0 \
	"broker counted no PROXY rejection for the health checks (ppmq_proxy_headers_rejected_total)"
# LOCAL: no client behind it, the socket's own addresses are recorded.
expect_session P hc-v2 "LOCAL health check session: proxy.command local, socket peer recorded" \
	proxy.version=2 proxy.command=local clientIp=$LB_IP peerIp=$LB_IP username=alice
expect_session P hc-v1 "v1 health check session: HAProxy names its own connection" \
	proxy.version=1 proxy.command=proxy clientIp=$LB_IP peerIp=$LB_IP proxy.dstPort="$P_TCP"

# ---- 28-31: failed authentication through HAProxy ----------------------------------------------

client "bad password through send-proxy: refused by CONNACK" 'CONNACK (4|5) ' -- \
	--target "127.0.0.1:$HAP_V1_TCP" --client-id hap-badpw-v1 --username alice --password wrong
expect_unauthorized P hap-badpw-v1 "unauthorized client through send-proxy: real client recorded, not HAProxy" \
	clientIp=$CLIENT_IP clientPort="$CLIENT_PORT" peerIp=$LB_IP listener=tcp username=alice \
	reason=bad-password passwordProvided=true tlsUsed=false
client "bad password through send-proxy-v2, wss passthrough: refused by CONNACK" 'CONNACK (4|5) ' -- \
	--target "127.0.0.1:$HAP_V2_WSS" --transport wss "${TLSOPT[@]}" --client-id hap-badpw-wss \
	--username alice --password wrong
expect_unauthorized P hap-badpw-wss "unauthorized client through send-proxy-v2 (wss): real client recorded" \
	clientIp=$CLIENT_IP clientPort="$CLIENT_PORT" peerIp=$LB_IP listener=wss username=alice \
	reason=bad-password passwordProvided=true tlsUsed=true

# ---- 32-34: real MQTT clients through HAProxy ----------------------------------------------------

if [ "$HAVE_MOSQ" = 1 ]; then
	bg mosquitto_sub timeout 15 mosquitto_sub -h 127.0.0.1 -p "$HAP_V2_SSL" --cafile "$CERTS/ca.pem" \
		-u alice -P secret -i hap-msub -t lb/haproxy -C 1 -W 10
	SUB_PID=$BG_PID
	if wait_connected P hap-msub; then
		ok "mosquitto_sub connected through HAProxy (send-proxy-v2, TLS passthrough)"
		timeout 10 mosquitto_pub -h 127.0.0.1 -p "$HAP_V1_TCP" -u alice -P secret -i hap-mpub \
			-t lb/haproxy -m "through haproxy" >"$T/mosquitto_pub.log" 2>&1
		wait "$SUB_PID"
		is "$(cat "$T/mosquitto_sub.log")" "through haproxy" \
			"mosquitto_pub (send-proxy) -> mosquitto_sub (send-proxy-v2, TLS): message delivered"
	else
		not_ok "mosquitto_sub connected through HAProxy (send-proxy-v2, TLS passthrough)"
		diag "$(cat "$T/mosquitto_sub.log")"
		skip "mosquitto_pub -> mosquitto_sub through HAProxy" "the subscriber is not connected"
	fi
	expect_session P hap-msub "mosquitto_sub's session: PROXY v2 from HAProxy on the ssl listener" \
		listener=ssl proxy.version=2 proxy.dstPort="$HAP_V2_SSL" clientIp=$LB_IP peerIp=$LB_IP
else
	for d in "mosquitto_sub through HAProxy" "mosquitto_pub -> mosquitto_sub through HAProxy" \
		"mosquitto_sub's session"; do
		skip "$d" "mosquitto clients not installed"
	done
fi

# ---- 35-44: negative controls -----------------------------------------------------------------

missing0=$(metric P 'ppmq_proxy_headers_rejected_total{reason="missing"}')
client "no header (HAProxy without send-proxy) to a PROXY listener: client rejected" "$REFUSED" -- \
	--target "127.0.0.1:$HAP_NOHDR" --client-id hap-neg-nohdr "${CREDS[@]}"
is "$(metric P 'ppmq_proxy_headers_rejected_total{reason="missing"}')" $((missing0 + 1)) \
	"broker counted the missing header"
expect_no_session P hap-neg-nohdr "no session for the client without a header"

# The client itself is fine: straight to N (no header), it gets in.
client "control: the same client straight to the PROXY-disabled broker" 'CONNACK 0' -- \
	--target "127.0.0.1:$N_TCP" --client-id hap-neg-control "${CREDS[@]}"
conn0=$(metric N 'ppmq_connections_total{listener="tcp"}')
client "send-proxy (v1) to a PROXY-disabled listener: client rejected" "$REFUSED" -- \
	--target "127.0.0.1:$HAP_OFF_V1" --client-id hap-neg-v1off "${CREDS[@]}"
expect_no_session N hap-neg-v1off "no session for it on the PROXY-disabled broker"
client "send-proxy-v2 to a PROXY-disabled listener: client rejected" "$REFUSED" -- \
	--target "127.0.0.1:$HAP_OFF_V2" --client-id hap-neg-v2off "${CREDS[@]}"
expect_no_session N hap-neg-v2off "no session for it on the PROXY-disabled broker"
client "send-proxy-v2 to a PROXY-disabled ws listener: client rejected" "$REFUSED|WebSocket failure" -- \
	--target "127.0.0.1:$HAP_OFF_V2_WS" --transport ws --client-id hap-neg-v2off-ws "${CREDS[@]}"
# Both tcp ones reached the broker (HAProxy did connect): the rejection is its.
conn1=$(metric N 'ppmq_connections_total{listener="tcp"}')
is "$((conn1 - conn0))" 2 "the disabled tcp listener did receive both headed connections"

done_testing
