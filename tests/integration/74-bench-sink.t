#!/usr/bin/env bash
# 74-bench-sink.t - bench/sink.c, the ceilings of `make bench`, builds
# warning-free and serves `proxygen flood`: without --relay, every
# connection gets its CONNACK (with or without a PROXY header); with
# --relay, publish loads at QoS 0, 1 and 2, one subscriber per publisher
# on its own topic, arrive complete, without a header and after a v1 or
# v2 header. Counts, never timings.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"
cd "$ROOT" || bail "cannot enter $ROOT"
need_bins proxygen

plan 12

CC=${CC:-cc}
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$T/sink" bench/sink.c >"$T/cc.log" 2>&1
is "$?:$(wc -c <"$T/cc.log")" 0:0 "bench/sink.c builds with -Wall -Wextra -Werror, no message"
[ -x "$T/sink" ] || bail "no sink: $(cat "$T/cc.log")"

"$T/sink" --relay >"$T/usage.log" 2>&1
is "$?:$(grep -c 'usage: sink \[--relay\] PORT' "$T/usage.log")" 2:1 "no port: usage, exit 2"

read -r P_SINK P_RELAY <<<"$(free_ports 2)"
bg sink "$T/sink" "$P_SINK"
bg relay "$T/sink" --relay "$P_RELAY"
wait_port "$P_SINK" || bail "the sink did not listen: $(cat "$T/sink.log")"
wait_port "$P_RELAY" || bail "the relay did not listen: $(cat "$T/relay.log")"

# flood NAME PORT [options...]: a bounded run, JSON summary to $T/NAME.json;
# prints its exit status and, for a publish load, received/expected.
flood() {
	local name=$1 port=$2
	shift 2
	timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$port" --timeout 10000 --duration 30 \
		--quiet --json "$@" >"$T/$name.json" 2>"$T/$name.err"
	local st=$?
	echo "$st$(jf "$T/$name.json" \
		"' %d/%d' % (d['messages']['received'], d['messages']['expected']) if d.get('messages') else ''")"
}

is "$(flood accept "$P_SINK" --no-header --connections 500 --concurrency 50)" 0 \
	"sink: 500 connections, every one CONNACK 0"
is "$(flood accept-v2 "$P_SINK" --v2 --src-cidr 10.0.0.0/8 --connections 200)" 0 \
	"sink: 200 connections with a v2 header, every one CONNACK 0"

load=(--connections 40 --subscribers 20 --topics 20 --messages 200)
is "$(flood q0 "$P_RELAY" --no-header "${load[@]}" --qos 0)" "0 4000/4000" \
	"relay, QoS 0, 20 publishers x 200: all 4000 arrived"
is "$(flood q1 "$P_RELAY" --no-header "${load[@]}" --qos 1)" "0 4000/4000" \
	"relay, QoS 1: all acknowledged and arrived"
is "$(jf "$T/q1.json" "d['messages']['acknowledged']")" 4000 "relay, QoS 1: 4000 PUBACKs"
is "$(flood q2 "$P_RELAY" --no-header "${load[@]}" --qos 2)" "0 4000/4000" \
	"relay, QoS 2: PUBREC, PUBREL, PUBCOMP both ways, all arrived"
is "$(flood v2 "$P_RELAY" --v2 --src-cidr 10.0.0.0/8 "${load[@]}" --qos 1 --payload-size 4096)" \
	"0 4000/4000" "relay after a v2 header, 4 KB payloads: all arrived"
is "$(flood v1 "$P_RELAY" --v1 --src-cidr 10.0.0.0/8 "${load[@]}" --qos 1)" "0 4000/4000" \
	"relay after a v1 header: all arrived"
# Written at once: 20,000 x 4 KB wait in the relay's output for the subscriber.
is "$(flood burst "$P_RELAY" --no-header --connections 2 --subscribers 1 --topics 1 \
	--messages 20000 --payload-size 4096 --qos 0)" "0 20000/20000" \
	"relay, QoS 0, 20,000 x 4 KB written at once to one subscriber: all arrived"
is "$(flood again "$P_RELAY" --no-header "${load[@]}" --qos 1)" "0 4000/4000" \
	"relay: the same topics again, new subscribers: all arrived"
done_testing
