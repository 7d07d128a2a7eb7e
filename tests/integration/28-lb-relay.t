#!/usr/bin/env bash
# 28-lb-relay.t - `proxygen relay` as the load balancer in front of
# ppmq-broker: it accepts a client, connects to the broker, writes a PROXY
# header (v1 or v2) naming the client, then copies bytes both ways without
# looking at them, so TLS stays end to end. On loopback: the client is
# `proxygen send --bind 127.0.0.7 --no-header`; the relay listens on
# 127.0.0.1 and connects from 127.0.0.1. The broker's session must show
# clientIp 127.0.0.7, peerIp 127.0.0.1 and the relay's PROXY version:
#   --v1 and --v2 in front of the tcp, ws, ssl and wss listeners;
#   failed authentication: the unauthorized-clients record has the client's
#   address, not the relay's;
#   mosquitto_sub / mosquitto_pub through relays: a message goes through;
#   negative controls: the relay's v1 / v2 header to PROXY-disabled
#   listeners rejects the client (the relay cannot send no header).
# Each relay is a process stopped by PID. The commands are the ones in
# docs/behind-a-load-balancer-examples.md.
# shellcheck source=tests/lib/lb.bash
. "$(dirname "$0")/../lib/lb.bash"

need_ppmq
"$PROXYGEN" relay --help >/dev/null 2>&1 || bail "$PROXYGEN has no working 'relay' subcommand"
certs_init || skip_all "cannot make test certificates: $(cat "$T/gen-certs.log")"
plan 32

LB="proxygen relay"
IDP=rl
TLSOPT=(--ca "$CERTS/ca.pem" --sni localhost)
start_brokers

export P_TCP P_SSL P_WS P_WSS N_TCP N_WS
RL_PORTS=(RL_V1_TCP RL_V1_WS RL_V1_SSL RL_V1_WSS RL_V2_TCP RL_V2_WS RL_V2_SSL RL_V2_WSS
	RL_OFF_V1 RL_OFF_V2 RL_OFF_V2_WS)

cat >"$T/relays.tpl" <<'EOF'
# v1 and v2 in front of every listener; ssl and wss: TLS end to end
proxygen relay --listen 127.0.0.1:${RL_V1_TCP} --target 127.0.0.1:${P_TCP} --v1
proxygen relay --listen 127.0.0.1:${RL_V1_WS} --target 127.0.0.1:${P_WS} --v1
proxygen relay --listen 127.0.0.1:${RL_V1_SSL} --target 127.0.0.1:${P_SSL} --v1
proxygen relay --listen 127.0.0.1:${RL_V1_WSS} --target 127.0.0.1:${P_WSS} --v1
proxygen relay --listen 127.0.0.1:${RL_V2_TCP} --target 127.0.0.1:${P_TCP} --v2
proxygen relay --listen 127.0.0.1:${RL_V2_WS} --target 127.0.0.1:${P_WS} --v2
proxygen relay --listen 127.0.0.1:${RL_V2_SSL} --target 127.0.0.1:${P_SSL} --v2
proxygen relay --listen 127.0.0.1:${RL_V2_WSS} --target 127.0.0.1:${P_WSS} --v2
# negative controls: the header to listeners with PROXY disabled
proxygen relay --listen 127.0.0.1:${RL_OFF_V1} --target 127.0.0.1:${N_TCP} --v1
proxygen relay --listen 127.0.0.1:${RL_OFF_V2} --target 127.0.0.1:${N_TCP} --v2
proxygen relay --listen 127.0.0.1:${RL_OFF_V2_WS} --target 127.0.0.1:${N_WS} --v2
EOF

# 1
doc_matches proxygen-relay "$T/relays.tpl"
start_relays "$T/relays.tpl" "${RL_PORTS[@]}" || bail "the relays did not start: $(cat "$T"/relay-*.log)"

# ---- 2-17: through the relay, the session records the client, not the relay ---------------------

through v1-tcp "$RL_V1_TCP" tcp 1 --transport tcp -- tls=null
through v1-ws "$RL_V1_WS" ws 1 --transport ws -- tls=null
through v1-ssl "$RL_V1_SSL" ssl 1 --transport tls "${TLSOPT[@]}" -- 'tls.version~^TLSv1'
through v1-wss "$RL_V1_WSS" wss 1 --transport wss "${TLSOPT[@]}" -- 'tls.version~^TLSv1'
through v2-tcp "$RL_V2_TCP" tcp 2 --transport tcp -- tls=null proxy.family=inet
through v2-ws "$RL_V2_WS" ws 2 --transport ws -- tls=null proxy.family=inet
through v2-ssl "$RL_V2_SSL" ssl 2 --transport tls "${TLSOPT[@]}" -- 'tls.version~^TLSv1'
through v2-wss "$RL_V2_WSS" wss 2 --transport wss "${TLSOPT[@]}" -- 'tls.version~^TLSv1'

# ---- 18-21: failed authentication through the relay -------------------------------------------

bad_password v1-tcp "$RL_V1_TCP" tcp -- tlsUsed=false
bad_password v2-wss "$RL_V2_WSS" wss --transport wss "${TLSOPT[@]}" -- tlsUsed=true

# ---- 22-24: real MQTT clients through relays ------------------------------------------------------

MSUB_ARGS=(--cafile "$CERTS/ca.pem")
MPUB_ARGS=()
mosquitto_through "$RL_V2_SSL" "$RL_V1_TCP" "sub: --v2, TLS end to end; pub: --v1, tcp" ssl 2

# ---- 25-32: negative controls ----------------------------------------------------------------

skip "relay without a header to a PROXY listener" "proxygen relay always writes a header"
client "control: the same client straight to the PROXY-disabled broker" 'CONNACK 0' -- \
	--target "127.0.0.1:$N_TCP" --client-id rl-control "${CREDS[@]}"
refused_by_disabled v1-to-disabled "$RL_OFF_V1" tcp
refused_by_disabled v2-to-disabled "$RL_OFF_V2" tcp
refused_by_disabled v2-to-disabled-ws "$RL_OFF_V2_WS" ws --transport ws

done_testing
