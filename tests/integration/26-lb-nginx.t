#!/usr/bin/env bash
# 26-lb-nginx.t - nginx's stream module (Debian nginx + libnginx-mod-stream)
# in front of ppmq-broker, for real, on loopback. nginx sends PROXY v1 only
# (`proxy_protocol on;`). The client is `proxygen send --bind 127.0.0.7
# --no-header`; nginx listens on 127.0.0.1 and connects from 127.0.0.1.
# The broker's session must show clientIp 127.0.0.7, peerIp 127.0.0.1 and
# PROXY v1:
#   proxy_protocol on to the tcp and ws listeners; to the ssl and wss
#   listeners (TLS passed through, end to end); TLS terminated on nginx and
#   plain MQTT to the tcp listener;
#   failed authentication: the unauthorized-clients record has the client's
#   address, not nginx's;
#   mosquitto_sub / mosquitto_pub through nginx: a message goes through;
#   negative controls: proxy_protocol off to a PROXY listener, and on to a
#   PROXY-disabled listener (tcp, ws), reject the client.
# nginx runs in the foreground (daemon off) as root, from a temporary
# prefix, and is stopped by PID. The configuration is the one in
# docs/behind-a-load-balancer-examples.md.
# shellcheck source=tests/lib/lb.bash
. "$(dirname "$0")/../lib/lb.bash"

NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_STREAM=${NGINX_STREAM:-/usr/lib/nginx/modules/ngx_stream_module.so}
need_ppmq
[ -x "$NGINX" ] || skip_all "nginx not installed ($NGINX)"
[ -r "$NGINX_STREAM" ] || skip_all "nginx stream module not installed ($NGINX_STREAM, libnginx-mod-stream)"
"$NGINX" -V 2>&1 | grep -q -- '--with-stream_ssl_module' ||
	skip_all "nginx's stream module is built without stream_ssl_module"
[ "$(id -u)" = 0 ] || skip_all "nginx is run with 'user root;' and needs root"
certs_init || skip_all "cannot make test certificates: $(cat "$T/gen-certs.log")"
plan 26

LB=nginx
IDP=ngx
TLSOPT=(--ca "$CERTS/ca.pem" --sni localhost)
start_brokers

export T CERTS NGINX_STREAM P_TCP P_SSL P_WS P_WSS N_TCP N_WS
NGX_PORTS="NGX_TCP NGX_WS NGX_SSL NGX_WSS NGX_TERM NGX_NOHDR NGX_OFF_TCP NGX_OFF_WS"

cat >"$T/nginx.conf.tpl" <<'EOF'
load_module ${NGINX_STREAM};
user root;
worker_processes 1;
pid ${T}/nginx.pid;
error_log ${T}/nginx-error.log info;
events {
    worker_connections 256;
}
stream {
    log_format lb '$remote_addr:$remote_port -> $server_port -> $upstream_addr $status';
    access_log ${T}/nginx-access.log lb;
    proxy_connect_timeout 2s;

    # v1 header to the tcp and ws listeners
    server {
        listen 127.0.0.1:${NGX_TCP};
        proxy_pass 127.0.0.1:${P_TCP};
        proxy_protocol on;
    }
    server {
        listen 127.0.0.1:${NGX_WS};
        proxy_pass 127.0.0.1:${P_WS};
        proxy_protocol on;
    }

    # TLS passthrough: the header goes first, then the client's own TLS
    server {
        listen 127.0.0.1:${NGX_SSL};
        proxy_pass 127.0.0.1:${P_SSL};
        proxy_protocol on;
    }
    server {
        listen 127.0.0.1:${NGX_WSS};
        proxy_pass 127.0.0.1:${P_WSS};
        proxy_protocol on;
    }

    # TLS terminated on nginx, plain MQTT (and the header) to the tcp listener
    server {
        listen 127.0.0.1:${NGX_TERM} ssl;
        ssl_certificate ${CERTS}/server.pem;
        ssl_certificate_key ${CERTS}/server.key;
        proxy_pass 127.0.0.1:${P_TCP};
        proxy_protocol on;
    }

    # negative controls: no header to a PROXY listener; the header to
    # listeners with PROXY disabled
    server {
        listen 127.0.0.1:${NGX_NOHDR};
        proxy_pass 127.0.0.1:${P_TCP};
    }
    server {
        listen 127.0.0.1:${NGX_OFF_TCP};
        proxy_pass 127.0.0.1:${N_TCP};
        proxy_protocol on;
    }
    server {
        listen 127.0.0.1:${NGX_OFF_WS};
        proxy_pass 127.0.0.1:${N_WS};
        proxy_protocol on;
    }
}
EOF

# 1
doc_matches nginx "$T/nginx.conf.tpl"
# -e: nginx opens its default error log before reading the configuration.
lb_start nginx "$T/nginx.conf.tpl" "$T/nginx.conf" "$NGX_PORTS" \
	"$NGINX" -e "$T/nginx-error.log" -p "$T" -c "$T/nginx.conf" -g 'daemon off;' ||
	bail "nginx did not start: $(cat "$T/nginx.log" "$T/nginx-error.log" 2>/dev/null)"

# ---- 2-11: through nginx, the session records the client, not nginx ----------------------

through proxy-protocol-tcp "$NGX_TCP" tcp 1 --transport tcp -- tls=null
through proxy-protocol-ws "$NGX_WS" ws 1 --transport ws -- tls=null
through proxy-protocol-ssl-passthrough "$NGX_SSL" ssl 1 --transport tls "${TLSOPT[@]}" -- \
	'tls.version~^TLSv1'
through proxy-protocol-wss-passthrough "$NGX_WSS" wss 1 --transport wss "${TLSOPT[@]}" -- \
	'tls.version~^TLSv1'
# v1 cannot say the client used TLS: the broker sees a plain connection.
through tls-terminated "$NGX_TERM" tcp 1 --transport tls "${TLSOPT[@]}" -- tls=null

# ---- 12-15: failed authentication through nginx -----------------------------------------------

bad_password proxy-protocol-tcp "$NGX_TCP" tcp -- tlsUsed=false
bad_password proxy-protocol-wss "$NGX_WSS" wss --transport wss "${TLSOPT[@]}" -- tlsUsed=true

# ---- 16-18: real MQTT clients through nginx ------------------------------------------------------

MSUB_ARGS=(--cafile "$CERTS/ca.pem")
mosquitto_through "$NGX_SSL" "$NGX_TCP" "sub: TLS passthrough; pub: tcp" ssl 1

# ---- 19-26: negative controls -----------------------------------------------------------------

refused_no_header proxy-protocol-off "$NGX_NOHDR"
client "control: the same client straight to the PROXY-disabled broker" 'CONNACK 0' -- \
	--target "127.0.0.1:$N_TCP" --client-id ngx-control "${CREDS[@]}"
refused_by_disabled proxy-protocol-to-disabled "$NGX_OFF_TCP" tcp
refused_by_disabled proxy-protocol-to-disabled-ws "$NGX_OFF_WS" ws --transport ws
# nginx itself logged the real client on its side (written when a session
# ends: waited for, bounded).
if wait_log "$T/nginx-access.log" "^$CLIENT_IP:[0-9]* -> $NGX_TCP -> 127.0.0.1:$P_TCP "; then
	ok "nginx's access log shows the client $CLIENT_IP relayed to the broker"
else
	not_ok "nginx's access log shows the client $CLIENT_IP relayed to the broker"
	diag "$(cat "$T/nginx-access.log" 2>/dev/null)"
fi

done_testing
