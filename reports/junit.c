/* junit.c - JUnit XML in the shape Jenkins, GitLab and GitHub reporters
 * read: <testsuites><testsuite><testcase> with <failure> / <skipped> /
 * <system-out>. One testsuite per run (target). */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Hex in the XML: whole CONNECTs fit, floods do not bloat the file. */
#define JUNIT_HEX_MAX 512

static void attr(FILE *f, const char *name, const char *value)
{
	fprintf(f, " %s=\"", name);
	esc_xml(f, value ? value : "", true);
	putc('"', f);
}

static void seconds(FILE *f, const char *name, long long ms)
{
	if (ms < 0)
		ms = 0;
	fprintf(f, " %s=\"%lld.%03lld\"", name, ms / 1000, ms % 1000);
}

/* "expected a | b, got c": the one-line failure message. */
static void expected_vs_actual(FILE *f, const struct rpt_result *r)
{
	esc_xml(f, "expected ", true);
	if (r->nexpected == 0)
		esc_xml(f, "(nothing listed)", true);
	for (size_t i = 0; i < r->nexpected; i++) {
		if (i)
			esc_xml(f, " | ", true);
		esc_xml(f, r->expected[i], true);
	}
	esc_xml(f, ", got ", true);
	esc_xml(f, r->actual ? r->actual : "(nothing)", true);
}

static void hex_line(FILE *f, const char *what, const unsigned char *p,
		     size_t n)
{
	char *hex = rpt_hex(p, n, JUNIT_HEX_MAX);

	fprintf(f, "%s (%zu bytes): ", what, n);
	esc_xml(f, hex ? hex : "(out of memory)", false);
	putc('\n', f);
	free(hex);
}

static void line(FILE *f, const char *what, const char *text)
{
	if (!text)
		return;
	fprintf(f, "%s: ", what);
	esc_xml(f, text, false);
	putc('\n', f);
}

/* The detail, as text: body of <failure> or <system-out>. */
static void detail(FILE *f, const struct rpt_result *r)
{
	fprintf(f, "grade: %s\n", rpt_grade_name(r->grade));
	line(f, "reason", r->reason);
	fputs("expected:\n", f);
	for (size_t i = 0; i < r->nexpected; i++) {
		fputs("  - ", f);
		esc_xml(f, r->expected[i], false);
		putc('\n', f);
	}
	line(f, "actual", r->actual ? r->actual : "");
	line(f, "reference", r->ref);
	if (r->clause) {
		line(f, "clause", r->clause);
		line(f, "level", r->level);
		line(f, "quote", r->quote);
	}
	if (r->ntags) {
		fputs("tags:", f);
		for (size_t i = 0; i < r->ntags; i++) {
			putc(' ', f);
			esc_xml(f, r->tags[i], false);
		}
		putc('\n', f);
	}
	hex_line(f, "sent", r->sent, r->sent_len);
	hex_line(f, "received", r->received, r->received_len);
	line(f, "recorded", r->recorded);
	line(f, "broker log", r->log);
}

static void testcase(FILE *f, const struct rpt_result *r, bool strict)
{
	size_t flen;
	const char *fam = rpt_result_family(r, &flen);
	char *family = strndup(fam, flen);
	char *cls = NULL, *name = NULL;

	if (family &&
	    asprintf(&cls, "%s.%s", r->listener ? r->listener : "any",
		     family) < 0)
		cls = NULL;
	if (asprintf(&name, "%s%s%s", r->id ? r->id : "?",
		     r->title && *r->title ? ": " : "", r->title ? r->title : "") < 0)
		name = NULL;
	fputs("    <testcase", f);
	attr(f, "classname", cls ? cls : "?");
	attr(f, "name", name ? name : "?");
	seconds(f, "time", r->duration_ms);
	free(family);
	free(cls);
	free(name);

	if (rpt_grade_fails(r->grade, strict)) {
		fputs(">\n      <failure message=\"", f);
		if (r->reason) {
			esc_xml(f, r->reason, true);
			esc_xml(f, "; ", true);
		}
		expected_vs_actual(f, r);
		fprintf(f, "\" type=\"%s\">", rpt_grade_name(r->grade));
		detail(f, r);
		fputs("</failure>\n    </testcase>\n", f);
	} else if (r->grade == RPT_SKIP || r->grade == RPT_UNSUPPORTED) {
		fputs(">\n      <skipped message=\"", f);
		if (r->grade == RPT_UNSUPPORTED)
			esc_xml(f, r->reason ? "unsupported: " : "unsupported", true);
		esc_xml(f, r->reason, true);
		fputs("\"/>\n    </testcase>\n", f);
	} else if (r->grade != RPT_PASS || r->reason) {
		fputs(">\n      <system-out>", f);
		detail(f, r);
		fputs("</system-out>\n    </testcase>\n", f);
	} else {
		fputs("/>\n", f);
	}
}

/* The findings as properties ("finding.1" ...) or as lines of text.
 * Returns how many there are. */
static size_t suite_findings(FILE *f, const struct rpt_run *run, bool props)
{
	struct rpt_finding *fd;
	struct perr e;
	size_t n;

	if (rpt_findings(run, &fd, &n, &e) < 0)
		return 0;
	if (!props && n)
		fprintf(f, "%zu finding%s (points grouped by what happened, most severe first):\n", n,
			n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		char *line = rpt_finding_line(run, &fd[i]);

		if (props) {
			fprintf(f, "      <property name=\"finding.%zu\"", i + 1);
			attr(f, "value", line ? line : "(out of memory)");
			fputs("/>\n", f);
		} else {
			fprintf(f, "%zu. ", i + 1);
			esc_xml(f, line ? line : "(out of memory)", false);
			putc('\n', f);
		}
		free(line);
	}
	rpt_findings_free(fd, n);
	return n;
}

static void suite(FILE *f, const struct rpt_run *run)
{
	size_t nf;
	char ts[32] = "1970-01-01T00:00:00";
	struct tm tm;
	long long ms = run->duration_ms;

	if (gmtime_r(&run->started, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms <= 0)
		for (size_t i = 0; i < run->nresults; i++)
			ms += run->results[i].duration_ms;

	fputs("  <testsuite", f);
	attr(f, "name", run->target ? run->target : "target");
	fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\"",
		run->nresults, rpt_run_failures(run),
		run->totals[RPT_SKIP] + run->totals[RPT_UNSUPPORTED]);
	seconds(f, "time", ms);
	attr(f, "timestamp", ts);
	fputs(">\n    <properties>\n", f);
	fputs("      <property name=\"tool_version\"", f);
	attr(f, "value", run->tool_version);
	fputs("/>\n      <property name=\"profile\"", f);
	attr(f, "value", run->profile);
	fprintf(f, "/>\n      <property name=\"strict\" value=\"%s\"/>\n",
		run->strict ? "true" : "false");
	for (int g = 0; g < RPT_NGRADES; g++)
		fprintf(f, "      <property name=\"%s\" value=\"%zu\"/>\n",
			rpt_grade_name(g), run->totals[g]);
	nf = suite_findings(f, run, true);
	fputs("    </properties>\n", f);
	for (size_t i = 0; i < run->nresults; i++)
		testcase(f, &run->results[i], run->strict);
	if (nf) {
		/* the same, as the suite's output: what a CI page shows first */
		fputs("    <system-out>", f);
		suite_findings(f, run, false);
		fputs("</system-out>\n", f);
	}
	fputs("  </testsuite>\n", f);
}

int rpt_write_junit(const char *path, const struct rpt_run *run,
		    struct perr *e)
{
	FILE *f = rpt_out_open(path, e);
	long long ms = run->duration_ms;

	if (!f)
		return -1;
	if (ms <= 0)
		for (size_t i = 0; i < run->nresults; i++)
			ms += run->results[i].duration_ms;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", f);
	attr(f, "name", "ppmq-conform");
	fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\"",
		run->nresults, rpt_run_failures(run),
		run->totals[RPT_SKIP] + run->totals[RPT_UNSUPPORTED]);
	seconds(f, "time", ms);
	fputs(">\n", f);
	suite(f, run);
	fputs("</testsuites>\n", f);

	errno = 0;
	return rpt_out_close(f, path, false, e);
}
