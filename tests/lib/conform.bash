# shellcheck shell=bash
# conform.bash - ppmq-conform runs against third-party brokers, on top of
# proc.bash. Shared by tests/brokers/*.t (the whole catalog against a real
# broker, `make check-brokers`) and tests/integration/50-broker-*.t (a
# bounded subset of the same, `make check`). Sourced once.
#
# A test calls conform_run and check_run. The expected grades live in
# tests/brokers/expect/NAME.txt, one line per test point:
#     ID LISTENER GRADE
# where GRADE may be "A|B" for a point whose outcome depends on timing (the
# broker reads the first segment of a connection, say, and how many bytes
# it holds is up to the kernel). `#` starts a comment.
#
# PPMQ_UPDATE_EXPECT=1 rewrites the expectation files from the run (keeping
# the "A|B" alternatives that still hold) instead of comparing.
#
# $T/tmp is the TMPDIR of the runs, so that every file a launcher makes
# lands in it (tmp_empty checks that they cleaned up).

[ -n "${_PPMQ_CONFORM_LOADED:-}" ] && return 0
_PPMQ_CONFORM_LOADED=1

# shellcheck source=tests/lib/proc.bash
. "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

CONFORM=$PPMQ_BIN/ppmq-conform
EXPECT_DIR=$ROOT/tests/brokers/expect
mkdir -p "$T/tmp"

need_conform() {
	[ -x "$CONFORM" ] || skip_all "$CONFORM is not built (make bin/ppmq-conform)"
	[ -d "$ROOT/scenarios" ] || skip_all "no scenario catalog in $ROOT/scenarios"
	command -v "$PY" >/dev/null || skip_all "python3 not installed"
}

# ports_closed PORT...: nothing accepts connections on any of them.
ports_closed() {
	local p bad=""
	for p in "$@"; do
		port_open "$p" && bad="$bad $p"
	done
	[ -z "$bad" ] || diag "still listening on:$bad"
	[ -z "$bad" ]
}

# tmp_empty: the runs left nothing in $T/tmp (launchers' directories,
# the runner's temporary output).
tmp_empty() {
	local left
	left=$(ls -A "$T/tmp")
	[ -z "$left" ] || diag "left in TMPDIR: $left"
	[ -z "$left" ]
}

# conform_run NAME SECONDS [ENV=VALUE...] -- ARGS...: ppmq-conform from
# $ROOT with TMPDIR=$T/tmp, --json $T/NAME.json, TAP in $T/NAME.tap,
# stderr in $T/NAME.err, exit status in RUN_RC (124: killed at SECONDS,
# times PPMQ_TEST_SLOW).
conform_run() {
	local name=$1 secs=$2 envs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	RUN_START=$SECONDS
	(cd "$ROOT" && env TMPDIR="$T/tmp" ${envs[@]+"${envs[@]}"} \
		timeout -k 10 "$((secs * PPMQ_TEST_SLOW))" "$CONFORM" --json "$T/$name.json" "$@" \
		>"$T/$name.tap" 2>"$T/$name.err")
	RUN_RC=$?
	RUN_SECS=$((SECONDS - RUN_START))
	# scripts/brokers-report collects the results for its side-by-side page.
	if [ -n "${PPMQ_REPORT_DIR:-}" ] && [ -s "$T/$name.json" ]; then
		cp "$T/$name.json" "$PPMQ_REPORT_DIR/$(basename "$0" .t)-$name.json"
	fi
}

# check_run NAME EXPECT [full|subset] [WANT_RC]: test points for one run:
# its exit status (WANT_RC, default 1: these brokers have known failures),
# a well-formed JSON report, and every point's grade against
# $EXPECT_DIR/EXPECT.txt, one test point per scenario family. `full` also
# requires the run and the expectation to hold the same points.
check_run() {
	local name=$1 expect=$EXPECT_DIR/$2.txt mode=${3:-full} want_rc=${4:-1} line
	if [ "$RUN_RC" -eq "$want_rc" ]; then
		ok "$name: ppmq-conform exit status $RUN_RC (${RUN_SECS}s)"
	else
		not_ok "$name: ppmq-conform exit status $RUN_RC, want $want_rc (${RUN_SECS}s)"
		diag "stderr:" "$(tail -20 "$T/$name.err")" "TAP tail:" "$(tail -5 "$T/$name.tap")"
	fi
	if [ "${PPMQ_UPDATE_EXPECT:-}" = 1 ] && [ -s "$T/$name.json" ]; then
		if "$PY" - "$T/$name.json" "$expect" "$mode" <<'EOF'; then ok "$name: wrote $expect"; else not_ok "$name: could not write $expect"; fi
import json, sys
res, path, mode = sys.argv[1:4]
d = json.load(open(res))
head, old, order = [], {}, []
try:
    for line in open(path):
        s = line.strip()
        if not s or s.startswith('#'):
            if not order:
                head.append(line.rstrip('\n'))
            continue
        i, l, g = s.split()[:3]
        old[(i, l)] = g
        order.append((i, l))
except FileNotFoundError:
    head = ['# ID LISTENER GRADE (A|B: either one; see tests/lib/conform.bash)']
ran = []
new = {}
for r in d['results']:
    k = (r['id'], r['listener'])
    prev = old.get(k)
    new[k] = prev if prev and r['grade'] in prev.split('|') else r['grade']
    ran.append(k)
if mode == 'subset':
    # Only the points that ran change; the others stay as they were.
    keys = order + [k for k in ran if k not in old]
    new = {k: new.get(k, old.get(k)) for k in keys}
else:
    keys = ran
with open(path, 'w') as f:
    f.write('\n'.join(head) + '\n')
    for k in keys:
        f.write('%s %s %s\n' % (k[0], k[1], new[k]))
EOF
		return
	fi
	while IFS= read -r line; do
		case "$line" in
		ok*) ok "${line#ok - }" ;;
		not\ ok*) not_ok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done < <("$PY" - "$T/$name.json" "$expect" "$mode" "$name" <<'EOF'
import collections, json, sys
res, path, mode, name = sys.argv[1:5]
try:
    d = json.load(open(res))
    results = d['results']
    totals = d['totals']
except Exception as e:
    print('not ok - %s: JSON report unreadable: %s' % (name, e))
    sys.exit(0)
count = collections.Counter(r['grade'] for r in results)
if all(count.get(g, 0) == n for g, n in totals.items()) and sum(totals.values()) == len(results):
    print('ok - %s: JSON report, %d points, totals %s' % (name, len(results),
          ' '.join('%s=%d' % (g, n) for g, n in totals.items() if n)))
else:
    print('not ok - %s: JSON totals %s do not match its %d results %s' % (name, totals, len(results), dict(count)))
want = {}
try:
    for line in open(path):
        s = line.split('#', 1)[0].split()
        if s:
            want[(s[0], s[1])] = s[2].split('|')
except (OSError, IndexError) as e:
    print('not ok - %s: expectation %s unreadable: %s' % (name, path, e))
    sys.exit(0)
fams = collections.OrderedDict()
for r in results:
    fams.setdefault(r['family'], []).append(r)
seen = set()
for fam, rs in fams.items():
    bad = []
    for r in rs:
        k = (r['id'], r['listener'])
        seen.add(k)
        w = want.get(k)
        if w is None:
            bad.append('%s [%s]: %s, not in the expectation' % (k[0], k[1], r['grade']))
        elif r['grade'] not in w:
            bad.append('%s [%s]: %s, expected %s (%s)' % (k[0], k[1], r['grade'], '|'.join(w),
                       (r.get('actual') or r.get('reason') or '')[:160]))
    g = collections.Counter(r['grade'] for r in rs)
    summary = ' '.join('%s=%d' % (k, v) for k, v in sorted(g.items()))
    if bad:
        print('not ok - %s: %s: %d of %d points as expected (%s)' % (name, fam, len(rs) - len(bad), len(rs), summary))
        for b in bad[:40]:
            print('  ' + b)
        if len(bad) > 40:
            print('  ... and %d more' % (len(bad) - 40))
    else:
        print('ok - %s: %s: %d points as expected (%s)' % (name, fam, len(rs), summary))
if mode == 'full':
    missing = sorted(k for k in want if k not in seen)
    if missing:
        print('not ok - %s: %d expected points did not run (catalog changed? PPMQ_UPDATE_EXPECT=1)' % (name, len(missing)))
        for k in missing[:20]:
            print('  %s [%s]' % k)
    else:
        print('ok - %s: every expected point ran (%d)' % (name, len(want)))
EOF
	)
}

# result_of NAME ID LISTENER FIELD: one field of one point of a run's JSON.
result_of() {
	"$PY" - "$T/$1.json" "$2" "$3" "$4" <<'EOF' 2>/dev/null
import json, sys
f, i, l, k = sys.argv[1:5]
try:
    results = json.load(open(f))['results']
except Exception:
    sys.exit(0)
for r in results:
    if r['id'] == i and r['listener'] == l:
        v = r.get(k)
        print(json.dumps(v) if isinstance(v, (dict, list)) else ('' if v is None else v))
        break
EOF
}
