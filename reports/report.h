/* report.h - the results of one ppmq-conform run, and the writers that
 * turn them into TAP, JUnit XML, JSON and a static HTML page.
 *
 * The runner fills a struct rpt_run (one per target), one rpt_result per
 * scenario x listener, in catalog order; the writers only read it.
 * `ppmq-conform report` reads runs back from JSON (rpt_read_json) and
 * writes one HTML page with several targets side by side.
 *
 *     struct rpt_run *run = rpt_run_new(PPMQ_VERSION, "tbmq", path, &e);
 *     rpt_tap_plan(stdout, n);
 *     for each scenario x listener, in catalog order:
 *             struct rpt_result r = { .id = ..., .grade = RPT_PASS, ... };
 *             rpt_run_add(run, &r, &e);          (deep copy)
 *             rpt_tap_point(stdout, run->nresults, &r, strict, verbose);
 *     run->duration_ms = ...;
 *     rpt_write_junit("junit.xml", run, &e); rpt_write_json(...); ...
 *     rpt_run_free(run);
 *
 * Grades (Autobahn|Testsuite's, renamed):
 *   PASS         the broker did what the spec requires.
 *   NON-STRICT   allowed by the spec, but not what it recommends.
 *   INFO         informational: no requirement, the behaviour is recorded.
 *   FAIL         the broker broke a requirement.
 *   UNSUPPORTED  the broker does not implement the feature the scenario
 *                needs (e.g. no PROXY on its WebSocket listener).
 *   SKIP         not run: listener or observer missing from the profile,
 *                listener mode not covered by the scenario, ...
 *
 * What fails a run (rpt_grade_fails): FAIL always; NON-STRICT only in
 * strict mode (--strict, run->strict). UNSUPPORTED does not fail the run,
 * as in Autobahn, but it must stay visible, so:
 *
 *   grade         TAP                                          JUnit
 *   PASS          ok N - id [listener] title                   passed
 *   PASS, partly  ok N - ... # PASS, partly checked: reason      passed (system-out)
 *                 (a record part the observer cannot show, e.g. the port)
 *   NON-STRICT    ok N - ... # NON-STRICT: reason              passed (system-out)
 *                 (strict: not ok N - ... + YAML diagnostics)  (strict: <failure>)
 *   INFO          ok N - ... # INFO: reason                    passed (system-out)
 *   FAIL          not ok N - ... + YAML diagnostics            <failure>
 *   UNSUPPORTED   not ok N - ... # TODO unsupported: reason    <skipped>
 *   SKIP          ok N - ... # SKIP reason                     <skipped>
 *
 * A "not ok ... # TODO" point does not fail prove: it is listed as a
 * known gap, not counted as a failure. The YAML diagnostics block
 * (expected, actual, reason, reference, sent / received hex truncated,
 * recorded) follows every failing point, and every point that is not
 * PASS or SKIP when verbose is set.
 *
 * Strings: every string is UTF-8 text and may contain anything (quotes,
 * '<', '&', control bytes); each writer escapes for its format. Invalid
 * UTF-8 is replaced by U+FFFD where the format requires valid text.
 * Bytes sent and received are raw bytes here, hex in every output.
 *
 * Errors follow lib/err.h: 0 (or a pointer) on success, -1 (or NULL)
 * with *e filled. A path of "-" means stdout for the file writers.
 */
#ifndef PPMQ_REPORT_H
#define PPMQ_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "err.h"

enum rpt_grade {
	RPT_PASS = 0,
	RPT_NON_STRICT,
	RPT_INFO,
	RPT_FAIL,
	RPT_UNSUPPORTED,
	RPT_SKIP,
	RPT_NGRADES
};

/* One scenario on one listener. In a struct the caller fills for
 * rpt_run_add, the pointers are the caller's (NULL allowed for every
 * string and list); in a run, every pointer is owned by the run. */
struct rpt_result {
	const char *id;          /* stable scenario id, e.g. "v2/valid/inet" */
	const char *title;       /* one line */
	const char *ref;         /* the spec or rule checked */
	const char *family;      /* group in reports; NULL: rpt_result_family() */
	const char **tags;       /* ntags strings */
	size_t ntags;
	const char *listener;    /* "tcp" | "ssl" | "ws" | "wss" (any text) */
	enum rpt_grade grade;
	const char *reason;      /* why SKIP / FAIL / NON-STRICT / ..., what a PASS
				  * could not check, or NULL */
	const char **expected;   /* acceptable outcomes, as text */
	size_t nexpected;
	const char *actual;      /* what happened, as text */
	const unsigned char *sent;     /* bytes written to the broker */
	size_t sent_len;
	const unsigned char *received; /* bytes read back */
	size_t received_len;
	const char *recorded;    /* observer excerpt (text or JSON) */
	const char *clause;      /* id of the sentence the grade is about ("pp2/local-accept") */
	const char *level;       /* its requirement level: "MUST", "RULE", "SHOULD", "MAY" */
	const char *quote;       /* the sentence, word for word, with its source */
	const char *log;         /* the target's own log lines written during the point */
	long long duration_ms;
};

struct rpt_run {
	const char *tool_version;  /* "0.1.0" */
	const char *target;        /* profile's target name */
	const char *profile;       /* profile path */
	time_t started;            /* set by rpt_run_new; the runner may change it */
	long long duration_ms;     /* set by the runner at the end */
	bool strict;               /* --strict: NON-STRICT fails */
	size_t totals[RPT_NGRADES];/* kept by rpt_run_add */
	struct rpt_result *results;/* catalog order */
	size_t nresults;
	size_t cap_;               /* private */
};

/* ---- runs --------------------------------------------------------------- */

/* New empty run, started now. Strings are copied (NULL allowed). */
struct rpt_run *rpt_run_new(const char *tool_version, const char *target,
			    const char *profile, struct perr *e);
/* Append a deep copy of *r and count its grade. Returns 0 or -1. */
int rpt_run_add(struct rpt_run *run, const struct rpt_result *r,
		struct perr *e);
void rpt_run_free(struct rpt_run *run);

/* ---- grades and helpers (shared by the writers and the runner) ---------- */

/* "PASS", "NON-STRICT", "INFO", "FAIL", "UNSUPPORTED", "SKIP". */
const char *rpt_grade_name(enum rpt_grade g);
/* Name (case-insensitive; "NON_STRICT" too) -> grade. 0 or -1. */
int rpt_grade_parse(const char *s, enum rpt_grade *g);
/* Does this grade fail the run? FAIL, and NON-STRICT when strict. */
bool rpt_grade_fails(enum rpt_grade g, bool strict);
/* Number of results in the run that fail it (rpt_grade_fails). */
size_t rpt_run_failures(const struct rpt_run *run);
/* r->family, or the id up to its first '/' (the whole id if none). The
 * result points into r (not NUL-terminated): *len bytes. */
const char *rpt_result_family(const struct rpt_result *r, size_t *len);

/* What happened at a point, in one line: its reason, or its actual
 * outcome when the reason only says that no outcome was acceptable. */
const char *rpt_result_what(const struct rpt_result *r);

/* ---- findings: the distinct problems of a run ---------------------------- */

/* The FAIL, NON-STRICT and UNSUPPORTED points of a run that have the same
 * grade and the same account of what happened, numbers and addresses set
 * aside, on any listener: one problem, shown once, with its points. */
struct rpt_finding {
	enum rpt_grade grade;
	char *what;       /* rpt_result_what of its first point */
	char *listeners;  /* "tcp, ws" */
	char *scope;      /* per scenario family: "pp2 (all 53), mal (12 of 140)" */
	char *clauses;    /* "pp1/exact-match (MUST) 36, ...", or NULL */
	char *expected;   /* the first point's first acceptable outcome, or NULL */
	size_t *points;   /* indexes into run->results, in catalog order */
	size_t npoints;
};

/* The findings of run, most severe first (FAIL, NON-STRICT, UNSUPPORTED),
 * then the largest. *out is NULL when there is none. 0 or -1. */
int rpt_findings(const struct rpt_run *run, struct rpt_finding **out, size_t *n,
		 struct perr *e);
void rpt_findings_free(struct rpt_finding *f, size_t n);
/* One line: "FAIL ssl: what: 70 points (mal (62 of 148)); expected ...;
 * clauses; e.g. id, id, id". malloc'd; NULL: out of memory. */
char *rpt_finding_line(const struct rpt_run *run, const struct rpt_finding *f);

/* Lower-case hex of n bytes, NUL-terminated, malloc'd (NULL: no memory).
 * max > 0 and n > max: only the first max bytes, then "..". */
char *rpt_hex(const unsigned char *p, size_t n, size_t max);
/* Hex text (whitespace ignored, either case) -> malloc'd bytes. 0 or -1. */
int rpt_unhex(const char *s, unsigned char **out, size_t *n, struct perr *e);

/* A report file: path opened for writing, "-" meaning stdout. NULL with
 * *e = "PATH: why" when it cannot be opened. */
FILE *rpt_out_open(const char *path, struct perr *e);
/* Can a report be written at path (a file; is_dir: a directory that
 * rpt_write_html may create)? Checked before a run, so that a bad path
 * is told at once and not after the last point. "-" is always fine.
 * 0, or -1 with *e = "PATH: why". Nothing is created. */
int rpt_out_check(const char *path, bool is_dir, struct perr *e);
/* Flush f and close it (stdout is only flushed); failed: a write to it
 * already failed. 0, or -1 with *e = "writing PATH: why" (EIO when errno
 * names no cause: callers clear errno before the writes it may explain). */
int rpt_out_close(FILE *f, const char *path, bool failed, struct perr *e);

/* ---- TAP version 13 (stdout) -------------------------------------------- */

/* "TAP version 13" and "1..n". Call once, before the points. */
void rpt_tap_plan(FILE *f, size_t n);
/* One test point, number num (1-based), as in the table above. */
void rpt_tap_point(FILE *f, size_t num, const struct rpt_result *r,
		   bool strict, bool verbose);
/* "# PASS 12, NON-STRICT 1, ..." comment lines after the points. */
void rpt_tap_summary(FILE *f, const struct rpt_run *run);
/* "Bail out! reason": the target cannot be reached at all. */
void rpt_tap_bail(FILE *f, const char *reason);
/* Plan + every point + summary. -1 with *e on a write error. */
int rpt_write_tap(FILE *f, const struct rpt_run *run, bool verbose,
		  struct perr *e);

/* ---- JUnit XML ---------------------------------------------------------- */

/* <testsuites><testsuite name=target ...><testcase classname=
 * "listener.family" name="id: title" time=...>. */
int rpt_write_junit(const char *path, const struct rpt_run *run,
		    struct perr *e);

/* ---- JSON (the input of `ppmq-conform report`) -------------------------- */

int rpt_write_json(const char *path, const struct rpt_run *run,
		   struct perr *e);
/* Read a file written by rpt_write_json; writing *out again gives the
 * same bytes. Unknown members are ignored, missing ones are NULL / 0. */
int rpt_read_json(const char *path, struct rpt_run **out, struct perr *e);

/* ---- HTML --------------------------------------------------------------- */

/* dir/index.html (dir is created if missing): one self-contained page,
 * no network: totals per target, then the matrix scenarios x (target x
 * listener), each cell opening its detail. */
int rpt_write_html(const char *dir, const struct rpt_run *const *runs,
		   size_t nruns, struct perr *e);

#endif
