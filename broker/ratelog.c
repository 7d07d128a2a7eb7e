/* ratelog.c - see ratelog.h. */
#include "ratelog.h"

#include <time.h>

#include "log.h"

/* ---- the arithmetic ---------------------------------------------------- */

bool ratelim_take(struct ratelim *r, unsigned burst, int64_t now_ms)
{
	if (burst == 0)
		return true;
	if (now_ms - r->start_ms >= RATELOG_WINDOW_MS) {
		r->start_ms = now_ms;
		r->used = 0;
	}
	if (r->used < burst) {
		r->used++;
		return true;
	}
	r->dropped++;
	return false;
}

uint64_t ratelim_drain(struct ratelim *r, int64_t now_ms)
{
	uint64_t n = r->dropped;

	if (n == 0 || now_ms - r->start_ms < RATELOG_WINDOW_MS)
		return 0;
	r->dropped = 0;
	return n;
}

int64_t ratelim_due(const struct ratelim *r)
{
	return r->dropped ? r->start_ms + RATELOG_WINDOW_MS : -1;
}

/* ---- on the loop ------------------------------------------------------- */

/* What the summary says, at the level of the lines it stands for. */
static const struct {
	const char *text;
	enum log_level level;
} kinds[RATELOG_NKINDS] = {
	[RATELOG_PROXY] = { "refused PROXY headers", LOG_WARN },
	[RATELOG_HANDSHAKE] = { "failed TLS handshakes or WebSocket upgrades", LOG_INFO },
	[RATELOG_LIMIT] = { "connections refused at a limit", LOG_WARN },
	[RATELOG_MEMORY] = { "messages dropped at a memory limit", LOG_WARN },
	[RATELOG_ACCESS] = { "refused logins and access rules", LOG_WARN },
};

static int64_t mono_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Say what was dropped in windows that are over; re-arm for the rest. */
static void flush_at(struct ratelog *r, int64_t now, bool all)
{
	int64_t next = -1;

	for (int k = 0; k < RATELOG_NKINDS; k++) {
		struct ratelim *lim = &r->lim[k];
		uint64_t n = all ? lim->dropped : ratelim_drain(lim, now);
		int64_t due = ratelim_due(lim);

		if (all)
			lim->dropped = 0;
		if (n)
			log_msg(kinds[k].level, "%s: ... %llu more %s suppressed "
				"(log.refused_per_second = %u)", r->name, (unsigned long long)n,
				kinds[k].text, r->per_second);
		if (!all && due >= 0 && (next < 0 || due < next))
			next = due;
	}
	if (next >= 0 && loop_timer_set(r->loop, &r->flush, next - now) < 0)
		log_error("%s: no memory for a timer", r->name);
}

static void on_flush(struct loop_timer *t)
{
	struct ratelog *r = LOOP_CONTAINER(t, struct ratelog, flush);

	flush_at(r, mono_now_ms(), false);
}

void ratelog_init(struct ratelog *r, struct loop *loop, const char *name, unsigned per_second)
{
	for (int k = 0; k < RATELOG_NKINDS; k++)
		r->lim[k] = (struct ratelim){ .start_ms = INT64_MIN / 2 };
	r->loop = loop;
	r->name = name;
	r->per_second = per_second;
	loop_timer_init(&r->flush, on_flush);
}

bool ratelog_allow(struct ratelog *r, enum ratelog_kind k)
{
	int64_t now = mono_now_ms();
	bool pending = false;

	for (int i = 0; i < RATELOG_NKINDS; i++)
		pending |= r->lim[i].dropped > 0;
	/* What earlier seconds left out is said before this line. */
	if (pending)
		flush_at(r, now, false);
	if (ratelim_take(&r->lim[k], r->per_second, now))
		return true;
	if (r->lim[k].dropped == 1)
		flush_at(r, now, false);   /* arms the timer for its summary */
	return false;
}

void ratelog_stop(struct ratelog *r)
{
	if (!r->loop)
		return;
	loop_timer_cancel(r->loop, &r->flush);
	flush_at(r, 0, true);
}
