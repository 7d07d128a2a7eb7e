/* ratelog.h - log lines that a client can cause by the thousand (refused
 * PROXY headers, failed handshakes, connections refused at a limit,
 * messages dropped at a memory limit), at most N a second per listener
 * (or "mqtt" for messages) and kind. What is left out is counted and
 * said once the second is over:
 *
 *   tcp: ... 1990 more refused PROXY headers suppressed (log.refused_per_second = 10)
 *
 * Counters (/metrics) still count every event; only the log is thinned.
 *
 *   if (ratelog_allow(&l->rlog, RATELOG_PROXY))
 *           log_warn("tcp: PROXY header rejected from ...");
 *
 * struct ratelim is the arithmetic alone (any clock, milliseconds), so
 * that it can be tested without a loop; struct ratelog adds the loop's
 * timer that writes the summaries.
 */
#ifndef PPMQ_BROKER_RATELOG_H
#define PPMQ_BROKER_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

#define RATELOG_WINDOW_MS 1000

/* One kind of line: burst lines per window of RATELOG_WINDOW_MS. */
struct ratelim {
	int64_t start_ms;     /* the current window's start */
	unsigned used;        /* lines written in it */
	uint64_t dropped;     /* lines left out, not yet summarised */
};

/* May one more line be written at now_ms? burst 0: always. Otherwise the
 * line is counted as dropped. */
bool ratelim_take(struct ratelim *r, unsigned burst, int64_t now_ms);

/* The number of lines dropped, once the window they were dropped in is
 * over (then it is reset); 0 before, or when none were. */
uint64_t ratelim_drain(struct ratelim *r, int64_t now_ms);

/* When the window holding dropped lines ends (ms), or -1: none pending. */
int64_t ratelim_due(const struct ratelim *r);

enum ratelog_kind {
	RATELOG_PROXY = 0,    /* refused PROXY headers (and their timeouts) */
	RATELOG_HANDSHAKE,    /* failed or timed out TLS handshakes and WebSocket upgrades */
	RATELOG_LIMIT,        /* connections refused or closed at a limit */
	RATELOG_MEMORY,       /* messages dropped (or not retained) at a memory limit */
	RATELOG_ACCESS,       /* CONNECTs refused (credentials, access rules), filters refused */
	RATELOG_NKINDS,
};

struct ratelog {
	struct loop *loop;
	const char *name;     /* "tcp" ...: the lines' prefix */
	unsigned per_second;  /* 0: no limit */
	struct ratelim lim[RATELOG_NKINDS];
	struct loop_timer flush;
};

void ratelog_init(struct ratelog *r, struct loop *loop, const char *name, unsigned per_second);

/* May a line of this kind be written now? If not, it is counted, and the
 * count is logged when the second is over. */
bool ratelog_allow(struct ratelog *r, enum ratelog_kind k);

/* Say what is still counted, and stop the timer (shutdown). */
void ratelog_stop(struct ratelog *r);

#endif
