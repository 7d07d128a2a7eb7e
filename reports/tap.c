/* tap.c - TAP version 13 on a stream (see report.h for the grade table). */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Hex shown in diagnostics by default: enough for a v2 header with
 * addresses and the start of the CONNECT, short enough to read. */
#define TAP_HEX_MAX 64

void rpt_tap_plan(FILE *f, size_t n)
{
	fprintf(f, "TAP version 13\n1..%zu\n", n);
}

void rpt_tap_bail(FILE *f, const char *reason)
{
	fputs("Bail out! ", f);
	esc_tap(f, reason ? reason : "");
	putc('\n', f);
}

static void yaml_hex(FILE *f, const char *key, const unsigned char *p,
		     size_t n, bool verbose)
{
	char *hex = rpt_hex(p, n, verbose ? 0 : TAP_HEX_MAX);

	fprintf(f, "  %s: ", key);
	esc_yaml(f, hex ? hex : "(out of memory)");
	fprintf(f, "\n  %s_len: %zu\n", key, n);
	free(hex);
}

static void tap_diag(FILE *f, const struct rpt_result *r, bool verbose)
{
	fputs("  ---\n", f);
	fprintf(f, "  grade: %s\n", rpt_grade_name(r->grade));
	fputs("  listener: ", f);
	esc_yaml(f, r->listener);
	if (r->reason) {
		fputs("\n  reason: ", f);
		esc_yaml(f, r->reason);
	}
	fputs("\n  expected:", f);
	if (r->nexpected == 0)
		fputs(" []", f);
	for (size_t i = 0; i < r->nexpected; i++) {
		fputs("\n    - ", f);
		esc_yaml(f, r->expected[i]);
	}
	fputs("\n  actual: ", f);
	esc_yaml(f, r->actual);
	fputs("\n  reference: ", f);
	esc_yaml(f, r->ref);
	if (r->clause) {
		fputs("\n  clause: ", f);
		esc_yaml(f, r->clause);
		fputs("\n  level: ", f);
		esc_yaml(f, r->level);
		fputs("\n  quote: ", f);
		esc_yaml(f, r->quote);
	}
	putc('\n', f);
	yaml_hex(f, "sent", r->sent, r->sent_len, verbose);
	yaml_hex(f, "received", r->received, r->received_len, verbose);
	if (r->recorded) {
		fputs("  recorded: ", f);
		esc_yaml(f, r->recorded);
		putc('\n', f);
	}
	if (r->log) {
		fputs("  broker_log: ", f);
		esc_yaml(f, r->log);
		putc('\n', f);
	}
	fprintf(f, "  duration_ms: %lld\n", r->duration_ms);
	fputs("  ...\n", f);
}

void rpt_tap_point(FILE *f, size_t num, const struct rpt_result *r,
		   bool strict, bool verbose)
{
	bool fails = rpt_grade_fails(r->grade, strict);
	bool not_ok = fails || r->grade == RPT_UNSUPPORTED;

	fprintf(f, "%s %zu - ", not_ok ? "not ok" : "ok", num);
	esc_tap(f, r->id ? r->id : "?");
	fputs(" [", f);
	esc_tap(f, r->listener ? r->listener : "?");
	putc(']', f);
	if (r->title && *r->title) {
		putc(' ', f);
		esc_tap(f, r->title);
	}
	switch (r->grade) {
	case RPT_SKIP:
		fputs(" # SKIP ", f);
		esc_tap(f, r->reason ? r->reason : "not run");
		break;
	case RPT_UNSUPPORTED:
		fputs(" # TODO unsupported", f);
		if (r->reason) {
			fputs(": ", f);
			esc_tap(f, r->reason);
		}
		break;
	case RPT_NON_STRICT:
	case RPT_INFO:
	case RPT_FAIL:
		/* Not a directive (only SKIP and TODO are): harnesses keep
		 * it as a note; '#' inside the text is escaped. What happened,
		 * not only that it was not acceptable. */
		fprintf(f, " # %s", rpt_grade_name(r->grade));
		if (*rpt_result_what(r)) {
			fputs(": ", f);
			esc_tap(f, rpt_result_what(r));
		}
		break;
	case RPT_PASS:
		/* a pass that could check only part of a record says so */
		if (r->reason) {
			fputs(" # PASS, ", f);
			esc_tap(f, r->reason);
		}
		break;
	default:
		break;
	}
	putc('\n', f);
	if (fails || (verbose && r->grade != RPT_PASS && r->grade != RPT_SKIP))
		tap_diag(f, r, verbose);
}

/* The distinct problems, one comment line each, most severe first. */
static void tap_findings(FILE *f, const struct rpt_run *run)
{
	struct rpt_finding *fd;
	struct perr e;
	size_t n;

	if (rpt_findings(run, &fd, &n, &e) < 0) {
		fprintf(f, "# findings: %s\n", e.msg);
		return;
	}
	if (n)
		fprintf(f, "# %zu finding%s (points grouped by what happened, most severe first):\n",
			n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		char *line = rpt_finding_line(run, &fd[i]);

		fprintf(f, "#  %zu. ", i + 1);
		esc_tap(f, line ? line : "(out of memory)");
		putc('\n', f);
		free(line);
	}
	rpt_findings_free(fd, n);
}

void rpt_tap_summary(FILE *f, const struct rpt_run *run)
{
	fputs("# ", f);
	esc_tap(f, run->target ? run->target : "target");
	putc(':', f);
	for (int g = 0; g < RPT_NGRADES; g++)
		fprintf(f, "%s %s %zu", g ? "," : "", rpt_grade_name(g),
			run->totals[g]);
	fprintf(f, "\n# %zu scenario point(s), %zu failed%s", run->nresults,
		rpt_run_failures(run), run->strict ? " (strict)" : "");
	/* A streaming runner may write this before it knows the duration. */
	if (run->duration_ms > 0)
		fprintf(f, ", %lld ms", run->duration_ms);
	putc('\n', f);
	tap_findings(f, run);
}

int rpt_write_tap(FILE *f, const struct rpt_run *run, bool verbose,
		  struct perr *e)
{
	rpt_tap_plan(f, run->nresults);
	for (size_t i = 0; i < run->nresults; i++)
		rpt_tap_point(f, i + 1, &run->results[i], run->strict, verbose);
	rpt_tap_summary(f, run);
	if (fflush(f) != 0 || ferror(f)) {
		if (!errno)
			errno = EIO;
		return perr_errno(e, "writing TAP");
	}
	return 0;
}
