#!/usr/bin/env bash
# 27-lb-stunnel.t - stunnel (Debian stunnel4) terminating TLS in front of
# ppmq-broker, with `protocol = proxy`: after the client's TLS handshake,
# stunnel connects to the broker and writes a PROXY v1 header, then the
# decrypted MQTT (or WebSocket) bytes. For real, on loopback: the client is
# `proxygen send --bind 127.0.0.7 --no-header --transport tls|wss`;
# stunnel listens on 127.0.0.1 and connects from 127.0.0.1. The broker's
# session must show clientIp 127.0.0.7, peerIp 127.0.0.1 and PROXY v1:
#   TLS -> tcp listener; WebSocket over TLS -> ws listener;
#   failed authentication: the unauthorized-clients record has the client's
#   address, not stunnel's;
#   mosquitto_sub / mosquitto_pub (TLS to stunnel): a message goes through;
#   negative controls: a service without `protocol = proxy` to a PROXY
#   listener, and with it to PROXY-disabled listeners, reject the client.
# stunnel runs with `foreground = yes` and is stopped by PID. The
# configuration is the one in docs/behind-a-load-balancer-examples.md.
# shellcheck source=tests/lib/lb.bash
. "$(dirname "$0")/../lib/lb.bash"

need_ppmq
STUNNEL=${STUNNEL:-$(command -v stunnel4 || command -v stunnel)}
if [ -z "$STUNNEL" ] || [ ! -x "$STUNNEL" ]; then
	skip_all "stunnel not installed (stunnel4)"
fi
# `protocol = proxy` exists since stunnel 4.45.
st_ver=$("$STUNNEL" -version 2>&1 | sed -n 's/^.*stunnel \([0-9][0-9]*\.[0-9][0-9]*\).*$/\1/p' | head -1)
[ -n "$st_ver" ] || skip_all "cannot tell stunnel's version"
if ! awk -v v="$st_ver" 'BEGIN { split(v, a, "."); exit !(a[1] > 4 || (a[1] == 4 && a[2] >= 45)) }'; then
	skip_all "stunnel $st_ver has no 'protocol = proxy' (needs 4.45 or later)"
fi
certs_init || skip_all "cannot make test certificates: $(cat "$T/gen-certs.log")"
plan 17

LB=stunnel
IDP=st
TLSOPT=(--ca "$CERTS/ca.pem" --sni localhost)
start_brokers

export T CERTS P_TCP P_WS N_TCP N_WS
ST_PORTS="ST_TCP ST_WS ST_NOHDR ST_OFF_TCP ST_OFF_WS"

cat >"$T/stunnel.conf.tpl" <<'EOF'
foreground = yes
pid = ${T}/stunnel.pid
debug = info
cert = ${CERTS}/server.pem
key = ${CERTS}/server.key

; TLS ends here; a v1 header, then the client's MQTT, to the tcp listener
[mqtt-tls]
accept = 127.0.0.1:${ST_TCP}
connect = 127.0.0.1:${P_TCP}
protocol = proxy

; WebSocket over TLS: the header, then the HTTP upgrade, to the ws listener
[mqtt-wss]
accept = 127.0.0.1:${ST_WS}
connect = 127.0.0.1:${P_WS}
protocol = proxy

; negative controls: no header to a PROXY listener; the header to
; listeners with PROXY disabled
[no-proxy-protocol]
accept = 127.0.0.1:${ST_NOHDR}
connect = 127.0.0.1:${P_TCP}

[proxy-to-disabled]
accept = 127.0.0.1:${ST_OFF_TCP}
connect = 127.0.0.1:${N_TCP}
protocol = proxy

[proxy-to-disabled-ws]
accept = 127.0.0.1:${ST_OFF_WS}
connect = 127.0.0.1:${N_WS}
protocol = proxy
EOF

# 1
doc_matches stunnel "$T/stunnel.conf.tpl"
if ! lb_start stunnel "$T/stunnel.conf.tpl" "$T/stunnel.conf" "$ST_PORTS" "$STUNNEL" "$T/stunnel.conf"; then
	grep -qi 'protocol.*\(not supported\|unsupported\|invalid\)' "$T/stunnel.log" &&
		skip_all "this stunnel refuses 'protocol = proxy': $(grep -i protocol "$T/stunnel.log" | head -1)"
	bail "stunnel did not start: $(cat "$T/stunnel.log")"
fi

# ---- 2-5: through stunnel, the session records the client, not stunnel ------------------------

# TLS ended on stunnel: the broker's own connection is plain (tls null).
through tls-to-tcp "$ST_TCP" tcp 1 --transport tls "${TLSOPT[@]}" -- tls=null
through wss-to-ws "$ST_WS" ws 1 --transport wss "${TLSOPT[@]}" -- tls=null

# ---- 6-7: failed authentication through stunnel --------------------------------------------------

bad_password tls-to-tcp "$ST_TCP" tcp --transport tls "${TLSOPT[@]}" -- tlsUsed=false

# ---- 8-10: real MQTT clients through stunnel ------------------------------------------------------

MSUB_ARGS=(--cafile "$CERTS/ca.pem")
MPUB_ARGS=(--cafile "$CERTS/ca.pem")
mosquitto_through "$ST_TCP" "$ST_TCP" "TLS to stunnel, tcp to the broker" tcp 1

# ---- 11-17: negative controls ----------------------------------------------------------------

refused_no_header no-protocol-proxy "$ST_NOHDR" --transport tls "${TLSOPT[@]}"
client "control: the same client straight to the PROXY-disabled broker" 'CONNACK 0' -- \
	--target "127.0.0.1:$N_TCP" --client-id st-control "${CREDS[@]}"
refused_by_disabled protocol-proxy-to-disabled "$ST_OFF_TCP" tcp --transport tls "${TLSOPT[@]}"
refused_by_disabled protocol-proxy-to-disabled-ws "$ST_OFF_WS" ws --transport wss "${TLSOPT[@]}"

done_testing
