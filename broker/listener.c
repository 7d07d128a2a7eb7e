/* listener.c - see listener.h. */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "fault.h"
#include "log.h"
#include "net.h"
#include "records.h"
#include "tls.h"

#define LIS_BACKLOG       4096
#define LIS_ACCEPT_BATCH  128   /* accepts per wake-up: keep other sockets served */
#define LIS_PAUSE_MS      100   /* retry after running out of descriptors */

static int spare_fd = -1;

void lis_spare_fd_open(void)
{
	if (spare_fd < 0)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void lis_spare_fd_close(void)
{
	if (spare_fd >= 0)
		close(spare_fd);
	spare_fd = -1;
}

/* Out of descriptors: take the pending connection with the spare one and
 * close it at once, so the peer learns (instead of hanging in the queue)
 * and epoll stops reporting it. */
static void shed_one(struct lis *l)
{
	int fd;

	if (spare_fd < 0)
		return;
	close(spare_fd);
	spare_fd = -1;
	fd = accept(l->fd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	lis_spare_fd_open();
}

static void on_resume(struct loop_timer *t)
{
	struct lis *l = LOOP_CONTAINER(t, struct lis, resume);
	struct perr e;

	if (l->fd < 0 || !l->paused)
		return;
	l->paused = false;
	if (loop_watch_set(l->b->loop, &l->watch, EPOLLIN, &e) < 0)
		log_error("%s: %s", cfg_listener_name(l->kind), e.msg);
}

static void pause_accepting(struct lis *l)
{
	struct perr e;

	if (l->paused)
		return;
	l->paused = true;
	if (loop_watch_set(l->b->loop, &l->watch, 0, &e) < 0)
		log_error("%s: %s", cfg_listener_name(l->kind), e.msg);
	if (loop_timer_set(l->b->loop, &l->resume, LIS_PAUSE_MS) < 0)
		l->paused = false;
}

/* Is a connection limit reached? Which one, in *which. */
static bool lis_full(const struct lis *l, enum rec_limit *which)
{
	const struct brk *b = l->b;

	*which = REC_LIMIT_CONNECTIONS;
	if (b->nconns >= b->cfg->max_connections)
		return true;
	*which = REC_LIMIT_LISTENER;
	return l->cfg->max_connections && l->nconns >= l->cfg->max_connections;
}

/* At a limit: closed before a byte is read or written (no TLS, no PROXY
 * stage), counted, and logged within log.refused_per_second. What the
 * peer sent already is read first, so that the close is a FIN, not a
 * reset for unread data. */
static void lis_refuse(struct lis *l, int fd, const struct sockaddr_storage *peer,
		       enum rec_limit which)
{
	const char *name = cfg_listener_name(l->kind);
	char sink[2048], who[NET_ADDR_STRLEN];
	struct sockaddr_storage p = *peer;

	(void)recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	close(fd);
	rec_limit_hit(l->b->rec, l->kind, which);
	if (!ratelog_allow(&l->rlog, RATELOG_LIMIT))
		return;
	net_addr_unmap(&p);
	if (which == REC_LIMIT_CONNECTIONS)
		log_warn("%s: connection from %s refused: %zu connections open, the limit "
			 "(listener.max_connections)", name, net_addr_str(&p, who, sizeof(who)),
			 l->b->nconns);
	else
		log_warn("%s: connection from %s refused: %zu connections open on this listener, "
			 "the limit (listener.%s.max_connections)", name,
			 net_addr_str(&p, who, sizeof(who)), l->nconns, name);
}

static void on_accept(struct loop_watch *w, uint32_t events)
{
	struct lis *l = LOOP_CONTAINER(w, struct lis, watch);

	(void)events;
	for (int i = 0; i < LIS_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		enum rec_limit which;
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("%s: accept: %s: refusing new connections for %d ms",
					 cfg_listener_name(l->kind), strerror(errno),
					 LIS_PAUSE_MS);
				shed_one(l);
				pause_accepting(l);
				return;
			}
			if (errno == ENOBUFS || errno == ENOMEM) {
				log_warn("%s: accept: %s", cfg_listener_name(l->kind),
					 strerror(errno));
				pause_accepting(l);
				return;
			}
			log_error("%s: accept: %s", cfg_listener_name(l->kind),
				  strerror(errno));
			return;
		}
		if (lis_full(l, &which))
			lis_refuse(l, fd, &peer, which);
		else
			conn_accept(l->b, l, fd, &peer);
	}
}

int lis_open(struct lis *l, struct brk *b, enum cfg_listener_kind kind,
	     struct perr *e)
{
	const struct cfg_listener *c = &b->cfg->listener[kind];
	const char *name = cfg_listener_name(kind);

	memset(l, 0, sizeof(*l));
	l->b = b;
	l->kind = kind;
	l->cfg = c;
	l->fd = -1;
	loop_timer_init(&l->resume, on_resume);
	l->watch.fn = on_accept;
	ratelog_init(&l->rlog, b->loop, name, b->cfg->log.refused_per_second);

	ident_stage_init(&l->stage, c);
	fault_adjust_stage(&l->stage, brk_kind_tls(kind));
	if (brk_kind_tls(kind)) {
		if (!c->cert_file || !c->key_file)
			return perr_set(e, "%s listener: cert_file and key_file are required "
					"(listener.%s.cert_file / key_file)", name, name);
		l->tls = tls_server_ctx_new(c->cert_file, c->key_file,
					    c->client_auth != CFG_CLIENT_AUTH_NONE ? c->ca_file : NULL,
					    c->client_auth == CFG_CLIENT_AUTH_REQUIRED, e);
		if (!l->tls)
			return perr_wrap(e, "%s listener", name);
	}
	l->fd = net_listen(c->bind_address, c->bind_port, LIS_BACKLOG, e);
	if (l->fd < 0) {
		perr_wrap(e, "%s listener on %s port %u", name, c->bind_address,
			  (unsigned)c->bind_port);
		lis_close(l);
		return -1;
	}
	l->port = net_local_port(l->fd);
	if (loop_watch_add(b->loop, &l->watch, l->fd, EPOLLIN, e) < 0) {
		perr_wrap(e, "%s listener", name);
		lis_close(l);
		return -1;
	}
	return 0;
}

void lis_close(struct lis *l)
{
	if (l->b) {
		loop_watch_del(l->b->loop, &l->watch);
		loop_timer_cancel(l->b->loop, &l->resume);
		ratelog_stop(&l->rlog);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->tls)
		tls_ctx_free(l->tls);
	l->tls = NULL;
}
