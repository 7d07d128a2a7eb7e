#!/usr/bin/env bash
# 31-conform-faults.t - the conformance suite catches every known PROXY bug.
# ppmq-broker has test-only faults (--fault, env PPMQ_FAULT; the profile
# passes PPMQ_BROKER_FAULT on); for each one, ppmq-conform runs the
# scenarios listed for it in tests/data/conform-faults.txt and the JSON
# results must show the expected grades on the expected listeners, with
# the fault's own symptom in the reason, while the listed controls still
# pass. A baseline run without any fault must pass the same scenarios.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

CONFORM=$PPMQ_BIN/ppmq-conform
DATA=$ROOT/tests/data/conform-faults.txt
for p in ppmq-conform ppmq-broker; do
	[ -x "$PPMQ_BIN/$p" ] || bail "$PPMQ_BIN/$p is not built (make)"
done
command -v "$PY" >/dev/null || bail "python3 is needed to read the JSON results"
certs_init || bail "scripts/gen-certs failed"
cd "$ROOT" || bail "cannot enter $ROOT"
export PPMQ_CERT_DIR=$CERTS PPMQ_BIN
unset PPMQ_BROKER_FAULT PPMQ_FAULT

# The checker: `check.py MODE ...` reads the data file and one JSON result,
# prints what is wrong (nothing when all is well) and exits 1 on a problem.
#   faults                 the faults named in the data file, one a line
#   only FAULT|-           the --only list of a fault (- : of all faults)
#   lint HELPFILE          the data parses; its faults = the broker's
#   exit FAULT RC          RC is 1 when a FAIL is expected, else 0
#   expected FAULT JSON    non-PASS lines: grade and symptom on each point
#   controls FAULT JSON    PASS lines hold, no point outside the lines
#   baseline JSON          every point of every line is PASS, none is off
cat >"$T/check.py" <<'PY'
import fnmatch, json, re, sys

LISTENERS = ["tcp", "ssl", "ws", "wss"]
GRADES = {"PASS", "FAIL", "FAIL?", "NON-STRICT", "INFO"}

def load(path):
    lines, errs = [], []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split(None, 4)
            if len(parts) < 4:
                errs.append(f"line {no}: needs FAULT SCENARIO LISTENERS GRADE")
                continue
            fault, scen, ls, grade = parts[:4]
            symptom = parts[4] if len(parts) > 4 else ""
            ls = LISTENERS if ls == "all" else ls.split(",")
            if any(l not in LISTENERS for l in ls):
                errs.append(f"line {no}: bad listener list {parts[2]}")
            if grade not in GRADES:
                errs.append(f"line {no}: bad grade {grade}")
            if grade != "PASS" and not symptom:
                errs.append(f"line {no}: a {grade} line needs a symptom")
            try:
                rx = re.compile(symptom) if symptom else None
            except re.error as e:
                errs.append(f"line {no}: bad symptom regex: {e}")
                rx = None
            lines.append(dict(no=no, fault=fault, scen=scen, ls=ls,
                              grade=grade, symptom=symptom, rx=rx))
    return lines, errs

def matches(pattern, sid):
    # as ppmq-conform's --only: a glob, or an id prefix ending at a '/'
    if fnmatch.fnmatchcase(sid, pattern):
        return True
    n = len(pattern)
    return n > 0 and sid.startswith(pattern) and (pattern.endswith("/") or sid[n:n + 1] == "/")

def line_for(lines, r):
    for ln in lines:
        if r["listener"] in ln["ls"] and matches(ln["scen"], r["id"]):
            return ln
    return None

def text(r):
    return f"{r.get('reason') or ''} | {r.get('actual') or ''}"

def show(r):
    return f"{r['id']} [{r['listener']}] {r['grade']}: {text(r)}"

def results(path):
    with open(path) as f:
        return json.load(f)["results"]

def coverage(lines, res, out):
    # every line must have a real (not skipped) point on each listener
    for ln in lines:
        for l in ln["ls"]:
            if not any(r["listener"] == l and r["grade"] != "SKIP" and
                       line_for(lines, r) is ln for r in res):
                out.append(f"line {ln['no']}: no point of {ln['scen']} ran on {l}")

def main(argv):
    lines, errs = load(argv[1])
    mode, args = argv[2], argv[3:]
    faults = list(dict.fromkeys(ln["fault"] for ln in lines))
    out = []
    if mode == "faults":
        print("\n".join(faults))
        return 0
    if mode == "only":
        sel = [ln["scen"] for ln in lines if args[0] in ("-", ln["fault"])]
        print(",".join(dict.fromkeys(sel)))
        return 0
    if mode == "lint":
        out += errs
        helptext = open(args[0]).read()
        block = helptext.split("faults", 1)[-1]
        broker = re.findall(r"^  ([a-z][a-z0-9-]+)  ", block, re.M)
        if not broker:
            out.append("no faults found in ppmq-broker --help")
        for f in broker:
            if f not in faults:
                out.append(f"fault {f} (ppmq-broker --help) has no line")
        for f in faults:
            if f not in broker:
                out.append(f"fault {f} is not a fault of ppmq-broker")
            if not any(ln["fault"] == f and ln["grade"] not in ("PASS", "FAIL?")
                       for ln in lines):
                out.append(f"fault {f}: no FAIL / NON-STRICT expectation")
            if not any(ln["fault"] == f and ln["grade"] == "PASS" for ln in lines):
                out.append(f"fault {f}: no control (PASS) line")
    elif mode == "exit":
        mine = [ln for ln in lines if ln["fault"] == args[0]]
        want = 1 if any(ln["grade"] in ("FAIL", "FAIL?") for ln in mine) else 0
        if int(args[1]) != want:
            out.append(f"exit status {args[1]}, expected {want}")
    elif mode in ("expected", "controls"):
        fault = args[0]
        mine = [ln for ln in lines if ln["fault"] == fault]
        res = results(args[1])
        checked = 0
        for r in res:
            ln = line_for(mine, r)
            if r["grade"] == "SKIP":
                continue
            if ln is None:
                if mode == "controls":
                    out.append(f"not in the data file: {show(r)}")
                continue
            if (ln["grade"] == "PASS") != (mode == "controls"):
                continue
            checked += 1
            if ln["grade"] == "FAIL?" and r["grade"] == "PASS":
                continue  # the pieces were read at once: nothing to catch
            if r["grade"] != ln["grade"].rstrip("?"):
                out.append(f"line {ln['no']}: expected {ln['grade']}, got {show(r)}")
            elif ln["rx"] and not ln["rx"].search(text(r)):
                out.append(f"line {ln['no']}: {ln['grade']} for another reason "
                           f"(symptom /{ln['symptom']}/): {show(r)}")
        sub = [ln for ln in mine if (ln["grade"] == "PASS") == (mode == "controls")]
        coverage(sub, res, out)
        if checked == 0:
            out.append("no point checked")
        print(f"{checked} points checked")
    elif mode == "baseline":
        res = results(args[0])
        for r in res:
            if r["grade"] not in ("PASS", "SKIP"):
                out.append(f"without a fault: {show(r)}")
        for f in faults:
            coverage([ln for ln in lines if ln["fault"] == f], res, out)
        print(f"{sum(r['grade'] == 'PASS' for r in res)} points PASS")
    else:
        out.append(f"unknown mode {mode}")
    for o in out:
        print(o)
    return 1 if out else 0

sys.exit(main(sys.argv))
PY
faults_check() { "$PY" "$T/check.py" "$DATA" "$@"; }

mapfile -t FAULTS < <(faults_check faults)
plan $((2 + 2 + 3 * ${#FAULTS[@]}))

# conform RUN FAULT: one run of the fault's scenarios (FAULT "-": no fault,
# all faults' scenarios); status in $T/RUN.rc, JSON in $T/RUN.json. No
# pre-flight: a faulty listener would stop the run before its points
# (30-conform-broker.t checks that diagnosis).
conform() {
	local run=$1 fault=$2 only rc
	only=$(faults_check only "$fault")
	PPMQ_BROKER_FAULT=${fault#-} timeout 90 "$CONFORM" --no-preflight \
		--target conformance/targets/ppmq-broker.yml -j 4 --only "$only" \
		--json "$T/$run.json" >"$T/$run.tap" 2>"$T/$run.err"
	rc=$?
	echo "$rc" >"$T/$run.rc"
	if [ ! -s "$T/$run.json" ]; then
		echo "# $run: exit $rc, no JSON written"
		tail -5 "$T/$run.err" | diag
	fi
}

# ---- the data file --------------------------------------------------------------

timeout 10 "$PPMQ_BIN/ppmq-broker" --help >"$T/help.txt" 2>&1
if faults_check lint "$T/help.txt" >"$T/lint.out"; then
	ok "conform-faults.txt parses and covers the ${#FAULTS[@]} faults of ppmq-broker --help"
else
	not_ok "conform-faults.txt parses and covers the faults of ppmq-broker --help"
	diag <"$T/lint.out"
fi

# ---- baseline: no fault, the same scenarios pass ----------------------------------

start=$(date +%s)
conform base -
rc=$(cat "$T/base.rc")
if [ "$rc" -eq 0 ]; then
	ok "baseline: every fault's scenarios without a fault: exit 0"
else
	not_ok "baseline: every fault's scenarios without a fault: exit 0 (got $rc)"
fi
if faults_check baseline "$T/base.json" >"$T/base.out"; then
	ok "baseline: $(head -1 "$T/base.out"), on every listener each line names"
else
	not_ok "baseline: every listed point PASS on its listeners"
	tail -n +2 "$T/base.out" | head -40 | diag
fi

# ---- one run per fault ------------------------------------------------------------

for f in "${FAULTS[@]}"; do
	conform "$f" "$f"
	rc=$(cat "$T/$f.rc")
	if faults_check exit "$f" "$rc" >"$T/$f.exit"; then
		ok "$f: exit $rc"
	else
		not_ok "$f: $(cat "$T/$f.exit")"
		tail -5 "$T/$f.err" | diag
	fi
	for mode in expected controls; do
		what="the expected non-PASS grades, each with the fault's symptom"
		[ "$mode" = controls ] && what="the controls still PASS, nothing else is off"
		if [ -s "$T/$f.json" ] && faults_check "$mode" "$f" "$T/$f.json" >"$T/$f.$mode"; then
			ok "$f: $what ($(head -1 "$T/$f.$mode"))"
		else
			not_ok "$f: $what"
			tail -n +2 "$T/$f.$mode" 2>/dev/null | head -40 | diag
		fi
	done
done
secs=$(( $(date +%s) - start ))

# The fault runs must stay narrow (well under 90 s together); bounded by
# `timeout` per run, so this only reports drifting scenario selections.
if [ "$secs" -lt 90 ]; then
	ok "baseline and ${#FAULTS[@]} fault runs took ${secs} s (< 90 s)"
else
	not_ok "baseline and ${#FAULTS[@]} fault runs took ${secs} s (< 90 s)"
fi

done_testing
