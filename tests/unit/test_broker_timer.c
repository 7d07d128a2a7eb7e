/* test_broker_timer.c - the deadline heap shared by the loop and the engine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "timer.h"

#define N 500

/* Pop everything: the deadlines come out in order, each armed one once. */
static void drain_sorted(struct timer_heap *hp, size_t want)
{
	int64_t last = INT64_MIN;
	size_t got = 0;
	struct timer *t;

	while ((t = timer_first(hp))) {
		assert_true(t->due >= last);
		last = t->due;
		timer_cancel(hp, t);
		assert_false(timer_armed(t));
		got++;
	}
	assert_int_equal(got, want);
}

static void test_order(void **state)
{
	struct timer_heap hp = { 0 };
	struct timer t[N];
	size_t armed = 0;
	(void)state;

	srand(7);
	for (int i = 0; i < N; i++) {
		timer_init(&t[i]);
		assert_false(timer_armed(&t[i]));
		assert_int_equal(timer_set(&hp, &t[i], rand() % 1000), 0);
	}
	/* Move some, cancel some (twice: harmless). */
	for (int i = 0; i < N; i += 3)
		assert_int_equal(timer_set(&hp, &t[i], rand() % 1000), 0);
	for (int i = 1; i < N; i += 4) {
		timer_cancel(&hp, &t[i]);
		timer_cancel(&hp, &t[i]);
	}
	for (int i = 0; i < N; i++)
		armed += timer_armed(&t[i]);
	assert_int_equal(hp.n, armed);
	drain_sorted(&hp, armed);
	timer_heap_free(&hp);
}

static void test_first(void **state)
{
	struct timer_heap hp = { 0 };
	struct timer a, b;
	(void)state;

	assert_null(timer_first(&hp));
	timer_init(&a);
	timer_init(&b);
	assert_int_equal(timer_set(&hp, &a, 50), 0);
	assert_int_equal(timer_set(&hp, &b, 10), 0);
	assert_ptr_equal(timer_first(&hp), &b);
	assert_int_equal(timer_set(&hp, &b, 60), 0);   /* later: a comes first */
	assert_ptr_equal(timer_first(&hp), &a);
	assert_int_equal(hp.n, 2);
	timer_cancel(&hp, &a);
	assert_ptr_equal(timer_first(&hp), &b);
	timer_heap_free(&hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
