#!/usr/bin/env bash
# 62-flood-shards.t - a `proxygen flood` load split into shards (--shard
# I/N) run as separate processes at the same time, and their summaries
# merged (--merge): the shards' client ids and header sources, as the
# brokers recorded them, are disjoint and together those of the same load
# run whole; the merged counts equal the whole run's; merged percentiles
# are those of the merged histograms; a publish load in shards counts its
# messages exactly. Counts, never timings.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

FLOODPY=$ROOT/tests/lib/flood.py

if [ ! -x "$PROXYGEN" ] || [ ! -x "$BROKER" ]; then
	bail "$PROXYGEN or $BROKER is not built (make)"
fi

plan 35

LOAD=(--v2 --src-cidr 10.0.0.0/8 --seed 9 --connections 300 --concurrency 30 --client-prefix sh-)

for b in whole s0 s1 s2; do
	start_broker "$b" MQTT_TCP_PROXY_PROTOCOL_ENABLED=true || bail "broker $b did not start"
done

# ---- the load whole, and in three shards side by side ----------------------------------
timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$whole_TCP" "${LOAD[@]}" --quiet --json \
	>"$T/whole.json" 2>"$T/whole.err"
is "$?" 0 "the whole load: exit 0"
spids=()
for i in 0 1 2; do
	port=$(port_of "s$i" tcp)
	timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$port" "${LOAD[@]}" --shard "$i/3" \
		--quiet --json >"$T/s$i.json" 2>"$T/s$i.err" &
	spids+=("$!")
	PIDS+=("$!")
done
for i in 0 1 2; do
	wait_exit "${spids[$i]}" 60
	is "$?" 0 "shard $i/3: exit 0"
done

# What each broker recorded: "clientId ip:port" per session.
for b in whole s0 s1 s2; do
	"$PY" "$FLOODPY" sessions "http://127.0.0.1:${BR_ADMIN[$b]}/api/v1/sessions" |
		sort >"$T/sess-$b.txt"
done
for i in 0 1 2; do
	is "$(wc -l <"$T/sess-s$i.txt")" 100 "shard $i/3: its broker recorded 100 sessions"
	is "$(awk -v i="$i" '{ sub(/^sh-/, "", $1); if ($1 % 3 != i) bad++ } END { print bad + 0 }' "$T/sess-s$i.txt")" \
		0 "shard $i/3: client ids sh-K with K mod 3 = $i"
done
is "$(cut -d' ' -f1 "$T"/sess-s?.txt | sort | uniq -d | wc -l)" 0 "the shards' client ids are disjoint"
is "$(cut -d' ' -f2 "$T"/sess-s?.txt | sort | uniq -d | wc -l)" 0 "the shards' header sources are disjoint"
is "$(cat "$T"/sess-s?.txt | sort | md5sum)" "$(md5sum <"$T/sess-whole.txt")" \
	"together they are the whole load's ids, each with the same source"
is "$(wc -l <"$T/sess-whole.txt")" 300 "the whole load: 300 sessions recorded"
like "$(head -1 "$T/sess-whole.txt")" 'sh-* 10.*' "sources from 10.0.0.0/8"

# ---- merged summaries --------------------------------------------------------------------
timeout 30 "$PROXYGEN" flood --merge "$T/s0.json" "$T/s1.json" "$T/s2.json" --json \
	>"$T/merged.json" 2>"$T/merged.err"
is "$?" 0 "--merge of the three shards: exit 0"
is "$("$PY" "$FLOODPY" merged "$T/merged.json" "$T/s0.json" "$T/s1.json" "$T/s2.json")" ok \
	"merged: counts add up, histograms are summed bucket by bucket, percentiles are theirs"
is "$(jf "$T/merged.json" "[d[k] for k in ('connections', 'attempted', 'succeeded', 'connacks', 'failed')]")" \
	"$(jf "$T/whole.json" "[d[k] for k in ('connections', 'attempted', 'succeeded', 'connacks', 'failed')]")" \
	"merged totals equal the whole run's"
is "$(jf "$T/merged.json" "d['merged']")" "{'summaries': 3, 'shards': 3, 'missing_shards': []}" \
	"merged: 3 summaries, no shard missing"
timeout 30 "$PROXYGEN" flood --merge "$T"/s?.json >"$T/merged.txt" 2>&1
check "merged, as text: says what was merged" \
	grep -q '^merged: *3 summaries of a load in shards, all of them' "$T/merged.txt"

# ---- a publish load in shards: each shard's subscribers and publishers share topics ---
PUB=(--v1 --seed 9 --connections 60 --subscribers 6 --topics 3 --qos 1 --messages 50
	--publish-rate 3000 --client-prefix pub-)
for i in 0 1 2; do
	timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$whole_TCP" "${PUB[@]}" --shard "$i/3" \
		--quiet --json >"$T/p$i.json" 2>"$T/p$i.err" &
	spids[$i]=$!
	PIDS+=("$!")
done
st=0
for i in 0 1 2; do
	wait_exit "${spids[$i]}" 60 || st=$?
done
is "$st" 0 "publish load, three shards at once: every shard exits 0"
timeout 30 "$PROXYGEN" flood --merge "$T"/p?.json --json >"$T/pmerged.json"
is "$?" 0 "publish load: --merge exit 0"
timeout 60 "$PROXYGEN" flood --target "127.0.0.1:$whole_TCP" "${PUB[@]}" --client-prefix pubw- \
	--quiet --json >"$T/pwhole.json" 2>"$T/pwhole.err"
is "$?" 0 "publish load, whole: exit 0"
M="[d['messages'][k] for k in ('publishers', 'subscribers', 'published', 'acknowledged', 'expected', 'received')]"
is "$(jf "$T/pmerged.json" "$M")" "$(jf "$T/pwhole.json" "$M")" \
	"publish load: merged message counts equal the whole run's"
is "$(jf "$T/pwhole.json" "d['messages']['received']")" 5400 \
	"publish load: 54 publishers x 50 on 3 topics, 2 subscribers each: 5400 received"
is "$("$PY" "$FLOODPY" merged "$T/pmerged.json" "$T"/p?.json)" ok \
	"publish load: merged latency histogram is the shards' sum, its percentiles are its own"

# ---- what --merge refuses ------------------------------------------------------------------
merge_st() { timeout 30 "$PROXYGEN" flood --merge "$@" >"$T/m.out" 2>"$T/m.err"; echo "$?"; }
is "$(merge_st "$T/s0.json" "$T/s2.json" --json)" 1 "a shard missing: exit 1"
is "$(jf "$T/m.out" "d['merged']['missing_shards']")" "[1]" "a shard missing: named in the summary"
check "a shard missing: said on stderr" grep -q 'shards 1 of 3 missing' "$T/m.err"
is "$(merge_st "$T/s0.json" "$T/s0.json")" 2 "the same shard twice: usage error"
check "the same shard twice: said" grep -q 'shard 0 of 3 again' "$T/m.err"
is "$(merge_st "$T/whole.json" "$T/s1.json")" 2 "a whole run and a shard: usage error"
echo '{"summary": "something else"}' >"$T/other.json"
is "$(merge_st "$T/other.json")" 2 "not a flood summary: usage error"
is "$(merge_st --json)" 2 "no summary at all: usage error"
"$PROXYGEN" flood --target "127.0.0.1:$whole_TCP" --shard 1/2 --src-cidr 10.0.0.0/8 >"$T/u.out" 2>&1
is "$?:$(grep -c 'needs --seed' "$T/u.out")" 2:1 "--shard with --src-cidr and no --seed: usage error"

for b in whole s0 s1 s2; do stop_broker "$b"; done
done_testing
