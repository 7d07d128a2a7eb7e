#!/usr/bin/env bash
# 20-broker-memory.t - memory bounded by bytes, not only by message counts:
#   - mqtt.max_offline_bytes: 4 offline sessions sent 400 messages of
#     64 KiB each hold no more than the limit together (the gauge, and the
#     broker's resident size); the rest is dropped, counted, logged, and an
#     MQTT 5 publisher hears 0x97 Quota exceeded once no session takes it;
#   - mqtt.max_queued_bytes: a QoS 1 subscriber that stops reading holds
#     no more than the limit in its session, the rest is dropped (counted,
#     0x97 to the publisher, log lines thinned by log.refused_per_second);
#   - mqtt.max_output_buffer: QoS 0 messages to a subscriber that stops
#     reading are dropped past it and counted by QoS;
#   - mqtt.max_retained_messages: a retained message past it is not kept,
#     counted, and its MQTT 5 publisher hears 0x97;
#   - mqtt.max_sessions: a CONNECT that needs a new session past it is
#     refused (5.0: 0x97, 3.1.1: 0x03), counted and logged; a kept
#     session's client still connects;
#   - a normal client is served meanwhile.
# The clients: tests/lib/mqtt_cases.py. Bounded: 400 messages of 64 KiB
# per case, loopback.
# Not under a wrapper or a sanitizer for the resident sizes (their heaps
# are not the broker's): those two checks are skipped there.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
plan 30
CASES=$ROOT/tests/lib/mqtt_cases.py
N=400
SIZE=65536
RSS_OK=1
[ -z "${PPMQ_BROKER_WRAP:-}" ] || RSS_OK=
ldd "$BROKER" 2>/dev/null | grep -q libasan && RSS_OK=

OUT=
cases() { # CASE ARGS...: runs it on the current broker, output in OUT
	OUT=$(timeout $((180 * PPMQ_TEST_SLOW)) "$PY" "$CASES" "$1" --port "$B_TCP" \
		--slow "$PPMQ_TEST_SLOW" "${@:2}" 2>&1)
}
val() { sed -n "s/^$1=//p" <<<"${2:-$OUT}" | head -1; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$B_PID/status"; }
# rss_within KB WHY: the resident size grew by less than KB since $BASE.
rss_within() {
	local now
	if [ -z "$RSS_OK" ]; then
		skip "$2" "resident size under a wrapper or a sanitizer"
		return
	fi
	now=$(rss_kb)
	diag "resident size: $BASE kB at start, $now kB now"
	check "$2 (+$((now - BASE)) kB, under +$1 kB)" [ $((now - BASE)) -lt "$1" ]
}
# gauge_nonzero SERIES: its value (in METRIC_VALUE) is above 0.
gauge_nonzero() { METRIC_VALUE=$(metric "$1"); [ "${METRIC_VALUE:-0}" -gt 0 ]; }
# gauge_max SERIES MAX: the gauge, once it has been updated (it is, once a
# second), holds no more than MAX.
gauge_max() {
	wait_until 10 gauge_nonzero "$1"
	check "$1 = $METRIC_VALUE, at most $2" test "${METRIC_VALUE:-0}" -gt 0 -a "${METRIC_VALUE:-0}" -le "$2"
}
served() {
	local out
	out=$(timeout $((60 * PPMQ_TEST_SLOW)) "$PY" "$CASES" served --port "$B_TCP" --slow "$PPMQ_TEST_SLOW" 2>&1)
	is "$(val connack "$out")/$(val served "$out")" 0/1 "$1"
}

# ---- offline sessions, all together -------------------------------------------------
LIMIT=$((2 * 1024 * 1024))
start_broker offline MQTT_MAX_OFFLINE_BYTES=$LIMIT || bail "broker did not start"
BASE=$(rss_kb)
cases offline-subscribe --sessions 4
is "$(val subscribed)" 4 "4 persistent sessions subscribed"
wait_metric ppmq_sessions_connected 0
cases offline-fill --n $N --size $SIZE
# 32 messages fit (2 MiB / 64 KiB) over the 4 sessions: the first 8 reach
# each, then none; the publisher is told.
like "$(val acks)" '0:*,97:*' "the publisher hears 0x97 Quota exceeded once no session takes a message ($(val acks))"
gauge_max 'ppmq_queued_bytes{sessions="offline"}' $LIMIT
wait_until 10 gauge_nonzero 'ppmq_messages_dropped_total{limit="offline_bytes",qos="1"}'
check "dropped messages counted by limit and QoS ($METRIC_VALUE)" [ "${METRIC_VALUE:-0}" -ge $((4 * N - 4 * 40)) ]
check "logged with the key" grep -q "mqtt: client 'off-[0-3]': QoS 1 message of 655[0-9][0-9] bytes dropped: offline sessions would hold more bytes than mqtt.max_offline_bytes ($LIMIT)" "$B_LOG"
rss_within 16384 "4 x $N x 64 KiB for offline sessions: resident size bounded"
served "a normal client is served meanwhile"
stop_broker >/dev/null

# ---- a QoS 1 subscriber that stops reading ------------------------------------------
LIMIT=$((1024 * 1024))
start_broker stall1 MQTT_MAX_QUEUED_BYTES=$LIMIT LOG_REFUSED_PER_SECOND=5 || bail "broker did not start"
BASE=$(rss_kb)
bg stall1 "$PY" "$CASES" stalled-subscriber --port "$B_TCP" --slow "$PPMQ_TEST_SLOW" --qos 1 --n $N --size $SIZE --hold 120
stall=$BG_PID
wait_log "$T/stall1.log" '^held=1' $((120 * PPMQ_TEST_SLOW)) || diag "$(cat "$T/stall1.log")"
like "$(val acks "$(cat "$T/stall1.log")")" '0:*,97:*' "QoS 1 to a stalled subscriber: 0x97 once its session is full ($(val acks "$(cat "$T/stall1.log")"))"
gauge_max 'ppmq_queued_bytes{sessions="online"}' $LIMIT
wait_until 10 gauge_nonzero 'ppmq_messages_dropped_total{limit="queued_bytes",qos="1"}'
check "dropped messages counted ($METRIC_VALUE)" [ "${METRIC_VALUE:-0}" -gt $((N / 2)) ]
check "logged with the key" grep -qE "mqtt: client 'stall-sub': QoS 1 message of 655[0-9]{2} bytes dropped: its session would hold more bytes than mqtt.max_queued_bytes \\($LIMIT\\)" "$B_LOG"
wait_log "$B_LOG" 'mqtt: \.\.\. [0-9]+ more messages dropped at a memory limit suppressed \(log.refused_per_second = 5\)' 10
check "the other lines are summed up (log.refused_per_second)" \
	grep -qE 'mqtt: \.\.\. [0-9]+ more messages dropped at a memory limit suppressed' "$B_LOG"
lines=$(grep -c "mqtt: client 'stall-sub'" "$B_LOG")
check "... and not written one by one ($lines lines for $METRIC_VALUE drops)" [ "$lines" -lt $((METRIC_VALUE / 2)) ]
rss_within 16384 "$N x 64 KiB to a stalled QoS 1 subscriber: resident size bounded"
served "a normal client is served while the subscriber stalls"
is "$(metric 'ppmq_slow_consumers_closed_total{listener="tcp"}')" 0 "the stalled subscriber is not closed"
stop_pid "$stall"
stop_broker >/dev/null

# ---- a QoS 0 subscriber that stops reading ------------------------------------------
start_broker stall0 MQTT_MAX_OUTPUT_BUFFER=262144 || bail "broker did not start"
BASE=$(rss_kb)
bg stall0 "$PY" "$CASES" stalled-subscriber --port "$B_TCP" --slow "$PPMQ_TEST_SLOW" --qos 0 --n $N --size $SIZE --hold 120
stall=$BG_PID
wait_log "$T/stall0.log" '^held=1' $((120 * PPMQ_TEST_SLOW)) || diag "$(cat "$T/stall0.log")"
wait_until 10 gauge_nonzero 'ppmq_messages_dropped_total{limit="output_buffer",qos="0"}'
check "QoS 0 messages past mqtt.max_output_buffer dropped and counted ($METRIC_VALUE)" [ "${METRIC_VALUE:-0}" -gt $((N / 2)) ]
check "logged with the key" grep -qE "mqtt: client 'stall-sub': QoS 0 message of 655[0-9]{2} bytes dropped: more bytes wait to be written to it than mqtt.max_output_buffer \\(262144\\)" "$B_LOG"
rss_within 16384 "$N x 64 KiB to a stalled QoS 0 subscriber: resident size bounded"
served "a normal client is served while the subscriber stalls"
stop_pid "$stall"
stop_broker >/dev/null

# ---- retained messages --------------------------------------------------------------
start_broker retained MQTT_MAX_RETAINED_MESSAGES=5 || bail "broker did not start"
cases retained-limit --n 8
is "$(val acks)" "10:5,97:3" "5 retained messages kept (no subscriber: 0x10), 3 more refused with 0x97"
is "$(val retained)" 5 "a new subscriber gets the 5 kept"
wait_metric 'ppmq_messages_dropped_total{limit="retained_messages",qos="1"}' 3
is "$METRIC_VALUE" 3 "counted as not retained"
wait_metric ppmq_retained_messages 5
is "$METRIC_VALUE" 5 "ppmq_retained_messages"
check "logged with the key" grep -q "mqtt: retained message of 15 bytes not kept (delivered all the same): mqtt.max_retained_messages are kept (5)" "$B_LOG"
stop_broker >/dev/null

# ---- sessions -----------------------------------------------------------------------
start_broker sessions MQTT_MAX_SESSIONS=3 || bail "broker did not start"
cases sessions-limit --n 3
is "$(val new_v5)/$(val new_v3)" 97/3 "3 sessions kept, the limit: a new MQTT 5 client gets 0x97, a 3.1.1 one 0x03"
is "$(val kept_back)" 0 "a client whose session is kept connects"
wait_metric 'ppmq_sessions_refused_total{listener="tcp"}' 2
is "$METRIC_VALUE" 2 "counted: ppmq_sessions_refused_total"
check "logged with the key" grep -q "tcp: client 127.0.0.1:[0-9]*: CONNECT as 'new-5' refused: 3 sessions kept, the limit (mqtt.max_sessions)" "$B_LOG"
stop_broker >/dev/null

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
