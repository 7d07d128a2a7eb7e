#!/usr/bin/env bash
# 20-broker-subscribe.t - subscriptions at scale, with ppmq-broker:
#   - one SUBSCRIBE with 100,000 filters (limits raised for it) does not
#     hold the event loop: a second client that connects while the filters
#     are applied gets its CONNACK before the first one gets its SUBACK;
#     every filter is granted and routing works afterwards;
#   - the limits: mqtt.max_filters_per_subscribe refuses a larger
#     SUBSCRIBE whole (5.0: 0x97 Quota exceeded, 3.1.1: 0x80),
#     mqtt.max_subscriptions_per_client refuses new filters past it and
#     lets an existing one change.
# The cases and their clients: tests/lib/mqtt_cases.py. No timing is
# asserted: the order of two packets is, and the milliseconds are shown.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
plan 11


start_broker big MQTT_MAX_PACKET_SIZE=4194304 MQTT_MAX_FILTERS_PER_SUBSCRIBE=200000 \
	MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT=200000 || bail "broker did not start"
mqtt_case 180 big-subscribe --n 100000
is "$(case_val connack_rc)" 0 "a client connecting while 100,000 filters are applied is accepted"
is "$(case_val connack_first)" 1 "... and its CONNACK comes before the SUBACK: the loop is not held"
[ "$(case_val connack_first)" = 1 ] || diag "$CASE_OUT"
is "$(case_val codes)/$(case_val granted)" 100000/100000 "the SUBACK grants all 100,000 filters"
is "$(case_val delivered)" 1 "routing works afterwards (a PUBLISH reaches the big subscriber)"
diag "CONNACK $(case_val connack_ms) ms, SUBACK $(case_val suback_ms) ms after the SUBSCRIBE was complete"
stop_broker >/dev/null

start_broker lim MQTT_MAX_FILTERS_PER_SUBSCRIBE=5 MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT=5 ||
	bail "broker did not start"
mqtt_case 180 limits --n 5
is "$(case_val too_many)" 97 "6 filters, limit 5: every one refused with 0x97 Quota exceeded"
is "$(case_val at_limit)" 1,1,1,1,1 "5 filters, limit 5: granted"
is "$(case_val over_limit)" 97,0 "a sixth subscription: 0x97; an existing one changes"
is "$(case_val too_many_v3)" 80 "3.1.1: refused with 0x80"
check "the refusals are logged with the key that caused them" \
	grep -q 'mqtt.max_filters_per_subscribe' "$B_LOG"
check "... both keys" grep -q 'mqtt.max_subscriptions_per_client' "$B_LOG"
stop_broker >/dev/null

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
