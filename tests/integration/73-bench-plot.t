#!/usr/bin/env bash
# 73-bench-plot.t - the figures of docs/benchmarks.md are those of the run
# they describe: bench/plot.py draws docs/bench/*.svg again from
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

plan 10

"$PY" bench/plot.py "$RES" "$T/fig" >"$T/plot.out" 2>&1
is "$?" 0 "bench/plot.py draws the figures of $RES"
for f in bench-accept bench-throughput bench-cpu; do
	check "$f.svg: the same as docs/bench/$f.svg" cmp -s "$T/fig/$f.svg" "docs/bench/$f.svg"
done
is "$("$PY" -c '
import sys, xml.etree.ElementTree as ET
print(" ".join(ET.parse(f).getroot().tag.split("}")[-1] for f in sys.argv[1:]))
' "$T"/fig/bench-{accept,throughput,cpu}.svg 2>&1)" "svg svg svg" "each figure is an SVG document"
is "$(grep -o '(bench/bench-[a-z]*\.svg)' "$PAGE" | sort | tr '\n' ' ')" \
	"(bench/bench-accept.svg) (bench/bench-cpu.svg) (bench/bench-throughput.svg) " \
	"$PAGE shows the three figures"
is "$(grep -c 'ceiling (bench/sink.c)' "$T/fig/bench-accept.svg")" 1 \
	"the accept figure draws the machine's ceiling from the sink's median"

# Every median of the run, as the page's tables write it (1,234).
missing=$("$PY" - "$RES" "$PAGE" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
want = ["{:,.0f}".format(v["median_connections_per_s"]) for v in d["accept"].values()]
want += ["{:,.0f}".format(v["median_received_per_s"]) for v in d["throughput"].values()]
print(" ".join(w for w in want if "| %s |" % w not in page) or "none")
EOF
)
is "$missing" none "every median of the run (accept rates, messages/s) is in the page's tables"

echo '[1, 2]' >"$T/list.json"
"$PY" bench/plot.py "$T/list.json" "$T/x" >"$T/bad.out" 2>&1
is "$?:$(grep -c 'not a results.json' "$T/bad.out")" 1:1 "a JSON that is not a results.json: exit 1, said"
"$PY" bench/plot.py "$T/none.json" "$T/x" >"$T/bad.out" 2>&1
is "$?:$(grep -c 'none.json' "$T/bad.out"):$(grep -c Traceback "$T/bad.out")" 1:1:0 \
	"a file that is not there: exit 1, named, no traceback"
done_testing
