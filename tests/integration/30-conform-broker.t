#!/usr/bin/env bash
# 30-conform-broker.t - ppmq-conform against ppmq-broker, launched by the
# runner itself through conformance/targets/ppmq-broker.yml (free loopback
# ports, throwaway certificates): the whole catalog must pass, the TAP must
# pass under prove, the reports must be written; a broker with a known
# PROXY bug must be caught (its address checked on acceptance scenarios
# too); a listener that does not behave as declared must stop the run at
# the pre-flight with one diagnosis; --explain and --audit must say what a
# scenario checks; and the exit statuses for an unreachable target (3) and
# a broken profile (2) must hold.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

CONFORM=$PPMQ_BIN/ppmq-conform
for p in ppmq-conform ppmq-broker; do
	[ -x "$PPMQ_BIN/$p" ] || bail "$PPMQ_BIN/$p is not built (make)"
done
certs_init || bail "scripts/gen-certs failed"

plan 27
cd "$ROOT" || bail "cannot enter $ROOT"
export PPMQ_CERT_DIR=$CERTS PPMQ_BIN

# ---- the whole catalog ---------------------------------------------------------

start=$(date +%s)
timeout 300 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	--json "$T/run.json" --junit "$T/run.xml" --html "$T/html" >"$T/run.tap" 2>"$T/run.err"
rc=$?
secs=$(( $(date +%s) - start ))
if [ "$rc" -eq 0 ]; then
	ok "whole catalog against ppmq-broker: exit 0"
else
	not_ok "whole catalog against ppmq-broker: exit 0 (got $rc)"
	grep -A12 '^not ok' "$T/run.tap" | head -60 | diag
	sed 's/^/# stderr: /' "$T/run.err" | head -20
fi
diag "the catalog ran in ${secs} s (the profile's jobs: 32 points at once)"
check "pre-flight: every listener as declared, the sessions observer sees the port and the peer" \
	grep -q '^# pre-flight: the sessions observer sees .*: IP, port, peer IP, peer port$' "$T/run.tap"

plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$T/run.tap")
points=$(grep -cE '^(not )?ok [0-9]+ ' "$T/run.tap")
if [ -n "$plan" ] && [ "$plan" -ge 480 ] && [ "$plan" = "$points" ]; then
	ok "TAP plan 1..$plan matches the $points points (>= 120 scenarios x 4 listeners)"
else
	not_ok "TAP plan matches the points"; diag "plan '$plan', points $points"
fi

if prove --exec cat "$T/run.tap" >"$T/prove.out" 2>&1; then
	ok "the TAP passes under prove"
else
	not_ok "the TAP passes under prove"; tail -15 "$T/prove.out" | diag
fi

# every scenario family ran somewhere (none entirely skipped)
missing=""
for fam in pp1 pp2 missing disabled mal transport mixed record identity config; do
	grep -qE "^ok [0-9]+ - $fam/[^ ]+ \[[a-z]+\] [^#]*\$" "$T/run.tap" || missing="$missing $fam"
done
check "every family has passing points that were not skipped${missing:+ (missing:$missing)}" test -z "$missing"

if [ -s "$T/run.json" ] && [ -s "$T/run.xml" ] && [ -s "$T/html/index.html" ] &&
	[ "$(grep -c '<testcase' "$T/run.xml")" = "$plan" ]; then
	ok "JSON, JUnit ($plan test cases) and HTML written"
else
	not_ok "JSON, JUnit and HTML written"
	# shellcheck disable=SC2012 # a listing for the reader
	ls -la "$T" "$T/html" 2>&1 | diag
fi

timeout 60 "$CONFORM" report --html "$T/merged" "$T/run.json" "$T/run.json" >/dev/null 2>"$T/report.err"
rc=$?
check "report merges JSON results into one page (exit $rc)" test "$rc" -eq 0 -a -s "$T/merged/index.html"

# ---- a broker with a known bug is caught ----------------------------------------

# The address is checked wherever a header is accepted: pp1/tcp4/basic
# fails too, with the clause it breaks and its sentence.
PPMQ_BROKER_FAULT=record-proxy-ip timeout 120 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	-j 4 --only record/sessions/v2-inet,pp1/tcp4/basic >"$T/fault.tap" 2>"$T/fault.err"
rc=$?
fails=$(grep -c '^not ok .*record/sessions/v2-inet' "$T/fault.tap")
fails1=$(grep -c '^not ok .*pp1/tcp4/basic' "$T/fault.tap")
if [ "$rc" -eq 1 ] && [ "$fails" -eq 4 ] && [ "$fails1" -eq 4 ] &&
	grep -q 'recorded client IP 127.0.0.7 (the socket peer), expected 192.0.2.1 (header source)' "$T/fault.tap" &&
	grep -q '^  clause: "tbmq/real-ip-port"$' "$T/fault.tap" && grep -q '^  quote: .*actual client IP and port' "$T/fault.tap"; then
	ok "a broker recording the proxy's address fails record/sessions/v2-inet and pp1/tcp4/basic on all 4 listeners, with the clause (exit 1)"
else
	not_ok "a broker recording the proxy's address is caught"; diag "exit $rc, $fails + $fails1 failing points"
	head -40 "$T/fault.tap" | diag
fi

# A listener that takes v2 only: as the profile declares (versions: [2]),
# v1 headers are expected to be refused; undeclared, they FAIL.
PPMQ_PROXY_VERSIONS=2 PPMQ_BROKER_FAULT=v2-only timeout 120 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	-j 4 --only pp1/tcp4/basic,pp2/inet/basic,mixed/v1-v2-interleaved --listener tcp,ws >"$T/v2only.tap" 2>&1
rc=$?
PPMQ_BROKER_FAULT=v2-only timeout 120 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	-j 4 --only pp1/tcp4/basic --listener tcp >"$T/v2only-undeclared.tap" 2>&1
rc2=$?
if [ "$rc" -eq 0 ] && [ "$(grep -c '^ok' "$T/v2only.tap")" -eq 6 ] &&
	[ "$rc2" -eq 1 ] && grep -q '^  clause: "pp/v1-receiver"$' "$T/v2only-undeclared.tap"; then
	ok "a v2-only listener: v1 refused as declared (PASS); undeclared, a FAIL of pp/v1-receiver"
else
	not_ok "a v2-only listener graded by its declaration (exit $rc / $rc2)"
	cat "$T/v2only.tap" "$T/v2only-undeclared.tap" | head -30 | diag
fi

# A listener in another mode than declared: one pre-flight diagnosis,
# exit 3, nothing graded; without the pre-flight, the points show it.
PPMQ_BROKER_FAULT=accept-missing timeout 120 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	-j 4 --only missing/connect --listener tcp,ws >"$T/fault2.tap" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && ! grep -q '^not ok' "$T/fault2.tap" &&
	grep -q '^Bail out! pre-flight: listener tcp (127.0.0.1:[0-9]*) serves clients without a PROXY header, but the profile says PROXY enabled' "$T/fault2.tap"; then
	ok "a listener that serves clients without a header, declared enabled: one pre-flight diagnosis (exit 3)"
else
	not_ok "a listener in another mode than declared: one pre-flight diagnosis (exit 3, got $rc)"
	head -30 "$T/fault2.tap" | diag
fi
PPMQ_BROKER_FAULT=accept-missing timeout 120 "$CONFORM" --target conformance/targets/ppmq-broker.yml \
	--no-preflight -j 4 --only missing/connect --listener tcp,ws >"$T/fault3.tap" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && [ "$(grep -c '^not ok' "$T/fault3.tap")" -eq 2 ] &&
	grep -q 'accepted a connection without a PROXY header' "$T/fault3.tap"; then
	ok "--no-preflight: a broker accepting clients without a header fails missing/connect (exit 1)"
else
	not_ok "--no-preflight: a broker accepting clients without a header is caught"; diag "exit $rc"
	head -30 "$T/fault3.tap" | diag
fi

# ---- what a scenario checks -------------------------------------------------------

out=$("$CONFORM" --explain pp2/local/junk-block 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^  clause: pp2/local-accept (proxy-protocol.txt 2.2 (LOCAL), must; breaking it is FAIL)$' <<<"$out" &&
	grep -q 'must use the real connection endpoints and discard the protocol block' <<<"$out"; then
	ok "--explain names the clause, its level and the sentence"
else
	not_ok "--explain names the clause, its level and the sentence (exit $rc)"; diag <<<"$out"
fi
"$CONFORM" --audit >"$T/audit.md" 2>"$T/audit.err"
rc=$?
if [ "$rc" -eq 0 ] && cmp -s "$T/audit.md" docs/conformance-audit.md; then
	ok "--audit writes the audit table kept in docs/conformance-audit.md"
else
	not_ok "--audit writes the audit table kept in docs/conformance-audit.md (exit $rc)"
	diff "$T/audit.md" docs/conformance-audit.md | head -20 | diag
fi

# ---- exit statuses: unreachable (3), broken profile (2) -------------------------

read -r port <<<"$(free_ports 1)"
cat >"$T/nobody.yml" <<YML
name: nobody
host: 127.0.0.1
listeners:
  tcp: {port: $port, proxy: enabled}
YML
timeout 60 "$CONFORM" --target "$T/nobody.yml" --only pp1/tcp4/basic \
	--junit "$T/unreach.xml" --json "$T/unreach.json" --html "$T/unreach-html" \
	--tap-file "$T/unreach-file.tap" >"$T/unreach.tap" 2>"$T/unreach.err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q '^Bail out!' "$T/unreach.tap" && grep -q 'unreachable' "$T/unreach.err"; then
	ok "nothing listening: exit 3 and 'Bail out!'"
else
	not_ok "nothing listening: exit 3 (got $rc)"; cat "$T/unreach.tap" "$T/unreach.err" | head | diag
fi
# exit 3 still writes every report: one failed case that names the cause
is "$(xq "$T/unreach.xml" 'int(r.get("failures")), [c.get("name") for c in r.iter("testcase") if c.find("failure") is not None and "unreachable" in c.find("failure").get("message")]')" \
	"(1, ['ppmq-conform/target: the target is reachable and behaves as its profile declares'])" \
	"exit 3: the JUnit report has one failure naming the unreachable target"
is "$(jf "$T/unreach.json" "d['totals']['FAIL'], d['results'][-1]['id']")" "(1, 'ppmq-conform/target')" \
	"exit 3: the JSON report has it too"
check "exit 3: the HTML report names it" grep -q 'ppmq-conform/target' "$T/unreach-html/index.html"
check "exit 3: the TAP file says not ok" grep -q '^not ok 1 - ppmq-conform/target' "$T/unreach-file.tap"

# report paths are checked before anything runs: exit 2 at once, not 3
timeout 60 "$CONFORM" --target "$T/nobody.yml" --junit "$T/no/such/dir/j.xml" >/dev/null 2>"$T/path.err"
rc=$?
check "a report path that cannot be written: exit 2 before the target is tried (got $rc)" \
	test "$rc" -eq 2 -a -n "$(grep -- '--junit: .*no/such/dir/j.xml' "$T/path.err")"

printf 'name: broken\nhost: 127.0.0.1\nlisteners:\n  tcp: {port: 1883, proxi: enabled}\n' >"$T/broken.yml"
timeout 60 "$CONFORM" --target "$T/broken.yml" --junit "$T/broken.xml" >"$T/broken.out" 2>"$T/broken.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "broken.yml:4:21: listeners.tcp: unknown key 'proxi' (did you mean 'proxy'?)" "$T/broken.err"; then
	ok "broken profile: exit 2 with file:line:column"
else
	not_ok "broken profile: exit 2 with file:line:column (got $rc)"; diag <"$T/broken.err"
fi
like "$(xq "$T/broken.xml" '[c.find("failure").get("message") for c in r.iter("testcase")]')" \
	"*broken.yml:4:21: listeners.tcp: unknown key 'proxi'*" \
	"exit 2: the JUnit report has one failure with the profile's error"

# ---- launch.prepare: once before the first start, never on restarts ---------------

sed -e "s|^  prepare: >-\$|&\n    echo prepared >>$T/prepare.log;|" \
	-e "s|^  start: >-\$|&\n    echo started >>$T/start.log;|" \
	conformance/targets/ppmq-broker.yml >"$T/prep.yml"
timeout 120 "$CONFORM" --target "$T/prep.yml" --only config/tcp/ --listener tcp >"$T/prep.tap" 2>&1
rc=$?
starts=$(wc -l <"$T/start.log" 2>/dev/null || echo 0)
check "launch.prepare ran once, start $starts times for the configurations (exit $rc)" \
	test "$rc" -eq 0 -a "$(wc -l <"$T/prepare.log" 2>/dev/null || echo 0)" -eq 1 -a "$starts" -gt 1
sed -e '/^  prepare: >-$/,/^  start: >-$/{/^  start: >-$/!d}' \
	-e 's|^  start: >-$|  prepare: echo the certificates cannot be made; exit 4\n&|' \
	"$T/prep.yml" >"$T/prepfail.yml"
timeout 60 "$CONFORM" --target "$T/prepfail.yml" --only pp1/tcp4/basic --listener tcp >"$T/prepfail.tap" 2>"$T/prepfail.err"
rc=$?
check "a failing launch.prepare: exit 3 with its status and output, nothing started (got $rc)" \
	bash -c "[ $rc -eq 3 ] && grep -q 'launch.prepare (.echo the certificates cannot be made; exit 4.) exited with status 4' '$T/prepfail.err' &&
		 grep -q '^the certificates cannot be made' '$T/prepfail.err' && [ \$(wc -l <'$T/start.log') -eq $starts ]"

# ---- --check-profile: what the run will do, and what cannot work ------------------

timeout 60 "$CONFORM" --check-profile --target conformance/targets/ppmq-broker.yml \
	>"$T/check.out" 2>"$T/check.err"
rc=$?
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$T/run.tap")
skips=$(grep -cE '^ok [0-9]+ .* # SKIP ' "$T/run.tap")
check "check-profile of the shipped profile: exit 0, no problem (got $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^no problem found in the profile$' '$T/check.out'"
like "$(grep '^plan:' "$T/check.out")" "plan: $plan points, * run, $skips SKIP" \
	"check-profile plans the points the run ran, and the SKIPs it had"
cat >"$T/badbind.yml" <<YML
name: badbind
host: 127.0.0.1
client_bind: 192.0.2.200
listeners:
  tcp: {port: 1883, proxy: enabled}
  ssl: {port: 8883, proxy: enabled, tls: {ca: $T/no-ca.pem}}
YML
timeout 60 "$CONFORM" --check-profile --target "$T/badbind.yml" >"$T/badbind.out" 2>&1
rc=$?
check "check-profile: an address that cannot be bound and a missing CA file, exit 2 (got $rc)" \
	bash -c "[ $rc -eq 2 ] && grep -q 'PROBLEM: client_bind: 192.0.2.200 cannot be bound here' '$T/badbind.out' &&
		 grep -q \"PROBLEM: CA file '$T/no-ca.pem': No such file\" '$T/badbind.out' &&
		 grep -q '^2 problems' '$T/badbind.out'"

timeout 60 "$CONFORM" --target conformance/targets/ppmq-broker.yml --listener tcp,quic >/dev/null 2>"$T/usage.err"
rc=$?
check "bad --listener value: exit 2 naming it (got $rc)" test "$rc" -eq 2 -a -n "$(grep quic "$T/usage.err")"

done_testing
