#!/usr/bin/env bash
# 40-report-html.t - `ppmq-conform report --html DIR A.json B.json` turns
# saved results into one self-contained page, and that page works in a
# browser with no network: headless Chromium loads it from file://, runs
# its script, and the matrix, its cells and an opened detail are in the DOM.
#
# Needs bin/ppmq-conform (SKIP without it) and Chromium for the browser
# part (SKIP without it; CHROMIUM=/path overrides the search).
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

DATA=$ROOT/tests/data
CONFORM=$PPMQ_BIN/ppmq-conform
A=$DATA/report-sample.json
B=$DATA/report-sample-b.json

[ -x "$CONFORM" ] || skip_all "ppmq-conform not built ($CONFORM)"

count() { grep -o -- "$1" "$2" | wc -l | tr -d ' '; }

plan 18

# Results in the fixtures: the page must have one link per result.
nres=$(( $(count '"grade":' "$A") + $(count '"grade":' "$B") ))

OUT=$T/html
timeout 30 "$CONFORM" report --html "$OUT" "$A" "$B" >"$T/report.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -s "$OUT/index.html" ]; then
	ok "report --html writes index.html from two JSON results"
else
	not_ok "report --html writes index.html from two JSON results" "exit $rc" \
		"$(head -5 "$T/report.out")"
	skip_rest "no page to check"
fi
PAGE=$OUT/index.html

check "the page has the matrix table" grep -q '<table id="matrix" class="matrix">' "$PAGE"
links=$(count '<a class="g-[a-z]*" href="#d[01]-[0-9]*"' "$PAGE")
check "one cell link per result ($nres)" test "$links" -eq "$nres"
# Self-contained: nothing is fetched, from the network or from disk.
check "no external resource (http, src=, <link>, @import)" \
	bash -c "! grep -Eq 'https?://|[[:space:]]src=|<link|@import' '$PAGE'"
check "markup from the results is escaped" \
	bash -c "grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' '$PAGE' && \
	         [ \$(grep -c '<script>' '$PAGE') -eq 1 ]"

# The findings come first: above the matrix, each with a link that shows
# its points in the matrix.
fpos=$(grep -bo '<section id="findings">' "$PAGE" | cut -d: -f1)
mpos=$(grep -bo '<table id="matrix"' "$PAGE" | cut -d: -f1)
check "the findings section comes before the matrix" test "${fpos:-999999999}" -lt "${mpos:-0}"
nfind=$(count '<li class="finding"' "$PAGE")
check "findings listed, each with a link to its points ($nfind)" \
	test "$nfind" -gt 0 -a "$(count 'class="fshow" data-ids=' "$PAGE")" -eq "$nfind"

# A file that is not a report is refused with its name in the message.
echo '{"format": "something else"}' > "$T/bad.json"
timeout 30 "$CONFORM" report --html "$T/bad-html" "$T/bad.json" >"$T/bad.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'bad.json' "$T/bad.out" && [ ! -e "$T/bad-html/index.html" ]; then
	ok "a JSON file that is not a report is refused (exit $rc)"
else
	not_ok "a JSON file that is not a report is refused" "exit $rc" "$(head -3 "$T/bad.out")"
fi

# A file that is missing or not JSON: its name, and where the JSON breaks.
timeout 30 "$CONFORM" report --html "$T/x" "$T/nope.json" >"$T/nope.out" 2>&1
is "$(cat "$T/nope.out")" "ppmq-conform report: cannot read $T/nope.json: No such file or directory" \
	"a missing JSON file is named, with the reason"
printf '{"a":\n' >"$T/cut.json"
timeout 30 "$CONFORM" report --html "$T/x" "$T/cut.json" >"$T/cut.out" 2>&1
like "$(cat "$T/cut.out")" "ppmq-conform report: $T/cut.json:2:0: *" \
	"a JSON file cut short: file:line:column"

# ---- the browser --------------------------------------------------------
CHROME=${CHROMIUM:-}
if [ -z "$CHROME" ]; then
	for c in chromium chromium-browser google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then CHROME=$(command -v "$c"); break; fi
	done
fi
if [ -z "$CHROME" ] || [ ! -x "$CHROME" ]; then
	skip_rest "chromium not installed"
fi

# dump URL OUTPUT: the DOM after the page's script ran, network off.
dump() {
	HOME=$T timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --disable-extensions --user-data-dir="$T/profile" \
		--dump-dom "$1" >"$2" 2>"$T/chrome.err"
}

if dump "file://$PAGE" "$T/dom.html" && [ -s "$T/dom.html" ]; then
	ok "chromium loads the page offline"
else
	not_ok "chromium loads the page offline" "$(tail -3 "$T/chrome.err")"
	skip_rest "chromium could not load the page"
fi
DOM=$T/dom.html

# The script marks the table and fills the row counter: proof that it ran.
check "the script ran (matrix marked ready)" \
	grep -q '<table id="matrix" class="matrix" data-ready="1">' "$DOM"
rows=$(count '<tr class="row"' "$DOM")
check "the counter shows every scenario ($rows)" \
	grep -q ">$rows of $rows scenarios shown<" "$DOM"
# Cells: rows x (2 targets x 4 listeners), every one coloured or empty.
cells=$(count '<td class="cell ' "$DOM")
check "every row has its 8 cells ($cells for $rows rows)" test "$cells" -eq $((rows * 8))
check "cells carry their grade colours (PASS, FAIL, UNSUPPORTED, SKIP)" \
	bash -c "grep -q 'class=\"cell g-pass' '$DOM' && grep -q 'class=\"cell g-fail' '$DOM' && \
	         grep -q 'class=\"cell g-unsupported' '$DOM' && grep -q 'class=\"cell g-skip' '$DOM'"

# Opening a cell's detail by its address: the panel is open in the DOM.
fail_id=$(grep -o 'class="g-fail" href="#d[01]-[0-9]*"' "$PAGE" | head -1 | sed 's/.*#//; s/"$//')
if [ -n "$fail_id" ] && dump "file://$PAGE#$fail_id" "$T/dom2.html" &&
   grep -q "class=\"detail b-fail open\" id=\"$fail_id\"" "$T/dom2.html" &&
   grep -q 'class="g-fail sel"' "$T/dom2.html"; then
	ok "a FAIL cell opens its detail panel ($fail_id)"
else
	not_ok "a FAIL cell opens its detail panel (${fail_id:-none found})" "$(tail -3 "$T/chrome.err")"
fi

# A finding's link (its address) shows only its scenarios in the matrix.
big=$(grep -o 'id="fs[0-9]*-[0-9]*" class="fshow" data-ids="[^"]*"' "$PAGE" |
	awk -F'"' '{ n = split($6, a, " "); if (n > best) { best = n; id = $2 } } END { print id, best }')
read -r fid fn <<<"$big"
if [ -n "$fid" ] && dump "file://$PAGE#$fid" "$T/dom3.html"; then
	shown=$(grep -o '<tr class="row"[^>]*>' "$T/dom3.html" | grep -vc 'hidden')
	is "$shown" "$fn" "a finding's link shows its $fn scenarios, and only them ($fid)"
else
	not_ok "a finding's link shows its scenarios (${fid:-none found})" "$(tail -3 "$T/chrome.err")"
fi

# A screenshot of the top of the page, kept for a reader: the summary, then
# the findings, the matrix below them.
SHOT_DIR=${PPMQ_BUILD:-$ROOT/build}/test-artifacts
mkdir -p "$SHOT_DIR"
rm -f "$SHOT_DIR/report-findings.png"
HOME=$T timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
	--disable-background-networking --user-data-dir="$T/profile" --window-size=1400,1600 \
	--screenshot="$SHOT_DIR/report-findings.png" "file://$PAGE" >/dev/null 2>>"$T/chrome.err"
check "screenshot of the findings above the matrix ($SHOT_DIR/report-findings.png)" \
	bash -c "head -c 8 '$SHOT_DIR/report-findings.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"

done_testing
