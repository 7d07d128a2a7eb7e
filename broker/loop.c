/* loop.c - see loop.h. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct loop {
	int epfd;
	int sigfd;
	int64_t now;
	int64_t skew;      /* loop_clock_advance: added to CLOCK_MONOTONIC */

	struct timer_heap timers;

	struct loop_defer *defer_head, *defer_tail;
	struct loop_defer *yield_head, *yield_tail;   /* for the next turn */
	struct loop_defer *turn_head, *turn_tail;     /* yielded before this turn */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(struct perr *e)
{
	struct loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev;
	sigset_t set;

	if (!l) {
		perr_set(e, "event loop: out of memory");
		return NULL;
	}
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		perr_errno(e, "epoll_create1");
		free(l);
		return NULL;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		perr_errno(e, "signalfd");
		loop_free(l);
		return NULL;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL; /* NULL marks the signalfd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev) < 0) {
		perr_errno(e, "epoll_ctl(signalfd)");
		loop_free(l);
		return NULL;
	}
	l->now = mono_ms();
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd >= 0)
		close(l->epfd);
	timer_heap_free(&l->timers);
	free(l);
}

/* ---- watches ------------------------------------------------------------- */

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   struct perr *e)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return perr_errno(e, "epoll_ctl(ADD, fd %d)", fd);
	w->fd = fd;
	w->events = events;
	w->added = true;
	return 0;
}

int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events,
		   struct perr *e)
{
	struct epoll_event ev;

	if (!w->added)
		return perr_set(e, "epoll: watch not added");
	if (w->events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return perr_errno(e, "epoll_ctl(MOD, fd %d)", w->fd);
	w->events = events;
	return 0;
}

void loop_watch_del(struct loop *l, struct loop_watch *w)
{
	if (!w->added)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = false;
}

/* ---- timers: a min-heap on the loop's clock (timer.c) -------------------- */

void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t))
{
	timer_init(&t->tm);
	t->fn = fn;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	timer_cancel(&l->timers, &t->tm);
}

int loop_timer_set(struct loop *l, struct loop_timer *t, int64_t ms)
{
	return timer_set(&l->timers, &t->tm, l->now + (ms > 0 ? ms : 0));
}

static void run_timers(struct loop *l)
{
	/* A callback may re-arm its own timer for "now": bound the work per
	 * pass so that such a timer cannot starve the sockets. */
	size_t budget = l->timers.n + 16;
	struct timer *first;

	while ((first = timer_first(&l->timers)) && first->due <= l->now && budget-- > 0) {
		struct loop_timer *t = LOOP_CONTAINER(first, struct loop_timer, tm);

		loop_timer_cancel(l, t);
		t->fn(t);
	}
}

static int next_timeout(struct loop *l)
{
	struct timer *first = timer_first(&l->timers);
	int64_t d;

	if (l->defer_head || l->yield_head)
		return 0;
	if (!first)
		return 1000;
	d = first->due - l->now;
	if (d < 0)
		return 0;
	return d > 1000 ? 1000 : (int)d;
}

/* ---- deferred work -------------------------------------------------------- */

static void queue_add(struct loop_defer **head, struct loop_defer **tail, struct loop_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	if (*tail)
		(*tail)->next = d;
	else
		*head = d;
	*tail = d;
}

static bool queue_del(struct loop_defer **head, struct loop_defer **tail, struct loop_defer *d)
{
	struct loop_defer *prev = NULL;

	for (struct loop_defer *p = *head; p; prev = p, p = p->next) {
		if (p != d)
			continue;
		if (prev)
			prev->next = d->next;
		else
			*head = d->next;
		if (*tail == d)
			*tail = prev;
		d->next = NULL;
		d->queued = false;
		return true;
	}
	return false;
}

void loop_defer(struct loop *l, struct loop_defer *d)
{
	queue_add(&l->defer_head, &l->defer_tail, d);
}

void loop_yield(struct loop *l, struct loop_defer *d)
{
	queue_add(&l->yield_head, &l->yield_tail, d);
}

void loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
	if (!d->queued)
		return;
	if (!queue_del(&l->defer_head, &l->defer_tail, d) &&
	    !queue_del(&l->yield_head, &l->yield_tail, d))
		queue_del(&l->turn_head, &l->turn_tail, d);
}

/* Pop and run until the queue is empty (callbacks may queue more).
 * Returns how many ran. */
static int queue_run(struct loop_defer **head, struct loop_defer **tail)
{
	struct loop_defer *d;
	int n = 0;

	while ((d = *head)) {
		n++;
		*head = d->next;
		if (!*head)
			*tail = NULL;
		d->queued = false;
		d->next = NULL;
		d->fn(d);
	}
	return n;
}

/* What was queued by loop_yield before this turn: work queued meanwhile
 * waits for the next one. Returns how much ran. */
static int run_yielded(struct loop *l)
{
	l->turn_head = l->yield_head;
	l->turn_tail = l->yield_tail;
	l->yield_head = l->yield_tail = NULL;
	return queue_run(&l->turn_head, &l->turn_tail);
}

void loop_run_deferred(struct loop *l)
{
	queue_run(&l->defer_head, &l->defer_tail);
}

/* ---- running -------------------------------------------------------------- */

static int read_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	ssize_t n = read(l->sigfd, &si, sizeof(si));

	if (n != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

int loop_run_once(struct loop *l, int timeout_ms, int *sig, struct perr *e)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return perr_errno(e, "epoll_wait");
	}
	l->now = mono_ms() + l->skew;
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		if (!w) {
			*sig = read_signal(l);
			continue;
		}
		/* A handler earlier in this batch may have stopped
		 * watching this one (its connection is being freed). */
		if (!w->added)
			continue;
		w->fn(w, evs[i].events);
	}
	n += run_yielded(l);
	loop_run_deferred(l);
	run_timers(l);
	loop_run_deferred(l);
	return n;
}

int loop_run(struct loop *l, struct perr *e)
{
	for (;;) {
		int sig = 0;

		if (loop_run_once(l, next_timeout(l), &sig, e) < 0)
			return -1;
		if (sig)
			return sig;
	}
}

void loop_clock_advance(struct loop *l, int64_t ms)
{
	l->skew += ms;
	l->now += ms;
}

int64_t loop_now(const struct loop *l)
{
	return l->now;
}
