/* fuzz_engine.c - libFuzzer harness for the MQTT engine (broker/engine.c)
 * with up to four clients, driven the way the connection core drives it
 * (broker/engine.h): transports open and close, bytes arrive, time
 * passes, a client's transport fails.
 *
 * Input: byte 0 the engine's settings (bits 0-1 the inflight window: 20,
 * 1, 2, 3; bits 2-3 the queue: 1000, 1, 2, 5 messages; bit 4 small
 * limits: 2 retained messages of 64 bytes in all, 1 filter per SUBSCRIBE,
 * 3 subscriptions per session; bit 5 user u, password p required; bit 6
 * packets of 128 bytes; bit 7 short times: sessions kept 5 s, at most
 * 10 s, keep-alive at most 10 s, CONNECT within 3 s instead of 10), then
 * a program, one operation a byte (operation: (byte >> 2) % OP_COUNT;
 * client: byte & 3), some with argument bytes after it:
 *
 *   OPEN           the client's transport reaches MQTT (eng_client_new;
 *                  client 3's with a certificate identity, "cert")
 *   CLOSE a        it goes away (eng_client_closed, graceful: a & 1)
 *   RAW n ...      n bytes as they came
 *   CONNECT a b    a CONNECT: level 4 or 5, clean, client id "a", "b",
 *                  "c" or "", a will (QoS, retain; 5.0 delay), user name
 *                  and password (none, right, wrong), keep-alive; 5.0
 *                  session expiry and Receive Maximum 1
 *   SUBSCRIBE a b  one or two filters of a table, QoS; 5.0 no-local,
 *                  retain-as-published, retain handling, a Subscription
 *                  Identifier
 *   UNSUBSCRIBE a  one filter of the table
 *   PUBLISH a b    a topic of a table, QoS, retain, payload or none;
 *                  5.0 message expiry, topic alias (set, used, invalid);
 *                  the last packet id again
 *   ANSWER         the answer the oldest packet received still waits for
 *                  (PUBACK or PUBREC to a PUBLISH, PUBREL to a PUBREC,
 *                  PUBCOMP to a PUBREL)
 *   PING, DISCONNECT a (5.0: with will, session expiry)
 *   TICK a         a & 31 seconds and (a >> 5) x 125 ms pass; the
 *                  engine's timer fires when due (eng_tick)
 *   FAIL           the client's transport refuses writes from now on (or
 *                  takes them again)
 *   BYTEWISE       the client's packets arrive a byte at a time (or not)
 *   END            the broker shuts down with clients still open
 *   FLOOD a        the last packet built for the client, 8 x (a + 1)
 *                  times in one read (more than the engine does in one
 *                  call: work left for later)
 *
 * Each operation is a turn of the core's loop. As the core does, a
 * connection the engine asked to close (io->close, or eng_client_input()
 * < 0) gets no more input and is closed after the next operation; a
 * client whose input left work for later (ENG_INPUT_MORE) is resumed
 * once a turn, and until it is done what it sends waits (tcp, ssl:
 * clients 0 and 1) or goes in all the same (ws, wss: frames already
 * read); the engine's timer (cfg.timer_set) fires on the turn it is due,
 * on the engine's clock, which only TICK moves.
 *
 * Checked after every operation, aborting on any violation (leaks are the
 * sanitizer's):
 *   - the counters: clients open, clients connected (as the recorder
 *     callbacks say), sessions (as connected and removed say, while no
 *     write failed), retained messages within their limit;
 *   - the callbacks: connected once per connection and never for a
 *     client id another connection holds, disconnected only after
 *     connected and before the connection is freed, a session removed
 *     while no connection holds it;
 *   - the close protocol: one way of asking for it per client, nothing
 *     sent after it;
 *   - what each client receives: whole packets a server may send, CONNACK
 *     first, each decoding at the level the CONNACK shows, nothing after a
 *     refusal or a DISCONNECT; while the harness built every packet of
 *     the connection: Session Present never after a clean start and only
 *     for a client id that had a session, no new QoS 1 or 2 PUBLISH while
 *     as many as the inflight limit (and 5.0's Receive Maximum) are
 *     unacknowledged, none with the packet id of one still unacknowledged;
 *   - the deadlines, to the millisecond: no CONNECT timeout before
 *     connect_timeout has passed since the transport opened, and none
 *     missed after it; no keep-alive timeout before 1.5 x the keep-alive
 *     since the client's last packet, and (for a client whose input was
 *     never left for later) none missed after it;
 *   - subscriptions within their limit per session; work left for later
 *     is done in a bounded number of turns.
 * At the end every client is closed (or the engine freed with them open)
 * and every session the callbacks saw must have been removed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "harness.h"
#include "log.h"
#include "mqtt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCLIENTS  4
#define NANSWERS  64
#define NOUT      64
#define NSESS     64
#define T0        1000000000   /* the engine's clock at the start, ms */
#define MAX_TURNS 65536        /* to finish work left for later */

enum op {
	OP_OPEN, OP_CLOSE, OP_RAW, OP_CONNECT, OP_SUBSCRIBE, OP_UNSUBSCRIBE, OP_PUBLISH,
	OP_ANSWER, OP_PING, OP_DISCONNECT, OP_TICK, OP_FAIL, OP_BYTEWISE, OP_END, OP_FLOOD, OP_COUNT
};

struct answer {
	uint8_t type;
	uint16_t id;
};

struct fz;

struct fake {
	struct fz *z;
	struct eng_client *c;       /* NULL: not open */
	uint8_t *out;               /* what the engine sent */
	size_t len, parsed;
	struct fz_rx rx;            /* what it received, packet by packet */
	uint8_t want_version;       /* the level of the CONNECT built first */
	bool close_asked;           /* io->close called or input refused */
	unsigned close_op;          /* ... at this operation */
	int io_closes;
	bool input_refused;
	bool fail_send;
	bool bytewise;
	bool busy;                  /* ENG_INPUT_MORE: resume on the next turn */
	bool ever_busy;             /* ... at least once on this connection */
	uint8_t *held;              /* what it sent meanwhile (tcp, ssl) */
	size_t nheld;
	int64_t opened;             /* the clock at eng_client_new */
	int64_t last_in;            /* ... when its bytes last went in */
	uint8_t last[1024];         /* the last packet built for it */
	size_t nlast;
	bool notified;              /* connected, not yet disconnected */
	char id[64];                /* its client id while notified */
	bool connect_sent;          /* a CONNECT was built for this connection */
	bool raw_seen;              /* RAW bytes went in on this connection */
	bool tracked;               /* every packet since CONNECT built here */
	bool clean;                 /* ... its Clean Session / Clean Start */
	bool had_session;           /* ... its client id had a session then */
	uint16_t recv_max;          /* of the CONNECT built here (0: none) */
	uint16_t next_id;
	uint16_t unacked[NOUT];     /* QoS > 0 PUBLISH received, not acknowledged */
	size_t nunacked;
	struct answer ans[NANSWERS];
	size_t nans;
};

struct fz {
	struct eng *eng;
	struct eng_cfg cfg;
	int64_t now;                /* the engine's clock, ms */
	int64_t due;                /* when its timer fires; -1: not armed */
	struct fake f[NCLIENTS];
	char *sess[NSESS];          /* client ids of the sessions the callbacks saw */
	size_t nsess;
	bool send_failed;
	unsigned op;                /* operations done */
	const uint8_t *p;           /* the program */
	size_t n;
};

/* FUZZ_TRACE set: every operation and packet on stderr (to read a finding). */
static bool tracing;

static const char *const op_names[OP_COUNT] = {
	"OPEN", "CLOSE", "RAW", "CONNECT", "SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH",
	"ANSWER", "PING", "DISCONNECT", "TICK", "FAIL", "BYTEWISE", "END", "FLOOD",
};

static void trace_pkt(int client, const char *dir, const uint8_t *b, size_t n)
{
	if (!tracing)
		return;
	fprintf(stderr, "  client %d %s %s:", client, dir, mqtt_type_name(b[0] >> 4));
	for (size_t i = 0; i < n && i < 48; i++)
		fprintf(stderr, " %02x", b[i]);
	fprintf(stderr, "%s\n", n > 48 ? " ..." : "");
}

static unsigned take(struct fz *z)
{
	if (z->n == 0)
		return 0;
	z->n--;
	return *z->p++;
}

/* ---- the sessions the callbacks saw --------------------------------------- */

static size_t sess_find(const struct fz *z, const char *id)
{
	for (size_t i = 0; i < z->nsess; i++)
		if (strcmp(z->sess[i], id) == 0)
			return i;
	return SIZE_MAX;
}

static void sess_add(struct fz *z, const char *id)
{
	if (sess_find(z, id) != SIZE_MAX)
		return;
	check(z->nsess < NSESS);
	z->sess[z->nsess] = strdup(id);
	check(z->sess[z->nsess] != NULL);
	z->nsess++;
}

static void sess_del(struct fz *z, const char *id)
{
	size_t i = sess_find(z, id);

	if (i == SIZE_MAX)
		return;
	free(z->sess[i]);
	z->sess[i] = z->sess[--z->nsess];
}

static bool id_connected(const struct fz *z, const char *id)
{
	for (int i = 0; i < NCLIENTS; i++)
		if (z->f[i].notified && strcmp(z->f[i].id, id) == 0)
			return true;
	return false;
}

/* ---- the recorder's callbacks and the fake transport --------------------- */

static void on_connected(void *ctx, const struct eng_client_info *info)
{
	struct fz *z = ctx;
	struct fake *f = info->opaque;

	check(f->c != NULL && !f->notified && !f->close_asked && info->client_id != NULL);
	check(!id_connected(z, info->client_id));
	f->notified = true;
	snprintf(f->id, sizeof(f->id), "%s", info->client_id);
	sess_add(z, info->client_id);
}

/* The client's keep-alive deadline: 1.5 x its keep-alive after its last
 * packet (-1: none). */
static int64_t keepalive_due(const struct fake *f)
{
	const struct eng_client_info *info = eng_client_info(f->c);

	return info->keepalive ? f->last_in + (int64_t)info->keepalive * 1500 : -1;
}

static void on_disconnected(void *ctx, const struct eng_client_info *info, const char *reason)
{
	struct fz *z = ctx;
	struct fake *f = info->opaque;

	check(f->notified && reason != NULL);
	f->notified = false;
	if (tracing)
		fprintf(stderr, "  client %d: disconnected (%s)\n", (int)(f - z->f), reason);
	/* Not early: the engine saw the last packet no sooner than it went in. */
	if (strcmp(reason, ENG_DISC_KEEPALIVE) == 0 && f->tracked)
		check(keepalive_due(f) >= 0 && z->now >= keepalive_due(f));
}

static void on_auth_failed(void *ctx, const struct eng_client_info *info, const char *client_id,
			   const char *username, const char *reason, bool password_provided)
{
	struct fake *f = info->opaque;

	(void)ctx;
	(void)client_id;
	(void)username;
	(void)password_provided;
	check(!f->notified && reason != NULL);
}

static void on_removed(void *ctx, const char *client_id)
{
	struct fz *z = ctx;

	check(!id_connected(z, client_id));
	sess_del(z, client_id);
}

static int f_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct fake *f = ctx;

	check(!f->close_asked);
	if (f->fail_send) {
		f->z->send_failed = true;
		return -1;
	}
	fz_append(&f->out, &f->len, buf, len);
	return 0;
}

/* A client that sent nothing yet: the CONNECT timeout is its deadline. */
static bool silent(const struct fake *f)
{
	return !f->connect_sent && !f->raw_seen;
}

static void f_close(void *ctx)
{
	struct fake *f = ctx;
	struct fz *z = f->z;

	f->io_closes++;
	check(f->io_closes == 1 && !f->input_refused);
	f->close_asked = true;
	f->close_op = z->op;
	if (tracing)
		fprintf(stderr, "  client %d: close asked at %lld ms\n", (int)(f - z->f),
			(long long)(z->now - T0));
	if (silent(f))
		check(z->now - f->opened >= (int64_t)z->cfg.connect_timeout * 1000);
}

/* cfg.timer_set: the core's one timer for the engine. */
static void f_timer_set(void *ctx, int64_t in_ms)
{
	struct fz *z = ctx;

	check(in_ms >= -1);
	z->due = in_ms < 0 ? -1 : z->now + in_ms;
}

static int64_t f_clock(void *ctx)
{
	const struct fz *z = ctx;

	return z->now;
}

/* ---- what a client receives ------------------------------------------------ */

static void want_answer(struct fake *f, uint8_t type, uint16_t id)
{
	if (f->nans < NANSWERS)
		f->ans[f->nans++] = (struct answer){ type, id };
}

/* Where id is among the unacknowledged, or NOUT. */
static size_t unacked_at(const struct fake *f, uint16_t id)
{
	size_t i = 0;

	while (i < f->nunacked && f->unacked[i] != id)
		i++;
	return i < f->nunacked ? i : NOUT;
}

static bool unacked_has(const struct fake *f, uint16_t id)
{
	return unacked_at(f, id) != NOUT;
}

static void unacked_del(struct fake *f, uint16_t id)
{
	size_t i = unacked_at(f, id);

	if (i == NOUT)
		return;
	f->nunacked--;
	memmove(f->unacked + i, f->unacked + i + 1, (f->nunacked - i) * sizeof(f->unacked[0]));
}

/* A PUBLISH at QoS > 0: a new one only within the window, with a packet
 * id not in use. */
static void got_publish(struct fake *f, const struct mqtt_publish *pb)
{
	size_t limit = f->z->cfg.max_inflight;

	if (pb->qos == 0)
		return;
	want_answer(f, pb->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, pb->id);
	if (!f->tracked)
		return;
	if (f->rx.version == MQTT_V5 && f->recv_max && f->recv_max < limit)
		limit = f->recv_max;
	if (pb->dup) {
		/* A resend after a reconnection: it was counted on the
		 * connection that first carried it (a new connection gets
		 * them all, whatever its window). */
		if (!unacked_has(f, pb->id) && f->nunacked < NOUT)
			f->unacked[f->nunacked++] = pb->id;
		return;
	}
	check(!unacked_has(f, pb->id));
	check(f->nunacked < limit && f->nunacked < NOUT);
	f->unacked[f->nunacked++] = pb->id;
}

/* Session Present: never after a clean start [MQTT-3.2.2-2], and only
 * for a client id that had a session (as far as the callbacks tell). */
static void got_connack(struct fake *f, const struct mqtt_connack *ca)
{
	if (!f->tracked || ca->rc != 0 || !ca->session_present)
		return;
	check(!f->clean);
	check(f->had_session || f->z->send_failed);
}

static void got_packet(struct fake *f, const uint8_t *b, size_t n)
{
	struct mqtt_pkt p;

	trace_pkt((int)(f - f->z->f), "<-", b, n);
	fz_rx_packet(&f->rx, b, n, &p);
	if (p.type == MQTT_CONNACK)
		got_connack(f, &p.connack);
	else if (p.type == MQTT_PUBLISH)
		got_publish(f, &p.publish);
	else if (p.type == MQTT_PUBREC)
		want_answer(f, MQTT_PUBREL, p.ack.id);
	else if (p.type == MQTT_PUBREL)
		want_answer(f, MQTT_PUBCOMP, p.ack.id);
}

/* Every whole packet received since the last look. */
static void parse_output(struct fake *f)
{
	while (f->parsed < f->len) {
		long n = mqtt_frame(f->out + f->parsed, f->len - f->parsed, 0);

		check(n >= 0);
		if (n == MQTT_NEED_MORE)
			return;
		got_packet(f, f->out + f->parsed, (size_t)n);
		f->parsed += (size_t)n;
	}
}

/* ---- the core's side: transports, input, closing ---------------------------- */

static void fake_open(struct fz *z, struct fake *f)
{
	struct eng_client_info info;
	static const struct eng_io io = { .send = f_send, .close = f_close };
	static const char *const listeners[] = { "tcp", "ssl", "ws", "wss" };

	if (f->c)
		return;
	free(f->out);
	free(f->held);
	memset(f, 0, sizeof(*f));
	f->z = z;
	f->want_version = MQTT_V311;
	f->opened = f->last_in = z->now;
	memset(&info, 0, sizeof(info));
	info.listener = listeners[f - z->f];
	/* Client 3 arrives with a certificate its proxy verified. */
	info.cert_identity = f == &z->f[3] ? "cert" : NULL;
	info.opaque = f;
	f->c = eng_client_new(z->eng, &info, &io, f);
	check(f->c != NULL);
}

/* The transport is gone: the engine frees the client. */
static void fake_gone(struct fake *f, bool graceful)
{
	if (!f->c)
		return;
	eng_client_closed(f->c, graceful);
	f->c = NULL;
	f->busy = false;
	check(!f->notified);
	parse_output(f);
}

/* The engine's answer to input (or to a resume, n == 0). Returns false
 * when the connection is to be closed. */
static bool feed(struct fake *f, const uint8_t *b, size_t n)
{
	int r = eng_client_input(f->c, b, n);

	if (r < 0) {
		check(f->io_closes == 0);
		f->input_refused = true;
		f->close_asked = true;
		f->close_op = f->z->op;
		f->busy = false;
		return false;
	}
	check(r == 0 || r == ENG_INPUT_MORE);
	f->busy = r == ENG_INPUT_MORE;
	if (tracing && f->busy)
		fprintf(stderr, "  client %d: work left for the next turn\n", (int)(f - f->z->f));
	f->ever_busy = f->ever_busy || f->busy;
	return true;
}

/* Clients 0 and 1 are not read while busy, as the core does on tcp and
 * ssl; on ws and wss the frames already read still go in. */
static bool holds(const struct fake *f)
{
	return f->busy && f - f->z->f < 2;
}

static void input(struct fake *f, const uint8_t *b, size_t n)
{
	if (!f->c || f->close_asked || n == 0)
		return;
	for (size_t off = 0; off < n;) {
		size_t k = f->bytewise ? 1 : n - off;

		if (holds(f)) {
			fz_append(&f->held, &f->nheld, b + off, n - off);
			return;
		}
		f->last_in = f->z->now;
		if (!feed(f, b + off, k))
			return;
		off += k;
	}
}

/* A turn for a busy client: the work left, then what it sent meanwhile. */
static void resume(struct fake *f)
{
	uint8_t *b = f->held;
	size_t n = f->nheld;

	if (!f->c || f->close_asked || !f->busy || !feed(f, NULL, 0) || f->busy)
		return;
	f->held = NULL;
	f->nheld = 0;
	input(f, b, n);
	free(b);
}

/* Encode and send one packet at the connection's level. */
static void send_pkt(struct fake *f, const struct mqtt_pkt *p)
{
	uint8_t buf[1024];
	uint8_t v = p->type == MQTT_CONNECT ? p->connect.version
		    : f->rx.version ? f->rx.version : f->want_version;
	long n;

	if (!f->c)
		return;
	n = mqtt_encode(p, v, buf, sizeof(buf));
	check(n > 0 && (size_t)n <= sizeof(buf) && sizeof(buf) == sizeof(f->last));
	trace_pkt((int)(f - f->z->f), "->", buf, (size_t)n);
	memcpy(f->last, buf, (size_t)n);
	f->nlast = (size_t)n;
	input(f, buf, (size_t)n);
}

/* ---- packets the harness builds ---------------------------------------------- */

static const char *const client_ids[4] = { "a", "b", "c", "" };
static const char *const topics[8] = { "a", "a/b", "a/b/c", "b", "$SYS/x", "a/", "/a", "c/d/e/f" };
static const char *const filters[16] = {
	"#", "a/#", "a/+", "+/b", "a/b", "a/b/c", "+", "$SYS/#",
	"+/+/+", "b", "/#", "a/+/c", "c/#", "$share/g/a", "a//", "+/#",
};

static void op_connect(struct fake *f, unsigned a, unsigned b)
{
	static const char *const users[4][2] = {
		{ NULL, NULL }, { "u", "p" }, { "u", "x" }, { "x", "p" },
	};
	static const uint16_t keepalives[4] = { 0, 1, 5, 60 };
	static const uint32_t expiries[3] = { 0, 3, 0xFFFFFFFF };
	struct mqtt_connect *cn;
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	cn = &p.connect;
	cn->version = (a & 1) ? MQTT_V5 : MQTT_V311;
	cn->clean = a & 2;
	cn->client_id = mqtt_cstr(client_ids[(a >> 2) & 3]);
	cn->will = a & 16;
	cn->will_qos = cn->will ? (a >> 5) % 3 : 0;
	cn->will_retain = cn->will && (a & 128);
	cn->will_topic = mqtt_cstr(cn->will ? topics[a % 8] : NULL);
	cn->will_payload = mqtt_cstr(cn->will ? "w" : NULL);
	cn->has_username = users[b & 3][0] != NULL;
	cn->username = mqtt_cstr(users[b & 3][0]);
	cn->has_password = users[b & 3][1] != NULL;
	cn->password = mqtt_cstr(users[b & 3][1]);
	cn->keepalive = keepalives[(b >> 2) & 3];
	if (cn->version == MQTT_V5 && (b >> 4) & 3) {
		cn->props.session_expiry = expiries[((b >> 4) & 3) - 1];
		MQTT_PROP_SET(&cn->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
	}
	if (cn->version == MQTT_V5 && cn->will && (b & 64)) {
		cn->will_props.will_delay = 2;
		MQTT_PROP_SET(&cn->will_props, MQTT_PROP_WILL_DELAY_INTERVAL);
	}
	if (cn->version == MQTT_V5 && (b & 128)) {
		cn->props.receive_maximum = 1;
		MQTT_PROP_SET(&cn->props, MQTT_PROP_RECEIVE_MAXIMUM);
	}
	if (!f->connect_sent) {
		/* The first CONNECT is the one that counts. */
		f->connect_sent = true;
		f->want_version = cn->version;
		f->recv_max = cn->props.receive_maximum;
		f->tracked = !f->raw_seen;
		f->clean = cn->clean;
		f->had_session = sess_find(f->z, client_ids[(a >> 2) & 3]) != SIZE_MAX;
	}
	send_pkt(f, &p);
}

static uint16_t new_id(struct fake *f, bool again)
{
	if (!again || f->next_id == 0)
		f->next_id = (uint16_t)(f->next_id % 0xFFFF + 1);
	return f->next_id;
}

static void op_subscribe(struct fake *f, unsigned a, unsigned b)
{
	struct mqtt_sub subs[2];
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	memset(subs, 0, sizeof(subs));
	p.type = MQTT_SUBSCRIBE;
	p.subscribe.id = new_id(f, false);
	p.subscribe.subs = subs;
	p.subscribe.n = (b & 4) ? 2 : 1;
	for (size_t i = 0; i < p.subscribe.n; i++) {
		subs[i].filter = mqtt_cstr(filters[i ? b >> 4 : a & 15]);
		subs[i].qos = (a >> 4) % 3;
		if (f->want_version == MQTT_V5) {
			subs[i].no_local = a & 64;
			subs[i].retain_as_published = a & 128;
			subs[i].retain_handling = b % 3;
		}
	}
	if (f->want_version == MQTT_V5 && (b & 8)) {
		p.subscribe.props.sub_ids[0] = 1 + (b >> 4);
		p.subscribe.props.n_sub_ids = 1;
	}
	send_pkt(f, &p);
}

static void op_unsubscribe(struct fake *f, unsigned a)
{
	struct mqtt_str filter = mqtt_cstr(filters[a & 15]);
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_UNSUBSCRIBE;
	p.unsubscribe.id = new_id(f, false);
	p.unsubscribe.n = 1;
	p.unsubscribe.filters = &filter;
	send_pkt(f, &p);
}

static void op_publish(struct fake *f, unsigned a, unsigned b)
{
	struct mqtt_publish *pb;
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	pb = &p.publish;
	pb->topic = mqtt_cstr(topics[a & 7]);
	pb->qos = (a >> 3) & 3;
	if (pb->qos == 3)
		pb->qos = 2;
	pb->retain = a & 32;
	pb->payload = (const uint8_t *)"payload";
	pb->payload_len = (a & 64) ? 0 : 1 + b % 7;
	if (pb->qos)
		pb->id = new_id(f, (a >> 3 & 3) == 3);
	if (f->want_version == MQTT_V5) {
		if (a & 128) {
			pb->props.message_expiry = 2;
			MQTT_PROP_SET(&pb->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
		}
		if ((b >> 4) & 3) {
			/* set alias 1, use it (no topic), or an alias too large */
			pb->props.topic_alias = ((b >> 4) & 3) == 3 ? 0xFFFF : 1;
			MQTT_PROP_SET(&pb->props, MQTT_PROP_TOPIC_ALIAS);
			if (((b >> 4) & 3) == 2)
				pb->topic = mqtt_cstr(NULL);
		}
	}
	send_pkt(f, &p);
}

static void op_answer(struct fake *f)
{
	struct mqtt_pkt p;

	if (f->nans == 0)
		return;
	memset(&p, 0, sizeof(p));
	p.type = f->ans[0].type;
	p.ack.id = f->ans[0].id;
	memmove(f->ans, f->ans + 1, --f->nans * sizeof(f->ans[0]));
	if (p.type == MQTT_PUBACK || p.type == MQTT_PUBCOMP)
		unacked_del(f, p.ack.id);
	send_pkt(f, &p);
}

static void op_disconnect(struct fake *f, unsigned a)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_DISCONNECT;
	if (f->want_version == MQTT_V5) {
		p.disconnect.rc = (a & 1) ? MQTT_RC_DISCONNECT_WITH_WILL : 0;
		if (a & 2) {
			p.disconnect.props.session_expiry = 5;
			MQTT_PROP_SET(&p.disconnect.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
		}
	}
	send_pkt(f, &p);
}

static void op_raw(struct fz *z, struct fake *f, size_t n)
{
	if (n > z->n)
		n = z->n;
	f->raw_seen = true;
	f->tracked = false;
	input(f, z->p, n);
	z->p += n;
	z->n -= n;
}

static void op_flood(struct fake *f, unsigned a)
{
	size_t copies = 8 * (a + 1), n = 0;
	uint8_t *b = NULL;

	if (f->nlast == 0)
		return;
	for (size_t i = 0; i < copies && n < 65536; i++)
		fz_append(&b, &n, f->last, f->nlast);
	if (tracing)
		fprintf(stderr, "  client %d -> the last packet %zu times\n", (int)(f - f->z->f),
			n / f->nlast);
	input(f, b, n);
	free(b);
}

static void op_simple(struct fake *f, enum mqtt_type type)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = type;
	send_pkt(f, &p);
}

/* ---- the program ------------------------------------------------------------- */

/* Argument bytes each operation takes (RAW: a length, then that many). */
static const uint8_t op_args[OP_COUNT] = {
	[OP_CLOSE] = 1, [OP_RAW] = 1, [OP_CONNECT] = 2, [OP_SUBSCRIBE] = 2,
	[OP_UNSUBSCRIBE] = 1, [OP_PUBLISH] = 2, [OP_DISCONNECT] = 1, [OP_TICK] = 1,
	[OP_FLOOD] = 1,
};

static void run_op(struct fz *z, unsigned byte)
{
	enum op op = (enum op)((byte >> 2) % OP_COUNT);
	struct fake *f = &z->f[byte & 3];
	unsigned a = op_args[op] > 0 ? take(z) : 0;
	unsigned b = op_args[op] > 1 ? take(z) : 0;

	if (tracing)
		fprintf(stderr, "%u: client %u %s\n", z->op, byte & 3, op_names[op]);
	switch (op) {
	case OP_OPEN: fake_open(z, f); return;
	case OP_CLOSE: fake_gone(f, a & 1); return;
	case OP_RAW: op_raw(z, f, a); return;
	case OP_TICK:
		z->now += (a & 31) * 1000 + (a >> 5) * 125;
		return;
	case OP_FAIL: f->fail_send = !f->fail_send; return;
	case OP_BYTEWISE: f->bytewise = !f->bytewise; return;
	default: break;
	}
	if (!f->c)
		return;
	switch (op) {
	case OP_CONNECT: op_connect(f, a, b); break;
	case OP_SUBSCRIBE: op_subscribe(f, a, b); break;
	case OP_UNSUBSCRIBE: op_unsubscribe(f, a); break;
	case OP_PUBLISH: op_publish(f, a, b); break;
	case OP_ANSWER: op_answer(f); break;
	case OP_PING: op_simple(f, MQTT_PINGREQ); break;
	case OP_DISCONNECT: op_disconnect(f, a); break;
	case OP_FLOOD: op_flood(f, a); break;
	default: break;
	}
}

/* The engine's timer, when due: one turn of the core's loop may fire it
 * once (eng_tick does a bounded amount and asks again at once for more). */
static void fire_timer(struct fz *z)
{
	if (z->due < 0 || z->due > z->now)
		return;
	z->due = -1;
	eng_tick(z->eng);
}

/* No deadline missed: a client still open is within its CONNECT timeout
 * and its keep-alive. */
static void check_deadlines(const struct fz *z)
{
	for (int i = 0; i < NCLIENTS; i++) {
		const struct fake *f = &z->f[i];

		if (!f->c || f->close_asked)
			continue;
		if (silent(f))
			check(z->now - f->opened < (int64_t)z->cfg.connect_timeout * 1000);
		if (f->notified && f->tracked && !f->ever_busy && keepalive_due(f) >= 0)
			check(z->now < keepalive_due(f));
	}
}

/* After each operation, the rest of the core's turn: busy clients are
 * resumed, the timer fires when due, connections the engine asked to
 * close at an earlier operation are closed; then everything is looked at. */
static void after_op(struct fz *z)
{
	struct eng_stats st;
	size_t open = 0, connected = 0;

	for (int i = 0; i < NCLIENTS; i++)
		resume(&z->f[i]);
	fire_timer(z);
	for (int i = 0; i < NCLIENTS; i++) {
		struct fake *f = &z->f[i];

		if (f->c && f->close_asked && f->close_op < z->op)
			fake_gone(f, true);
		parse_output(f);
		open += f->c != NULL;
		connected += f->notified;
	}
	eng_stats_get(z->eng, &st);
	check(st.clients == open && st.connected == connected);
	check(st.sessions >= connected);
	check(z->send_failed || st.sessions == z->nsess);
	check(st.retained <= z->cfg.retained_max);
	check(st.subscriptions <= st.sessions * z->cfg.max_subscriptions);
	/* A deadline that fell due this turn is met by the timer's next
	 * firing (the core's next turn), not necessarily by this one. */
	if (z->due < 0 || z->due > z->now)
		check_deadlines(z);
	z->op++;
}

static void engine_new(struct fz *z, unsigned b)
{
	static const struct eng_user users[1] = { { "u", "p" } };
	static const uint16_t inflight[4] = { 20, 1, 2, 3 };
	static const size_t queued[4] = { 1000, 1, 2, 5 };
	struct perr e;

	for (int i = 0; i < NCLIENTS; i++)
		z->f[i].z = z;
	z->cfg.allow_anonymous = !(b & 32);
	z->cfg.users = (b & 32) ? users : NULL;
	z->cfg.n_users = (b & 32) ? 1 : 0;
	z->cfg.max_inflight = inflight[b & 3];
	z->cfg.max_queued = queued[(b >> 2) & 3];
	z->cfg.retained_max = (b & 16) ? 2 : 10000;
	z->cfg.retained_max_bytes = (b & 16) ? 64 : 64u << 20;
	z->cfg.max_subscribe_filters = (b & 16) ? 1 : 1000;
	z->cfg.max_subscriptions = (b & 16) ? 3 : 10000;
	z->cfg.max_packet_size = (b & 64) ? 128 : 1u << 20;
	if (b & 128) {
		z->cfg.session_expiry_default = 5;
		z->cfg.session_expiry_max = 10;
		z->cfg.keepalive_max = 10;
		z->cfg.connect_timeout = 3;
	} else {
		z->cfg.connect_timeout = 10;
	}
	z->cfg.rec_ctx = z;
	z->cfg.on_session_connected = on_connected;
	z->cfg.on_session_disconnected = on_disconnected;
	z->cfg.on_auth_failed = on_auth_failed;
	z->cfg.on_session_removed = on_removed;
	z->cfg.clock_ms = f_clock;
	z->cfg.clock_ctx = z;
	z->cfg.timer_set = f_timer_set;
	z->cfg.timer_ctx = z;
	z->now = T0;
	z->due = -1;
	z->eng = eng_new(&z->cfg, &e);
	check(z->eng != NULL);
}

/* Every client closed, or the engine shut down with them open (END):
 * either way every session the callbacks saw is removed. */
static void finish(struct fz *z, bool shutdown)
{
	struct eng_stats st;

	if (!shutdown) {
		for (int i = 0; i < NCLIENTS; i++) {
			struct fake *f = &z->f[i];

			for (int turn = 0; f->busy && !f->close_asked; turn++) {
				check(turn < MAX_TURNS);
				resume(f);
			}
			fake_gone(f, i & 1);
		}
		eng_stats_get(z->eng, &st);
		check(st.clients == 0 && st.connected == 0);
	}
	eng_free(z->eng);
	for (int i = 0; i < NCLIENTS; i++) {
		check(!z->f[i].notified);
		free(z->f[i].out);
		free(z->f[i].held);
	}
	check(z->nsess == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct fz z;
	bool end = false;

	if (size < 1)
		return 0;
	if (!inited) {
		log_init("fuzz_engine", LOG_DEBUG);
		/* Every log line is formatted (that code runs too), none is kept. */
		check(log_open("/dev/null") == 0);
		tracing = getenv("FUZZ_TRACE") != NULL;
		inited = true;
	}
	memset(&z, 0, sizeof(z));
	engine_new(&z, data[0]);
	z.p = data + 1;
	z.n = size - 1;
	while (z.n > 0 && !end) {
		unsigned byte = take(&z);

		end = (byte >> 2) % OP_COUNT == OP_END;
		if (!end)
			run_op(&z, byte);
		after_op(&z);
	}
	finish(&z, end);
	return 0;
}
