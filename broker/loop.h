/* loop.h - the broker's event loop: epoll for sockets, a min-heap of
 * timers, signalfd for SIGINT/SIGTERM, and deferred work that must run
 * after the current batch of events (freeing a connection whose handler
 * is still on the stack).
 *
 * Single-threaded: every callback runs on the loop's thread. Watches and
 * timers are embedded in their owner's struct (no allocation per event);
 * the owner recovers itself with container_of-style arithmetic.
 */
#ifndef PPMQ_BROKER_LOOP_H
#define PPMQ_BROKER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "timer.h"

struct loop;

/* A file descriptor watched by the loop. fn gets the epoll event bits
 * (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP). */
struct loop_watch {
	int fd;
	uint32_t events;   /* currently requested */
	bool added;
	void (*fn)(struct loop_watch *w, uint32_t events);
};

/* A one-shot timer. Re-arm it from its own callback for periodic work. */
struct loop_timer {
	struct timer tm;   /* due: the loop's CLOCK_MONOTONIC milliseconds */
	void (*fn)(struct loop_timer *t);
};

/* Called after the current batch of events (and timers) is handled
 * (loop_defer), or on the next turn of the loop (loop_yield). */
struct loop_defer {
	struct loop_defer *next;
	bool queued;
	void (*fn)(struct loop_defer *d);
};

/* Create the loop. SIGINT and SIGTERM are blocked in the calling thread
 * (threads created afterwards inherit the mask) and delivered through a
 * signalfd: loop_run returns when one arrives. Returns NULL with *e set. */
struct loop *loop_new(struct perr *e);
void loop_free(struct loop *l);

/* Watch fd for events. Returns 0 or -1 with *e set. */
int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   struct perr *e);
/* Change the requested events (no syscall when unchanged). */
int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events,
		   struct perr *e);
/* Stop watching (before close(fd)). Safe on a watch never added. */
void loop_watch_del(struct loop *l, struct loop_watch *w);

void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t));
/* Arm (or re-arm) to fire in ms milliseconds. Returns 0 or -1 (no memory). */
int loop_timer_set(struct loop *l, struct loop_timer *t, int64_t ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Queue d to run after the current batch; queuing twice is harmless. */
void loop_defer(struct loop *l, struct loop_defer *d);
/* Run the queued work now (shutdown, outside loop_run). */
void loop_run_deferred(struct loop *l);
/* Queue d to run on the next turn: after the sockets have been polled
 * again (without waiting) and their events handled. For long work done a
 * slice at a time, so that other connections are served in between. */
void loop_yield(struct loop *l, struct loop_defer *d);
/* Take d off whichever queue holds it (its owner is going away). */
void loop_defer_cancel(struct loop *l, struct loop_defer *d);

/* Run until a signal arrives. Returns the signal number (SIGINT,
 * SIGTERM), or -1 on an epoll failure with *e set. */
int loop_run(struct loop *l, struct perr *e);

/* One turn of loop_run, for programs that drive the loop themselves (the
 * fuzz harnesses): wait up to timeout_ms (0: just look) for events,
 * handle them, then the work yielded before this turn, the deferred work
 * and the timers that are due. Returns the number of events and yielded
 * pieces of work handled (0: nothing happened; *sig set when an event was
 * a signal), or -1 on an epoll failure with *e set. */
int loop_run_once(struct loop *l, int timeout_ms, int *sig, struct perr *e);

/* Move the loop's clock forward by ms: timers due by then run on the next
 * turn. Lets a driver make time pass without waiting for it. */
void loop_clock_advance(struct loop *l, int64_t ms);
/* The loop's clock (CLOCK_MONOTONIC milliseconds as of the last turn, plus
 * what loop_clock_advance added): timers are due on it. */
int64_t loop_now(const struct loop *l);

#define LOOP_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
