#!/usr/bin/env bash
# 40-report-html.t - `ppmq-conform report --html DIR A.json B.json` turns
# saved results into one self-contained page, and that page works in a
# browser with no network: headless Chromium loads it from file://, runs
# its script, and the matrix, its cells and an opened detail are in the DOM.
#
# Needs bin/ppmq-conform (SKIP without it) and Chromium for the browser
# part (SKIP without it; CHROMIUM=/path overrides the search).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PPMQ_BIN:-$ROOT/bin}
DATA=$ROOT/tests/data
CONFORM=$BIN/ppmq-conform
A=$DATA/report-sample.json
B=$DATA/report-sample-b.json
PLAN=12

if [ ! -x "$CONFORM" ]; then
	echo "1..0 # SKIP ppmq-conform not built ($CONFORM)"
	exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ppmq-40.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d" "failed: $*"; fi
}
skip_rest() {
	while [ "$n" -lt "$PLAN" ]; do n=$((n + 1)); echo "ok $n # SKIP $1"; done
	exit 0
}
count() { grep -o -- "$1" "$2" | wc -l | tr -d ' '; }

echo "1..$PLAN"

# Results in the fixtures: the page must have one link per result.
nres=$(( $(count '"grade":' "$A") + $(count '"grade":' "$B") ))

OUT=$TMP/html
timeout 30 "$CONFORM" report --html "$OUT" "$A" "$B" >"$TMP/report.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -s "$OUT/index.html" ]; then
	ok "report --html writes index.html from two JSON results"
else
	nok "report --html writes index.html from two JSON results" "exit $rc" \
		"$(head -5 "$TMP/report.out")"
	skip_rest "no page to check"
fi
PAGE=$OUT/index.html

check "the page has the matrix table" grep -q '<table id="matrix" class="matrix">' "$PAGE"
links=$(count 'data-d="d[01]-[0-9]*"' "$PAGE")
check "one cell link per result ($nres)" test "$links" -eq "$nres"
# Self-contained: nothing is fetched, from the network or from disk.
check "no external resource (http, src=, <link>, @import)" \
	bash -c "! grep -Eq 'https?://|[[:space:]]src=|<link|@import' '$PAGE'"
check "markup from the results is escaped" \
	bash -c "grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' '$PAGE' && \
	         [ \$(grep -c '<script>' '$PAGE') -eq 1 ]"

# A file that is not a report is refused with its name in the message.
echo '{"format": "something else"}' > "$TMP/bad.json"
timeout 30 "$CONFORM" report --html "$TMP/bad-html" "$TMP/bad.json" >"$TMP/bad.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'bad.json' "$TMP/bad.out" && [ ! -e "$TMP/bad-html/index.html" ]; then
	ok "a JSON file that is not a report is refused (exit $rc)"
else
	nok "a JSON file that is not a report is refused" "exit $rc" "$(head -3 "$TMP/bad.out")"
fi

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
	HOME=$TMP timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --disable-extensions --user-data-dir="$TMP/profile" \
		--dump-dom "$1" >"$2" 2>"$TMP/chrome.err"
}

if dump "file://$PAGE" "$TMP/dom.html" && [ -s "$TMP/dom.html" ]; then
	ok "chromium loads the page offline"
else
	nok "chromium loads the page offline" "$(tail -3 "$TMP/chrome.err")"
	skip_rest "chromium could not load the page"
fi
DOM=$TMP/dom.html

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
if [ -n "$fail_id" ] && dump "file://$PAGE#$fail_id" "$TMP/dom2.html" &&
   grep -q "class=\"detail b-fail open\" id=\"$fail_id\"" "$TMP/dom2.html" &&
   grep -q 'class="g-fail sel"' "$TMP/dom2.html"; then
	ok "a FAIL cell opens its detail panel ($fail_id)"
else
	nok "a FAIL cell opens its detail panel (${fail_id:-none found})" "$(tail -3 "$TMP/chrome.err")"
fi
