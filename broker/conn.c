/* conn.c - a connection's pipeline, all stages in one place:
 *
 *   accept -> [PROXY header] -> [TLS handshake] -> [HTTP upgrade + WS frames] -> MQTT engine
 *               if enabled        ssl, wss            ws, wss
 *
 * Input travels down the stages as byte slices:
 *
 *   socket --raw_input--> PROXY (before TLS) --transport_input--> TLS engine
 *     --plain_input--> [PROXY inside TLS: fault header-inside-tls only]
 *     --app_input--> WebSocket (upgrade, frames) --conn_mqtt_input--> engine
 *
 * Each stage's functions are named conn_<stage>_* (conn_proxy_input,
 * conn_tls_pump, conn_ws_frames, conn_mqtt_begin). Who the connection is
 * (c->id) is decided once, by conn_identify, when the PROXY stage ends.
 *
 * A stage that completes hands the bytes after its own (same segment) to
 * the next one untouched. Output goes the other way: engine -> WS frame
 * -> TLS engine -> socket, with a write buffer and EPOLLOUT when the
 * socket is full.
 *
 * A connection is never freed while one of its callbacks may be on the
 * stack: conn_kill() closes the socket and queues the rest (telling the
 * engine, freeing memory) to run after the current batch of events.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "fault.h"
#include "ident.h"
#include "log.h"
#include "mqtt.h"
#include "net.h"
#include "pp.h"
#include "records.h"
#include "tls.h"
#include "ws.h"

#define CONN_READ_CHUNK      16384
#define CONN_READS_PER_EVENT 4          /* then let other sockets have a turn */
#define CONN_DRAIN_MS        2000       /* flushing before a close */
#define CONN_CONNECT_HEAD    12         /* CONNECT bytes that say its size and level */
#define CONN_OUT_PAUSE       (1u << 20)  /* stop reading while this much is pending */
#define CONN_WS_BUF_MAX      (64u << 10) /* unconsumed WebSocket bytes */

enum timer_use { TU_NONE = 0, TU_PROXY, TU_TLS, TU_WS, TU_DRAIN };

/* Bytes a stage holds: allocated when the first arrive, freed when the
 * last are consumed, so that an idle connection holds none. */
struct cbuf {
	size_t off, len, cap;           /* data[off, len) waiting */
	uint8_t data[];
};

/* A WebSocket connection's own state, allocated at accept on the
 * listeners that speak it: a plain MQTT connection does without. */
struct conn_ws {
	bool upgraded;
	bool close_sent;
	struct cbuf *in;                /* received, not decoded yet */
	struct ws_decoder dec;
};

/* What a connection needs only before the MQTT stage, and while it
 * drains at the end: its timer, the PROXY header's bytes, the first bytes
 * of a CONNECT that came in pieces. Allocated when first needed, freed
 * once none is in use. */
struct conn_stage {
	struct loop_timer timer;
	struct conn *c;
	struct cbuf *pbuf;              /* PROXY stage: bytes so far, header not complete */
	unsigned proxy_reads;           /* PROXY stage: input slices seen */
	enum timer_use timer_use;
	uint8_t chlen;                  /* MQTT stage: the CONNECT's first bytes, while */
	uint8_t chead[CONN_CONNECT_HEAD];  /* they do not say its size yet */
};

/* One per open socket, for as long as it is open: its fields are ordered
 * so that it has no holes. */
struct conn {
	struct brk *b;
	struct lis *lis;
	const char *kname;              /* "tcp" ... */
	struct conn *prev, *next;
	enum cfg_listener_kind kind;
	int fd;
	struct loop_watch watch;
	/* Deferred work: while the connection lives, telling the engine on
	 * the next turn that its output was written and resuming it when busy
	 * (on_later); once dead, freeing the connection (conn_reap). */
	struct loop_defer later;

	struct ident id;                /* who: the peer, then what the PROXY stage decided */

	bool proxy_pending;             /* PROXY stage (lis->stage) not finished yet */
	bool tls_done;                  /* TLS stage: handshake over */
	/* MQTT stage */
	bool eng_graceful;              /* how eng_client_closed will be told */
	bool eng_busy;                  /* the engine has work left for this client:
					   done on a later turn of the loop */
	bool connect_checked;           /* the CONNECT's size is known to fit */
	bool drain_watch;               /* the engine waits for the output to be written */
	bool drained;                   /* ... it was: the engine is told on the next turn */
	bool closing;                   /* flushing, then close */
	bool dead;                      /* socket closed, reap queued */
	bool counted;                   /* rec_conn_open done */

	struct conn_stage *st;          /* timer and PROXY bytes; NULL: none needed */
	struct tls_conn *tls;           /* TLS stage (ssl, wss) */
	struct conn_ws *ws;             /* WebSocket stage (ws, wss) */
	struct eng_client *ec;          /* MQTT stage */
	uint64_t rec_gen;               /* rec_session_connect's generation; 0: not recorded */

	/* output the socket did not take yet: plain bytes (no TLS), or
	 * nothing (TLS keeps its own) */
	struct cbuf *out;
};

/* ---- helpers ----------------------------------------------------------- */

static size_t cbuf_n(const struct cbuf *b)
{
	return b ? b->len - b->off : 0;
}

static uint8_t *cbuf_p(struct cbuf *b)
{
	return b->data + b->off;
}

/* Append n bytes (none: nothing allocated). Returns 0, or -1 out of
 * memory (*bp unchanged). */
static int cbuf_append(struct cbuf **bp, const void *p, size_t n)
{
	struct cbuf *b = *bp;

	if (n == 0)
		return 0;
	if (b && b->off > 0 && b->len + n > b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (!b || b->len + n > b->cap) {
		size_t used = b ? b->len : 0, ncap = b ? b->cap : 256 - sizeof(*b);
		struct cbuf *nb;

		while (ncap < used + n)
			ncap = 2 * ncap + sizeof(*b);
		nb = realloc(b, sizeof(*b) + ncap);
		if (!nb)
			return -1;
		if (!b)
			nb->off = nb->len = 0;
		nb->cap = ncap;
		*bp = b = nb;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* The first n waiting bytes are consumed; none left: the buffer goes. */
static void cbuf_consume(struct cbuf **bp, size_t n)
{
	struct cbuf *b = *bp;

	if (!b)
		return;
	b->off += n;
	if (b->off >= b->len) {
		free(b);
		*bp = NULL;
	}
}

static void conn_kill(struct conn *c, bool graceful);
static void conn_finish(struct conn *c);
static int conn_update_events(struct conn *c);
static void flush_out(struct conn *c);
static void transport_input(struct conn *c, const uint8_t *buf, size_t len);
static void plain_input(struct conn *c, const uint8_t *buf, size_t len);
static void app_input(struct conn *c, const uint8_t *buf, size_t len);
static void enter_plain(struct conn *c);
static void enter_app(struct conn *c);
static void conn_tls_begin(struct conn *c);
static void conn_ws_close(struct conn *c, uint16_t code, const char *reason);

static bool alive(const struct conn *c)
{
	return !c->dead && !c->closing;
}

/* Lines a client can cause by the thousand: log.refused_per_second. */
static bool conn_may_log(struct conn *c, enum ratelog_kind k)
{
	return ratelog_allow(&c->lis->rlog, k);
}

static size_t out_pending(const struct conn *c)
{
	if (c->tls)
		return tls_out_pending(c->tls);
	return cbuf_n(c->out);
}

static void on_timer(struct loop_timer *t);

/* The connection's stage state, made when first needed (NULL: no memory). */
static struct conn_stage *stage(struct conn *c)
{
	if (!c->st) {
		c->st = calloc(1, sizeof(*c->st));
		if (!c->st)
			return NULL;
		c->st->c = c;
		loop_timer_init(&c->st->timer, on_timer);
	}
	return c->st;
}

/* Neither a timer nor PROXY bytes: the stage state goes. */
static void stage_release(struct conn *c)
{
	if (c->st && c->st->timer_use == TU_NONE && !c->st->pbuf && c->st->chlen == 0) {
		free(c->st);
		c->st = NULL;
	}
}

/* Returns 0, or -1 (logged) when there is no memory for the timer. */
static int set_timer(struct conn *c, enum timer_use use, int64_t ms)
{
	struct conn_stage *st = stage(c);

	if (!st || loop_timer_set(c->b->loop, &st->timer, ms) < 0) {
		log_error("%s: %s: out of memory (timer)", c->kname, ident_peer_s(&c->id));
		stage_release(c);
		return -1;
	}
	st->timer_use = use;
	return 0;
}

static void clear_timer(struct conn *c)
{
	if (!c->st)
		return;
	loop_timer_cancel(c->b->loop, &c->st->timer);
	c->st->timer_use = TU_NONE;
	stage_release(c);
}

/* The timer of a stage that closes the connection when it runs out. */
static void set_stage_timer(struct conn *c, enum timer_use use, int64_t ms)
{
	if (set_timer(c, use, ms) < 0)
		conn_kill(c, false);
}

/* ---- output -------------------------------------------------------------- */

/* Write to the socket: the bytes it took (0: full for now), or -1 when
 * the connection was closed. */
static ssize_t sock_send(struct conn *c, const void *p, size_t n)
{
	for (;;) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_debug("%s: %s: write: %s", c->kname, ident_peer_s(&c->id), strerror(errno));
		conn_kill(c, false);
		return -1;
	}
}

/* Write what can be written now; EPOLLOUT covers the rest. */
static void flush_out(struct conn *c)
{
	if (c->dead)
		return;
	for (;;) {
		const uint8_t *p;
		size_t n;
		ssize_t w;

		if (c->tls) {
			p = tls_out_peek(c->tls, &n);
		} else {
			n = cbuf_n(c->out);
			p = n ? cbuf_p(c->out) : NULL;
		}
		if (n == 0)
			break;
		w = sock_send(c, p, n);
		if (w < 0)
			return;
		if (w == 0)
			break;
		if (c->tls)
			tls_out_consume(c->tls, (size_t)w);
		else
			cbuf_consume(&c->out, (size_t)w);
	}
	if (c->closing && out_pending(c) == 0) {
		conn_kill(c, true);
		return;
	}
	if (c->drain_watch && out_pending(c) == 0) {
		c->drain_watch = false;
		c->drained = true;
		loop_yield(c->b->loop, &c->later);
	}
	conn_update_events(c);
}

/* More output than brk_out_max: the client does not read. */
static int conn_slow_consumer(struct conn *c)
{
	rec_limit_hit(c->b->rec, c->kind, REC_LIMIT_OUTPUT);
	if (conn_may_log(c, RATELOG_LIMIT))
		log_warn("%s: client %s: more than %zu bytes waiting to be written "
			 "(2 x (mqtt.max_output_buffer + mqtt.max_packet_size) + 64 KiB): "
			 "slow consumer, closing", c->kname, ident_client_s(&c->id), brk_out_max(c->b->cfg));
	conn_kill(c, false);
	return -1;
}

/* Plain bytes to the socket: through the TLS engine when there is one. */
static int transport_send(struct conn *c, const void *p, size_t n)
{
	if (c->dead)
		return -1;
	if (c->tls) {
		ssize_t r = tls_write(c->tls, p, n);

		if (r == TLS_WANT_WRITE)
			return conn_slow_consumer(c);
		if (r != (ssize_t)n) {
			log_info("%s: client %s: TLS write failed (%s%s%s): closing",
				 c->kname, ident_client_s(&c->id), tls_status_name((int)r),
				 *tls_error(c->tls) ? ": " : "", tls_error(c->tls));
			conn_kill(c, false);
			return -1;
		}
	} else {
		if (!c->out) {
			/* Nothing queued: straight to the socket, and only what
			 * it does not take is queued. */
			ssize_t w = sock_send(c, p, n);

			if (w < 0)
				return -1;
			p = (const uint8_t *)p + w;
			n -= (size_t)w;
		}
		if (cbuf_n(c->out) + n > brk_out_max(c->b->cfg))
			return conn_slow_consumer(c);
		if (cbuf_append(&c->out, p, n) < 0) {
			log_error("%s: client %s: out of memory", c->kname, ident_client_s(&c->id));
			conn_kill(c, false);
			return -1;
		}
	}
	flush_out(c);
	return c->dead ? -1 : 0;
}

/* Requested epoll events follow the state: reading unless closing or too
 * much output is pending; writing while output is pending. */
static int conn_update_events(struct conn *c)
{
	uint32_t ev = 0;
	size_t pend = out_pending(c);
	struct perr e;

	if (c->dead)
		return 0;
	if (!c->closing && pend < CONN_OUT_PAUSE && !c->eng_busy)
		ev |= EPOLLIN | EPOLLRDHUP;
	/* A busy engine goes on once the client reads what it was sent. */
	if (c->eng_busy && !c->closing && pend < CONN_OUT_PAUSE)
		loop_yield(c->b->loop, &c->later);
	if (pend > 0)
		ev |= EPOLLOUT;
	if (loop_watch_set(c->b->loop, &c->watch, ev, &e) < 0) {
		log_error("%s: %s: %s", c->kname, ident_peer_s(&c->id), e.msg);
		conn_kill(c, false);
		return -1;
	}
	return 0;
}

/* ---- closing ------------------------------------------------------------- */

static void conn_reap(struct loop_defer *d)
{
	struct conn *c = LOOP_CONTAINER(d, struct conn, later);
	struct brk *b = c->b;

	/* The engine may call back into the recorder (session disconnected)
	 * with c as opaque: c must still be intact here. */
	if (c->ec)
		eng_client_closed(c->ec, c->eng_graceful);
	/* What the connection allocated (a stalled handshake's state, a
	 * header, its buffers, what its session queued) goes back to the
	 * system, not only to the heap. */
	reclaim_note(&b->reclaim);
	c->ec = NULL;
	c->lis->nconns--;
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	b->nconns--;
	tls_conn_free(c->tls);
	ident_free(&c->id);
	if (c->st)
		free(c->st->pbuf);
	free(c->st);
	if (c->ws)
		free(c->ws->in);
	free(c->ws);
	free(c->out);
	free(c);
}

/* The connection is freed after the current batch of events (an engine
 * resume it had queued is dropped: the connection is dead). */
static void reap_later(struct conn *c)
{
	loop_defer_cancel(c->b->loop, &c->later);
	c->later.fn = conn_reap;
	loop_defer(c->b->loop, &c->later);
}

/* Close the socket now (nothing more is sent or read); the engine is told
 * and memory freed after the current batch of events. */
static void conn_kill(struct conn *c, bool graceful)
{
	if (c->dead)
		return;
	c->dead = true;
	c->eng_graceful = graceful;
	clear_timer(c);
	loop_watch_del(c->b->loop, &c->watch);
	close(c->fd);
	c->fd = -1;
	if (c->counted)
		rec_conn_close(c->b->rec, c->kind);
	reap_later(c);
}

/* Refuse silently: read what the peer already sent (so the close is a FIN,
 * not a reset caused by unread data), then close. */
static void conn_drop(struct conn *c)
{
	uint8_t sink[4096];

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n <= 0)
			break;
	}
	conn_kill(c, false);
}

/* Close once what is queued has gone out (bounded by CONN_DRAIN_MS);
 * graceful: what the engine is told then. */
static void conn_drain(struct conn *c, bool graceful)
{
	c->closing = true;
	c->eng_graceful = graceful;
	if (out_pending(c) == 0) {
		conn_kill(c, graceful);
		return;
	}
	if (set_timer(c, TU_DRAIN, CONN_DRAIN_MS) < 0) {
		conn_kill(c, graceful);
		return;
	}
	flush_out(c);
}

/* Close after flushing what is queued: TLS close_notify, WebSocket close
 * frame, then FIN. */
static void conn_finish(struct conn *c)
{
	if (c->dead || c->closing)
		return;
	if (c->ws && c->ws->upgraded) {
		conn_ws_close(c, WS_CLOSE_NORMAL, NULL);
		if (c->dead)
			return;
	}
	if (c->tls && c->tls_done)
		tls_shutdown(c->tls);
	conn_drain(c, true);
}

/* ---- MQTT stage ---------------------------------------------------------- */

static int io_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;

	if (!alive(c))
		return -1;
	if (c->ws) {
		struct ws_frame_hdr h;
		uint8_t hdr[WS_MAX_HDR];
		int hl;

		memset(&h, 0, sizeof(h));
		h.fin = true;
		h.opcode = WS_OP_BINARY;
		h.len = len;
		hl = ws_header_encode(&h, hdr);
		if (hl < 0 || transport_send(c, hdr, (size_t)hl) < 0)
			return -1;
	}
	return transport_send(c, buf, len);
}

static size_t io_backlog(void *ctx)
{
	return out_pending(ctx);
}

static void io_watch_drain(void *ctx)
{
	struct conn *c = ctx;

	c->drain_watch = true;
}

static void io_close(void *ctx)
{
	conn_finish(ctx);
}

static const struct eng_io conn_io = {
	.send = io_send, .close = io_close, .backlog = io_backlog, .watch_drain = io_watch_drain,
};

static void conn_mqtt_begin(struct conn *c)
{
	struct eng_client_info info;

	clear_timer(c);
	memset(&info, 0, sizeof(info));
	info.listener = c->kname;
	info.cert_identity = c->id.cert_identity;
	info.opaque = c;
	c->ec = eng_client_new(c->b->eng, &info, &conn_io, c);
	if (!c->ec) {
		log_error("%s: client %s: out of memory (engine client)", c->kname, ident_client_s(&c->id));
		conn_kill(c, false);
	}
}

/* A CONNECT larger than mqtt.max_connect_size: counted, logged, MQTT 5
 * told Packet too large, closed. */
static void conn_connect_refuse(struct conn *c, size_t size, uint8_t level)
{
	size_t max = c->b->cfg->mqtt.max_connect_size;

	rec_limit_hit(c->b->rec, c->kind, REC_LIMIT_CONNECT_SIZE);
	if (conn_may_log(c, RATELOG_LIMIT))
		log_warn("%s: client %s: CONNECT of %zu bytes refused, larger than "
			 "mqtt.max_connect_size (%zu): closed%s", c->kname, ident_who(&c->id), size, max,
			 level == MQTT_V5 ? " after CONNACK Packet too large" : "");
	if (level == MQTT_V5) {
		struct mqtt_pkt p = { .type = MQTT_CONNACK };
		uint8_t ack[16];
		long n;

		p.connack.rc = MQTT_RC_PACKET_TOO_LARGE;
		n = mqtt_encode(&p, MQTT_V5, ack, sizeof(ack));
		if (n > 0 && io_send(c, ack, (size_t)n) < 0)
			return;
	}
	conn_finish(c);
}

/* The CONNECT's first bytes do not say its size yet: kept (in the stage
 * state) for the next input. Returns false when the connection was closed
 * (out of memory). */
static bool connect_head_keep(struct conn *c, const uint8_t *head, size_t n)
{
	struct conn_stage *cs = stage(c);

	if (!cs) {
		log_error("%s: client %s: out of memory", c->kname, ident_client_s(&c->id));
		conn_kill(c, false);
		return false;
	}
	memcpy(cs->chead, head, n);
	cs->chlen = (uint8_t)n;
	return true;
}

static void connect_head_done(struct conn *c)
{
	c->connect_checked = true;
	if (c->st) {
		c->st->chlen = 0;
		stage_release(c);
	}
}

/* A CONNECT is all a client sends before it is authenticated, and its
 * size is known from its first bytes: one larger than
 * mqtt.max_connect_size is refused before the engine buffers any of it.
 * Returns true when buf may go on to the engine. */
static bool conn_connect_fits(struct conn *c, const uint8_t *buf, size_t len)
{
	uint8_t head[CONN_CONNECT_HEAD];
	size_t have = c->st ? c->st->chlen : 0, take = sizeof(head) - have;
	uint8_t level;
	long n;

	if (c->connect_checked)
		return true;
	if (take > len)
		take = len;
	if (have)
		memcpy(head, c->st->chead, have);
	memcpy(head + have, buf, take);
	have += take;
	n = mqtt_frame_size(head, have);
	if (n == MQTT_NEED_MORE)
		return connect_head_keep(c, head, have);
	if (head[0] != (MQTT_CONNECT << 4) || n < 0 ||
	    (size_t)n <= c->b->cfg->mqtt.max_connect_size) {
		connect_head_done(c);   /* other faults are the engine's to refuse */
		return true;
	}
	/* Too large. Its protocol level decides the answer: wait for it
	 * (the rest of the bytes are dropped meanwhile). */
	level = mqtt_connect_level(head, have);
	if (level == 0 && have < sizeof(head)) {
		connect_head_keep(c, head, have);
		return false;
	}
	connect_head_done(c);
	conn_connect_refuse(c, (size_t)n, level);
	return false;
}

/* The engine's answer to input: close, done, or more work for a later
 * turn (then this client is not read meanwhile: see conn_update_events). */
static void conn_mqtt_input(struct conn *c, const uint8_t *buf, size_t len)
{
	bool busy;
	int r;

	if (!alive(c) || !c->ec || (len == 0 && !c->eng_busy))
		return;
	if (len > 0 && !conn_connect_fits(c, buf, len))
		return;
	r = eng_client_input(c->ec, buf, len);
	if (r < 0) {
		conn_finish(c);
		return;
	}
	busy = r == ENG_INPUT_MORE;
	if (busy || c->eng_busy) {
		c->eng_busy = busy;
		conn_update_events(c);
	}
}

/* The next turn of the loop: the engine is told its output was written
 * (drain_watch), and goes on with the work it left (eng_busy). */
static void on_later(struct loop_defer *d)
{
	struct conn *c = LOOP_CONTAINER(d, struct conn, later);

	if (c->drained) {
		c->drained = false;
		if (alive(c) && c->ec)
			eng_client_drained(c->ec);
	}
	conn_mqtt_input(c, NULL, 0);
}

/* ---- WebSocket stage ----------------------------------------------------- */

static void conn_ws_refuse(struct conn *c, const struct ws_request *req)
{
	char resp[512];
	int n;

	if (conn_may_log(c, RATELOG_HANDSHAKE))
		log_info("%s: client %s: WebSocket upgrade refused: %d %s", c->kname,
			 ident_who(&c->id), req->status, req->reason);
	rec_ws_failure(c->b->rec, c->kind);
	n = ws_build_error(req->status ? req->status : 400, req->reason, resp, sizeof(resp));
	if (n > 0 && transport_send(c, resp, (size_t)n) < 0)
		return;
	conn_finish(c);
}

static void conn_ws_close(struct conn *c, uint16_t code, const char *reason)
{
	uint8_t fr[WS_MAX_HDR + WS_MAX_CONTROL];
	int n;

	if (c->ws->close_sent)
		return;
	c->ws->close_sent = true;
	n = ws_encode_close(fr, sizeof(fr), code, reason, NULL);
	if (n > 0)
		transport_send(c, fr, (size_t)n);
}

static void conn_ws_control(struct conn *c, const struct ws_event *ev)
{
	uint8_t fr[WS_MAX_HDR + WS_MAX_CONTROL];
	int n;

	switch (ev->opcode) {
	case WS_OP_PING:
		n = ws_encode(fr, sizeof(fr), true, WS_OP_PONG, ev->data, ev->len, NULL);
		if (n > 0)
			transport_send(c, fr, (size_t)n);
		break;
	case WS_OP_PONG:
		break;
	case WS_OP_CLOSE: {
		uint16_t code = 0;
		const uint8_t *reason;
		size_t rlen;

		if (ws_close_parse(ev->data, ev->len, &code, &reason, &rlen) < 0)
			code = WS_CLOSE_PROTOCOL;
		log_debug("%s: client %s: WebSocket close (%u)", c->kname, ident_client_s(&c->id),
			  (unsigned)code);
		conn_ws_close(c, code ? code : WS_CLOSE_NORMAL, NULL);
		conn_finish(c);
		break;
	}
	default:
		break;
	}
}

static void conn_ws_frames(struct conn *c)
{
	struct conn_ws *w = c->ws;
	size_t off = 0;

	while (alive(c) && off < cbuf_n(w->in)) {
		struct ws_event ev;
		size_t n = ws_decode(&w->dec, cbuf_p(w->in) + off, cbuf_n(w->in) - off, &ev);

		off += n;
		if (ev.type == WS_EV_NONE)
			break;
		if (ev.type == WS_EV_ERROR) {
			log_info("%s: client %s: WebSocket protocol error: %s", c->kname,
				 ident_client_s(&c->id), ev.err ? ev.err : "?");
			rec_ws_failure(c->b->rec, c->kind);
			conn_ws_close(c, ev.close_code, ev.err);
			conn_finish(c);
			break;
		}
		if (ev.type == WS_EV_DATA)
			conn_mqtt_input(c, ev.data, ev.len);
		else if (ev.type == WS_EV_CONTROL)
			conn_ws_control(c, &ev);
	}
	if (c->dead)
		return;
	cbuf_consume(&w->in, off);
}

static void conn_ws_input(struct conn *c, const uint8_t *buf, size_t len)
{
	struct conn_ws *w = c->ws;

	if (cbuf_n(w->in) + len > CONN_WS_BUF_MAX + CONN_READ_CHUNK ||
	    cbuf_append(&w->in, buf, len) < 0) {
		log_info("%s: client %s: WebSocket input buffer full: closing", c->kname,
			 ident_client_s(&c->id));
		conn_kill(c, false);
		return;
	}
	if (!w->upgraded) {
		struct ws_server_opts o;
		struct ws_request req;
		char resp[1024];
		int r, n;

		ws_server_opts_init(&o);
		o.path = c->lis->cfg->path;
		o.subprotocol = "mqtt";
		o.require_subprotocol = true;
		r = ws_parse_request(cbuf_p(w->in), cbuf_n(w->in), &o, &req);
		if (r == 0)
			return;
		if (r < 0) {
			conn_ws_refuse(c, &req);
			return;
		}
		n = ws_build_response(&req, resp, sizeof(resp));
		if (n < 0) {
			req.status = 400;
			snprintf(req.reason, sizeof(req.reason), "response too large");
			conn_ws_refuse(c, &req);
			return;
		}
		cbuf_consume(&w->in, (size_t)r);
		w->upgraded = true;
		ws_decoder_init(&w->dec, WS_ROLE_SERVER);
		w->dec.binary_only = true;
		w->dec.max_frame = 0; /* MQTT packets span frames: the engine limits sizes */
		log_debug("%s: client %s: WebSocket upgrade on '%s' (subprotocol '%s')",
			  c->kname, ident_client_s(&c->id), req.path, req.subprotocol);
		if (transport_send(c, resp, (size_t)n) < 0)
			return;
		conn_mqtt_begin(c);
		if (!alive(c))
			return;
	}
	conn_ws_frames(c);
}

/* ---- application: WebSocket or straight MQTT ----------------------------- */

static void enter_app(struct conn *c)
{
	if (c->ws)
		set_stage_timer(c, TU_WS, c->lis->cfg->ws_timeout_ms);
	else
		conn_mqtt_begin(c);
}

static void app_input(struct conn *c, const uint8_t *buf, size_t len)
{
	if (!alive(c) || len == 0)
		return;
	if (c->ws)
		conn_ws_input(c, buf, len);
	else
		conn_mqtt_input(c, buf, len);
}

/* ---- PROXY stage --------------------------------------------------------- */

static void conn_proxy_reject(struct conn *c, const char *reason, const char *why)
{
	if (conn_may_log(c, RATELOG_PROXY))
		log_warn("%s: PROXY header rejected from %s: %s (%s): closed", c->kname,
			 ident_peer_s(&c->id), reason, why);
	rec_proxy_rejected(c->b->rec, c->kind, reason);
	conn_drop(c);
}

/* Is the socket peer in the listener's trusted_proxies? */
static bool peer_trusted(const struct conn *c)
{
	struct sockaddr_storage ss;

	ident_peer_addr(&c->id, &ss);
	return cfg_trusted(c->lis->cfg, &ss);
}

/* Who the connection is, decided once: when the PROXY stage ends (h: the
 * accepted header, NULL: none; reads: the input slices it came in), or at
 * accept on a listener without one. Returns 0, or -1 when the connection
 * was closed (out of memory). */
static int conn_identify(struct conn *c, const struct pp_header *h, unsigned reads)
{
	const struct cfg_listener *lc = c->lis->cfg;
	struct ident_basis b = { .h = h, .reads = reads };

	b.cert_identity = c->b->cfg->security.proxy_cert_identity;
	if (h && b.cert_identity)
		b.trusted_peer = lc->ntrusted > 0 && peer_trusted(c);
	if (ident_decide(&c->id, &b) < 0) {
		log_error("%s: %s: out of memory (PROXY record)", c->kname, ident_peer_s(&c->id));
		conn_kill(c, false);
		return -1;
	}
	fault_rewrite_identity(&c->id, &b);
	return 0;
}

/* The stage is over. h: the accepted header (NULL: none, or one that is
 * ignored), which was the first hlen bytes received. The identity is
 * decided, then what came after the header goes to the next stage
 * untouched. The buffer is taken off the connection first and freed once
 * that is done (h's byte strings point into it). */
static void conn_proxy_done(struct conn *c, const struct pp_header *h, size_t hlen)
{
	struct cbuf *pb = c->st ? c->st->pbuf : NULL;
	unsigned reads = c->st ? c->st->proxy_reads : 0;
	const uint8_t *rest = pb ? cbuf_p(pb) + hlen : NULL;
	size_t rlen = cbuf_n(pb) - hlen;

	if (c->st)
		c->st->pbuf = NULL;
	c->proxy_pending = false;
	if (c->st && c->st->timer_use == TU_PROXY)
		clear_timer(c);
	stage_release(c);
	if (conn_identify(c, h, reads) < 0) {
		free(pb);
		return;
	}
	if (h) {
		rec_proxy_accepted(c->b->rec, c->kind, h->version, h->command);
		log_debug("%s: client %s: %s accepted (%zu bytes)", c->kname,
			  ident_who(&c->id), ident_desc(&c->id), h->len);
	}
	if (!c->lis->stage.after_tls) {
		/* Next: TLS (ssl, wss) or the application. */
		if (c->lis->tls)
			conn_tls_begin(c);
		else
			enter_app(c);
		if (alive(c) && rlen > 0)
			transport_input(c, rest, rlen);
	} else {
		enter_app(c);
		if (alive(c) && rlen > 0)
			app_input(c, rest, rlen);
	}
	free(pb);
}

/* The input does not start like a header. */
static void conn_proxy_missing(struct conn *c)
{
	struct pp_header h;
	struct pp_error err;

	if (c->lis->stage.header != IDENT_HEADER_REQUIRED) {
		/* No header: everything received belongs to the next stage. */
		conn_proxy_done(c, NULL, 0);
		return;
	}
	memset(&err, 0, sizeof(err));
	pp_parse(cbuf_p(c->st->pbuf), cbuf_n(c->st->pbuf), NULL, &h, &err);
	conn_proxy_reject(c, REC_REJECT_MISSING, err.msg[0] ? err.msg : "not a PROXY header");
}

/* A complete, valid header of hlen bytes. */
static void conn_proxy_header(struct conn *c, const struct pp_header *h, size_t hlen)
{
	const char *reason, *why;

	if (c->lis->stage.header == IDENT_HEADER_IGNORED) {
		/* The header is dropped as if it had never been sent. */
		log_debug("%s: %s: PROXY header skipped on a disabled listener "
			  "(fault strip-disabled)", c->kname, ident_peer_s(&c->id));
		conn_proxy_done(c, NULL, hlen);
		return;
	}
	reason = fault_refuse_header(h, c->kname, &c->id, &why);
	if (reason) {
		conn_proxy_reject(c, reason, why);
		return;
	}
	conn_proxy_done(c, h, hlen);
}

static void conn_proxy_input(struct conn *c, const uint8_t *buf, size_t len)
{
	const struct ident_stage *st = &c->lis->stage;
	const struct cfg_listener *lc = c->lis->cfg;
	struct conn_stage *cs = stage(c);
	const char *reason, *why;
	struct pp_header h;
	struct pp_error err;
	enum pp_detect d;
	int r;

	if (len == 0)
		return;
	if (!cs || cbuf_append(&cs->pbuf, buf, len) < 0) {
		log_error("%s: %s: out of memory (PROXY buffer)", c->kname, ident_peer_s(&c->id));
		conn_kill(c, false);
		return;
	}
	cs->proxy_reads++;
	d = pp_detect(cbuf_p(cs->pbuf), cbuf_n(cs->pbuf));
	if (d == PP_DETECT_NONE) {
		conn_proxy_missing(c);
		return;
	}
	if (d != PP_DETECT_MORE && st->header != IDENT_HEADER_IGNORED && lc->ntrusted > 0 &&
	    !peer_trusted(c)) {
		conn_proxy_reject(c, REC_REJECT_UNTRUSTED, "socket peer not in trusted_proxies");
		return;
	}
	memset(&err, 0, sizeof(err));
	r = (d == PP_DETECT_MORE) ? PP_NEED_MORE :
	    pp_parse(cbuf_p(cs->pbuf), cbuf_n(cs->pbuf), &st->parse, &h, &err);
	if (r == PP_NEED_MORE) {
		reason = fault_refuse_partial(cs->proxy_reads, &why);
		if (reason)
			conn_proxy_reject(c, reason, why);
		return;
	}
	if (r == PP_INVALID) {
		if (st->header == IDENT_HEADER_IGNORED) {
			/* Not a header after all: pass the bytes on, as a
			 * disabled listener does. */
			conn_proxy_done(c, NULL, 0);
			return;
		}
		conn_proxy_reject(c, pp_reason_name(err.reason), err.msg);
		return;
	}
	conn_proxy_header(c, &h, (size_t)r);
}

/* ---- TLS stage ----------------------------------------------------------- */

/* The handshake starts: the engine sits on memory BIOs, we do the I/O. */
static void conn_tls_begin(struct conn *c)
{
	struct perr e;

	c->tls = tls_conn_new(c->lis->tls, -1, true, NULL, &e);
	if (!c->tls) {
		log_error("%s: client %s: %s", c->kname, ident_client_s(&c->id), e.msg);
		conn_kill(c, false);
		return;
	}
	/* Our own bound on pending output applies (brk_out_max), not the
	 * engine's smaller default: a burst to a subscriber is not an error. */
	tls_set_out_limit(c->tls, brk_out_max(c->b->cfg));
	set_stage_timer(c, TU_TLS, c->lis->cfg->tls_timeout_ms);
}

static void conn_tls_fail(struct conn *c, const char *what)
{
	if (conn_may_log(c, RATELOG_HANDSHAKE))
		log_info("%s: client %s: TLS %s failed: %s", c->kname, ident_who(&c->id), what,
			 *tls_error(c->tls) ? tls_error(c->tls) : "unknown error");
	rec_tls_failure(c->b->rec, c->kind);
	/* Send the alert the engine may hold, then close. */
	conn_drain(c, false);
}

/* Drive the handshake, then pass decrypted bytes on. */
static void conn_tls_pump(struct conn *c)
{
	uint8_t buf[CONN_READ_CHUNK];

	if (!c->tls_done) {
		int st = tls_handshake_step(c->tls);

		flush_out(c);
		if (c->dead)
			return;
		if (st == TLS_WANT_READ)
			return;
		if (st != TLS_DONE) {
			conn_tls_fail(c, "handshake");
			return;
		}
		c->tls_done = true;
		clear_timer(c);
		log_debug("%s: client %s: TLS handshake done (%s, %s)", c->kname,
			  ident_client_s(&c->id), tls_version(c->tls), tls_cipher(c->tls));
		enter_plain(c);
	}
	while (alive(c)) {
		ssize_t n = tls_read(c->tls, buf, sizeof(buf));

		if (n > 0) {
			plain_input(c, buf, (size_t)n);
			continue;
		}
		flush_out(c);
		if (c->dead || n == TLS_WANT_READ)
			return;
		if (n == TLS_CLOSED) {
			log_debug("%s: client %s: TLS session closed by the peer", c->kname,
				  ident_client_s(&c->id));
			conn_finish(c);
			return;
		}
		conn_tls_fail(c, "read");
		return;
	}
}

static void transport_input(struct conn *c, const uint8_t *buf, size_t len)
{
	if (!alive(c))
		return;
	if (c->tls) {
		struct perr e;

		if (tls_feed(c->tls, buf, len, &e) < 0) {
			log_error("%s: client %s: %s", c->kname, ident_client_s(&c->id), e.msg);
			conn_kill(c, false);
			return;
		}
		conn_tls_pump(c);
		return;
	}
	plain_input(c, buf, len);
}

/* The plaintext stream starts (after TLS, or at once without it). */
static void enter_plain(struct conn *c)
{
	if (c->proxy_pending && c->lis->stage.after_tls) {
		if (c->lis->stage.timeout)
			set_stage_timer(c, TU_PROXY, c->lis->cfg->proxy_timeout_ms);
		return;
	}
	enter_app(c);
}

static void plain_input(struct conn *c, const uint8_t *buf, size_t len)
{
	if (!alive(c))
		return;
	if (c->proxy_pending && c->lis->stage.after_tls) {
		conn_proxy_input(c, buf, len);
		return;
	}
	app_input(c, buf, len);
}

static void raw_input(struct conn *c, const uint8_t *buf, size_t len)
{
	if (c->proxy_pending && !c->lis->stage.after_tls)
		conn_proxy_input(c, buf, len);
	else
		transport_input(c, buf, len);
}

/* ---- socket events ------------------------------------------------------- */

static void on_eof(struct conn *c)
{
	if (c->proxy_pending) {
		if (c->st && c->st->pbuf) {
			if (conn_may_log(c, RATELOG_PROXY))
				log_info("%s: %s closed the connection inside the PROXY header "
					 "(%zu bytes received)", c->kname, ident_peer_s(&c->id),
					 cbuf_n(c->st->pbuf));
			rec_proxy_rejected(c->b->rec, c->kind, "closed-mid-header");
		} else {
			log_debug("%s: %s closed before sending anything", c->kname, ident_peer_s(&c->id));
		}
		conn_kill(c, false);
		return;
	}
	if (c->tls && !c->tls_done) {
		if (conn_may_log(c, RATELOG_HANDSHAKE))
			log_info("%s: client %s: closed during the TLS handshake", c->kname,
				 ident_who(&c->id));
		rec_tls_failure(c->b->rec, c->kind);
		conn_kill(c, false);
		return;
	}
	log_debug("%s: client %s: connection closed by the peer", c->kname,
		  ident_who(&c->id));
	/* A half-close may still want the answer to what it sent (a CONNACK
	 * to a CONNECT written just before the FIN): flush first. */
	if (c->tls && c->tls_done) {
		tls_feed_eof(c->tls);
		conn_tls_pump(c);
		if (!alive(c))
			return;
	}
	conn_finish(c);
}

static void on_readable(struct conn *c)
{
	uint8_t buf[CONN_READ_CHUNK];

	for (int i = 0; i < CONN_READS_PER_EVENT && alive(c) && !c->eng_busy; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			raw_input(c, buf, (size_t)n);
			if ((size_t)n < sizeof(buf))
				break;
			continue;
		}
		if (n == 0) {
			on_eof(c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_debug("%s: %s: read: %s", c->kname, ident_peer_s(&c->id), strerror(errno));
		conn_kill(c, false);
		return;
	}
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct conn *c = LOOP_CONTAINER(w, struct conn, watch);

	if (events & EPOLLOUT)
		flush_out(c);
	if (c->dead)
		return;
	if (c->closing) {
		/* Only flushing now; a peer that went away ends it. */
		if (events & (EPOLLERR | EPOLLHUP))
			conn_kill(c, true);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		on_readable(c);
}

static void on_timer(struct loop_timer *t)
{
	struct conn_stage *st = LOOP_CONTAINER(t, struct conn_stage, timer);
	struct conn *c = st->c;
	enum timer_use use = st->timer_use;
	size_t received = cbuf_n(st->pbuf);

	st->timer_use = TU_NONE;
	stage_release(c);   /* st is not used below */
	if (c->dead)
		return;
	switch (use) {
	case TU_PROXY:
		if (conn_may_log(c, RATELOG_PROXY))
			log_warn("%s: PROXY header rejected from %s: %s (no complete header within "
				 "%u ms, %zu bytes received): closed", c->kname, ident_peer_s(&c->id),
				 REC_REJECT_TIMEOUT, c->lis->cfg->proxy_timeout_ms, received);
		rec_proxy_rejected(c->b->rec, c->kind, REC_REJECT_TIMEOUT);
		conn_drop(c);
		break;
	case TU_TLS:
		if (conn_may_log(c, RATELOG_HANDSHAKE))
			log_info("%s: client %s: TLS handshake timed out after %u ms "
				 "(listener.%s.handshake_timeout)", c->kname, ident_who(&c->id),
				 c->lis->cfg->tls_timeout_ms, c->kname);
		rec_tls_failure(c->b->rec, c->kind);
		conn_kill(c, false);
		break;
	case TU_WS:
		if (conn_may_log(c, RATELOG_HANDSHAKE))
			log_info("%s: client %s: no WebSocket upgrade within %u ms "
				 "(listener.%s.upgrade_timeout)", c->kname, ident_who(&c->id),
				 c->lis->cfg->ws_timeout_ms, c->kname);
		rec_ws_failure(c->b->rec, c->kind);
		conn_kill(c, false);
		break;
	case TU_DRAIN:
		conn_kill(c, c->eng_graceful);
		break;
	case TU_NONE:
		break;
	}
}

/* ---- accept -------------------------------------------------------------- */

void conn_accept(struct brk *b, struct lis *l, int fd, const struct sockaddr_storage *peer)
{
	const struct cfg_listener *lc = l->cfg;
	struct conn *c = calloc(1, sizeof(*c));
	struct perr e;

	if (!c) {
		log_error("%s: out of memory: connection dropped", cfg_listener_name(l->kind));
		close(fd);
		return;
	}
	c->b = b;
	c->lis = l;
	c->kind = l->kind;
	c->kname = cfg_listener_name(l->kind);
	c->fd = fd;
	ident_accept(&c->id, l->kind, peer);
	if (brk_kind_ws(l->kind)) {
		c->ws = calloc(1, sizeof(*c->ws));
		if (!c->ws) {
			log_error("%s: out of memory: connection dropped", c->kname);
			free(c);
			close(fd);
			return;
		}
	}
	c->watch.fn = on_io;
	c->later.fn = on_later;

	c->next = b->conns;
	if (b->conns)
		b->conns->prev = c;
	b->conns = c;
	b->nconns++;
	l->nconns++;

	net_set_nodelay(fd, NULL);
	if (loop_watch_add(b->loop, &c->watch, fd, EPOLLIN | EPOLLRDHUP, &e) < 0) {
		log_error("%s: %s: %s", c->kname, ident_peer_s(&c->id), e.msg);
		c->dead = true;
		close(fd);
		c->fd = -1;
		reap_later(c);
		return;
	}
	rec_conn_open(b->rec, c->kind);
	c->counted = true;

	c->proxy_pending = l->stage.header != IDENT_HEADER_NONE;
	log_debug("%s: connection from %s (%s)", c->kname, ident_peer_s(&c->id),
		  brk_proxy_state(lc));
	if (!c->proxy_pending && conn_identify(c, NULL, 0) < 0)
		return;
	if (c->proxy_pending && !l->stage.after_tls) {
		/* Nothing is written to the peer before a complete header. */
		if (l->stage.timeout)
			set_stage_timer(c, TU_PROXY, lc->proxy_timeout_ms);
		return;
	}
	if (l->tls)
		conn_tls_begin(c);
	else
		enter_plain(c);
}

void conn_close_all(struct brk *b)
{
	for (struct conn *c = b->conns; c; c = c->next)
		conn_kill(c, false);
	/* Not inside the loop any more: run the reaping now. */
	loop_run_deferred(b->loop);
}

/* ---- engine hooks: records and log lines --------------------------------- */

/* What the records keep of the connection: its identity, and TLS once
 * the handshake is done (OpenSSL's names: static strings). */
static void conn_rec_info(const struct conn *c, struct rec_conn_info *ci)
{
	ident_rec_info(&c->id, ci);
	if (c->tls && c->tls_done) {
		ci->tls = true;
		ci->tls_version = tls_version(c->tls);
		ci->tls_cipher = tls_cipher(c->tls);
	}
}

static void hook_connected(void *ctx, const struct eng_client_info *info)
{
	struct brk *b = ctx;
	struct conn *c = info->opaque;
	struct rec_conn_info ci;

	conn_rec_info(c, &ci);
	c->rec_gen = rec_session_connect(b->rec, info->client_id ? info->client_id : "",
					 info->username, info->mqtt_version, &ci);
	rec_mqtt_connect(b->rec, c->kind, true);
	log_info("%s: client %s connected as '%s' (%s%s%s, MQTT %s)", c->kname,
		 ident_who(&c->id), info->client_id ? info->client_id : "",
		 ident_desc(&c->id), c->tls ? ", " : "", c->tls ? tls_version(c->tls) : "",
		 rec_mqtt_version_name(info->mqtt_version));
}

static void hook_disconnected(void *ctx, const struct eng_client_info *info,
			      const char *reason)
{
	struct brk *b = ctx;
	struct conn *c = info->opaque;

	/* The engine's client id is the one recorded at the connect. */
	if (c->rec_gen)
		rec_session_disconnect(b->rec, info->client_id ? info->client_id : "", c->rec_gen);
	log_info("%s: client %s '%s' disconnected: %s", c->kname, ident_who(&c->id),
		 info->client_id ? info->client_id : "", reason);
}

static void hook_auth_failed(void *ctx, const struct eng_client_info *info,
			     const char *client_id, const char *username,
			     const char *reason, bool password_provided)
{
	struct brk *b = ctx;
	struct conn *c = info->opaque;
	struct rec_conn_info ci;

	conn_rec_info(c, &ci);
	rec_unauthorized_add(b->rec, client_id ? client_id : "", username, reason,
			     password_provided, &ci);
	rec_mqtt_connect(b->rec, c->kind, false);
	if (conn_may_log(c, RATELOG_ACCESS))
		log_warn("%s: client %s refused as '%s' (user '%s'): %s (%s)", c->kname,
			 ident_who(&c->id), client_id ? client_id : "",
			 username ? username : "", reason, ident_desc(&c->id));
}

static void hook_removed(void *ctx, const char *client_id)
{
	(void)ctx;
	log_debug("session '%s' removed", client_id);
}

_Static_assert(REC_MSG_LIMITS == ENG_LIMIT_SESSIONS, "records count every message limit");

/* A memory limit dropped a message (or did not retain it), or refused a
 * CONNECT (mqtt.max_sessions): counted, logged at most
 * log.refused_per_second times a second. */
static void hook_limit(void *ctx, const struct eng_limit_event *ev)
{
	static const char *const why[ENG_NLIMITS] = {
		[ENG_LIMIT_QUEUE_MESSAGES] = "its session holds mqtt.max_queued_messages",
		[ENG_LIMIT_QUEUE_BYTES] = "its session would hold more bytes than mqtt.max_queued_bytes",
		[ENG_LIMIT_OFFLINE_BYTES] = ("offline sessions would hold more bytes than "
					     "mqtt.max_offline_bytes"),
		[ENG_LIMIT_OUTPUT] = "more bytes wait to be written to it than mqtt.max_output_buffer",
		[ENG_LIMIT_RETAINED_MESSAGES] = "mqtt.max_retained_messages are kept",
		[ENG_LIMIT_RETAINED_BYTES] = "the retained messages would pass mqtt.max_retained_bytes",
	};
	struct brk *b = ctx;

	if (ev->which == ENG_LIMIT_SESSIONS) {
		struct conn *c = ev->opaque;

		rec_limit_hit(b->rec, c->kind, REC_LIMIT_SESSIONS);
		if (conn_may_log(c, RATELOG_LIMIT))
			log_warn("%s: client %s: CONNECT as '%s' refused: %zu sessions kept, the limit "
				 "(mqtt.max_sessions)", c->kname, ident_who(&c->id),
				 ev->client_id ? ev->client_id : "", ev->limit);
		return;
	}
	rec_msg_limit(b->rec, (unsigned)ev->which, ev->qos);
	if (!ratelog_allow(&b->mlog, RATELOG_MEMORY))
		return;
	if (ev->client_id)
		log_warn("mqtt: client '%s': QoS %u message of %zu bytes dropped: %s (%zu)",
			 ev->client_id, (unsigned)ev->qos, ev->size, why[ev->which], ev->limit);
	else
		log_warn("mqtt: retained message of %zu bytes not kept (delivered all the same): "
			 "%s (%zu)", ev->size, why[ev->which], ev->limit);
}

static bool hook_auth(void *ctx, const char *username, const void *password,
		      size_t password_len, bool password_given, const char **why)
{
	const struct cfg *cfg = ctx;

	return cfg_auth(cfg, username, password, password_len, password_given, why);
}

/* The ACL judges the client as ident decided it: the PROXY header's
 * source when a trusted proxy sent one, never the proxy itself. */
static bool hook_authorize(void *ctx, const struct eng_client_info *info, enum eng_op op,
			   const char *topic, size_t len)
{
	static const enum acl_op ops[] = { [ENG_OP_CONNECT] = ACL_CONNECT,
		[ENG_OP_PUBLISH] = ACL_PUBLISH, [ENG_OP_SUBSCRIBE] = ACL_SUBSCRIBE };
	static const char *const what[] = { "connection", "publish", "subscribe" };
	struct brk *b = ctx;
	struct conn *c = info->opaque;
	struct sockaddr_storage addr;
	struct acl_who who = { info->username, info->client_id, &addr };
	const char *rule = NULL;

	fault_acl_address(&c->id, &addr);

	if (acl_allows(b->cfg->security.acl, &who, ops[op], topic, len, &rule))
		return true;
	if (op != ENG_OP_PUBLISH && !conn_may_log(c, RATELOG_ACCESS))
		return false;
	if (op == ENG_OP_CONNECT)
		log_info("%s: client %s '%s': connection refused by %s", c->kname, ident_who(&c->id),
			 info->client_id ? info->client_id : "", rule);
	else if (op == ENG_OP_SUBSCRIBE)
		log_info("%s: client %s '%s': %s %.*s refused by %s", c->kname, ident_who(&c->id),
			 info->client_id ? info->client_id : "", what[op], (int)len, topic, rule);
	else /* every PUBLISH: not at info level, a client can send many */
		log_debug("%s: client %s '%s': %s %.*s refused by %s", c->kname, ident_who(&c->id),
			 info->client_id ? info->client_id : "", what[op], (int)len, topic, rule);
	return false;
}

/* The engine's deadlines: one loop timer, set to the earliest. */
void conn_engine_tick(struct loop_timer *t)
{
	struct brk *b = LOOP_CONTAINER(t, struct brk, tick);

	eng_tick(b->eng);
}

static void hook_timer(void *ctx, int64_t in_ms)
{
	struct brk *b = ctx;

	if (in_ms < 0)
		loop_timer_cancel(b->loop, &b->tick);
	else if (loop_timer_set(b->loop, &b->tick, in_ms) < 0)
		log_error("engine: out of memory for the loop timer");
}

void conn_engine_cfg(struct brk *b, struct eng_cfg *ec)
{
	const struct cfg *cfg = b->cfg;

	memset(ec, 0, sizeof(*ec));
	ec->allow_anonymous = cfg->security.allow_anonymous;
	ec->max_packet_size = cfg->mqtt.max_packet_size;
	/* 65535 (the default) allows every keep-alive a client can send:
	 * no cap, so that clients asking for none (keep-alive 0) are not
	 * held to one. */
	ec->keepalive_max = cfg->mqtt.keepalive_max >= 65535 ? 0 :
			    (uint16_t)cfg->mqtt.keepalive_max;
	ec->max_subscribe_filters = cfg->mqtt.max_filters_per_subscribe;
	ec->max_subscriptions = cfg->mqtt.max_subscriptions_per_client;
	ec->retained_max = cfg->mqtt.max_retained_messages;
	ec->retained_max_bytes = cfg->mqtt.max_retained_bytes;
	ec->max_queued = cfg->mqtt.max_queued_messages;
	ec->max_sessions = cfg->mqtt.max_sessions;
	ec->max_queued_bytes = cfg->mqtt.max_queued_bytes;
	ec->max_offline_bytes = cfg->mqtt.max_offline_bytes;
	ec->max_output = cfg->mqtt.max_output_buffer;
	ec->auth = hook_auth;
	ec->auth_ctx = (void *)b->cfg;
	if (b->cfg->security.acl) {
		ec->authorize = hook_authorize;
		ec->authorize_ctx = b;
	}
	ec->rec_ctx = b;
	ec->on_session_connected = hook_connected;
	ec->on_session_disconnected = hook_disconnected;
	ec->on_auth_failed = hook_auth_failed;
	ec->on_session_removed = hook_removed;
	ec->timer_set = hook_timer;
	ec->timer_ctx = b;
	ec->on_limit = hook_limit;
}
