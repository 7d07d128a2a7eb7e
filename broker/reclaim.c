/* reclaim.c - see reclaim.h. */
#include "reclaim.h"

#include <malloc.h>

#include "log.h"

static void on_trim(struct loop_timer *t)
{
	struct reclaim *r = LOOP_CONTAINER(t, struct reclaim, timer);

	if (r->pending == 0)
		return;
	log_debug("giving memory back after %zu closed connections", r->pending);
	r->pending = 0;
	r->trims++;
	malloc_trim(0);
}

void reclaim_init(struct reclaim *r, struct loop *loop)
{
	r->loop = loop;
	r->pending = 0;
	r->trims = 0;
	loop_timer_init(&r->timer, on_trim);
}

void reclaim_note(struct reclaim *r)
{
	if (!r->loop)
		return;
	if (r->pending++ == 0 && loop_timer_set(r->loop, &r->timer, RECLAIM_DELAY_MS) < 0)
		r->pending = 0;
}

void reclaim_stop(struct reclaim *r)
{
	if (r->loop)
		loop_timer_cancel(r->loop, &r->timer);
	r->pending = 0;
}
