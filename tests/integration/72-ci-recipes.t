#!/usr/bin/env bash
# 72-ci-recipes.t - the CI recipes of docs/ci.md are exactly commands that
# work: the GitHub Actions and GitLab CI jobs for ppmq-broker run here, step
# by step as their CI system runs them, on a copy of the repository with
# nothing built, and leave the reports their upload steps name. Every
# recipe uploads its JUnit and HTML on failure too; the recipes whose
# broker is a service container wait for it (--wait).
#
# Runs scripts/install-deps --build like the recipes (it installs nothing
# that is already there; as root, or with sudo).
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"
cd "$ROOT" || bail "cannot enter $ROOT"

"$PY" -c 'import yaml' 2>/dev/null || skip_all "python3-yaml not installed (scripts/install-deps installs it)"
RECIPES=$T/recipes.json
"$PY" tests/lib/ci_recipes.py docs/ci.md >"$RECIPES" 2>"$T/recipes.err" ||
	bail "docs/ci.md: the recipes do not parse: $(cat "$T/recipes.err")"

plan 13

is "$(jf "$RECIPES" "sorted((r['system'], r['job'], r['services']) for r in d)")" \
	"[('github', 'conform', False), ('github', 'emqx', True), ('gitlab', 'emqx-conformance', True), ('gitlab', 'proxy-conformance', False)]" \
	"docs/ci.md has the four recipes (GitHub and GitLab, ppmq-broker and a service)"

# Every recipe: the JUnit read and the reports uploaded even when the
# suite failed, the files its ppmq-conform writes; services waited for.
for i in 0 1 2 3; do
	job=$(jf "$RECIPES" "d[$i]['system'] + ' ' + d[$i]['job'] + ' (line ' + str(d[$i]['doc_line']) + ')'")
	bad=$(jf "$RECIPES" "[
	  w for r in [d[$i]] for c in r['conform'] for w in
	  ([] if r['junit_always'] else ['JUnit not read on failure']) +
	  [c[c.index(o) + 1] + ' not uploaded on failure' for o in ('--junit', '--html') if o in c and
	   c[c.index(o) + 1].rstrip('/') not in [p.rstrip('/') for p in r['always_uploads']]] +
	  [o + ' missing' for o in ('--junit', '--html') if o not in c] +
	  (['no --wait for the service'] if r['services'] and '--wait' not in c else [])]")
	is "$bad" "[]" "$job: JUnit and HTML written and kept on failure too${bad:+: $bad}"
done

# ---- the ppmq-broker recipes, run ----------------------------------------------------

COPY=$T/repo
mkdir -p "$COPY"
git ls-files -co --exclude-standard -z | tar -cf - --null -T - | tar -xf - -C "$COPY"
check "the copy has nothing built" test ! -e "$COPY/bin/ppmq-conform"

# run_recipe SYSTEM JOB: each step as its CI system runs it, in the copy;
# the status of the first step that fails, or 0.
run_recipe() {
	local dir=$T/$1-$2 s rc
	mkdir -p "$dir"
	"$PY" tests/lib/ci_recipes.py docs/ci.md "$1" "$2" "$dir" >"$dir/steps" || return 99
	while read -r s; do
		chmod +x "$s"
		(cd "$COPY" && env -u PPMQ_BIN -u PPMQ_BUILD -u PPMQ_CERT_DIR timeout 900 "$s") \
			>>"$dir/out" 2>&1
		rc=$?
		[ "$rc" -eq 0 ] || { tail -20 "$dir/out" | diag; return "$rc"; }
	done <"$dir/steps"
	return 0
}

run_recipe github conform
is "$?" 0 "GitHub Actions (ppmq-broker): every step succeeds on a fresh copy"
check "GitHub Actions: conform.xml, conform.json, conform.tap and conform-html/ are there to upload" \
	bash -c "cd '$COPY' && test -s conform.xml -a -s conform.json -a -s conform.tap -a -s conform-html/index.html"
is "$(xq "$COPY/conform.xml" 'r.get("failures"), int(r.get("tests")) > 1000')" "('0', True)" \
	"GitHub Actions: the JUnit report has every point, none failed"
check "GitHub Actions: the TAP that tee kept ends with the summary" grep -q '^# ppmq-broker: PASS ' "$COPY/conform.tap"

rm -rf "$COPY"/conform.* "$COPY/conform-html"
run_recipe gitlab proxy-conformance
is "$?" 0 "GitLab CI (ppmq-broker): the script succeeds"
check "GitLab CI: the JUnit report and the HTML are there to keep" \
	bash -c "cd '$COPY' && test -s conform.xml -a -s conform-html/index.html -a -s conform.json"

# ---- --wait: the service recipes' wait, against a broker that starts late ------------

read -r port <<<"$(free_ports 1)"
cat >"$T/late.yml" <<YML
name: late
host: 127.0.0.1
listeners:
  tcp: {port: $port, proxy: enabled}
YML
"$PPMQ_BIN/ppmq-conform" --target "$T/late.yml" --only pp1/tcp4/basic --wait 60 -v \
	--junit "$T/late.xml" >"$T/late.tap" 2>"$T/late.err" &
CPID=$!
PIDS+=("$CPID")
wait_log "$T/late.err" 'waiting for late' 20 || diag "ppmq-conform did not wait: $(head -3 "$T/late.err")"
bg late-broker env LISTENER_TCP_BIND_ADDRESS=127.0.0.1 LISTENER_TCP_BIND_PORT="$port" \
	MQTT_PROXY_PROTOCOL_ENABLED=true ADMIN_ENABLED=false "$PPMQ_BIN/ppmq-broker"
wait_exit "$CPID" 90
rc=$?
check "--wait: a broker that starts after the run began is tested (exit $rc, PASS)" \
	bash -c "[ $rc -eq 0 ] && grep -q '^ok 1 - pp1/tcp4/basic \\[tcp\\]' '$T/late.tap'"

done_testing
