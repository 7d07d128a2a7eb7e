/* reclaim.h - memory given back to the system after connections are
 * closed (stalled TLS handshakes, slowloris headers, refused upgrades,
 * a burst of clients, a session's queue taken over with a clean start).
 *
 * Each stalled TLS handshake holds some 50 KB of OpenSSL state. Freed, it
 * stays in the C library's heap, in holes between live blocks, so the
 * process keeps its peak size: 2,000 stalled ClientHellos left about
 * 110 MB resident after they were all closed. malloc_trim(0) returns the
 * free pages of every heap to the kernel. It walks the free lists, so it
 * runs at most once a second, and only after connections were closed.
 */
#ifndef PPMQ_BROKER_RECLAIM_H
#define PPMQ_BROKER_RECLAIM_H

#include <stddef.h>

#include "loop.h"

#define RECLAIM_DELAY_MS 1000

struct reclaim {
	struct loop *loop;
	struct loop_timer timer;
	size_t pending;           /* connections freed since the last trim */
	unsigned long long trims; /* done so far */
};

void reclaim_init(struct reclaim *r, struct loop *loop);

/* A connection was freed: trim within RECLAIM_DELAY_MS. */
void reclaim_note(struct reclaim *r);

/* Stop the timer (shutdown). */
void reclaim_stop(struct reclaim *r);

#endif
