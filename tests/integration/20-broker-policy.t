#!/usr/bin/env bash
# 20-broker-policy.t - ppmq-broker's ACL behind a proxy, and shared
# subscriptions, with real clients (tests/lib/mqtt_cases.py):
#   - security.acl_file's address rules judge the client's address, the
#     PROXY header's source: a refused network arriving from a trusted
#     proxy (127.0.0.7) is refused (CONNACK 0x87, 3.1.1 0x05) and recorded
#     with that source; an allowed client arriving through a trusted proxy
#     whose own address is refused (127.0.0.8) is served;
#   - topic rules per user: PUBLISH (5.0 PUBACK 0x87) and SUBSCRIBE (0x87,
#     3.1.1 0x80) refused, the refused message delivered to no one;
#   - a bad rule stops the broker with its file:line:col;
#   - $share/NAME/FILTER: one member per message, in turn; announced in
#     the CONNACK; no retained message; bad share names 0x8F; No Local a
#     Protocol Error.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
plan 22


cat >"$T/acl.rules" <<'ACL'
# refused networks: a client range, and the second proxy's own address
deny connect from 203.0.113.128/25
deny connect from 127.0.0.8
allow publish sensors/# user alice
deny  publish sensors/#
deny  subscribe admin/#
ACL
start_broker acl MQTT_PROXY_PROTOCOL_ENABLED=true LISTENER_WS_ENABLED=false \
	MQTT_PROXY_TRUSTED_PROXIES="127.0.0.7/32,127.0.0.8/32" SECURITY_ACL_FILE="$T/acl.rules" ||
	bail "broker did not start"
mqtt_case 120 policy
is "$(case_val blocked_via_trusted)/$(case_val blocked_via_trusted_v3)" 87/5 \
	"a refused source in a header from a trusted proxy: CONNACK 0x87 (3.1.1: 0x05)"
is "$(case_val allowed_via_trusted)" 0 "an allowed source from the same proxy: accepted"
is "$(case_val allowed_via_blocked_proxy)" 0 \
	"an allowed source through a trusted proxy whose own address is refused: accepted (the proxy is not judged)"
is "$(case_val blocked_via_blocked_proxy)" 87 "a refused source through that proxy: refused"
[ "$(case_val allowed_via_blocked_proxy)" = 0 ] || diag "$CASE_OUT"
is "$(json_get /api/v1/unauthorized-clients \
	"[(x['clientIp'], x['peerIp'], x['reason']) for x in d if x['clientId'] == 'pol-b5'][0]")" \
	"('203.0.113.200', '127.0.0.7', 'acl-denied')" \
	"the refusal is recorded with the header's source, the proxy kept apart, reason acl-denied"
check "the log names the rule that refused it" \
	grep -q "client 203.0.113.200:40000 via 127.0.0.7:[0-9]* 'pol-b5': connection refused by $T/acl.rules:2: deny connect from 203.0.113.128/25" "$B_LOG"
is "$(case_val sub_sensors)" 1 "a subscription no rule refuses: granted"
is "$(case_val sub_admin)" 87,87,0 "admin/# and # (which takes admin/ too) refused with 0x87, other/# granted"
is "$(case_val sub_admin_v3)" 80 "3.1.1: refused with 0x80"
is "$(case_val pub_bob)/$(case_val pub_alice)" 87/0 "sensors/1: bob's PUBLISH refused (PUBACK 0x87), alice's taken"
is "$(case_val delivered)" sensors/1 "the subscriber got alice's message only"
wait_metric ppmq_acl_denied_total 7
is "$METRIC_VALUE" 7 "/metrics: ppmq_acl_denied_total counts the 3 connections, 3 filters and 1 PUBLISH refused"
stop_broker >/dev/null

# A bad rule: the broker does not start, and says where.
printf 'deny connect from 203.0.113.0/24\nallow subscribe a/#/b\n' >"$T/bad.rules"
out=$(SECURITY_ACL_FILE=$T/bad.rules timeout 10 "$BROKER" --print-config 2>&1)
rc=$?
is "$rc" 2 "a bad ACL rule: exit status 2"
like "$out" "*env SECURITY_ACL_FILE: security.acl_file: $T/bad.rules:2:17: 'a/#/b' is not an MQTT topic filter*" \
	"... with the rule's file:line:col"

start_broker shared || bail "broker did not start"
mqtt_case 120 shared
is "$(case_val shared_available)" 1 "5.0 CONNACK: Shared Subscription Available = 1"
is "$(case_val sub_m1)/$(case_val sub_m2)" 0/0 "\$share/g/r/# granted, to a 5.0 and a 3.1.1 client"
is "$(case_val first_after_subscribe)" marker "no retained message for a new shared subscription"
is "$(case_val split)" 5,5 "ten messages: five to each member, in turn"
[ "$(case_val split)" = 5,5 ] || diag "$CASE_OUT"
is "$(case_val other_group)" 10 "another group on the topic gets every one"
is "$(case_val bad_share)/$(case_val bad_share_v3)" 8f,8f,8f/80 "bad share names: 0x8F Topic Filter invalid (3.1.1: 0x80)"
is "$(case_val no_local_shared)" 82 "No Local on a shared subscription: DISCONNECT 0x82 Protocol Error"
stop_broker >/dev/null

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
