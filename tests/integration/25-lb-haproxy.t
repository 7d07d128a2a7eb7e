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
# shellcheck source=tests/lib/lb.bash
. "$(dirname "$0")/../lib/lb.bash"

HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
need_ppmq
[ -x "$HAPROXY" ] || skip_all "haproxy not installed ($HAPROXY)"
"$HAPROXY" -v 2>/dev/null | grep -q '^HAProxy version 2\.' ||
	skip_all "haproxy 2.x needed ($("$HAPROXY" -v 2>&1 | head -1))"
certs_init || skip_all "cannot make test certificates: $(cat "$T/gen-certs.log")"
plan 43

LB=HAProxy
IDP=hap
TLSOPT=(--ca "$CERTS/ca.pem" --sni localhost)
start_brokers

cat "$CERTS/server.pem" "$CERTS/server.key" >"$T/haproxy.pem"
HAPROXY_PEM=$T/haproxy.pem
export T CERTS HAPROXY_PEM P_TCP P_SSL P_WS P_WSS N_TCP N_WS
HAP_PORTS="HAP_V1_TCP HAP_V1_WS HAP_V2_TCP HAP_V2_WS HAP_V2_SSL HAP_V2_WSS HAP_TERM_CN
	HAP_TERM_SSL HAP_NOHDR HAP_OFF_V1 HAP_OFF_V2 HAP_OFF_V2_WS"

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
# check with a header) to a listener with PROXY disabled; once DOWN, that
# check waits 60 s (downinter) so it does not mix with the clients below
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
    server broker 127.0.0.1:${N_TCP} send-proxy-v2 check inter 500 fall 1 downinter 60s
EOF

# 1
doc_matches haproxy "$T/haproxy.cfg.tpl"
lb_start haproxy "$T/haproxy.cfg.tpl" "$T/haproxy.cfg" "$HAP_PORTS" "$HAPROXY" -db -f "$T/haproxy.cfg" ||
	bail "haproxy did not start: $(cat "$T/haproxy.log")"

# ---- 2-19: through HAProxy, the session records the client, not HAProxy ----------------

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
# shellcheck disable=SC2317 # run by wait_until
checks_done() {
	[ "$(hap_stat neg_hc_to_disabled status)" = DOWN ] &&
		[ "$(hap_stat hc_v2_l4 check_status)" = L4OK ] &&
		[ "$(metric P 'ppmq_proxy_headers_accepted_by_command_total{command="local"}')" -ge 3 ] 2>/dev/null &&
		admin_get P /api/v1/sessions/hc-v2 | grep -q '"clientId"' &&
		admin_get P /api/v1/sessions/hc-v1 | grep -q '"clientId"'
}
wait_until 20 checks_done
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
	proxy.version=2 proxy.command=local clientIp="$LB_IP" peerIp="$LB_IP" username=alice
expect_session P hc-v1 "v1 health check session: HAProxy names its own connection" \
	proxy.version=1 proxy.command=proxy clientIp="$LB_IP" peerIp="$LB_IP" proxy.dstPort="$P_TCP"

# ---- 28-31: failed authentication through HAProxy ----------------------------------------------

bad_password send-proxy-tcp "$HAP_V1_TCP" tcp -- tlsUsed=false
bad_password send-proxy-v2-wss "$HAP_V2_WSS" wss --transport wss "${TLSOPT[@]}" -- tlsUsed=true

# ---- 32-34: real MQTT clients through HAProxy ----------------------------------------------------

MSUB_ARGS=(--cafile "$CERTS/ca.pem")
mosquitto_through "$HAP_V2_SSL" "$HAP_V1_TCP" "sub: send-proxy-v2, TLS passthrough; pub: send-proxy" ssl 2

# ---- 35-43: negative controls -----------------------------------------------------------------

refused_no_header no-send-proxy "$HAP_NOHDR"
# The client itself is fine: straight to N (no header), it gets in.
client "control: the same client straight to the PROXY-disabled broker" 'CONNACK 0' -- \
	--target "127.0.0.1:$N_TCP" --client-id hap-control "${CREDS[@]}"
refused_by_disabled send-proxy-to-disabled "$HAP_OFF_V1" tcp
refused_by_disabled send-proxy-v2-to-disabled "$HAP_OFF_V2" tcp
refused_by_disabled send-proxy-v2-to-disabled-ws "$HAP_OFF_V2_WS" ws --transport ws

done_testing
