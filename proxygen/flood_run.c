/* flood_run.c - the `proxygen flood` loop, see flood.h and flood_net.h.
 *
 * One thread, non-blocking sockets on epoll (edge-triggered), every
 * transport alike. Each turn: time-outs, new connections at --rate,
 * messages due, keep-alives, then the events.
 *
 * Connection loads: each connection is set up (header, TLS, WebSocket,
 * CONNECT, CONNACK), then held (--hold) or closed with a DISCONNECT, and
 * its slot serves the next. Set-up connections wait in a FIFO ordered by
 * start time and held ones in a FIFO ordered by CONNACK time: both
 * deadlines are a fixed delay after those times, so each list's head is
 * its next deadline.
 *
 * Publish loads: every connection stays open to the end. Subscribers
 * (the load's first connections) subscribe to their topic; once all of
 * this process's are subscribed (and --publish-delay has passed) the
 * publishers start. Message g of this process goes to publisher g mod P
 * and is due at g / rate seconds, so the publishers share the rate evenly
 * and a publisher that falls behind (window full, socket full, still
 * connecting) catches up as soon as it can. The payload starts with the
 * send time (CLOCK_REALTIME), so a subscriber of any process on any
 * machine with a synchronised clock measures the message's latency.
 */
#include "flood_net.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "mqtt.h"

#define LAUNCH_BATCH 256              /* new connections per turn, so events are not starved */
#define PROGRESS_US  200000
#define SIGNAL_POLL_US 100000         /* --threads: how soon every loop sees a signal */
#define READY_POLL_US 1000            /* --threads: how soon a loop sees the others' subscribers ready */
#define OUT_HIGH     (64 * 1024)      /* a publisher queues no more above this */
#define SWEEP_US     1000000          /* keep-alive check */
#define PUBLISH_TICK_US 5000          /* --publish-rate: messages handed out at most this often */
#define TOPIC_CAP    (FL_MAX_PREFIX + 24)

volatile sig_atomic_t fl_got_signal;

int64_t fl_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint8_t mqtt_version(const struct fl_loop *L)
{
	return (uint8_t)L->f->a->cl.o.mqtt_version;
}

static void topic_name(const struct fl_loop *L, uint32_t t, char out[TOPIC_CAP])
{
	snprintf(out, TOPIC_CAP, "%s%" PRIu32, L->f->a->topic_prefix, t);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- publishing ------------------------------------------------------------------------- */

/* Messages publisher j may have sent by now. */
static uint64_t due_for(const struct fl_loop *L, uint64_t j)
{
	uint64_t q, r, d;

	if (!L->publishing || L->f->pubs_local == 0)
		return 0;
	q = L->g_next / L->f->pubs_local;
	r = L->g_next % L->f->pubs_local;
	d = q + (j < r ? 1 : 0);
	return d < L->f->plan.messages ? d : L->f->plan.messages;
}

static void pub_acked(struct fl_loop *L, struct fc *c)
{
	c->acked++;
	L->f->res->acknowledged++;
	L->t_last_ack = fl_now_us();
	if (c->acked == L->f->plan.messages) {
		c->done = true;
		if (--L->pubs_active == 0)
			L->t_pubs_done = L->now;
	}
}

static void publish_one(struct fl_loop *L, struct fc *c)
{
	const struct flood_args *a = L->f->a;
	char topic[TOPIC_CAP];
	uint16_t id = 0;
	uint8_t *pl;
	long n;

	topic_name(L, c->topic, topic);
	if (a->msg.qos) {
		id = c->next_id;
		c->next_id = (uint16_t)(c->next_id == 65535 ? 1 : c->next_id + 1);
	}
	n = mqtt_build_publish(L->pkt, L->pkt_cap, mqtt_version(L), topic, L->payload,
			       a->msg.payload_size, (uint8_t)a->msg.qos, false, id);
	if (n <= 0 || (size_t)n > L->pkt_cap) {
		fc_fail(L, c, FK_LOCAL, "cannot build a PUBLISH");
		return;
	}
	/* the payload ends the packet: send time, publisher, sequence */
	pl = L->pkt + n - a->msg.payload_size;
	put_be(pl, (uint64_t)fl_wall_us(), 8);
	put_be(pl + 8, c->k, 4);
	put_be(pl + 12, c->sent, 4);
	fc_send_mqtt(L, c, L->pkt, (size_t)n);
	c->sent++;
	L->f->res->published++;
	if (!L->t_first_pub)
		L->t_first_pub = fl_now_us();
	if (a->msg.qos)
		c->inflight++;
	else
		pub_acked(L, c);
}

/* Send what is due to c, as far as its window and socket allow. It stops
 * only when nothing is due, the window is full (an acknowledgement
 * resumes it) or the socket is (EPOLLOUT resumes it): with edge-triggered
 * events, stopping while the socket still takes bytes would stall it. */
static void pump(struct fl_loop *L, struct fc *c)
{
	const struct flood_args *a = L->f->a;
	uint64_t due;

	if (c->dead || c->stage != FS_OPEN || c->role != FR_PUB)
		return;
	due = due_for(L, c->pub_j);
	for (;;) {
		while (!c->dead && c->sent < due && !(a->msg.qos && c->inflight >= a->inflight) &&
		       fc_pending(c) < OUT_HIGH)
			publish_one(L, c);
		fc_flush(L, c);
		if (c->dead || c->sent >= due || (a->msg.qos && c->inflight >= a->inflight) ||
		    fc_pending(c) >= OUT_HIGH)
			return;
	}
}

/* ---- the end of a connection -------------------------------------------------------------- */

/* A subscriber is subscribed, or failed before. */
static void sub_answered(struct fl_loop *L)
{
	if (--L->subs_pending == 0)
		L->t_subs_done = L->now;
	if (L->f->subs_unready)
		atomic_fetch_sub(L->f->subs_unready, 1);
}

/* c is dead: what its role still owed, then its slot. */
static void settle(struct fl_loop *L, struct fc *c)
{
	if (!c->dead || c->stage == FS_FREE)
		return;
	if (c->role == FR_SUB && !c->opened)
		sub_answered(L);
	if (c->role == FR_SUB && !c->done)
		L->subs_active--;
	if (c->role == FR_PUB && !c->done && --L->pubs_active == 0)
		L->t_pubs_done = L->now;
	c->done = true;
	fc_release(L, c);
}

static void close_graceful(struct fl_loop *L, struct fc *c)
{
	c->dead = c->graceful = true;
	settle(L, c);
}

/* ---- MQTT --------------------------------------------------------------------------------- */

void fl_mqtt_start(struct fl_loop *L, struct fc *c)
{
	const struct flood_args *a = L->f->a;
	char id[FL_MAX_PREFIX + 24];
	long n;

	snprintf(id, sizeof(id), "%s%" PRIu64, a->prefix, c->k);
	n = mqtt_build_connect(L->pkt, L->pkt_cap, mqtt_version(L), id, a->cl.o.username,
			       a->cl.o.password, (uint16_t)a->cl.o.keepalive, true);
	if (n <= 0 || (size_t)n > L->pkt_cap) {
		fc_fail(L, c, FK_LOCAL, "cannot build the CONNECT");
		return;
	}
	fc_send_mqtt(L, c, L->pkt, (size_t)n);
}

static void send_ack(struct fl_loop *L, struct fc *c, enum mqtt_type type, uint16_t id)
{
	uint8_t b[8];
	long n = mqtt_build_ack(b, sizeof(b), mqtt_version(L), type, id);

	if (n > 0 && (size_t)n <= sizeof(b))
		fc_send_mqtt(L, c, b, (size_t)n);
}

/* Set up: counted as a success; publish loads keep it in the open list. */
static void opened(struct fl_loop *L, struct fc *c)
{
	L->f->res->count[FK_OK]++;
	c->opened = true;
	c->stage = FS_OPEN;
	fl_list_move(L, c, c->role == FR_PLAIN ? FL_NONE : FL_OPEN, 0);
}

static void subscribe(struct fl_loop *L, struct fc *c)
{
	char topic[TOPIC_CAP];
	long n;

	topic_name(L, c->topic, topic);
	n = mqtt_build_subscribe(L->pkt, L->pkt_cap, mqtt_version(L), 1, topic,
				 (uint8_t)L->f->a->msg.qos);
	if (n <= 0 || (size_t)n > L->pkt_cap) {
		fc_fail(L, c, FK_LOCAL, "cannot build the SUBSCRIBE");
		return;
	}
	fc_send_mqtt(L, c, L->pkt, (size_t)n);
	c->stage = FS_SUBACK;
	fl_list_move(L, c, FL_WAITING, L->now + (int64_t)L->f->a->cl.o.timeout_ms * 1000);
}

static void on_connack(struct fl_loop *L, struct fc *c, const uint8_t *pkt, size_t len)
{
	struct fl_result *r = L->f->res;
	int64_t now = fl_now_us();
	uint8_t rc = 0;
	bool sp;

	if (mqtt_parse_connack(pkt, len, mqtt_version(L), &sp, &rc) <= 0) {
		fc_fail(L, c, FK_PROTOCOL, "not a CONNACK: first byte 0x%02x (%s)", pkt[0],
			mqtt_type_name(pkt[0] >> 4));
		return;
	}
	r->connacks++;
	hist_add(&r->connack_us, (uint64_t)(now > c->t0 ? now - c->t0 : 0));
	if (now > L->t_last_connack)
		L->t_last_connack = now;
	if (rc != 0) {
		fc_fail(L, c, FK_CONNACK, "CONNACK 0x%02x (%s)", rc,
			mqtt_connack_name(mqtt_version(L), rc));
		return;
	}
	if (c->role == FR_SUB) {
		subscribe(L, c);
		return;
	}
	opened(L, c);
	if (c->role == FR_PUB)
		pump(L, c);
	else if (L->f->a->hold_ms <= 0)
		c->dead = c->graceful = true;
	else
		fl_list_move(L, c, FL_HOLDING, now + (int64_t)L->f->a->hold_ms * 1000);
}

static void on_suback(struct fl_loop *L, struct fc *c, const struct mqtt_suback *sa)
{
	uint8_t rc = sa->n ? sa->rcs[0] : MQTT_SUBACK_FAILURE;

	if (c->stage != FS_SUBACK) {
		fc_fail(L, c, FK_PROTOCOL, "SUBACK without a SUBSCRIBE");
		return;
	}
	if (rc >= 0x80) {
		fc_fail(L, c, FK_SUBACK, "SUBACK 0x%02x (%s)", rc, mqtt_reason_name(rc));
		return;
	}
	opened(L, c);
	sub_answered(L);
	if (c->received >= c->target) {
		c->done = true;
		L->subs_active--;
	}
}

static void on_publish(struct fl_loop *L, struct fc *c, const struct mqtt_publish *pb)
{
	struct fl_result *r = L->f->res;

	if (pb->qos == 1)
		send_ack(L, c, MQTT_PUBACK, pb->id);
	else if (pb->qos == 2)
		send_ack(L, c, MQTT_PUBREC, pb->id);
	if (c->role != FR_SUB)
		return;
	if (pb->payload_len >= 8) {
		int64_t sent = (int64_t)get_be64(pb->payload), now = fl_wall_us();

		hist_add(&r->latency_us, (uint64_t)(now > sent ? now - sent : 0));
	}
	r->received++;
	c->received++;
	if (!L->t_first_rx)
		L->t_first_rx = L->now;
	L->t_last_rx = L->now;
	if (!c->done && c->opened && c->received >= c->target) {
		c->done = true;
		L->subs_active--;
	}
}

static void on_ack(struct fl_loop *L, struct fc *c, enum mqtt_type type)
{
	enum mqtt_type want = L->f->a->msg.qos == 2 ? MQTT_PUBCOMP : MQTT_PUBACK;

	if (c->role != FR_PUB || c->inflight == 0 || type != want) {
		fc_fail(L, c, FK_PROTOCOL, "unexpected %s from the broker", mqtt_type_name(type));
		return;
	}
	c->inflight--;
	pub_acked(L, c);
	pump(L, c);
}

static void on_packet(struct fl_loop *L, struct fc *c, const uint8_t *pkt, size_t len)
{
	struct mqtt_pkt p;
	const char *why = NULL;

	if (c->stage == FS_CONNACK) {
		on_connack(L, c, pkt, len);
		return;
	}
	if (mqtt_decode(pkt, len, mqtt_version(L), &p, &why) != 0) {
		fc_fail(L, c, FK_PROTOCOL, "%s from the broker: %s", mqtt_type_name(pkt[0] >> 4),
			why ? why : "malformed");
		return;
	}
	switch (p.type) {
	case MQTT_SUBACK: on_suback(L, c, &p.suback); break;
	case MQTT_PUBLISH: on_publish(L, c, &p.publish); break;
	case MQTT_PUBACK:
	case MQTT_PUBCOMP: on_ack(L, c, p.type); break;
	case MQTT_PUBREC: send_ack(L, c, MQTT_PUBREL, p.ack.id); break;
	case MQTT_PUBREL: send_ack(L, c, MQTT_PUBCOMP, p.ack.id); break;
	case MQTT_PINGRESP: break;
	case MQTT_DISCONNECT:
		fc_fail(L, c, FK_CLOSED, "DISCONNECT 0x%02x (%s) from the broker %s",
			p.disconnect.rc, mqtt_reason_name(p.disconnect.rc), fc_stage_what(c));
		break;
	default:
		fc_fail(L, c, FK_PROTOCOL, "unexpected %s from the broker", mqtt_type_name(p.type));
	}
}

void fl_mqtt_input(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n)
{
	size_t len, off = 0;
	uint8_t *buf = fbuf_join(&c->in, p, n, &len);

	if (!buf) {
		fc_fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	while (!c->dead && off < len) {
		long m = mqtt_frame(buf + off, len - off, 0);

		if (m == MQTT_NEED_MORE)
			break;
		if (m < 0) {
			fc_fail(L, c, FK_PROTOCOL, "malformed packet from the broker (first byte "
				"0x%02x)", buf[off]);
			return;
		}
		on_packet(L, c, buf + off, (size_t)m);
		off += (size_t)m;
	}
	if (!c->dead && fbuf_keep(&c->in, buf, len, off) < 0)
		fc_fail(L, c, FK_LOCAL, "out of memory");
}

/* ---- the schedule --------------------------------------------------------------------------- */

/* The slot for this process's local-th connection: its own in publish
 * loads (publishers are found by number), else any free one. */
static struct fc *take_slot(struct fl_loop *L, uint64_t local)
{
	struct fc *c;

	if (L->f->plan.publish)
		return &L->slots[local];
	c = L->free_list;
	if (c)
		L->free_list = c->next;
	return c;
}

static bool slot_free(const struct fl_loop *L)
{
	return L->f->plan.publish ? L->launched < L->f->n_local : L->free_list != NULL;
}

/* When this process's next connection is due (us). */
static int64_t launch_due(const struct fl_loop *L)
{
	const struct flood *f = L->f;

	if (f->rate_local <= 0)
		return f->t_start;
	return f->t_start + (int64_t)((double)L->launched * 1e6 / f->rate_local);
}

static void launch_some(struct fl_loop *L)
{
	struct flood *f = L->f;

	for (int b = 0; b < LAUNCH_BATCH && L->launched < f->n_local && slot_free(L); b++) {
		uint64_t local = L->launched;
		struct fc *c;

		if (launch_due(L) > L->now)
			break;
		c = take_slot(L, local);
		L->launched++;
		fc_launch(L, c, fl_global(&f->plan, local));
		c->pub_j = local - (c->role == FR_PUB ? f->subs_local : 0);
		settle(L, c);
	}
}

/* --threads: subscribers of another loop have not answered yet. */
static bool others_unready(const struct fl_loop *L)
{
	return L->f->subs_unready && atomic_load(L->f->subs_unready) > 0;
}

/* Subscribers all answered, this loop's and the others' (and
 * --publish-delay passed): start. */
static void maybe_start(struct fl_loop *L)
{
	if (L->publishing || L->subs_pending > 0 || L->launched < L->f->subs_local ||
	    others_unready(L))
		return;
	if (!L->t_ready)
		L->t_ready = L->now + (int64_t)L->f->a->publish_delay_ms * 1000;
	if (L->now < L->t_ready)
		return;
	L->publishing = true;
	L->t_pub0 = L->now;
	if (L->f->pub_rate_local <= 0)
		L->g_next = L->g_total;
}

/* Hand out the messages due by now; wake the publishers they go to. */
static void schedule(struct fl_loop *L)
{
	uint64_t from, to, np = L->f->pubs_local;

	if (!L->f->plan.publish || np == 0)
		return;
	if (!L->publishing) {
		maybe_start(L);
		if (!L->publishing)
			return;
		from = 0;
	} else {
		from = L->g_next;
	}
	if (L->f->pub_rate_local > 0) {
		double el = (double)(L->now - L->t_pub0) / 1e6;
		uint64_t due = (uint64_t)(el * L->f->pub_rate_local) + 1;

		L->g_next = due < L->g_total ? due : L->g_total;
	}
	to = L->g_next;
	if (to > from)
		L->t_handout = L->now;
	if (to - from >= np)
		from = to - np;
	for (uint64_t g = from; g < to; g++) {
		struct fc *c = &L->slots[L->f->subs_local + g % np];

		pump(L, c);
		settle(L, c);
	}
}

/* When to hand out the next messages (us); 0 when none is due. Not more
 * often than every PUBLISH_TICK_US: a wake-up costs more than the sends
 * it would spread out (the payload's send time keeps the latency right). */
static int64_t message_due(const struct fl_loop *L)
{
	int64_t t;

	if (!L->publishing || L->f->pub_rate_local <= 0 || L->g_next >= L->g_total)
		return 0;
	t = L->t_pub0 + (int64_t)((double)L->g_next * 1e6 / L->f->pub_rate_local) + 1;
	return t > L->t_handout + PUBLISH_TICK_US ? t : L->t_handout + PUBLISH_TICK_US;
}

/* Time-outs and ends of --hold: the heads of the FIFOs. */
static void expire(struct fl_loop *L)
{
	while (L->waiting.head && L->waiting.head->deadline <= L->now) {
		struct fc *c = L->waiting.head;

		fc_fail(L, c, FK_TIMEOUT, "no %s within %d ms", c->stage == FS_SUBACK ?
			"SUBACK" : "CONNACK", L->f->a->cl.o.timeout_ms);
		settle(L, c);
	}
	while (L->holding.head && L->holding.head->deadline <= L->now)
		close_graceful(L, L->holding.head);
}

/* A PINGREQ on connections quiet for half their keep-alive. */
static void sweep_list(struct fl_loop *L, struct fl_list *l, int64_t quiet)
{
	uint8_t ping[2] = { MQTT_PINGREQ << 4, 0 };

	for (struct fc *c = l->head, *next; c; c = next) {
		next = c->next;
		if (L->now - c->last_tx < quiet)
			continue;
		fc_send_mqtt(L, c, ping, sizeof(ping));
		fc_flush(L, c);
		settle(L, c);
	}
}

static void keepalive_sweep(struct fl_loop *L)
{
	int ka = L->f->a->cl.o.keepalive;

	if (ka <= 0 || L->now < L->next_sweep)
		return;
	L->next_sweep = L->now + SWEEP_US;
	sweep_list(L, &L->holding, (int64_t)ka * 500000);
	sweep_list(L, &L->open, (int64_t)ka * 500000);
}

/* ---- the end -------------------------------------------------------------------------------- */

/* Subscribers still waiting give up this long after the last sign of life. */
static int64_t drain_end(const struct fl_loop *L)
{
	int64_t t = L->t_pubs_done;

	if (L->t_last_rx > t)
		t = L->t_last_rx;
	if (L->t_subs_done > t)
		t = L->t_subs_done;
	return t + (int64_t)L->f->a->cl.o.timeout_ms * 1000;
}

static bool finished(const struct fl_loop *L)
{
	if (L->launched < L->f->n_local || L->waiting.head)
		return false;
	if (!L->f->plan.publish)
		return !L->holding.head;
	if (L->pubs_active > 0)
		return false;
	return L->subs_active == 0 || L->now >= drain_end(L);
}

/* Cut short or done: what still waits is unfinished, the rest ends normally. */
static void teardown(struct fl_loop *L)
{
	const char *how = L->f->stopped_by && strcmp(L->f->stopped_by, "signal") == 0 ?
			  "interrupted" : "ended by --duration";

	while (L->waiting.head) {
		struct fc *c = L->waiting.head;

		fc_fail(L, c, FK_UNFINISHED, "still waiting %s when the run was %s",
			fc_stage_what(c), how);
		settle(L, c);
	}
	while (L->holding.head)
		close_graceful(L, L->holding.head);
	while (L->open.head)
		close_graceful(L, L->open.head);
}

static double span_s(int64_t from, int64_t to)
{
	return from && to > from ? (double)(to - from) / 1e6 : 0.0;
}

static void finish_result(const struct fl_loop *L)
{
	const struct flood *f = L->f;
	struct fl_result *r = f->res;
	int64_t t0;

	r->elapsed_s = span_s(f->t_start, fl_now_us());
	r->connack_span_s = r->connacks ? span_s(f->t_start, L->t_last_connack) : 0.0;
	r->connections_per_s = r->connack_span_s > 0 ? (double)r->connacks / r->connack_span_s : 0;
	if (!f->plan.publish)
		return;
	for (uint64_t l = 0; l < f->subs_local; l++) {
		uint64_t want = fl_sub_target(&f->plan, fl_global(&f->plan, l)),
			 got = L->slots[l].received;

		r->expected += want;
		r->missing_msgs += got < want ? want - got : 0;
		r->extra_msgs += got > want ? got - want : 0;
	}
	r->publish_span_s = span_s(L->t_first_pub, L->t_last_ack);
	r->published_per_s = r->publish_span_s > 0 ? (double)r->acknowledged / r->publish_span_s : 0;
	t0 = L->t_first_pub ? L->t_first_pub : L->t_first_rx;
	r->received_per_s = span_s(t0, L->t_last_rx) > 0 ?
			    (double)r->received / span_s(t0, L->t_last_rx) : 0.0;
}

/* ---- progress ------------------------------------------------------------------------------- */

struct progress {
	bool on;
	int64_t next, last_t;
	uint64_t last_connacks, last_rx;
};

static void progress_tick(const struct fl_loop *L, struct progress *p, bool force)
{
	const struct flood *f = L->f;
	const struct fl_result *r = f->res;
	uint64_t failed = r->dropped;
	double dt = (double)(L->now - p->last_t) / 1e6;

	if (!p->on || (!force && L->now < p->next))
		return;
	for (int k = 1; k < FK_COUNT; k++)
		failed += r->count[k];
	fprintf(stderr, "\r\033[Kflood %s%s: started %" PRIu64 "/%" PRIu64 "  ok %" PRIu64
		"  failed %" PRIu64 "  open %" PRIu64 "  %.0f conn/s", r->target,
		f->threads > 1 ? " (the first thread's share)" : "", r->attempted,
		f->n_local, r->count[FK_OK], failed, L->nopen,
		dt > 0 ? (double)(r->connacks - p->last_connacks) / dt : 0.0);
	if (f->plan.publish)
		fprintf(stderr, "  published %" PRIu64 "/%" PRIu64 "  received %" PRIu64
			"  %.0f msg/s", r->published, L->g_total, r->received,
			dt > 0 ? (double)(r->received - p->last_rx) / dt : 0.0);
	fprintf(stderr, "  %.1f s", (double)(L->now - f->t_start) / 1e6);
	fflush(stderr);
	p->last_t = L->now;
	p->last_connacks = r->connacks;
	p->last_rx = r->received;
	p->next = L->now + PROGRESS_US;
}

static void progress_end(const struct progress *p)
{
	if (p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* ---- the loop ------------------------------------------------------------------------------- */

static int64_t earliest(int64_t a, int64_t b)
{
	return b && b < a ? b : a;
}

/* How long epoll may wait: until the next deadline of any kind. */
static int wait_ms(const struct fl_loop *L, const struct progress *p)
{
	const struct flood *f = L->f;
	int64_t next = f->t_end;

	if (L->launched < f->n_local && slot_free(L))
		next = earliest(next, launch_due(L));
	if (L->waiting.head)
		next = earliest(next, L->waiting.head->deadline);
	if (L->holding.head)
		next = earliest(next, L->holding.head->deadline);
	next = earliest(next, message_due(L));
	if (f->plan.publish && !L->publishing)
		next = earliest(next, others_unready(L) ? L->now + READY_POLL_US : L->t_ready);
	if (f->plan.publish && L->pubs_active == 0 && L->subs_active > 0)
		next = earliest(next, drain_end(L));
	if (f->a->cl.o.keepalive > 0 && (L->holding.head || L->open.head))
		next = earliest(next, L->next_sweep);
	if (p->on)
		next = earliest(next, p->next);
	if (f->threads > 1) /* a signal interrupts one thread's wait only */
		next = earliest(next, L->now + SIGNAL_POLL_US);
	return next <= L->now ? 0 : (int)((next - L->now + 999) / 1000);
}

static int loop_init(struct fl_loop *L, struct flood *f)
{
	const struct flood_args *a = f->a;
	size_t nslots = (size_t)(f->plan.publish ? f->n_local : f->conc_local);
	long n;

	memset(L, 0, sizeof(*L));
	L->f = f;
	L->now = f->t_start;
	L->pkt_cap = 1024 + (size_t)a->msg.payload_size + strlen(a->topic_prefix) + 64;
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	L->slots = calloc(nslots, sizeof(*L->slots));
	L->rbuf = malloc(FL_RBUF);
	L->abuf = malloc(FL_RBUF);
	L->hdr = malloc(FL_HDR_CAP);
	L->pkt = malloc(L->pkt_cap);
	L->frame = malloc(L->pkt_cap + WS_MAX_HDR);
	L->payload = calloc(1, (size_t)a->msg.payload_size + 1);
	if (L->ep < 0 || !L->slots || !L->rbuf || !L->abuf || !L->hdr || !L->pkt || !L->frame ||
	    !L->payload) {
		fprintf(stderr, "proxygen flood: %s\n", L->ep < 0 ? strerror(errno) : "out of memory");
		return -1;
	}
	for (size_t i = nslots; i-- > 0;) {
		L->slots[i].fd = -1;
		L->slots[i].next = L->free_list;
		L->free_list = &L->slots[i];
	}
	for (size_t i = 0; i < a->msg.payload_size; i++)
		L->payload[i] = (uint8_t)('a' + i % 26);
	n = mqtt_build_disconnect(L->disconnect, sizeof(L->disconnect), mqtt_version(L), 0);
	L->disconnect_len = n > 0 && (size_t)n <= sizeof(L->disconnect) ? (size_t)n : 0;
	L->subs_pending = L->subs_active = f->subs_local;
	L->pubs_active = f->pubs_local;
	L->g_total = f->pubs_local * f->plan.messages;
	return 0;
}

static void loop_free(struct fl_loop *L)
{
	if (L->ep >= 0)
		close(L->ep);
	free(L->slots);
	free(L->rbuf);
	free(L->abuf);
	free(L->hdr);
	free(L->pkt);
	free(L->frame);
	free(L->payload);
}

/* One turn's work before waiting; false when the run is over. */
static bool turn(struct fl_loop *L)
{
	struct flood *f = L->f;

	L->now = fl_now_us();
	if (fl_got_signal)
		f->stopped_by = "signal";
	else if (L->now >= f->t_end)
		f->stopped_by = "duration";
	if (f->stopped_by)
		return false;
	expire(L);
	launch_some(L);
	schedule(L);
	keepalive_sweep(L);
	if (finished(L))
		f->stopped_by = "done";
	return !f->stopped_by;
}

int fl_run(struct flood *f)
{
	struct fl_loop L;
	struct progress prog;
	struct epoll_event evs[512];
	int rc = 0;

	memset(&prog, 0, sizeof(prog));
	prog.on = !f->a->quiet && isatty(STDERR_FILENO) && f->thread == 0;
	prog.last_t = f->t_start;
	prog.next = f->t_start + PROGRESS_US;
	if (loop_init(&L, f) < 0) {
		loop_free(&L);
		return -1;
	}
	while (turn(&L)) {
		int n = epoll_wait(L.ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_ms(&L, &prog));

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "proxygen flood: epoll_wait: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		L.now = fl_now_us();
		for (int i = 0; i < n; i++) {
			struct fc *c = evs[i].data.ptr;

			fc_event(&L, c, evs[i].events);
			pump(&L, c);
			settle(&L, c);
		}
		progress_tick(&L, &prog, false);
	}
	teardown(&L);
	finish_result(&L);
	progress_end(&prog);
	loop_free(&L);
	return rc;
}
