/* test_conform_findings.c - the findings of a run: points grouped by what
 * happened, most severe first, each described in one line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define VAGUE "outcome is none of the acceptable ones"

struct pt {
	const char *id, *listener;
	enum rpt_grade grade;
	const char *reason, *actual, *expected, *clause, *level;
};

static struct rpt_run *run_of(const struct pt *v, size_t n)
{
	struct perr e = { "" };
	struct rpt_run *run = rpt_run_new("0.1.0", "t", "t.yml", &e);

	assert_non_null(run);
	for (size_t i = 0; i < n; i++) {
		const char *exp[1] = { v[i].expected };
		struct rpt_result r = {
			.id = v[i].id, .title = "title", .listener = v[i].listener,
			.grade = v[i].grade, .reason = v[i].reason, .actual = v[i].actual,
			.expected = exp, .nexpected = v[i].expected ? 1 : 0,
			.clause = v[i].clause, .level = v[i].level,
		};

		assert_int_equal(rpt_run_add(run, &r, &e), 0);
	}
	return run;
}

static const struct pt sample[] = {
	/* 0, 1: the same closing on two listeners, other numbers */
	{ "pp1/a", "tcp", RPT_FAIL, VAGUE, "closed after 3 ms, no byte received",
	  "accepted (CONNACK 0) => PASS", "pp/v1-receiver", "MUST" },
	{ "pp1/a", "ws", RPT_FAIL, VAGUE, "closed after 120 ms, no byte received",
	  "accepted (CONNACK 0) => PASS", "pp/v1-receiver", "MUST" },
	/* 2: "step N:" before the vague sentence says no more than it */
	{ "mixed/b", "tcp", RPT_FAIL, "step 2: " VAGUE, "closed after 9 ms, no byte received",
	  "accepted (CONNACK 0) => PASS", "pp2/local-accept", "MUST" },
	/* 3, 4: recorded addresses differ, the finding is one */
	{ "record/c", "tcp", RPT_FAIL, "recorded client IP 127.0.0.7, expected 203.0.113.17",
	  "CONNACK 0", "accepted (CONNACK 0) => PASS", "tbmq/session-ip", "RULE" },
	{ "record/d", "tcp", RPT_FAIL, "recorded client IP ::1, expected 2001:db8::1",
	  "CONNACK 0", "rejected => PASS", "tbmq/session-ip", "RULE" },
	/* 5, 6, 7: NON-STRICT: more points, still after every FAIL */
	{ "transport/e", "tcp", RPT_NON_STRICT, "dropped 27 of 27 cut headers (cut at 1,2,3,...)",
	  NULL, NULL, "pp/partial-tolerance", "SHOULD" },
	{ "transport/e", "ws", RPT_NON_STRICT, "dropped 5 of 51 cut headers (cut at 2,36,37)",
	  NULL, NULL, "pp/partial-tolerance", "SHOULD" },
	{ "transport/f", "ssl", RPT_NON_STRICT, "dropped 1 of 9 cut headers (cut at 4)",
	  NULL, NULL, "pp/partial-tolerance", "SHOULD" },
	/* 8, 9: digits glued to a word are words: two findings */
	{ "tls/g", "ssl", RPT_UNSUPPORTED, "no TLSv1.3", NULL, NULL, NULL, NULL },
	{ "tls/h", "ssl", RPT_UNSUPPORTED, "no TLSv1.2", NULL, NULL, NULL, NULL },
	/* 10-12: not problems */
	{ "pp1/a", "ssl", RPT_PASS, NULL, "CONNACK 0", NULL, NULL, NULL },
	{ "pp1/i", "tcp", RPT_INFO, "records the proxy", NULL, NULL, NULL, NULL },
	{ "pp1/j", "wss", RPT_SKIP, "listener absent", NULL, NULL, NULL, NULL },
};

static void test_what(void **state)
{
	struct rpt_run *run = run_of(sample, sizeof(sample) / sizeof(sample[0]));

	(void)state;
	assert_string_equal(rpt_result_what(&run->results[0]), "closed after 3 ms, no byte received");
	assert_string_equal(rpt_result_what(&run->results[2]), "closed after 9 ms, no byte received");
	assert_string_equal(rpt_result_what(&run->results[3]),
			    "recorded client IP 127.0.0.7, expected 203.0.113.17");
	assert_string_equal(rpt_result_what(&run->results[10]), "CONNACK 0");
	rpt_run_free(run);
}

static void test_grouping(void **state)
{
	struct rpt_run *run = run_of(sample, sizeof(sample) / sizeof(sample[0]));
	struct rpt_finding *f;
	struct perr e;
	size_t n;

	(void)state;
	assert_int_equal(rpt_findings(run, &f, &n, &e), 0);
	assert_int_equal(n, 5);
	/* FAIL first, the largest first: the closing (3 points) */
	assert_int_equal(f[0].grade, RPT_FAIL);
	assert_int_equal(f[0].npoints, 3);
	assert_int_equal(f[0].points[0], 0);
	assert_int_equal(f[0].points[2], 2);
	assert_string_equal(f[0].what, "closed after 3 ms, no byte received");
	assert_string_equal(f[0].listeners, "tcp, ws");
	assert_string_equal(f[0].expected, "accepted (CONNACK 0)");
	assert_string_equal(f[0].clauses, "pp/v1-receiver (MUST) 2, pp2/local-accept (MUST) 1");
	/* pp1 ran 3 times on tcp and ws (ssl is not among its listeners) */
	assert_string_equal(f[0].scope, "pp1 (2 of 3), mixed (all 1)");
	/* the addresses */
	assert_int_equal(f[1].grade, RPT_FAIL);
	assert_int_equal(f[1].npoints, 2);
	assert_string_equal(f[1].listeners, "tcp");
	assert_null(f[1].expected); /* the two points do not agree */
	/* NON-STRICT after: 3 points on three listeners */
	assert_int_equal(f[2].grade, RPT_NON_STRICT);
	assert_int_equal(f[2].npoints, 3);
	assert_string_equal(f[2].listeners, "tcp, ws, ssl");
	assert_string_equal(f[2].clauses, "pp/partial-tolerance (SHOULD) 3");
	/* UNSUPPORTED last, TLSv1.3 and TLSv1.2 apart, in catalog order */
	assert_int_equal(f[3].grade, RPT_UNSUPPORTED);
	assert_string_equal(f[3].what, "no TLSv1.3");
	assert_string_equal(f[4].what, "no TLSv1.2");
	assert_null(f[3].clauses);
	rpt_findings_free(f, n);
	rpt_run_free(run);
}

static void test_line(void **state)
{
	struct rpt_run *run = run_of(sample, sizeof(sample) / sizeof(sample[0]));
	struct rpt_finding *f;
	struct perr e;
	size_t n;
	char *line;

	(void)state;
	assert_int_equal(rpt_findings(run, &f, &n, &e), 0);
	line = rpt_finding_line(run, &f[0]);
	assert_string_equal(line, "FAIL tcp, ws: closed after 3 ms, no byte received: 3 points "
				  "(pp1 (2 of 3), mixed (all 1)); expected accepted (CONNACK 0); "
				  "pp/v1-receiver (MUST) 2, pp2/local-accept (MUST) 1; "
				  "e.g. pp1/a, mixed/b");
	free(line);
	line = rpt_finding_line(run, &f[3]);
	assert_string_equal(line, "UNSUPPORTED ssl: no TLSv1.3: 1 point (tls (1 of 2)); e.g. tls/g");
	free(line);
	rpt_findings_free(f, n);
	rpt_run_free(run);
}

/* Clauses beyond the third are counted, not listed. */
static void test_many_clauses(void **state)
{
	static const char *clauses[] = { "c/a", "c/b", "c/c", "c/d", "c/e" };
	struct pt v[5];
	struct rpt_run *run;
	struct rpt_finding *f;
	struct perr e;
	size_t n;

	(void)state;
	for (size_t i = 0; i < 5; i++)
		v[i] = (struct pt){ "mal/x", "ssl", RPT_FAIL, VAGUE, "timeout after 3000 ms",
				    NULL, clauses[i], "MUST" };
	run = run_of(v, 5);
	assert_int_equal(rpt_findings(run, &f, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].clauses, "c/a (MUST) 1, c/b (MUST) 1, c/c (MUST) 1 and 2 more");
	rpt_findings_free(f, n);
	rpt_run_free(run);
}

static void test_none(void **state)
{
	struct rpt_run *run = run_of(sample + 10, 3);
	struct rpt_finding *f = (void *)1;
	struct perr e;
	size_t n = 9;

	(void)state;
	assert_int_equal(rpt_findings(run, &f, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_null(f);
	rpt_findings_free(f, n);
	rpt_run_free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what),
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_many_clauses),
		cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests_name("findings", tests, NULL, NULL);
}
