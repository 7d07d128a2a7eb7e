/* test_broker_ratelog.c - log lines a second per kind, and the count of
 * what was left out: the arithmetic on a fake clock, then the summary
 * lines on a real loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ratelog.h"

static void test_burst_then_count(void **state)
{
	struct ratelim r = { .start_ms = -100000 };

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(ratelim_take(&r, 3, 10 + i));
	for (int i = 0; i < 7; i++)
		assert_false(ratelim_take(&r, 3, 20 + i));
	assert_int_equal(ratelim_due(&r), 10 + RATELOG_WINDOW_MS);
	/* said only once its second is over */
	assert_int_equal(ratelim_drain(&r, 500), 0);
	assert_int_equal(ratelim_drain(&r, 10 + RATELOG_WINDOW_MS), 7);
	assert_int_equal(ratelim_drain(&r, 10 + RATELOG_WINDOW_MS), 0);
	assert_int_equal(ratelim_due(&r), -1);
	/* a new second: a new burst */
	assert_true(ratelim_take(&r, 3, 10 + RATELOG_WINDOW_MS));
	assert_true(ratelim_take(&r, 3, 11 + RATELOG_WINDOW_MS));
	assert_true(ratelim_take(&r, 3, 12 + RATELOG_WINDOW_MS));
	assert_false(ratelim_take(&r, 3, 13 + RATELOG_WINDOW_MS));
}

static void test_no_limit(void **state)
{
	struct ratelim r = { 0 };

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_true(ratelim_take(&r, 0, 0));
	assert_int_equal(ratelim_drain(&r, 5000), 0);
	assert_int_equal(ratelim_due(&r), -1);
}

/* Many lines at once: per_second are written, then one summary line with
 * the count of the others (here at shutdown). */
static void test_summary_line(void **state)
{
	char path[] = "/tmp/ppmq-ratelog-XXXXXX";
	struct perr e;
	struct loop *lp;
	struct ratelog rl;
	char line[512], *text = NULL;
	size_t len = 0;
	unsigned allowed = 0;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	log_init("test", LOG_INFO);
	assert_int_equal(log_open(path), 0);
	lp = loop_new(&e);
	assert_non_null(lp);
	ratelog_init(&rl, lp, "tcp", 4);
	for (int i = 0; i < 50; i++)
		allowed += ratelog_allow(&rl, RATELOG_PROXY);
	assert_true(ratelog_allow(&rl, RATELOG_LIMIT));   /* kinds count apart */
	ratelog_stop(&rl);
	log_close();
	loop_free(lp);
	/* the window is a second from the first line: 50 calls fit in it */
	assert_int_equal(allowed, 4);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		text = realloc(text, len + n + 1);
		memcpy(text + len, line, n + 1);
		len += n;
	}
	fclose(f);
	unlink(path);
	snprintf(line, sizeof(line), "tcp: ... 46 more refused PROXY headers suppressed "
		 "(log.refused_per_second = 4)");
	assert_non_null(text);
	if (!strstr(text, line))
		fail_msg("no '%s' in:\n%s", line, text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_count),
		cmocka_unit_test(test_no_limit),
		cmocka_unit_test(test_summary_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
