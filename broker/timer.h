/* timer.h - deadlines in a binary min-heap: the event loop's timers and
 * the MQTT engine's (keep-alive, will delay, session expiry) are both
 * kept this way.
 *
 * A struct timer is embedded in its owner's struct (no allocation per
 * timer; the owner recovers itself with container_of-style arithmetic).
 * Times are milliseconds on whatever clock the heap's user reads, the
 * same for every timer of one heap. Earliest first; O(log n) to arm,
 * re-arm or cancel, O(1) to look at the earliest.
 */
#ifndef PPMQ_BROKER_TIMER_H
#define PPMQ_BROKER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer {
	int64_t due;       /* milliseconds */
	size_t idx;        /* position in the heap; SIZE_MAX when not armed */
};

struct timer_heap {
	struct timer **h;
	size_t n, cap;
};

/* Not armed. */
void timer_init(struct timer *t);
bool timer_armed(const struct timer *t);

/* Arm (or move) t to due. Returns 0, or -1 when the heap cannot grow
 * (t is then not armed). */
int timer_set(struct timer_heap *hp, struct timer *t, int64_t due);
/* Disarm; harmless on a timer that is not armed. */
void timer_cancel(struct timer_heap *hp, struct timer *t);

/* The earliest armed timer, or NULL. */
struct timer *timer_first(const struct timer_heap *hp);

/* Release the heap's array (timers are their owners'). */
void timer_heap_free(struct timer_heap *hp);

#endif
