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

	struct loop_timer **heap;
	size_t nheap, capheap;

	struct loop_defer *defer_head, *defer_tail;
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
	free(l->heap);
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

/* ---- timers: a binary min-heap on due_ms ---------------------------------- */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->due_ms <= l->heap[i]->due_ms)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < l->nheap && l->heap[c]->due_ms < l->heap[m]->due_ms)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->due_ms < l->heap[m]->due_ms)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t))
{
	t->due_ms = 0;
	t->idx = SIZE_MAX;
	t->fn = fn;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;

	if (i == SIZE_MAX)
		return;
	t->idx = SIZE_MAX;
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	l->heap[i]->idx = i;
	heap_up(l, i);
	heap_down(l, l->heap[i]->idx);
}

int loop_timer_set(struct loop *l, struct loop_timer *t, int64_t ms)
{
	loop_timer_cancel(l, t);
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 64;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -1;
		l->heap = h;
		l->capheap = cap;
	}
	t->due_ms = l->now + (ms > 0 ? ms : 0);
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
	return 0;
}

static void run_timers(struct loop *l)
{
	/* A callback may re-arm its own timer for "now": bound the work per
	 * pass so that such a timer cannot starve the sockets. */
	size_t budget = l->nheap + 16;

	while (l->nheap > 0 && l->heap[0]->due_ms <= l->now && budget-- > 0) {
		struct loop_timer *t = l->heap[0];

		loop_timer_cancel(l, t);
		t->fn(t);
	}
}

static int next_timeout(struct loop *l)
{
	int64_t d;

	if (l->defer_head)
		return 0;
	if (l->nheap == 0)
		return 1000;
	d = l->heap[0]->due_ms - l->now;
	if (d < 0)
		return 0;
	return d > 1000 ? 1000 : (int)d;
}

/* ---- deferred work -------------------------------------------------------- */

void loop_defer(struct loop *l, struct loop_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	if (l->defer_tail)
		l->defer_tail->next = d;
	else
		l->defer_head = d;
	l->defer_tail = d;
}

void loop_run_deferred(struct loop *l)
{
	while (l->defer_head) {
		struct loop_defer *d = l->defer_head;

		l->defer_head = d->next;
		if (!l->defer_head)
			l->defer_tail = NULL;
		d->queued = false;
		d->next = NULL;
		d->fn(d);
	}
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

int loop_run(struct loop *l, struct perr *e)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, next_timeout(l));
		int sig = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return perr_errno(e, "epoll_wait");
		}
		l->now = mono_ms();
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;

			if (!w) {
				sig = read_signal(l);
				continue;
			}
			/* A handler earlier in this batch may have stopped
			 * watching this one (its connection is being freed). */
			if (!w->added)
				continue;
			w->fn(w, evs[i].events);
		}
		loop_run_deferred(l);
		run_timers(l);
		loop_run_deferred(l);
		if (sig)
			return sig;
	}
}
