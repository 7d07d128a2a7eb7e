#!/usr/bin/env bash
# 73-bench-plot.t - the figures of docs/benchmarks.md are those of the run
# they describe: bench/plot.py draws the six docs/bench/*.svg again from
# docs/bench/results.json, byte for byte; the page shows each of them, and
# its tables carry that run's medians. bench/plot.py refuses what is not a
# results.json with a message, not a traceback. Reads files only: no
# benchmark runs here.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"
cd "$ROOT" || bail "cannot enter $ROOT"

RES=docs/bench/results.json
PAGE=docs/benchmarks.md
[ -f "$RES" ] || bail "$RES missing"

plan 15

"$PY" bench/plot.py "$RES" "$T/fig" >"$T/plot.out" 2>&1
is "$?" 0 "bench/plot.py draws the figures of $RES"
FIGS=(bench-accept bench-throughput bench-cpu bench-transports bench-transports-cpu bench-latency)
for f in "${FIGS[@]}"; do
	check "$f.svg: the same as docs/bench/$f.svg" cmp -s "$T/fig/$f.svg" "docs/bench/$f.svg"
done
SVGS=("${FIGS[@]/#/$T/fig/}")
is "$("$PY" -c '
import sys, xml.etree.ElementTree as ET
print(" ".join(ET.parse(f).getroot().tag.split("}")[-1] for f in sys.argv[1:]))
' "${SVGS[@]/%/.svg}" 2>&1)" "svg svg svg svg svg svg" "each figure is an SVG document"
is "$(grep -o '(bench/bench-[a-z-]*\.svg)' "$PAGE" | sort | tr '\n' ' ')" \
	"$(printf '(bench/%s.svg) ' "${FIGS[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')" \
	"$PAGE shows the six figures"
is "$(grep -c 'ceiling (bench/sink.c)' "$T/fig/bench-accept.svg")" 1 \
	"the accept figure draws the machine's ceiling from the sink's median"
loads=$(jf "$RES" "len({(v['qos'], v['publishers'], v['payload_bytes']) for v in d['throughput'].values()
                   if v['broker'] == 'relay-none'})")
is "$(grep -c 'stroke-dasharray="5,3"' "$T/fig/bench-throughput.svg")" $((loads + 1)) \
	"the throughput figure marks the relay's ceiling over each of its $loads loads (and in the legend)"

# Every median of the run, as the page's tables write it (1,234).
missing=$("$PY" - "$RES" "$PAGE" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
want = ["{:,.0f}".format(v["median_connections_per_s"]) for v in d["accept"].values()]
want += ["{:,.0f}".format(v["median_received_per_s"]) for v in d["throughput"].values()]
want += ["{:,.0f}".format(v["median_connections_per_s"]) for v in d["transports"].values()]
want += ["%.1f" % v["broker_cpu_us_per_connection"] for v in d["transports"].values()]
print(" ".join(w for w in want if "| %s |" % w not in page) or "none")
EOF
)
is "$missing" none "every median of the run (accept rates over each transport, messages/s) is in the page's tables"
missing=$("$PY" - "$RES" "$PAGE" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
want = ["%.2f" % v["median_latency_%s_ms" % k] for v in d["latency"].values() for k in ("p50", "p99", "p99_9")]
print(" ".join(w for w in want if "| %s |" % w not in page) or "none")
EOF
)
is "$missing" none "every latency median of the fixed-rate run (p50, p99, p99.9) is in the page's table"

echo '[1, 2]' >"$T/list.json"
"$PY" bench/plot.py "$T/list.json" "$T/x" >"$T/bad.out" 2>&1
is "$?:$(grep -c 'not a results.json' "$T/bad.out")" 1:1 "a JSON that is not a results.json: exit 1, said"
"$PY" bench/plot.py "$T/none.json" "$T/x" >"$T/bad.out" 2>&1
is "$?:$(grep -c 'none.json' "$T/bad.out"):$(grep -c Traceback "$T/bad.out")" 1:1:0 \
	"a file that is not there: exit 1, named, no traceback"
done_testing
