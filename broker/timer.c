/* timer.c - see timer.h. */
#include "timer.h"

#include <stdlib.h>

static void heap_swap(struct timer_heap *hp, size_t a, size_t b)
{
	struct timer *t = hp->h[a];

	hp->h[a] = hp->h[b];
	hp->h[b] = t;
	hp->h[a]->idx = a;
	hp->h[b]->idx = b;
}

static void heap_up(struct timer_heap *hp, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (hp->h[p]->due <= hp->h[i]->due)
			break;
		heap_swap(hp, p, i);
		i = p;
	}
}

static void heap_down(struct timer_heap *hp, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < hp->n && hp->h[c]->due < hp->h[m]->due)
			m = c;
		if (c + 1 < hp->n && hp->h[c + 1]->due < hp->h[m]->due)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(hp, i, m);
		i = m;
	}
}

void timer_init(struct timer *t)
{
	t->due = 0;
	t->idx = SIZE_MAX;
}

bool timer_armed(const struct timer *t)
{
	return t->idx != SIZE_MAX;
}

void timer_cancel(struct timer_heap *hp, struct timer *t)
{
	size_t i = t->idx;

	if (i == SIZE_MAX)
		return;
	t->idx = SIZE_MAX;
	hp->n--;
	if (i == hp->n)
		return;
	hp->h[i] = hp->h[hp->n];
	hp->h[i]->idx = i;
	heap_up(hp, i);
	heap_down(hp, hp->h[i]->idx);
}

int timer_set(struct timer_heap *hp, struct timer *t, int64_t due)
{
	if (timer_armed(t)) {
		/* Moved in place: no allocation, cannot fail. */
		t->due = due;
		heap_up(hp, t->idx);
		heap_down(hp, t->idx);
		return 0;
	}
	if (hp->n == hp->cap) {
		size_t cap = hp->cap ? hp->cap * 2 : 64;
		struct timer **h = realloc(hp->h, cap * sizeof(*h));

		if (!h)
			return -1;
		hp->h = h;
		hp->cap = cap;
	}
	t->due = due;
	t->idx = hp->n;
	hp->h[hp->n++] = t;
	heap_up(hp, t->idx);
	return 0;
}

struct timer *timer_first(const struct timer_heap *hp)
{
	return hp->n ? hp->h[0] : NULL;
}

void timer_heap_free(struct timer_heap *hp)
{
	free(hp->h);
	hp->h = NULL;
	hp->n = hp->cap = 0;
}
