#!/usr/bin/env python3
"""ci_recipes.py DOC - the CI recipes of docs/ci.md, as JSON on stdout.

Every ```yaml block of DOC is parsed; each job found in it becomes one
recipe:

  {"doc_line": N, "system": "github" | "gitlab", "job": NAME,
   "services": bool,            # the broker runs as a service container
   "steps": [{"name", "shell", "run"}],   # commands, in order
   "conform": [ARGV...],        # each ppmq-conform command line, split
   "always_uploads": [PATH...], # uploaded even when the job failed
   "junit_always": bool}        # the JUnit report is read on failure too

A test runs the commands of the recipes that need no service, and checks
the rest statically (tests/integration/72-ci-recipes.t).

ci_recipes.py DOC SYSTEM JOB OUTDIR writes that recipe's steps as scripts
OUTDIR/1.sh, 2.sh ... (each run as its CI system runs it: GitHub's
`shell: bash` is bash -eo pipefail, its default bash -e; GitLab's script
lines stop at the first that fails) and prints their paths.
"""
import json
import re
import shlex
import sys

import yaml


def blocks(text):
    """(line number, body) of every ```yaml fence."""
    out, cur, start = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if cur is None and line.strip() == "```yaml":
            cur, start = [], n + 1
        elif cur is not None and line.strip() == "```":
            out.append((start, "\n".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def conform_commands(script):
    """ppmq-conform command lines in a shell script, as argument lists."""
    joined = re.sub(r"\\\n", " ", script)
    cmds = []
    for line in joined.splitlines():
        for part in re.split(r"[|;&]+", line):
            words = shlex.split(part, comments=True) if part.strip() else []
            if words and words[0].endswith("ppmq-conform"):
                cmds.append(words)
    return cmds


def github(line, doc):
    for name, job in (doc.get("jobs") or {}).items():
        steps, always, junit = [], [], False
        for s in job.get("steps", []):
            if "run" in s:
                steps.append({"name": s.get("name", ""), "shell": s.get("shell", ""),
                              "run": s["run"]})
            uses = s.get("uses", "")
            cond = str(s.get("if", ""))
            if "upload-artifact" in uses and "always()" in cond:
                always += str(s.get("with", {}).get("path", "")).split()
            if "junit" in uses and "always()" in cond:
                junit = True
        yield {"doc_line": line, "system": "github", "job": name,
               "services": bool(job.get("services")), "steps": steps,
               "conform": [c for st in steps for c in conform_commands(st["run"])],
               "always_uploads": always, "junit_always": junit}


def gitlab(line, doc):
    for name, job in doc.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        script = "\n".join(job["script"])
        art = job.get("artifacts", {}) or {}
        always = art.get("when") == "always"
        junit = (art.get("reports", {}) or {}).get("junit")
        yield {"doc_line": line, "system": "gitlab", "job": name,
               "services": bool(job.get("services")),
               "steps": [{"name": "script", "shell": "sh -e", "run": script}],
               "conform": conform_commands(script),
               "always_uploads": (list(art.get("paths", [])) + ([junit] if junit else []))
               if always else [],
               "junit_always": bool(always and junit)}


SHELLS = {"bash": "bash --noprofile --norc -eo pipefail", "": "bash -e", "sh -e": "sh -e"}


def write_scripts(recipes, system, job, outdir):
    r = [x for x in recipes if x["system"] == system and x["job"] == job]
    if not r:
        sys.exit("no %s job %s" % (system, job))
    for n, step in enumerate(r[0]["steps"], 1):
        path = "%s/%d.sh" % (outdir, n)
        with open(path, "w") as f:
            f.write("#!/usr/bin/env -S %s\n" % SHELLS.get(step["shell"], step["shell"]))
            f.write("# %s: %s\n" % (job, step["name"]))
            f.write(step["run"] + "\n")
        print(path)


def main():
    text = open(sys.argv[1]).read()
    recipes = []
    for line, body in blocks(text):
        doc = yaml.safe_load(body)
        if not isinstance(doc, dict):
            continue
        recipes += list(github(line, doc) if "jobs" in doc else gitlab(line, doc))
    if len(sys.argv) == 5:
        write_scripts(recipes, *sys.argv[2:5])
    else:
        json.dump(recipes, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
