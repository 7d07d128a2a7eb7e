/* flood_net.c - one `proxygen flood` connection's transport on the epoll
 * loop, see flood_net.h: the socket, the PROXY header, lib/tls's engine
 * (tls, wss), lib/ws's upgrade and frames (ws, wss), and the bytes in and
 * out. MQTT itself is flood_run.c's.
 */
#include "flood_net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "opts.h"
#include "pp.h"
#include "tls.h"
#include "ws.h"

#define FBUF_KEEP   4096             /* an emptied buffer larger than this is released */
#define TLS_OUT_MAX (1024 * 1024)    /* encrypted bytes the engine may hold */

struct fc_ws {
	struct ws_decoder dec;
	char key[WS_KEY_LEN + 1];
};

/* ---- buffers and lists ---------------------------------------------------------------- */

static void fbuf_free(struct fbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int fbuf_add(struct fbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if ((size_t)b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *q;

		while (cap < (size_t)b->len + n)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -1;
		q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = (uint32_t)cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

void fbuf_consume(struct fbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		if (b->cap > FBUF_KEEP)
			fbuf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= (uint32_t)n;
}

uint8_t *fbuf_join(struct fbuf *b, uint8_t *p, size_t n, size_t *len)
{
	*len = n;
	if (!b->len)
		return p;
	if (fbuf_add(b, p, n) < 0)
		return NULL;
	*len = b->len;
	return b->p;
}

int fbuf_keep(struct fbuf *b, uint8_t *buf, size_t len, size_t off)
{
	if (buf == b->p) {
		fbuf_consume(b, off);
		return 0;
	}
	return fbuf_add(b, buf + off, len - off);
}

void fl_list_push(struct fl_list *l, struct fc *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

void fl_list_remove(struct fl_list *l, struct fc *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static struct fl_list *list_of(struct fl_loop *L, int id)
{
	switch (id) {
	case FL_WAITING: return &L->waiting;
	case FL_HOLDING: return &L->holding;
	case FL_OPEN: return &L->open;
	default: return NULL;
	}
}

void fl_list_move(struct fl_loop *L, struct fc *c, enum fl_list_id to, int64_t deadline)
{
	if (c->list)
		fl_list_remove(list_of(L, c->list), c);
	c->list = (uint8_t)to;
	c->deadline = deadline;
	if (to)
		fl_list_push(list_of(L, to), c);
}

/* ---- failures ------------------------------------------------------------------------- */

void fc_fail(struct fl_loop *L, struct fc *c, enum fl_kind kind, const char *fmt, ...)
{
	struct fl_result *r = L->f->res;
	char *slot;
	va_list ap;

	if (c->dead)
		return;
	if (c->opened) {
		r->dropped++;
		slot = r->first_drop;
	} else {
		r->count[kind]++;
		slot = r->first_err[kind];
	}
	if (!slot[0]) {
		va_start(ap, fmt);
		vsnprintf(slot, FL_FIRST_LEN, fmt, ap);
		va_end(ap);
	}
	c->dead = true;
	c->graceful = false;
}

/* Kind of a socket error. */
static enum fl_kind errno_kind(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTUNREACH:
		return FK_REFUSED;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return FK_RESET;
	case ETIMEDOUT:
		return FK_TIMEOUT;
	default:
		return FK_LOCAL;
	}
}

static void fail_errno(struct fl_loop *L, struct fc *c, int err, const char *during)
{
	fc_fail(L, c, errno_kind(err), "%s %s: %s", during, fc_stage_what(c), strerror(err));
}

const char *fc_stage_what(const struct fc *c)
{
	if (!c->connected)
		return "(TCP connect)";
	switch (c->stage) {
	case FS_TLS: return "during the TLS handshake";
	case FS_WS: return "during the WebSocket upgrade";
	case FS_CONNACK: return "before a CONNACK";
	case FS_SUBACK: return "before its SUBACK";
	case FS_OPEN:
		return c->role == FR_PUB ? "while publishing" :
		       c->role == FR_SUB ? "while subscribed" : "during --hold";
	default: return "";
	}
}

/* ---- bytes out ------------------------------------------------------------------------ */

/* Bytes of the stream above TLS: the upgrade request, frames, MQTT. */
static void send_stream(struct fl_loop *L, struct fc *c, const void *p, size_t n)
{
	if (fbuf_add(c->tls ? &c->aout : &c->out, p, n) < 0)
		fc_fail(L, c, FK_LOCAL, "out of memory");
}

static void ws_send(struct fl_loop *L, struct fc *c, uint8_t op, const uint8_t *p, size_t n)
{
	uint8_t mask[4];
	int m;

	if (ws_random_mask(mask) < 0) {
		fc_fail(L, c, FK_LOCAL, "WebSocket: no random mask");
		return;
	}
	m = ws_encode(L->frame, L->pkt_cap + WS_MAX_HDR, true, op, p, n, mask);
	if (m < 0) {
		fc_fail(L, c, FK_LOCAL, "WebSocket: a frame of %zu bytes does not fit", n);
		return;
	}
	send_stream(L, c, L->frame, (size_t)m);
}

static void queue_mqtt(struct fl_loop *L, struct fc *c, const uint8_t *p, size_t n)
{
	if (c->ws_on)
		ws_send(L, c, WS_OP_BINARY, p, n);
	else
		send_stream(L, c, p, n);
	c->last_tx = L->now;
}

void fc_send_mqtt(struct fl_loop *L, struct fc *c, const uint8_t *p, size_t n)
{
	if (!c->dead)
		queue_mqtt(L, c, p, n);
}

size_t fc_pending(const struct fc *c)
{
	return (size_t)c->out.len + c->aout.len + (c->tls ? tls_out_pending(c->tls) : 0);
}

/* Write c->out until the socket would block. 0, or -1 (c failed). */
static int write_out(struct fl_loop *L, struct fc *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			c->connected = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN))
			break;
		fbuf_consume(&c->out, off);
		fail_errno(L, c, n < 0 ? errno : EPIPE, "write");
		return -1;
	}
	fbuf_consume(&c->out, off);
	return 0;
}

/* Encrypt what waits; the engine's output stays behind c->out's. */
static int encrypt_pending(struct fl_loop *L, struct fc *c)
{
	uint8_t buf[16384];
	size_t n;

	if (c->aout.len) {
		ssize_t w = tls_write(c->tls, c->aout.p, c->aout.len);

		if (w == (ssize_t)c->aout.len)
			fbuf_consume(&c->aout, c->aout.len);
		else if (w != TLS_WANT_WRITE) {
			fc_fail(L, c, FK_TLS, "TLS: %s", w == TLS_ERROR ? tls_error(c->tls) : "not ready");
			return -1;
		}
	}
	while (c->out.len && (n = tls_out_take(c->tls, buf, sizeof(buf))) > 0)
		if (fbuf_add(&c->out, buf, n) < 0) {
			fc_fail(L, c, FK_LOCAL, "out of memory");
			return -1;
		}
	return 0;
}

static void flush_now(struct fl_loop *L, struct fc *c)
{
	struct perr e;

	if (c->fd < 0)
		return;
	if (c->tls && encrypt_pending(L, c) < 0)
		return;
	if (c->out.len && write_out(L, c) < 0)
		return;
	if (!c->out.len && c->tls && tls_flush(c->tls, &e) < 0 && errno != ENOTCONN)
		fail_errno(L, c, errno, "write");
}

void fc_flush(struct fl_loop *L, struct fc *c)
{
	if (!c->dead)
		flush_now(L, c);
}

/* ---- setting up ----------------------------------------------------------------------- */

/* The header of connection k into out[cap]; its length, 0 for none, -1. */
static int make_header(const struct flood *f, uint64_t k, uint8_t *out, size_t cap,
		       struct perr *e)
{
	struct sockaddr_storage src;

	if (f->a->cl.no_header)
		return 0;
	if (!f->vary_hdr) {
		memcpy(out, f->static_hdr, f->static_hdr_len);
		return (int)f->static_hdr_len;
	}
	fl_source(&f->plan, k, &src);
	return opts_hdr_build_addrs(&f->a->cl.hdr, &src, &f->hdr_dst, out, cap, e);
}

/* Queue the WebSocket upgrade request. */
static void ws_request(struct fl_loop *L, struct fc *c)
{
	const struct client_opts *o = &L->f->a->cl.o;
	struct ws_client_req r;
	char req[1024];
	int n;

	if (ws_client_key(c->ws->key) < 0) {
		fc_fail(L, c, FK_LOCAL, "WebSocket: no random key");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.host = L->f->ws_host;
	r.path = o->ws_path ? o->ws_path : "/mqtt";
	r.key = c->ws->key;
	r.subprotocol = "mqtt";
	n = ws_build_request(&r, req, sizeof(req));
	if (n < 0) {
		fc_fail(L, c, FK_LOCAL, "WebSocket: the upgrade request does not fit");
		return;
	}
	c->stage = FS_WS;
	send_stream(L, c, req, (size_t)n);
}

/* The header, then what the first stage sends: ClientHello, upgrade
 * request or CONNECT. */
static void queue_start(struct fl_loop *L, struct fc *c)
{
	struct flood *f = L->f;
	enum client_transport t = f->a->cl.o.transport;
	struct perr e;
	int hlen = make_header(f, c->k, L->hdr, FL_HDR_CAP, &e);

	if (hlen < 0 || fbuf_add(&c->out, L->hdr, (size_t)hlen) < 0) {
		fc_fail(L, c, FK_LOCAL, "%s", hlen < 0 ? e.msg : "out of memory");
		return;
	}
	if ((t == CLIENT_WS || t == CLIENT_WSS) && !(c->ws = calloc(1, sizeof(*c->ws)))) {
		fc_fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	if (t == CLIENT_TLS || t == CLIENT_WSS) {
		c->tls = tls_conn_new(f->tls, c->fd, false, f->sni, &e);
		if (!c->tls) {
			fc_fail(L, c, FK_LOCAL, "%s", e.msg);
			return;
		}
		tls_set_out_limit(c->tls, TLS_OUT_MAX);
		c->stage = FS_TLS;
		if (tls_handshake_step(c->tls) == TLS_ERROR)
			fc_fail(L, c, FK_TLS, "TLS: %s", tls_error(c->tls));
	} else if (t == CLIENT_WS) {
		ws_request(L, c);
	} else {
		c->stage = FS_CONNACK;
		fl_mqtt_start(L, c);
	}
}

static int open_socket(struct fl_loop *L, struct fc *c)
{
	struct flood *f = L->f;
	int one = 1;

	c->fd = socket(f->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fc_fail(L, c, FK_LOCAL, "socket: %s", strerror(errno));
		return -1;
	}
	/* publish loads write small packets that must leave at once; a
	 * connection load writes each flight whole and saves the call */
	if (f->plan.publish)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (f->bind_len) {
		struct sockaddr_storage src = f->bind_ss;
		char ip[NET_IP_STRLEN];

		if (f->bind_count > 1)
			fl_bind_source(&f->bind_net, f->bind_first, f->bind_count, c->k, &src);
		/* Let connect() pick the port per destination: bind() alone would
		 * reserve it for every destination and run out sooner. */
		(void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (const struct sockaddr *)&src, f->bind_len) < 0) {
			fc_fail(L, c, FK_LOCAL, "bind %s: %s", net_ip_str(&src, ip, sizeof(ip)),
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

void fc_launch(struct fl_loop *L, struct fc *c, uint64_t k)
{
	struct flood *f = L->f;
	struct epoll_event ev;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->k = k;
	c->role = (uint8_t)fl_role(&f->plan, k);
	c->topic = (uint32_t)fl_topic(&f->plan, k);
	c->target = fl_sub_target(&f->plan, k);
	c->next_id = 1;
	c->t0 = c->last_tx = L->now;
	c->stage = FS_CONNACK;
	fl_list_move(L, c, FL_WAITING, c->t0 + (int64_t)f->a->cl.o.timeout_ms * 1000);
	f->res->attempted++;
	L->nopen++;
	if (open_socket(L, c) < 0)
		return;
	queue_start(L, c);
	if (c->dead)
		return;
	if (connect(c->fd, (const struct sockaddr *)&f->target, f->target_len) < 0 &&
	    errno != EINPROGRESS) {
		fail_errno(L, c, errno, "connect");
		return;
	}
	/* Write the header at once: on a near peer the connection is often up
	 * already, and a loop busy with handshakes must not make a broker's
	 * header timeout fire. Until the connect completes this waits (EAGAIN). */
	fc_flush(L, c);
	if (c->dead)
		return;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		fc_fail(L, c, FK_LOCAL, "epoll_ctl: %s", strerror(errno));
}

/* ---- bytes in ------------------------------------------------------------------------- */

static void ws_input(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n);

/* The answer to the upgrade request (on c->in until whole). */
static void ws_answer(struct fl_loop *L, struct fc *c, const uint8_t *p, size_t n)
{
	struct ws_response resp;
	int used;

	if (fbuf_add(&c->in, p, n) < 0) {
		fc_fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	used = ws_parse_response(c->in.p, c->in.len, c->ws->key, "mqtt", &resp);
	if (used < 0 || (used == 0 && c->in.len > WS_REQ_MAX)) {
		fc_fail(L, c, FK_WS, "WebSocket: %s", used < 0 ? resp.reason : "answer too long");
		return;
	}
	if (used == 0)
		return;
	/* what follows the answer is the first frames */
	if (fbuf_add(&c->win, c->in.p + used, c->in.len - (size_t)used) < 0) {
		fc_fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	fbuf_consume(&c->in, c->in.len);
	ws_decoder_init(&c->ws->dec, WS_ROLE_CLIENT);
	c->ws_on = true;
	c->stage = FS_CONNACK;
	fl_mqtt_start(L, c);
	if (!c->dead && c->win.len)
		ws_input(L, c, NULL, 0);
}

static void ws_control(struct fl_loop *L, struct fc *c, const struct ws_event *ev)
{
	uint16_t code = 0;
	const uint8_t *why = NULL;
	size_t wlen = 0;

	if (ev->opcode == WS_OP_PING) {
		ws_send(L, c, WS_OP_PONG, ev->data, ev->len);
	} else if (ev->opcode == WS_OP_CLOSE) {
		(void)ws_close_parse(ev->data, ev->len, &code, &why, &wlen);
		fc_fail(L, c, FK_CLOSED, "WebSocket close %u%s%.*s %s", code, wlen ? ": " : "",
			(int)(wlen > 60 ? 60 : wlen), why ? (const char *)why : "",
			fc_stage_what(c));
	}
}

/* Frames: their payload is the MQTT stream. Undecoded bytes wait in c->win. */
static void ws_input(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n)
{
	size_t len, off = 0;
	uint8_t *buf = fbuf_join(&c->win, p, n, &len);

	if (!buf) {
		fc_fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	while (!c->dead) {
		struct ws_event ev;

		off += ws_decode(&c->ws->dec, buf + off, len - off, &ev);
		if (ev.type == WS_EV_NONE)
			break;
		if (ev.type == WS_EV_ERROR)
			fc_fail(L, c, FK_PROTOCOL, "WebSocket: %s", ev.err);
		else if (ev.type == WS_EV_DATA)
			fl_mqtt_input(L, c, ev.data, ev.len);
		else
			ws_control(L, c, &ev);
	}
	if (!c->dead && fbuf_keep(&c->win, buf, len, off) < 0)
		fc_fail(L, c, FK_LOCAL, "out of memory");
}

/* Bytes of the stream above TLS. */
static void on_stream(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n)
{
	if (c->stage == FS_WS)
		ws_answer(L, c, p, n);
	else if (c->ws_on)
		ws_input(L, c, p, n);
	else
		fl_mqtt_input(L, c, p, n);
}

/* One more handshake step: 1 done, 0 not yet, -1 c failed. */
static int tls_step(struct fl_loop *L, struct fc *c)
{
	int st = tls_handshake_step(c->tls);

	if (st == TLS_WANT_READ)
		return 0;
	if (st != TLS_DONE) {
		fc_fail(L, c, FK_TLS, "TLS: %s", tls_error(c->tls));
		return -1;
	}
	L->f->res->tls_handshakes++;
	L->f->res->tls_resumed += tls_resumed(c->tls);
	if (c->ws) {
		ws_request(L, c);
	} else {
		c->stage = FS_CONNACK;
		fl_mqtt_start(L, c);
	}
	return c->dead ? -1 : 1;
}

static void on_raw(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n)
{
	struct perr e;

	if (!c->tls) {
		on_stream(L, c, p, n);
		return;
	}
	if (tls_feed(c->tls, p, n, &e) < 0) {
		fc_fail(L, c, FK_LOCAL, "%s", e.msg);
		return;
	}
	if (c->stage == FS_TLS && tls_step(L, c) <= 0)
		return;
	for (;;) {
		ssize_t r = tls_read(c->tls, L->abuf, FL_RBUF);

		if (r > 0) {
			on_stream(L, c, L->abuf, (size_t)r);
			if (c->dead)
				return;
			continue;
		}
		if (r == TLS_CLOSED)
			fc_fail(L, c, FK_CLOSED, "TLS close_notify from the peer %s", fc_stage_what(c));
		else if (r != TLS_WANT_READ)
			fc_fail(L, c, FK_TLS, "TLS: %s", tls_error(c->tls));
		return;
	}
}

static void on_eof(struct fl_loop *L, struct fc *c)
{
	enum fl_kind k = FK_CLOSED;

	if (c->stage == FS_TLS && c->any_rx)
		k = FK_TLS;
	else if (c->stage == FS_WS && c->in.len)
		k = FK_WS;
	fc_fail(L, c, k, "closed by the peer %s%s", fc_stage_what(c),
		c->any_rx ? "" : " (before any byte)");
}

/* Read until the socket is drained (edge-triggered). A short read drained
 * it: what arrives later raises a new edge, so no read is spent on
 * EAGAIN, unless the peer's FIN is already in (ev), which raises none. */
static void do_read(struct fl_loop *L, struct fc *c, uint32_t ev)
{
	while (!c->dead) {
		ssize_t n = recv(c->fd, L->rbuf, FL_RBUF, 0);

		if (n > 0) {
			on_raw(L, c, L->rbuf, (size_t)n);
			c->any_rx = true;
			if (n < FL_RBUF && !(ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
				return;
		} else if (n == 0) {
			on_eof(L, c);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			fail_errno(L, c, errno, "read");
		}
	}
}

void fc_event(struct fl_loop *L, struct fc *c, uint32_t ev)
{
	if (c->stage == FS_FREE || c->dead)
		return;
	if (!c->connected && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fail_errno(L, c, err, "connect");
			return;
		}
		c->connected = true;
	}
	fc_flush(L, c);
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		do_read(L, c, ev);
	fc_flush(L, c);
}

/* ---- closing -------------------------------------------------------------------------- */

/* DISCONNECT, WebSocket close, TLS close_notify: as far as the socket takes them now. */
static void goodbye(struct fl_loop *L, struct fc *c)
{
	uint8_t frame[16], mask[4];
	int n;

	queue_mqtt(L, c, L->disconnect, L->disconnect_len);
	if (c->ws_on && ws_random_mask(mask) == 0 &&
	    (n = ws_encode_close(frame, sizeof(frame), WS_CLOSE_NORMAL, NULL, mask)) > 0)
		send_stream(L, c, frame, (size_t)n);
	if (c->tls && encrypt_pending(L, c) == 0)
		(void)tls_shutdown(c->tls);
	flush_now(L, c);
}

void fc_release(struct fl_loop *L, struct fc *c)
{
	if (c->graceful && c->connected && c->stage == FS_OPEN)
		goodbye(L, c);
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	tls_conn_free(c->tls);
	free(c->ws);
	fbuf_free(&c->out);
	fbuf_free(&c->aout);
	fbuf_free(&c->in);
	fbuf_free(&c->win);
	fl_list_move(L, c, FL_NONE, 0);
	c->fd = -1;
	c->tls = NULL;
	c->ws = NULL;
	c->ws_on = false;
	c->stage = FS_FREE;
	L->nopen--;
	c->next = L->free_list;
	L->free_list = c;
}
