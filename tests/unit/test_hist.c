/* test_hist.c - lib/hist: bucket bounds (exact below 128, at most 1/64
 * wide above, contiguous to the end), nearest-rank percentiles, merging
 * (the percentiles of merged histograms are those of all the values
 * together), and buckets read back from a summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hist.h"

static void test_buckets(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < HIST_LINEAR; v++) {
		assert_int_equal(hist_index(v), v);
		assert_int_equal(hist_low(v), v);
		assert_int_equal(hist_high(v), v);
	}
	assert_int_equal(hist_low(0), 0);
	for (size_t i = 0; i + 1 < HIST_NBUCKETS; i++) {
		uint64_t lo = hist_low(i), hi = hist_high(i);

		assert_true(lo <= hi);
		assert_int_equal(hist_low(i + 1), hi + 1);      /* contiguous */
		assert_int_equal(hist_index(lo), i);
		assert_int_equal(hist_index(hi), i);
		assert_true((hi - lo + 1) * 64 <= (lo > 64 ? lo : 64)); /* <= 1/64 of its values */
	}
	assert_int_equal(hist_high(HIST_NBUCKETS - 1), HIST_MAX);
	assert_int_equal(hist_index(HIST_MAX), HIST_NBUCKETS - 1);
	assert_int_equal(hist_index(UINT64_MAX), HIST_NBUCKETS - 1);
	assert_int_equal(hist_index(128), 128);
	assert_int_equal(hist_high(128), 129);
	assert_int_equal(hist_index(1000), hist_index(1007));
	assert_true(hist_index(1000) != hist_index(1008));
}

static void test_percentiles(void **state)
{
	struct hist h;

	(void)state;
	hist_init(&h);
	assert_int_equal(hist_percentile(&h, 50), 0);
	assert_true(hist_mean(&h) == 0.0);
	for (uint64_t v = 1; v <= 100; v++)
		hist_add(&h, v);
	assert_int_equal(h.count, 100);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100);
	assert_int_equal(h.sum, 5050);
	assert_int_equal(hist_percentile(&h, 50), 50);
	assert_int_equal(hist_percentile(&h, 90), 90);
	assert_int_equal(hist_percentile(&h, 99), 99);
	assert_int_equal(hist_percentile(&h, 99.9), 100);
	assert_int_equal(hist_percentile(&h, 100), 100);
	assert_int_equal(hist_percentile(&h, 0.0001), 1);
	assert_true(hist_mean(&h) == 50.5);

	/* nearest rank in integers: 99.9 % of 1000 values is the 999th */
	hist_init(&h);
	for (uint64_t v = 0; v < 1000; v++)
		hist_add(&h, v < 999 ? 10 : 100);
	assert_int_equal(hist_percentile(&h, 99.9), 10);
	assert_int_equal(hist_percentile(&h, 100), 100);

	/* above the exact range: the bucket's highest value, never above max */
	hist_init(&h);
	hist_add(&h, 1000);
	assert_int_equal(hist_percentile(&h, 50), 1000);
	hist_add(&h, 1001);
	hist_add(&h, 5000);
	assert_int_equal(hist_percentile(&h, 50), hist_high(hist_index(1000)));
	assert_int_equal(hist_percentile(&h, 100), 5000);

	/* beyond HIST_MAX: counted as HIST_MAX */
	hist_add(&h, UINT64_MAX);
	assert_int_equal(h.max, HIST_MAX);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static void test_merge(void **state)
{
	static struct hist all, part[3], merged;
	static const double ps[] = { 50, 90, 99, 99.9, 100 };
	uint64_t s = 42;

	(void)state;
	hist_init(&all);
	hist_init(&merged);
	for (int k = 0; k < 3; k++)
		hist_init(&part[k]);
	for (int i = 0; i < 30000; i++) {
		uint64_t v = lcg(&s) % (i % 7 == 0 ? 5000000 : 20000);

		hist_add(&all, v);
		hist_add(&part[i % 3], v);
	}
	for (int k = 0; k < 3; k++)
		hist_merge(&merged, &part[k]);
	assert_memory_equal(&merged, &all, sizeof(all));
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		assert_int_equal(hist_percentile(&merged, ps[i]), hist_percentile(&all, ps[i]));

	/* merging an empty one changes nothing; into an empty one copies */
	hist_init(&part[0]);
	hist_merge(&merged, &part[0]);
	assert_memory_equal(&merged, &all, sizeof(all));
	hist_merge(&part[0], &all);
	assert_memory_equal(&part[0], &all, sizeof(all));
}

static void test_read_back(void **state)
{
	static struct hist h, back;
	struct perr e;

	(void)state;
	hist_init(&h);
	hist_init(&back);
	for (uint64_t v = 0; v < 100000; v += 37)
		hist_add(&h, v);
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		if (h.b[i])
			assert_int_equal(hist_add_bucket(&back, hist_low(i), hist_high(i), h.b[i], &e), 0);
	back.min = h.min;
	back.max = h.max;
	back.sum = h.sum;
	assert_memory_equal(&back, &h, sizeof(h));

	assert_int_equal(hist_add_bucket(&back, 128, 128, 1, &e), -1);
	assert_non_null(strstr(e.msg, "[128, 128] is not a bucket"));
	assert_int_equal(hist_add_bucket(&back, 129, 129, 1, &e), -1);
	assert_int_equal(hist_add_bucket(&back, HIST_MAX + 1, HIST_MAX + 1, 1, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
