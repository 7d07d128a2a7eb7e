#!/usr/bin/env bash
# 63-flood-job.t - docs/flood-shards-job.yml, the Kubernetes Indexed Job of
# docs/flood-in-shards.md, is a load that runs: an Indexed Job whose
# completions, parallelism and SHARDS agree, whose container script runs
# here as a pod would run it (its env, JOB_COMPLETION_INDEX 0 to SHARDS-1,
# all at once) with only the target and the size of the load made local,
# writes nothing but its JSON summary on stdout, and whose summaries merge
# into the whole load: every connection once, with its own header source.
# Counts, never timings.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

JOB=$ROOT/docs/flood-shards-job.yml
FLOODPY=$ROOT/tests/lib/flood.py

if [ ! -x "$PROXYGEN" ] || [ ! -x "$BROKER" ]; then
	bail "$PROXYGEN or $BROKER is not built (make)"
fi
"$PY" -c 'import yaml' 2>/dev/null || skip_all "python3-yaml not installed (scripts/install-deps installs it)"

plan 12

# The manifest as shell: the env of the container (one NAME=VALUE line
# each, shell-quoted), the script, and the Job's numbers.
"$PY" - "$JOB" "$T" <<'EOF' || bail "$JOB: not the expected Job"
import shlex, sys, yaml
job, t = sys.argv[1], sys.argv[2]
d = yaml.safe_load(open(job))
spec = d["spec"]
c = spec["template"]["spec"]["containers"][0]
env = {e["name"]: e["value"] for e in c["env"]}
open(t + "/env.sh", "w").write("".join("%s=%s\n" % (k, shlex.quote(v)) for k, v in env.items()))
open(t + "/script.sh", "w").write(c["args"][0])
open(t + "/job.txt", "w").write("%s %s %s %s %s %s\n" % (
    d["kind"], spec.get("completionMode"), spec.get("completions"), spec.get("parallelism"),
    env.get("SHARDS"), " ".join(c["command"])))
EOF
read -r kind mode completions parallelism shards command <"$T/job.txt"
is "$kind $mode" "Job Indexed" "an Indexed Job"
is "$completions $parallelism" "$shards $shards" "completions and parallelism are SHARDS ($shards): every shard at once"
is "$command" "/bin/sh -c" "the container runs its script with /bin/sh -c"
# shellcheck disable=SC2016 # the script's text, not this shell's variables
check "the script takes its shard from JOB_COMPLETION_INDEX" \
	grep -q -- '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' "$T/script.sh"
check "the script sends standard error to the termination message, not the log" \
	grep -q '2>/dev/termination-log' "$T/script.sh"

# ---- every shard, as its pod would run it --------------------------------------------------
start_broker job MQTT_TCP_PROXY_PROTOCOL_ENABLED=true || bail "broker did not start"
CONNS=$((shards * 2))
spids=()
for k in $(seq 0 $((shards - 1))); do
	(
		set -a
		# shellcheck disable=SC1091
		. "$T/env.sh"
		set +a
		# shellcheck disable=SC2154 # set by start_broker
		export TARGET=127.0.0.1:$job_TCP CONNECTIONS=$CONNS CONCURRENCY=$CONNS RATE=0 HOLD_MS=0 \
			DURATION_S=30 JOB_COMPLETION_INDEX=$k PATH=$PPMQ_BIN:$PATH
		exec timeout 60 /bin/sh -c "$(sed "s|/dev/termination-log|$T/err-$k|" "$T/script.sh")"
	) >"$T/shard-$k.json" &
	spids+=("$!")
	PIDS+=("$!")
done
bad=0
for i in $(seq 0 $((shards - 1))); do
	wait_exit "${spids[$i]}" 60 || bad=$((bad + 1))
done
is "$bad" 0 "all $shards shards of the Job's script: exit 0"
is "$(cat "$T"/err-* | wc -c)" 0 "nothing on their standard error"
is "$("$PY" -c '
import json, sys
n = int(sys.argv[1])
ok = [json.load(open("%s/shard-%d.json" % (sys.argv[2], i)))["shard"] for i in range(n)]
print(sum(1 for i, s in enumerate(ok) if (s["index"], s["count"]) == (i, n)))
' "$shards" "$T" 2>&1)" "$shards" "the log of index K is one JSON summary of shard K of $shards"

timeout 30 "$PROXYGEN" flood --merge "$T"/shard-*.json --json >"$T/merged.json" 2>"$T/merged.err"
is "$?" 0 "--merge of the $shards logs: exit 0"
is "$(jf "$T/merged.json" "[d['merged']['shards'], d['merged']['missing_shards'], d['succeeded']]")" \
	"[$shards, [], $CONNS]" "merged: $shards shards, none missing, $CONNS connections set up"

"$PY" "$FLOODPY" sessions "http://127.0.0.1:${BR_ADMIN[job]}/api/v1/sessions" | sort >"$T/sess.txt"
is "$(cut -d' ' -f1 "$T/sess.txt" | sort -u | wc -l) $(cut -d' ' -f2 "$T/sess.txt" | sort -u | wc -l)" \
	"$CONNS $CONNS" "the broker recorded $CONNS client ids and $CONNS header sources, all different"
is "$(awk '$2 !~ /^10\./' "$T/sess.txt" | wc -l)" 0 "every source from the Job's SRC_CIDR (10.0.0.0/8)"

stop_broker job
done_testing
