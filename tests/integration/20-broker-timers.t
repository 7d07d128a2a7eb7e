#!/usr/bin/env bash
# 20-broker-timers.t - ppmq-broker's MQTT deadlines, to the millisecond,
# seen by a client that measures them (tests/lib/mqtt_cases.py):
#   - Will Delay 2 s: the will arrives 2 s after the connection is lost,
#     not 100 ms sooner (three clients, lost a third of a second apart);
#     a client back after 1.8 s voids it [MQTT-3.1.3-9];
#   - Session Expiry 2 s: the session ends (its delayed will goes out) 2 s
#     after the connection, not 100 ms sooner (three sessions, the same
#     way); after 1.8 s it is there;
#   - Message Expiry 2 s: a message still waiting after 1.9 s is sent,
#     with 1 s left; one of 1 s is not;
#   - Keep Alive 2 s: silence is ended 3 s (1.5 times) after the last
#     packet, not 100 ms sooner, with DISCONNECT 0x8D.
# Each event must also come within a generous deadline (10 s, times
# PPMQ_TEST_SLOW); nothing else about time is asserted.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
plan 17
LATE=$((10000 * PPMQ_TEST_SLOW))

# in_window NAME MS FROM: FROM <= MS <= LATE (MS a number)
in_window() {
	local v=$2
	if [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge "$3" ] && [ "$v" -le "$LATE" ]; then
		ok "$1 ($v ms)"
	else
		not_ok "$1" "got: '$v' ms, want $3..$LATE" "$CASE_OUT"
	fi
}

start_broker timers || bail "broker did not start"

mqtt_case 60 will-delay
is "$(case_val wills)" 3 "three clients gone a third of a second apart: three wills"
in_window "... none sooner than 1.9 s after its loss (Will Delay 2 s)" "$(case_val will_ms_min)" 1900
in_window "... all within the deadline" "$(case_val will_ms_max)" 1900
is "$(case_val back_session_present)" 1 "a client back after 1.8 s finds its session"
is "$(case_val after_return)" marker "... and its will is void: the next message is a later marker"

mqtt_case 60 session-expiry
is "$(case_val ends)" 3 "three sessions left a third of a second apart end (their wills, delayed 60 s, go out)"
in_window "... none sooner than 1.9 s after its loss (Session Expiry 2 s)" "$(case_val end_ms_min)" 1900
in_window "... all within the deadline" "$(case_val end_ms_max)" 1900
is "$(case_val present_after_1800)" 1 "a session left 1.8 s before is still there"

mqtt_case 60 message-expiry
is "$(case_val first)" m1 "a subscriber with Receive Maximum 1 gets the first message"
is "$(case_val second)" m2 "a message of 2 s still waiting after 1.9 s is sent"
is "$(case_val second_expiry)" 1 "... with 1 s left (rounded up)"
is "$(case_val third)" m4 "a message of 1 s waiting 1.9 s is not"

mqtt_case 60 keepalive
in_window "silence ends no sooner than 2.9 s after the CONNECT (Keep Alive 2 s)" "$(case_val close_ms)" 2900
is "$(case_val disconnect_rc)" 8d "... with DISCONNECT 0x8D Keep Alive timeout"
is "$(case_val closed)" 1 "... then the connection is closed"

stop_broker >/dev/null
check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
