/* engine.c - see engine.h.
 *
 * Data model:
 *   - struct msg: one application message (topic, payload, 5.0 properties),
 *     reference counted: shared by the retained store and every session
 *     queue it was routed to;
 *   - struct sess: a session (client id, subscriptions; in its struct
 *     sess_x, made only when there is some: outgoing QoS>0 messages
 *     inflight and queued, incoming QoS 2 ids, delayed will, offline
 *     deadline); lives in a hash table by client id, online or not;
 *   - struct sub: one subscription, in two places: the list of its
 *     filter's node in the engine's topic tree of filters (routing walks
 *     that tree: the cost of a PUBLISH is the topic's depth and the
 *     matches), and its session's hash table (by that node);
 *   - struct ret: a retained message, the val of its topic's node in the
 *     engine's topic tree of retained names (a new subscription searches
 *     it with its filter);
 *   - struct eng_client: one connection (transport level), attached to
 *     its session after a successful CONNECT (whose client id it shares);
 *     what only some connections hold for a while (a partial packet, a
 *     will, topic aliases, a SUBSCRIBE in progress) is in its struct
 *     client_x, made when needed.
 *
 * Time: milliseconds on a monotonic clock (cfg.clock_ms), read when the
 * core calls in. Every deadline (CONNECT timeout and keep-alive of a
 * client, will delay and expiry of an offline session, expiry of a
 * retained message) is a timer in one heap; the core is told when the
 * earliest changes (cfg.timer_set) and calls eng_tick then. Messages
 * queued for a session are checked for expiry when they are sent.
 *
 * Re-entrancy: routing one PUBLISH writes to many clients; a failed write
 * must not free sessions while the fan-out walks them. So closing a
 * client only marks it (client_kill) and queues the heavy part (detach
 * from the session, will, session end) on a pending list that runs when
 * the outermost engine call returns (leave()).
 */
#include "engine.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htab.h"
#include "log.h"
#include "mqtt.h"
#include "timer.h"
#include "topic.h"

#define DEF_MAX_PACKET      (1024u * 1024u)
#define DEF_MAX_INFLIGHT    20
#define DEF_CONNECT_TIMEOUT 10
#define DEF_SESSION_EXPIRY  (2u * 3600u)
#define DEF_MAX_QUEUED      1000
#define DEF_MAX_SESSIONS    20000
#define DEF_QUEUED_BYTES    (4u * 1024u * 1024u)
#define DEF_OFFLINE_BYTES   (64u * 1024u * 1024u)
#define DEF_MAX_OUTPUT      (1024u * 1024u)
#define DEF_RETAINED_MAX    10000
#define DEF_RETAINED_BYTES  (64u * 1024u * 1024u)
#define DEF_SUB_FILTERS     1000
#define DEF_SUBSCRIPTIONS   10000
#define EXPIRY_NEVER        UINT32_MAX
#define ALIAS_MAX           16    /* Topic Alias Maximum we accept from 5.0 clients */
#define RBUF_KEEP           0     /* receive buffers above this are freed when empty: all (an idle client holds none) */
#define ENG_BUDGET          1000  /* work units per eng_client_input call (see the job) */

/* ---- types ------------------------------------------------------------- */

/* A deadline in eng->timers, and whose it is. */
enum tkind { TK_CLIENT, TK_SESSION, TK_RETAINED };

struct etimer {
	struct timer t;
	enum tkind kind;
};

struct msg {
	unsigned refs;
	char *topic;                  /* NUL-terminated */
	uint8_t *payload;
	size_t len;
	size_t size;                  /* topic, payload and properties: what limits count */
	uint8_t qos;
	bool retain;
	uint8_t *props_raw;           /* 5.0 property block, as received */
	struct mqtt_props props;      /* decoded from props_raw (pointers into it) */
	int64_t expire_at;            /* Message Expiry, ms; 0 = never */
};

enum out_state { OUT_QUEUED = 0, OUT_WAIT_PUBACK, OUT_WAIT_PUBREC, OUT_WAIT_PUBCOMP };

struct outmsg {
	struct outmsg *next;
	struct msg *m;
	uint16_t id;
	uint8_t qos;
	bool retain;
	enum out_state state;
	unsigned n_sub_ids;
	uint32_t sub_ids[MQTT_MAX_SUB_IDS];
};

struct oq {
	struct outmsg *head, *tail;
	size_t n;
};

struct sess;
struct sub;

/* A shared subscription's group: "$share/NAME/FILTER" [MQTT 4.8.2]. Its
 * members are subscriptions on FILTER's node (flagged with the group);
 * each message for the group goes to one of them, in turn. */
struct shgroup {
	struct htab_link hlink;       /* in eng->groups, by node and name */
	struct topic_node *node;      /* FILTER's, in eng->subs */
	struct sub *members;          /* through gnext */
	struct sub *turn;             /* the member whose turn is next; NULL: the first */
	uint64_t mark;                /* the route that already served the group */
	size_t len;
	char name[];                  /* len bytes, then NUL */
};

struct sub {
	struct htab_link hlink;       /* in the session's table, by key */
	struct sess *s;
	struct topic_node *node;      /* the filter's, in eng->subs */
	struct shgroup *grp;          /* a shared subscription's group; NULL: not shared */
	const void *key;              /* in the session's table: grp, else node */
	struct sub *nprev, *nnext;    /* the node's subscriptions (node->val: the first) */
	struct sub *gprev, *gnext;    /* the group's members */
	uint8_t qos;
	bool nl, rap;
	uint8_t rh;
	uint32_t sub_id;              /* 0: none */
	uint64_t ret_gen;             /* the SUBSCRIBE that last sent its retained messages */
};

/* What a session holds besides its subscriptions, allocated when it
 * first has some of it (a message queued or inflight, an incoming QoS 2
 * id, a delayed will, an offline deadline) and freed once it has none:
 * an idle connected session has no struct sess_x. */
struct sess_x {
	struct sess *s;
	struct etimer tm;             /* the earlier of will_at and expire_at */
	int64_t expire_at;            /* ms, while offline */
	struct msg *will;             /* delayed will of the last connection */
	int64_t will_at;              /* ms */
	struct oq inflight, queue;
	size_t qbytes;                /* their messages' sizes (cfg.max_queued_bytes) */
	uint16_t *qos2_in;            /* incoming QoS 2 ids awaiting PUBREL */
	uint32_t cap_qos2_in;
	uint16_t n_qos2_in;           /* distinct packet ids: at most 65,535 */
};

/* Fields of struct sess and struct eng_client are ordered so that they
 * have no holes (but 4 bytes after eng_client's max_packet): there is one
 * of each per connected client, and neither holds what an idle one does
 * not need. */
struct sess {
	struct htab_link hlink;       /* in eng->sessions_by_id */
	const char *id;               /* shared with its client (id_new) */
	struct eng_client *conn;      /* NULL: offline */
	struct sess_x *x;             /* NULL: nothing of it */
	struct htab *subs;            /* struct sub by node; made by the first SUBSCRIBE */
	uint64_t mark;                /* fan-out dedup */
	uint32_t expiry;              /* seconds offline before removal; EXPIRY_NEVER */
	uint32_t mark_idx;            /* fan-out: its entry in the route table */
	uint16_t next_id;
};

enum cstate { CS_NEW = 0, CS_CONNECTED };

/* What some clients hold for a while: a partial packet, a will, topic
 * aliases, a SUBSCRIBE or UNSUBSCRIBE in progress. Made when first needed
 * and freed at the end of an input call that leaves none of it: an idle
 * client has no struct client_x. */
struct client_x {
	uint8_t *rbuf;
	struct msg *will;
	char **aliases;      /* [ALIAS_MAX + 1], lazily */
	struct job *job;     /* SUBSCRIBE / UNSUBSCRIBE in progress */
	uint32_t rlen, rcap; /* rbuf: bytes in it, its size (packets are < 256 MB) */
	uint32_t will_delay;
};

struct eng_client {
	struct eng *eng;
	struct eng_client_info info; /* client_id: an id_new string, shared with the session */
	const struct eng_io *io;
	void *io_ctx;
	struct eng_client *prev, *next;     /* engine's list */
	struct eng_client *pnext;           /* pending list */
	uint8_t state;       /* enum cstate */
	uint8_t version;
	bool in_input : 1;
	bool close_req : 1;  /* return -1 from the current eng_client_input */
	bool io_closed : 1;  /* nothing more is sent */
	bool pending : 1;    /* on the pending list */
	bool ended : 1;      /* detached: conn_end done */
	bool notified : 1;   /* on_session_connected was called */
	bool normal_disc : 1;  /* DISCONNECT 0x00: no will */
	bool drain_wait : 1; /* io->watch_drain called, eng_client_drained not yet */
	uint8_t end;         /* why it ended: end_reasons[]; 0: not yet */
	uint16_t keepalive;
	uint16_t recv_max;   /* client's Receive Maximum */
	uint32_t max_packet; /* client's Maximum Packet Size, 0 = protocol max */
	struct sess *sess;
	int64_t last_rx;     /* ms; eng_client_new's time until a packet comes */
	struct etimer tm;    /* CONNECT timeout, then keep-alive */
	struct client_x *x;  /* NULL: nothing of it */
};

struct ret {
	struct etimer tm;             /* Message Expiry */
	struct msg *m;
	struct topic_node *node;      /* in eng->retained; its val is this */
	size_t size;                  /* topic and payload bytes */
};

struct route_ent {
	struct sess *s;
	uint8_t qos;
	bool retain;
	unsigned n_sub_ids;
	uint32_t sub_ids[MQTT_MAX_SUB_IDS];
};

struct eng {
	struct eng_cfg cfg;
	struct eng_user *users;
	int64_t now;                  /* ms, cfg.clock_ms */
	struct timer_heap timers;
	int64_t announced;            /* deadline last given to cfg.timer_set; -1: none */
	int depth;
	long budget;                  /* work left in the current eng_client_input call */
	bool shutting;                /* eng_free: no limits enforced on the way out */
	struct eng_client *clients;
	struct eng_client *pend_head, *pend_tail;
	struct htab sessions_by_id;
	struct topic_tree subs;       /* filters; node->val: struct sub list */
	struct htab groups;           /* struct shgroup, by node and name */
	struct topic_tree retained;   /* topic names; node->val: struct ret */
	size_t ret_bytes;
	uint64_t conn_seq, mark_gen, assign_seq;
	struct eng_stats st;
	uint8_t *obuf;
	size_t ocap;
};

/* ---- small helpers ------------------------------------------------------ */

static char *dupn(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static char *dups(const char *s)
{
	return s ? dupn(s, strlen(s)) : NULL;
}

/* A client id, one copy shared by a client and its session (a user name
 * too, unshared): n bytes of p and a NUL after a count of references (1
 * at first). */
struct idstr {
	unsigned refs;
	char s[];
};

#define IDSTR_OF(p) ((struct idstr *)(void *)((char *)(p) - offsetof(struct idstr, s)))

static char *id_new(const char *p, size_t n)
{
	struct idstr *d = malloc(sizeof(*d) + n + 1);

	if (!d)
		return NULL;
	d->refs = 1;
	if (n)
		memcpy(d->s, p, n);
	d->s[n] = '\0';
	return d->s;
}

static const char *id_ref(const char *id)
{
	IDSTR_OF(id)->refs++;
	return id;
}

static void id_unref(const char *id)
{
	if (id && --IDSTR_OF(id)->refs == 0)
		free(IDSTR_OF(id));
}

/* Constant time in the length of b. */
static bool secret_eq(const void *a, size_t alen, const char *b)
{
	const uint8_t *x = a;
	size_t blen = strlen(b);
	uint8_t d = alen != blen;

	for (size_t i = 0; i < blen; i++)
		d |= (uint8_t)((i < alen ? x[i] : 0) ^ (uint8_t)b[i]);
	return d == 0;
}

/* The outermost call reads the clock; it never goes back. */
static void enter(struct eng *eng)
{
	if (eng->depth++ == 0) {
		int64_t t = eng->cfg.clock_ms(eng->cfg.clock_ctx);

		if (t > eng->now)
			eng->now = t;
	}
}

static void leave(struct eng *eng);

static int64_t mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void etimer_init(struct etimer *t, enum tkind kind)
{
	timer_init(&t->t);
	t->kind = kind;
}

/* Arm t at due (ms); -1: disarm. */
static void etimer_set(struct eng *eng, struct etimer *t, int64_t due)
{
	if (due < 0)
		timer_cancel(&eng->timers, &t->t);
	else if (timer_set(&eng->timers, &t->t, due) < 0)
		log_error("engine: out of memory for a timer: a deadline is missed");
}

/* Tell the core when the earliest deadline is, when that changed. */
static void timers_announce(struct eng *eng)
{
	struct timer *first = timer_first(&eng->timers);
	int64_t due = first ? first->due : -1;

	if (due == eng->announced || !eng->cfg.timer_set)
		return;
	eng->announced = due;
	eng->cfg.timer_set(eng->cfg.timer_ctx, due < 0 ? -1 : due > eng->now ? due - eng->now : 0);
}

struct job;
static void job_free(struct job *j);

/* ---- messages ----------------------------------------------------------- */

static void msg_unref(struct msg *m)
{
	if (!m || --m->refs > 0)
		return;
	free(m->topic);
	free(m->payload);
	free(m->props_raw);
	free(m);
}

static struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

/* props: 5.0 properties of the PUBLISH (ctx MQTT_PUBLISH) or the will
 * (MQTT_PROPS_WILL); NULL for 3.1.1. */
static struct msg *msg_new(struct eng *eng, const char *topic, size_t tlen,
			   const void *payload, size_t len, uint8_t qos, bool retain,
			   const struct mqtt_props *props, int ctx)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->refs = 1;
	m->qos = qos;
	m->retain = retain;
	m->topic = dupn(topic, tlen);
	m->payload = malloc(len ? len : 1);
	if (!m->topic || !m->payload)
		goto fail;
	if (len)
		memcpy(m->payload, payload, len);
	m->len = len;
	m->size = tlen + len;
	if (props && props->raw && props->raw_len) {
		m->size += props->raw_len;
		m->props_raw = malloc(props->raw_len);
		if (!m->props_raw)
			goto fail;
		memcpy(m->props_raw, props->raw, props->raw_len);
		if (mqtt_props_decode(m->props_raw, props->raw_len, ctx, &m->props, NULL) != 0)
			goto fail;
		/* Per hop or will-only: never forwarded. */
		m->props.present &= ~(MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
				      MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_IDENTIFIER) |
				      MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY_INTERVAL));
		m->props.n_sub_ids = 0;
		if (MQTT_HAS(&m->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL))
			m->expire_at = eng->now + (int64_t)m->props.message_expiry * 1000;
	}
	return m;
fail:
	msg_unref(m);
	return NULL;
}

static bool msg_expired(const struct eng *eng, const struct msg *m)
{
	return m->expire_at && m->expire_at <= eng->now;
}

/* ---- sending ------------------------------------------------------------ */

static void client_kill(struct eng_client *c, const char *reason, uint8_t v5_rc);

/* The ENG_DISC_* reasons, by struct eng_client's end. */
static const char *const end_reasons[] = {
	NULL, ENG_DISC_NORMAL, ENG_DISC_CLOSED, ENG_DISC_TAKEOVER, ENG_DISC_KEEPALIVE,
	ENG_DISC_PROTOCOL, ENG_DISC_SEND_FAILED, ENG_DISC_SHUTDOWN,
};

static void end_set(struct eng_client *c, const char *reason)
{
	for (size_t i = 1; i < sizeof(end_reasons) / sizeof(*end_reasons); i++)
		if (strcmp(end_reasons[i], reason) == 0) {
			c->end = (uint8_t)i;
			return;
		}
}

/* Why c ended (ENG_DISC_CLOSED when nothing said otherwise). */
static const char *end_reason(const struct eng_client *c)
{
	return end_reasons[c->end ? c->end : 2];
}

static int send_raw(struct eng_client *c, const uint8_t *buf, size_t len)
{
	if (c->io_closed)
		return -1;
	if (c->io->send(c->io_ctx, buf, len) < 0) {
		client_kill(c, ENG_DISC_SEND_FAILED, 0);
		return -1;
	}
	c->eng->st.bytes_out += len;
	return 0;
}

/* Encode into the engine's scratch buffer; returns the length or -1. */
static long encode(struct eng *eng, const struct mqtt_pkt *p, uint8_t version)
{
	long n = mqtt_encode(p, version, eng->obuf, eng->ocap);

	if (n > 0 && (size_t)n > eng->ocap) {
		uint8_t *nb = realloc(eng->obuf, (size_t)n);

		if (!nb)
			return -1;
		eng->obuf = nb;
		eng->ocap = (size_t)n;
		n = mqtt_encode(p, version, eng->obuf, eng->ocap);
	}
	return n;
}

static int send_pkt(struct eng_client *c, const struct mqtt_pkt *p)
{
	long n;

	if (c->io_closed)
		return -1;
	n = encode(c->eng, p, c->version);
	if (n < 0) {
		client_kill(c, ENG_DISC_SEND_FAILED, 0);
		return -1;
	}
	return send_raw(c, c->eng->obuf, (size_t)n);
}

static int send_ack(struct eng_client *c, enum mqtt_type t, uint16_t id, uint8_t rc)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	p.ack.id = id;
	p.ack.rc = c->version >= MQTT_V5 ? rc : 0;
	return send_pkt(c, &p);
}

static int send_disconnect(struct eng_client *c, uint8_t rc)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_DISCONNECT;
	p.disconnect.rc = rc;
	return send_pkt(c, &p);
}

static bool client_usable(const struct eng_client *c)
{
	return c && !c->io_closed && c->state == CS_CONNECTED;
}

/* c's struct client_x for reading: an empty one when it has none. */
static const struct client_x *cx(const struct eng_client *c)
{
	static const struct client_x none;

	return c->x ? c->x : &none;
}

/* c's struct client_x for writing, made when missing; NULL out of memory. */
static struct client_x *cx_get(struct eng_client *c)
{
	if (!c->x)
		c->x = calloc(1, sizeof(*c->x));
	return c->x;
}

/* Free what c's struct client_x holds, and it. */
static void cx_free(struct eng_client *c)
{
	struct client_x *x = c->x;

	if (!x)
		return;
	if (x->aliases) {
		for (int i = 0; i <= ALIAS_MAX; i++)
			free(x->aliases[i]);
		free(x->aliases);
	}
	msg_unref(x->will);
	job_free(x->job);
	free(x->rbuf);
	free(x);
	c->x = NULL;
}

/* A limit bit: counted, and the core told (it logs). */
static void limit_report(struct eng *eng, const struct eng_limit_event *ev)
{
	eng->st.limit_hits[ev->which]++;
	if (ev->which <= ENG_LIMIT_OUTPUT)
		eng->st.msgs_dropped++;
	if (eng->cfg.on_limit)
		eng->cfg.on_limit(eng->cfg.rec_ctx, ev);
}

/* A memory limit kept m from a session (client_id) or the retained store. */
static void limit_hit(struct eng *eng, enum eng_limit which, const char *client_id,
		      const struct msg *m, uint8_t qos, size_t limit)
{
	struct eng_limit_event ev = {
		.which = which, .client_id = client_id, .topic = m->topic,
		.size = m->size, .qos = qos, .limit = limit,
	};

	limit_report(eng, &ev);
}

/* Has c as much waiting to be written as cfg.max_output allows? */
static bool client_backlogged(const struct eng *eng, const struct eng_client *c)
{
	return c->io->backlog && c->io->backlog(c->io_ctx) >= eng->cfg.max_output;
}

/* The same, and if so the core is asked to say when it is written. */
static bool client_held(const struct eng *eng, struct eng_client *c)
{
	if (!client_backlogged(eng, c))
		return false;
	if (!c->drain_wait && c->io->watch_drain) {
		c->drain_wait = true;
		c->io->watch_drain(c->io_ctx);
	}
	return true;
}

/* Send one PUBLISH. Returns 1 sent, 0 dropped (too large for the client,
 * expired), -1 the connection failed. */
static int send_publish(struct eng_client *c, struct msg *m, uint8_t qos, bool retain,
			uint16_t id, bool dup, const uint32_t *sub_ids, unsigned n_sub_ids)
{
	struct eng *eng = c->eng;
	struct mqtt_pkt p;
	bool expired = msg_expired(eng, m);
	long n;

	/* A retransmission (dup) finishes a delivery already started, even
	 * past the Message Expiry; anything else expired is dropped. */
	if (expired && !dup) {
		eng->st.msgs_dropped++;
		return 0;
	}
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.topic = mqtt_cstr(m->topic);
	p.publish.qos = qos;
	p.publish.retain = retain;
	p.publish.dup = dup && qos > 0;
	p.publish.id = qos ? id : 0;
	p.publish.payload = m->payload;
	p.publish.payload_len = m->len;
	if (c->version >= MQTT_V5) {
		p.publish.props = m->props;
		p.publish.props.present &= ~MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
		if (m->expire_at && !expired) {
			/* What is left, in whole seconds, rounded up: never
			 * shorter than the truth. */
			p.publish.props.message_expiry = (uint32_t)((m->expire_at - eng->now + 999) / 1000);
			MQTT_PROP_SET(&p.publish.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
		}
		p.publish.props.n_sub_ids = n_sub_ids;
		if (n_sub_ids)
			memcpy(p.publish.props.sub_ids, sub_ids, n_sub_ids * sizeof(*sub_ids));
	}
	n = encode(eng, &p, c->version);
	if (n < 0) {
		client_kill(c, ENG_DISC_SEND_FAILED, 0);
		return -1;
	}
	if (c->max_packet && (size_t)n > c->max_packet) {
		/* 5.0: a packet over the client's maximum is discarded as if sent. */
		eng->st.msgs_dropped++;
		return 0;
	}
	if (send_raw(c, eng->obuf, (size_t)n) < 0)
		return -1;
	eng->st.msgs_out++;
	return 1;
}

/* ---- session outgoing state --------------------------------------------- */

static void oq_push(struct oq *q, struct outmsg *o)
{
	o->next = NULL;
	if (q->tail)
		q->tail->next = o;
	else
		q->head = o;
	q->tail = o;
	q->n++;
}

static struct outmsg *oq_pop(struct oq *q)
{
	struct outmsg *o = q->head;

	if (!o)
		return NULL;
	q->head = o->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	o->next = NULL;
	return o;
}

/* Unlink and return the entry with packet id, or NULL. */
static struct outmsg *oq_take(struct oq *q, uint16_t id, enum out_state st)
{
	struct outmsg *prev = NULL;

	for (struct outmsg *o = q->head; o; prev = o, o = o->next) {
		if (o->id != id || o->state != st)
			continue;
		if (prev)
			prev->next = o->next;
		else
			q->head = o->next;
		if (q->tail == o)
			q->tail = prev;
		q->n--;
		o->next = NULL;
		return o;
	}
	return NULL;
}

static struct outmsg *oq_find(const struct oq *q, uint16_t id)
{
	for (struct outmsg *o = q->head; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

/* s's struct sess_x for reading: an empty one when it has none. */
static const struct sess_x *sx(const struct sess *s)
{
	static const struct sess_x none;

	return s->x ? s->x : &none;
}

/* s's struct sess_x for writing, made when missing; NULL out of memory. */
static struct sess_x *sx_get(struct sess *s)
{
	if (!s->x) {
		s->x = calloc(1, sizeof(*s->x));
		if (!s->x)
			return NULL;
		s->x->s = s;
		etimer_init(&s->x->tm, TK_SESSION);
	}
	return s->x;
}

/* Free s's struct sess_x once it holds nothing. */
static void sx_trim(struct sess *s)
{
	struct sess_x *x = s->x;

	if (!x || x->inflight.head || x->queue.head || x->n_qos2_in || x->will ||
	    timer_armed(&x->tm.t))
		return;
	free(x->qos2_in);
	free(x);
	s->x = NULL;
}

/* s holds n bytes more, or fewer, of outgoing messages. */
static void sess_bytes_add(struct eng *eng, struct sess *s, size_t n)
{
	s->x->qbytes += n;
	eng->st.queued_bytes += n;
	if (!s->conn)
		eng->st.offline_bytes += n;
}

static void sess_bytes_sub(struct eng *eng, struct sess *s, size_t n)
{
	s->x->qbytes -= n;
	eng->st.queued_bytes -= n;
	if (!s->conn)
		eng->st.offline_bytes -= n;
}

/* An outgoing message of s is done with (taken off its queue). */
static void out_free(struct eng *eng, struct sess *s, struct outmsg *o)
{
	if (!o)
		return;
	sess_bytes_sub(eng, s, o->m->size);
	msg_unref(o->m);
	free(o);
}

static void oq_clear(struct eng *eng, struct sess *s, struct oq *q)
{
	struct outmsg *o;

	while ((o = oq_pop(q)))
		out_free(eng, s, o);
}

/* The inflight message of s with packet id in state st, unlinked; NULL:
 * none. */
static struct outmsg *inflight_take(struct sess *s, uint16_t id, enum out_state st)
{
	return s->x ? oq_take(&s->x->inflight, id, st) : NULL;
}

static uint16_t sess_new_id(struct sess *s)
{
	for (;;) {
		uint16_t id = ++s->next_id;

		if (id == 0)
			id = s->next_id = 1;
		if (!oq_find(&s->x->inflight, id))
			return id;
	}
}

static size_t inflight_limit(const struct eng *eng, const struct eng_client *c)
{
	size_t lim = eng->cfg.max_inflight;

	if (c && c->recv_max && c->recv_max < lim)
		lim = c->recv_max;
	return lim;
}

/* Send queued messages while the inflight window allows. */
static void sess_pump(struct eng *eng, struct sess *s)
{
	struct eng_client *c = s->conn;

	while (client_usable(c) && sx(s)->queue.head &&
	       s->x->inflight.n < inflight_limit(eng, c) && !client_held(eng, c)) {
		struct outmsg *o = oq_pop(&s->x->queue);
		int r;

		o->id = sess_new_id(s);
		r = send_publish(c, o->m, o->qos, o->retain, o->id, false, o->sub_ids, o->n_sub_ids);
		if (r <= 0) {
			if (r < 0) {
				/* Keep it for the next connection. */
				o->id = 0;
				o->next = s->x->queue.head;
				s->x->queue.head = o;
				if (!s->x->queue.tail)
					s->x->queue.tail = o;
				s->x->queue.n++;
				return;
			}
			out_free(eng, s, o);
			continue;
		}
		o->state = o->qos == 1 ? OUT_WAIT_PUBACK : OUT_WAIT_PUBREC;
		oq_push(&s->x->inflight, o);
	}
	sx_trim(s);
}

/* Which memory limit keeps s from taking m (QoS>0), or ENG_NLIMITS:
 * none. A session with nothing pending takes a message of any size. */
static enum eng_limit sess_full(struct eng *eng, struct sess *s, const struct msg *m)
{
	struct eng_client *c = s->conn;
	const struct sess_x *x = sx(s);
	bool now = client_usable(c) && !x->queue.head && x->inflight.n < inflight_limit(eng, c) &&
		   !client_backlogged(eng, c);

	if (!now && x->queue.n >= eng->cfg.max_queued)
		return ENG_LIMIT_QUEUE_MESSAGES;
	if (x->qbytes && x->qbytes + m->size > eng->cfg.max_queued_bytes)
		return ENG_LIMIT_QUEUE_BYTES;
	if (!s->conn && eng->st.offline_bytes + m->size > eng->cfg.max_offline_bytes)
		return ENG_LIMIT_OFFLINE_BYTES;
	return ENG_NLIMITS;
}

static size_t limit_value(const struct eng *eng, enum eng_limit which)
{
	switch (which) {
	case ENG_LIMIT_QUEUE_MESSAGES: return eng->cfg.max_queued;
	case ENG_LIMIT_QUEUE_BYTES: return eng->cfg.max_queued_bytes;
	case ENG_LIMIT_OFFLINE_BYTES: return eng->cfg.max_offline_bytes;
	case ENG_LIMIT_OUTPUT: return eng->cfg.max_output;
	case ENG_LIMIT_RETAINED_MESSAGES: return eng->cfg.retained_max;
	case ENG_LIMIT_RETAINED_BYTES: return eng->cfg.retained_max_bytes;
	case ENG_LIMIT_SESSIONS: return eng->cfg.max_sessions;
	case ENG_NLIMITS: break;
	}
	return 0;
}

/* Route one message to one session at the given QoS. Returns false when
 * a memory limit dropped it. */
static bool sess_deliver(struct eng *eng, struct sess *s, struct msg *m, uint8_t qos,
			 bool retain, const uint32_t *sub_ids, unsigned n_sub_ids)
{
	struct eng_client *c = s->conn;
	enum eng_limit full;
	struct outmsg *o;

	if (qos == 0) {
		if (!client_usable(c))
			return true;
		if (client_backlogged(eng, c)) {
			limit_hit(eng, ENG_LIMIT_OUTPUT, s->id, m, 0, eng->cfg.max_output);
			return false;
		}
		send_publish(c, m, 0, retain, 0, false, sub_ids, n_sub_ids);
		return true;
	}
	full = sess_full(eng, s, m);
	if (full != ENG_NLIMITS) {
		limit_hit(eng, full, s->id, m, qos, limit_value(eng, full));
		return false;
	}
	o = sx_get(s) ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		sx_trim(s);
		eng->st.msgs_dropped++;
		return false;
	}
	o->m = msg_ref(m);
	o->qos = qos;
	o->retain = retain;
	o->n_sub_ids = n_sub_ids > MQTT_MAX_SUB_IDS ? MQTT_MAX_SUB_IDS : n_sub_ids;
	if (o->n_sub_ids)
		memcpy(o->sub_ids, sub_ids, o->n_sub_ids * sizeof(*sub_ids));
	oq_push(&s->x->queue, o);
	sess_bytes_add(eng, s, m->size);
	sess_pump(eng, s);
	return true;
}

/* s has just lost its connection: its messages count in the offline
 * total now, and beyond cfg.max_offline_bytes its oldest queued ones go
 * (inflight ones are kept for the resend the protocol requires). */
static void sess_went_offline(struct eng *eng, struct sess *s)
{
	struct outmsg *o;

	eng->st.offline_bytes += sx(s)->qbytes;
	while (!eng->shutting && eng->st.offline_bytes > eng->cfg.max_offline_bytes &&
	       s->x && (o = oq_pop(&s->x->queue))) {
		limit_hit(eng, ENG_LIMIT_OFFLINE_BYTES, s->id, o->m, o->qos,
			  eng->cfg.max_offline_bytes);
		out_free(eng, s, o);
	}
}

/* Resend what was inflight when the session reconnects. */
static void sess_resend(struct eng *eng, struct sess *s)
{
	struct eng_client *c = s->conn;
	struct outmsg *o = sx(s)->inflight.head;

	while (o && client_usable(c)) {
		struct outmsg *nx = o->next;

		if (o->state == OUT_WAIT_PUBCOMP) {
			send_ack(c, MQTT_PUBREL, o->id, 0);
		} else if (send_publish(c, o->m, o->qos, o->retain, o->id, true, o->sub_ids,
					o->n_sub_ids) == 0) {
			/* Too large for the new connection's maximum: given up. */
			out_free(eng, s, oq_take(&s->x->inflight, o->id, o->state));
		}
		o = nx;
	}
	sess_pump(eng, s);
}

/* ---- sessions ----------------------------------------------------------- */

#define SESS_OF(l) ((struct sess *)(void *)((char *)(l) - offsetof(struct sess, hlink)))
#define SUB_OF(l)  ((struct sub *)(void *)((char *)(l) - offsetof(struct sub, hlink)))

static bool same_id(const struct htab_link *l, const void *id)
{
	return strcmp(SESS_OF(l)->id, id) == 0;
}

static struct sess *sess_find(struct eng *eng, const char *id)
{
	struct htab_link *l = htab_find(&eng->sessions_by_id, htab_hash(id, strlen(id)), same_id, id);

	return l ? SESS_OF(l) : NULL;
}

/* A session for id (an id_new string: the session takes a reference). */
static struct sess *sess_new(struct eng *eng, const char *id)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (htab_add(&eng->sessions_by_id, &s->hlink, htab_hash(id, strlen(id))) < 0) {
		free(s);
		return NULL;
	}
	s->id = id_ref(id);
	eng->st.sessions++;
	return s;
}

/* ---- subscriptions ------------------------------------------------------ */

static size_t key_hash(const void *key)
{
	uintptr_t v = (uintptr_t)key;

	return htab_hash(&v, sizeof(v));
}

static bool same_key(const struct htab_link *l, const void *key)
{
	return SUB_OF(l)->key == key;
}

/* ---- shared subscriptions -------------------------------------------------- */

#define GROUP_OF(l) ((struct shgroup *)(void *)((char *)(l) - offsetof(struct shgroup, hlink)))
#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

/* A filter as the engine files it: the share name of a shared
 * subscription ("$share/NAME/FILTER"; NULL otherwise) and the filter
 * proper. */
struct fspec {
	const char *share, *f;
	size_t share_len, len;
};

/* Split a valid filter. Returns 0, or -1 for a "$share/" filter whose
 * share name is empty or holds a wildcard, or that has no filter after
 * it [MQTT-4.8.2-1, -2]. */
static int filter_split(const char *f, size_t len, struct fspec *fs)
{
	const char *slash;

	memset(fs, 0, sizeof(*fs));
	fs->f = f;
	fs->len = len;
	if (len < SHARE_PREFIX_LEN || memcmp(f, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return 0;
	fs->share = f + SHARE_PREFIX_LEN;
	slash = memchr(fs->share, '/', len - SHARE_PREFIX_LEN);
	if (!slash)
		return -1;
	fs->share_len = (size_t)(slash - fs->share);
	fs->f = slash + 1;
	fs->len = len - (size_t)(fs->f - f);
	if (!fs->share_len || !fs->len || memchr(fs->share, '+', fs->share_len) ||
	    memchr(fs->share, '#', fs->share_len))
		return -1;
	return 0;
}

static size_t group_hash(const struct topic_node *n, const char *name, size_t len)
{
	return key_hash(n) ^ htab_hash(name, len);
}

struct group_key {
	const struct topic_node *node;
	const char *name;
	size_t len;
};

static bool same_group(const struct htab_link *l, const void *key)
{
	const struct shgroup *g = GROUP_OF(l);
	const struct group_key *k = key;

	return g->node == k->node && g->len == k->len && memcmp(g->name, k->name, k->len) == 0;
}

static struct shgroup *group_find(struct eng *eng, const struct topic_node *n, const char *name,
				  size_t len)
{
	struct group_key k = { n, name, len };
	struct htab_link *l = htab_find(&eng->groups, group_hash(n, name, len), same_group, &k);

	return l ? GROUP_OF(l) : NULL;
}

static struct shgroup *group_get(struct eng *eng, struct topic_node *n, const char *name, size_t len)
{
	struct shgroup *g = group_find(eng, n, name, len);

	if (g)
		return g;
	g = calloc(1, sizeof(*g) + len + 1);
	if (!g)
		return NULL;
	g->node = n;
	g->len = len;
	memcpy(g->name, name, len);
	if (htab_add(&eng->groups, &g->hlink, group_hash(n, name, len)) < 0) {
		free(g);
		return NULL;
	}
	return g;
}

/* u leaves its group; the group goes with its last member. */
static void group_leave(struct eng *eng, struct sub *u)
{
	struct shgroup *g = u->grp;

	if (g->turn == u)
		g->turn = u->gnext;
	if (u->gprev)
		u->gprev->gnext = u->gnext;
	else
		g->members = u->gnext;
	if (u->gnext)
		u->gnext->gprev = u->gprev;
	u->grp = NULL;
	if (!g->members) {
		htab_del(&eng->groups, &g->hlink);
		free(g);
	}
}

/* The member that gets the group's next message: the next one in turn
 * whose session is connected, else (all offline) the next one in turn,
 * whose session queues it. */
static const struct sub *group_pick(struct shgroup *g)
{
	const struct sub *start = g->turn ? g->turn : g->members, *u = start;

	do {
		if (u->s->conn)
			break;
		u = u->gnext ? u->gnext : g->members;
	} while (u != start);
	if (!u->s->conn)
		u = start;
	g->turn = u->gnext;
	return u;
}

/* The session's subscription to filter, or NULL. */
static struct sub *sub_find(struct eng *eng, struct sess *s, const struct fspec *fs)
{
	struct topic_node *n = topic_find(&eng->subs, fs->f, fs->len);
	const void *key = n;
	struct htab_link *l;

	if (n && fs->share)
		key = group_find(eng, n, fs->share, fs->share_len);
	l = key && s->subs ? htab_find(s->subs, key_hash(key), same_key, key) : NULL;
	return l ? SUB_OF(l) : NULL;
}

/* A new subscription of s to filter (options to be set); NULL when out of
 * memory. */
static struct sub *sub_add(struct eng *eng, struct sess *s, const struct fspec *fs)
{
	struct sub *u = calloc(1, sizeof(*u));
	struct topic_node *n;
	struct shgroup *g;
	const void *key;

	if (u && !s->subs)
		s->subs = calloc(1, sizeof(*s->subs));
	n = u && s->subs ? topic_add(&eng->subs, fs->f, fs->len) : NULL;
	g = n && fs->share ? group_get(eng, n, fs->share, fs->share_len) : NULL;
	key = fs->share ? (const void *)g : (const void *)n;
	if (!key || htab_add(s->subs, &u->hlink, key_hash(key)) < 0) {
		if (g && !g->members) {
			htab_del(&eng->groups, &g->hlink);
			free(g);
		}
		if (n)
			topic_prune(&eng->subs, n);
		free(u);
		return NULL;
	}
	u->s = s;
	u->node = n;
	u->key = key;
	u->grp = g;
	if (g) {
		u->gnext = g->members;
		if (u->gnext)
			u->gnext->gprev = u;
		g->members = u;
	}
	u->nnext = n->val;
	if (u->nnext)
		u->nnext->nprev = u;
	n->val = u;
	eng->st.subscriptions++;
	return u;
}

/* Out of the tree and freed (the session's table is the caller's). */
static void sub_free(struct eng *eng, struct sub *u)
{
	struct topic_node *n = u->node;

	if (u->grp)
		group_leave(eng, u);
	if (u->nprev)
		u->nprev->nnext = u->nnext;
	else
		n->val = u->nnext;
	if (u->nnext)
		u->nnext->nprev = u->nprev;
	topic_prune(&eng->subs, n);
	eng->st.subscriptions--;
	free(u);
}

static void sub_del(struct eng *eng, struct sub *u)
{
	htab_del(u->s->subs, &u->hlink);
	sub_free(eng, u);
}

static void sess_subs_clear(struct eng *eng, struct sess *s)
{
	struct htab_link *l = s->subs ? htab_take_all(s->subs) : NULL;

	while (l) {
		struct htab_link *nx = l->next;

		sub_free(eng, SUB_OF(l));
		l = nx;
	}
	free(s->subs);   /* emptied by htab_take_all */
	s->subs = NULL;
}

static void route(struct eng *eng, struct msg *m, struct sess *publisher);

/* Publish a will (and drop the reference): its Message Expiry runs from
 * now, not from the CONNECT that carried it. */
static void will_publish(struct eng *eng, struct msg *w)
{
	if (MQTT_HAS(&w->props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL))
		w->expire_at = eng->now + (int64_t)w->props.message_expiry * 1000;
	route(eng, w, NULL);
	msg_unref(w);
}

/* ---- session deadlines: will delay, expiry --------------------------------- */

static void sess_remove(struct eng *eng, struct sess *s);

/* Arm the offline session's deadline (x: its struct sess_x, made for
 * it), or disarm it. */
static void sess_timer_arm(struct eng *eng, struct sess *s)
{
	struct sess_x *x = s->x;
	int64_t due = -1;

	if (!x)
		return;
	if (!s->conn && x->will)
		due = x->will_at;
	if (!s->conn && s->expiry != EXPIRY_NEVER && (due < 0 || x->expire_at < due))
		due = x->expire_at;
	etimer_set(eng, &x->tm, due);
	sx_trim(s);
}

static void sess_timer_fire(struct eng *eng, struct sess *s)
{
	struct sess_x *x = s->x;

	if (s->conn)
		return;         /* back meanwhile */
	if (x->will && x->will_at <= eng->now) {
		struct msg *w = x->will;

		x->will = NULL;
		will_publish(eng, w);
	}
	if (s->expiry != EXPIRY_NEVER && x->expire_at <= eng->now) {
		sess_remove(eng, s);
		return;
	}
	sess_timer_arm(eng, s);
}

/* Free what s holds (out of eng->sessions_by_id already); returns its
 * delayed will, for the caller to publish or drop. */
static struct msg *sess_free(struct eng *eng, struct sess *s)
{
	struct sess_x *x = s->x;
	struct msg *will = NULL;

	eng->st.sessions--;
	sess_subs_clear(eng, s);
	if (x) {
		timer_cancel(&eng->timers, &x->tm.t);
		oq_clear(eng, s, &x->inflight);
		oq_clear(eng, s, &x->queue);
		will = x->will;
		free(x->qos2_in);
		free(x);
	}
	if (eng->cfg.on_session_removed)
		eng->cfg.on_session_removed(eng->cfg.rec_ctx, s->id);
	log_debug("session %s removed", s->id);
	id_unref(s->id);
	free(s);
	return will;
}

/* Discard a session (it must be offline). Publishes its delayed will. */
static void sess_remove(struct eng *eng, struct sess *s)
{
	struct msg *will;

	htab_del(&eng->sessions_by_id, &s->hlink);
	will = sess_free(eng, s);
	if (will)
		will_publish(eng, will);
}

static bool qos2_has(const struct sess *s, uint16_t id)
{
	const struct sess_x *x = sx(s);

	for (size_t i = 0; i < x->n_qos2_in; i++)
		if (x->qos2_in[i] == id)
			return true;
	return false;
}

static int qos2_add(struct sess *s, uint16_t id)
{
	struct sess_x *x = sx_get(s);

	if (x && x->n_qos2_in == x->cap_qos2_in) {
		size_t ncap = x->cap_qos2_in ? x->cap_qos2_in * 2 : 8;
		uint16_t *n = realloc(x->qos2_in, ncap * sizeof(*n));

		if (!n) {
			sx_trim(s);
			return -1;
		}
		x->qos2_in = n;
		x->cap_qos2_in = ncap;
	}
	if (!x)
		return -1;
	x->qos2_in[x->n_qos2_in++] = id;
	return 0;
}

static bool qos2_del(struct sess *s, uint16_t id)
{
	struct sess_x *x = s->x;

	for (size_t i = 0; x && i < x->n_qos2_in; i++) {
		if (x->qos2_in[i] == id) {
			x->qos2_in[i] = x->qos2_in[--x->n_qos2_in];
			sx_trim(s);
			return true;
		}
	}
	return false;
}

/* ---- retained store ----------------------------------------------------- */

static void ret_delete(struct eng *eng, struct ret *r)
{
	struct topic_node *n = r->node;

	timer_cancel(&eng->timers, &r->tm.t);
	eng->ret_bytes -= r->size;
	eng->st.retained--;
	n->val = NULL;
	topic_prune(&eng->retained, n);
	msg_unref(r->m);
	free(r);
}

/* m replaces the retained message of its topic (an empty payload only
 * deletes it); not kept beyond the count and byte limits (returns false
 * then). */
static bool ret_store(struct eng *eng, struct msg *m)
{
	size_t tlen = strlen(m->topic);
	struct topic_node *n = topic_find(&eng->retained, m->topic, tlen);
	struct ret *r;

	if (n && n->val)
		ret_delete(eng, n->val);
	if (m->len == 0)
		return true;
	if (eng->st.retained >= eng->cfg.retained_max) {
		limit_hit(eng, ENG_LIMIT_RETAINED_MESSAGES, NULL, m, m->qos, eng->cfg.retained_max);
		return false;
	}
	if (eng->ret_bytes + tlen + m->len > eng->cfg.retained_max_bytes) {
		limit_hit(eng, ENG_LIMIT_RETAINED_BYTES, NULL, m, m->qos, eng->cfg.retained_max_bytes);
		return false;
	}
	r = calloc(1, sizeof(*r));
	n = r ? topic_add(&eng->retained, m->topic, tlen) : NULL;
	if (!n) {
		free(r);
		return false;
	}
	r->m = msg_ref(m);
	r->node = n;
	r->size = tlen + m->len;
	n->val = r;
	etimer_init(&r->tm, TK_RETAINED);
	if (m->expire_at)
		etimer_set(eng, &r->tm, m->expire_at);
	eng->ret_bytes += r->size;
	eng->st.retained++;
	return true;
}

static void ret_free_cb(void *val, void *ctx)
{
	struct ret *r = val;

	(void)ctx;
	msg_unref(r->m);
	free(r);
}

struct ret_found {
	struct eng *eng;
	struct msg **m;
	size_t n, cap;
};

static void ret_collect(struct topic_node *n, void *ctx)
{
	struct ret_found *f = ctx;
	struct ret *r = n->val;

	if (msg_expired(f->eng, r->m))
		return;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct msg **nm = realloc(f->m, ncap * sizeof(*nm));

		if (!nm)
			return;
		f->m = nm;
		f->cap = ncap;
	}
	f->m[f->n++] = msg_ref(r->m);
}

/* ---- routing ------------------------------------------------------------ */

struct route {
	struct msg *m;
	struct sess *publisher;
	uint64_t gen;
	struct route_ent *ents;
	size_t n, cap;
};

/* One matching subscription: its session gets the message once, at the
 * highest QoS granted, with every subscription identifier. */
static void route_sub(struct route *rt, const struct sub *u)
{
	struct route_ent *e;
	uint8_t q = rt->m->qos < u->qos ? rt->m->qos : u->qos;

	if (u->nl && u->s == rt->publisher)
		return;
	if (u->s->mark != rt->gen) {
		if (rt->n == rt->cap) {
			size_t ncap = rt->cap ? rt->cap * 2 : 16;
			struct route_ent *ne = realloc(rt->ents, ncap * sizeof(*ne));

			if (!ne)
				return;
			rt->ents = ne;
			rt->cap = ncap;
		}
		u->s->mark = rt->gen;
		u->s->mark_idx = rt->n;
		e = &rt->ents[rt->n++];
		memset(e, 0, sizeof(*e));
		e->s = u->s;
		e->qos = q;
	} else {
		e = &rt->ents[u->s->mark_idx];
		if (q > e->qos)
			e->qos = q;
	}
	/* 5.0 retain-as-published; otherwise the flag is cleared on delivery
	 * to established subscriptions. */
	if (u->rap && rt->m->retain)
		e->retain = true;
	if (u->sub_id && e->n_sub_ids < MQTT_MAX_SUB_IDS)
		e->sub_ids[e->n_sub_ids++] = u->sub_id;
}

/* A node's subscriptions: each that is not shared, and one member of each
 * group. */
static void route_node(struct topic_node *n, void *ctx)
{
	struct route *rt = ctx;

	for (const struct sub *u = n->val; u; u = u->nnext) {
		if (!u->grp) {
			route_sub(rt, u);
		} else if (u->grp->mark != rt->gen) {
			u->grp->mark = rt->gen;
			route_sub(rt, group_pick(u->grp));
		}
	}
}

/* What became of a message routed. */
struct routed {
	size_t reached;               /* sessions it matched */
	size_t dropped;               /* of which a memory limit kept from taking it */
	bool not_retained;            /* a retained message the store could not keep */
};

/* Deliver m to every matching subscription; store or delete it as
 * retained. */
static void route_count(struct eng *eng, struct msg *m, struct sess *publisher,
			struct routed *out)
{
	struct route rt = { .m = m, .publisher = publisher, .gen = ++eng->mark_gen };

	memset(out, 0, sizeof(*out));
	if (m->retain)
		out->not_retained = !ret_store(eng, m);
	topic_match(&eng->subs, m->topic, strlen(m->topic), route_node, &rt);
	/* Sessions are not freed during delivery (closes are deferred). */
	for (size_t i = 0; i < rt.n; i++)
		if (!sess_deliver(eng, rt.ents[i].s, m, rt.ents[i].qos, rt.ents[i].retain,
				  rt.ents[i].sub_ids, rt.ents[i].n_sub_ids))
			out->dropped++;
	free(rt.ents);
	out->reached = rt.n;
}

static void route(struct eng *eng, struct msg *m, struct sess *publisher)
{
	struct routed r;

	route_count(eng, m, publisher, &r);
}

/* ---- connection end ----------------------------------------------------- */

static void pending_add(struct eng *eng, struct eng_client *c)
{
	if (c->pending || c->ended)
		return;
	c->pending = true;
	c->pnext = NULL;
	if (eng->pend_tail)
		eng->pend_tail->pnext = c;
	else
		eng->pend_head = c;
	eng->pend_tail = c;
}

static void pending_del(struct eng *eng, struct eng_client *c)
{
	struct eng_client *prev = NULL;

	if (!c->pending)
		return;
	for (struct eng_client *p = eng->pend_head; p; prev = p, p = p->pnext) {
		if (p != c)
			continue;
		if (prev)
			prev->pnext = c->pnext;
		else
			eng->pend_head = c->pnext;
		if (eng->pend_tail == c)
			eng->pend_tail = prev;
		break;
	}
	c->pending = false;
}

/* Detach c from its session: recorder callback, will, session end. */
static void conn_end(struct eng_client *c)
{
	struct eng *eng = c->eng;
	struct sess *s = c->sess;
	struct client_x *x = c->x;
	struct msg *will = x ? x->will : NULL;
	uint32_t will_delay = x ? x->will_delay : 0;
	bool remove;

	if (c->ended)
		return;
	c->ended = true;
	pending_del(eng, c);
	/* A job holds the session's subscriptions: it goes before they can. */
	if (x) {
		job_free(x->job);
		x->job = NULL;
		x->will = NULL;
	}
	if (c->state != CS_CONNECTED || !s) {
		msg_unref(will);
		return;
	}
	c->sess = NULL;
	s->conn = NULL;
	sess_went_offline(eng, s);
	eng->st.connected--;
	if (c->notified && eng->cfg.on_session_disconnected)
		eng->cfg.on_session_disconnected(eng->cfg.rec_ctx, &c->info,
						 end_reason(c));
	log_debug("client %s disconnected (%s)", c->info.client_id,
		  end_reason(c));
	if (c->normal_disc) {
		msg_unref(will);
		will = NULL;
	}
	/* Without memory for its deadline the session ends now. */
	remove = s->expiry == 0 || !sx_get(s);
	if (will && will_delay && !remove) {
		/* 5.0 Will Delay Interval: published later unless the client
		 * comes back first (or at session end, whichever is first). */
		msg_unref(s->x->will);
		s->x->will = will;
		s->x->will_at = eng->now + (int64_t)will_delay * 1000;
		will = NULL;
	}
	if (remove) {
		sess_remove(eng, s);
	} else {
		s->x->expire_at = s->expiry == EXPIRY_NEVER ? 0 : eng->now + (int64_t)s->expiry * 1000;
		sess_timer_arm(eng, s);
	}
	if (will)
		will_publish(eng, will);
}

static void run_pending(struct eng *eng)
{
	struct eng_client *c;

	while ((c = eng->pend_head)) {
		eng->pend_head = c->pnext;
		if (!eng->pend_head)
			eng->pend_tail = NULL;
		c->pending = false;
		conn_end(c);
	}
}

static void leave(struct eng *eng)
{
	if (eng->depth == 1) {
		run_pending(eng);
		timers_announce(eng);
	}
	eng->depth--;
}

/* Stop talking to c and have it closed; the rest happens in run_pending.
 * 5.0: a DISCONNECT with v5_rc goes first when v5_rc >= 0x80 and the
 * client is past CONNECT. */
static void client_kill(struct eng_client *c, const char *reason, uint8_t v5_rc)
{
	if (c->io_closed)
		return;
	if (v5_rc >= 0x80 && c->version >= MQTT_V5 && c->state == CS_CONNECTED)
		send_disconnect(c, v5_rc);
	if (c->io_closed)
		return;         /* that send failed and killed it already */
	c->io_closed = true;
	end_set(c, reason);
	if (c->in_input)
		c->close_req = true;
	else
		c->io->close(c->io_ctx);
	pending_add(c->eng, c);
}

static void protocol_kill(struct eng_client *c, uint8_t rc, const char *why)
{
	c->eng->st.protocol_errors++;
	log_info("client %s (%s): protocol error: %s", c->info.client_id ? c->info.client_id : "-",
		 c->info.listener ? c->info.listener : "-", why ? why : mqtt_reason_name(rc));
	client_kill(c, ENG_DISC_PROTOCOL, rc);
}

/* ---- CONNECT ------------------------------------------------------------ */

static bool auth_check(struct eng *eng, const struct mqtt_connect *cn, const char *username,
		       const char **why)
{
	if (eng->cfg.auth)
		return eng->cfg.auth(eng->cfg.auth_ctx, username, cn->password.p,
				     cn->password.len, cn->has_password, why);
	if (!username) {
		*why = ENG_AUTH_ANONYMOUS_NOT_ALLOWED;
		return eng->cfg.allow_anonymous;
	}
	if (eng->cfg.n_users == 0) {
		/* No user database: names are informational when anonymous
		 * clients are welcome anyway. */
		*why = ENG_AUTH_UNKNOWN_USER;
		return eng->cfg.allow_anonymous;
	}
	for (size_t i = 0; i < eng->cfg.n_users; i++) {
		const struct eng_user *u = &eng->users[i];

		if (strcmp(u->user, username) != 0)
			continue;
		if (!u->pass)
			return true;
		*why = ENG_AUTH_BAD_PASSWORD;
		return cn->has_password && secret_eq(cn->password.p, cn->password.len, u->pass);
	}
	*why = ENG_AUTH_UNKNOWN_USER;
	return false;
}

/* The ACL's answer (cfg.authorize); counted when it refuses. */
static bool authorized(struct eng_client *c, enum eng_op op, const char *topic, size_t len)
{
	struct eng *eng = c->eng;

	if (!eng->cfg.authorize || eng->cfg.authorize(eng->cfg.authorize_ctx, &c->info, op, topic, len))
		return true;
	eng->st.acl_denied++;
	return false;
}

static int send_connack(struct eng_client *c, bool present, uint8_t rc,
			const struct mqtt_props *props)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	p.connack.session_present = present;
	p.connack.rc = rc;
	if (props)
		p.connack.props = *props;
	return send_pkt(c, &p);
}

/* Refuse the CONNECT with a CONNACK and close. */
static void connect_refuse(struct eng_client *c, uint8_t rc_v3, uint8_t rc_v5,
			   const char *reason)
{
	c->eng->st.connects_refused++;
	send_connack(c, false, c->version >= MQTT_V5 ? rc_v5 : rc_v3, NULL);
	client_kill(c, reason, 0);
}

static void assign_id(struct eng *eng, char *buf, size_t cap)
{
	do {
		uint64_t x = ++eng->assign_seq * 0x9E3779B97F4A7C15ull ^ (uint64_t)eng->now;

		snprintf(buf, cap, "ppmq-%016llx", (unsigned long long)x);
	} while (sess_find(eng, buf));
}

static void handle_connect_error(struct eng_client *c, const struct mqtt_connect *cn,
				 int rc, const char *why)
{
	uint8_t v = cn->version;

	c->eng->st.protocol_errors++;
	log_info("%s client: bad CONNECT: %s", c->info.listener ? c->info.listener : "-",
		 why ? why : mqtt_reason_name((uint8_t)rc));
	if (rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION && v) {
		/* 3.1.1 form for older levels, 5.0 form for newer ones. */
		c->version = v > MQTT_V5 ? MQTT_V5 : MQTT_V311;
		connect_refuse(c, MQTT_CONNACK_REFUSED_PROTOCOL_VERSION,
			       MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION, ENG_DISC_PROTOCOL);
		return;
	}
	if (v == MQTT_V5) {
		/* 5.0 lets the server say why in the CONNACK. */
		c->version = MQTT_V5;
		connect_refuse(c, 0, (uint8_t)rc, ENG_DISC_PROTOCOL);
		return;
	}
	client_kill(c, ENG_DISC_PROTOCOL, 0);
}

/* CONNECT, first: who the client says it is (client id; user name, or
 * the certificate identity the proxy vouched for) and its keep-alive.
 * Returns 0, or -1 when the CONNECT was refused. */
static int connect_identity(struct eng_client *c, const struct mqtt_connect *cn,
			    struct mqtt_props *ack)
{
	struct eng *eng = c->eng;
	bool v5 = cn->version >= MQTT_V5;

	c->version = cn->version;
	c->info.mqtt_version = cn->version;
	c->info.clean = cn->clean;
	c->info.client_id = id_new(cn->client_id.p, cn->client_id.len);
	if (c->info.cert_identity)
		/* The proxy verified the client's certificate: its CN is who
		 * the client is, whatever user name the CONNECT carries. */
		c->info.username = id_new(c->info.cert_identity, strlen(c->info.cert_identity));
	else if (cn->has_username)
		c->info.username = id_new(cn->username.p, cn->username.len);
	if (!c->info.client_id || ((c->info.cert_identity || cn->has_username) && !c->info.username)) {
		connect_refuse(c, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
			       MQTT_RC_SERVER_UNAVAILABLE, ENG_DISC_CLOSED);
		return -1;
	}

	/* Keep-alive cap. */
	c->keepalive = cn->keepalive;
	if (eng->cfg.keepalive_max && (cn->keepalive == 0 || cn->keepalive > eng->cfg.keepalive_max)) {
		/* 5.0 tells the client (Server Keep Alive); 3.1.1 has no way to,
		 * so the cap is only enforced: silence longer than 1.5 times it
		 * closes the connection. */
		c->keepalive = eng->cfg.keepalive_max;
		if (v5) {
			ack->server_keepalive = c->keepalive;
			MQTT_PROP_SET(ack, MQTT_PROP_SERVER_KEEP_ALIVE);
		}
	}
	c->info.keepalive = c->keepalive;

	/* Empty client id. */
	if (cn->client_id.len == 0 && !v5 && !cn->clean) {
		connect_refuse(c, MQTT_CONNACK_REFUSED_IDENTIFIER, 0, ENG_DISC_PROTOCOL);
		return -1;
	}
	return 0;
}

/* The ACL refused the CONNECT (the connection, or its will): Not
 * authorized, recorded. */
static void acl_refuse(struct eng_client *c, const struct mqtt_connect *cn)
{
	struct eng *eng = c->eng;

	eng->st.auth_failures++;
	if (eng->cfg.on_auth_failed)
		eng->cfg.on_auth_failed(eng->cfg.rec_ctx, &c->info, c->info.client_id, c->info.username,
					ENG_AUTH_ACL, cn->has_password);
	connect_refuse(c, MQTT_CONNACK_REFUSED_NOT_AUTHORIZED, MQTT_RC_NOT_AUTHORIZED, ENG_DISC_CLOSED);
}

/* Authentication: no 5.0 enhanced authentication; credentials checked
 * unless the proxy vouched for a certificate. Returns 0, or -1 when the
 * CONNECT was refused (and recorded). */
static int connect_authenticate(struct eng_client *c, const struct mqtt_connect *cn)
{
	struct eng *eng = c->eng;
	const char *why = NULL;
	bool v5 = cn->version >= MQTT_V5;

	if (v5 && MQTT_HAS(&cn->props, MQTT_PROP_AUTHENTICATION_METHOD)) {
		eng->st.auth_failures++;
		if (eng->cfg.on_auth_failed)
			eng->cfg.on_auth_failed(eng->cfg.rec_ctx, &c->info, c->info.client_id, c->info.username,
						ENG_AUTH_BAD_METHOD, cn->has_password);
		connect_refuse(c, 0, MQTT_RC_BAD_AUTHENTICATION_METHOD, ENG_DISC_CLOSED);
		return -1;
	}
	if (!c->info.cert_identity && !auth_check(eng, cn, c->info.username, &why)) {
		bool anon = why && strcmp(why, ENG_AUTH_ANONYMOUS_NOT_ALLOWED) == 0;

		eng->st.auth_failures++;
		log_info("%s client '%s': authentication failed: %s",
			 c->info.listener ? c->info.listener : "-", c->info.client_id, why ? why : "?");
		if (eng->cfg.on_auth_failed)
			eng->cfg.on_auth_failed(eng->cfg.rec_ctx, &c->info, c->info.client_id, c->info.username,
						why ? why : ENG_AUTH_BAD_PASSWORD, cn->has_password);
		connect_refuse(c, anon ? MQTT_CONNACK_REFUSED_NOT_AUTHORIZED
				       : MQTT_CONNACK_REFUSED_BAD_USERNAME_PASSWORD,
			       anon ? MQTT_RC_NOT_AUTHORIZED : MQTT_RC_BAD_USERNAME_OR_PASSWORD,
			       ENG_DISC_CLOSED);
		return -1;
	}
	if (!authorized(c, ENG_OP_CONNECT, NULL, 0)) {
		acl_refuse(c, cn);
		return -1;
	}
	return 0;
}

/* An empty client id gets one of ours (5.0: said in the CONNACK); the
 * will is kept for when the connection ends. Returns 0, or -1 when the
 * CONNECT was refused. */
static int connect_id_and_will(struct eng_client *c, const struct mqtt_connect *cn,
			       struct mqtt_props *ack)
{
	struct eng *eng = c->eng;
	char assigned[32] = "";
	bool v5 = cn->version >= MQTT_V5;

	if (cn->client_id.len == 0) {
		assign_id(eng, assigned, sizeof(assigned));
		id_unref(c->info.client_id);
		c->info.client_id = id_new(assigned, strlen(assigned));
		if (!c->info.client_id) {
			connect_refuse(c, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
				       MQTT_RC_SERVER_UNAVAILABLE, ENG_DISC_CLOSED);
			return -1;
		}
		if (v5) {
			ack->assigned_client_id = mqtt_cstr(c->info.client_id);
			MQTT_PROP_SET(ack, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER);
		}
	}

	if (cn->will) {
		/* A will is a PUBLISH the client makes ahead of time: the same
		 * rules apply, and a will nobody may send refuses the CONNECT
		 * rather than go out later. */
		if (!authorized(c, ENG_OP_PUBLISH, cn->will_topic.p, cn->will_topic.len)) {
			acl_refuse(c, cn);
			return -1;
		}
		struct client_x *x = cx_get(c);

		if (x)
			x->will = msg_new(eng, cn->will_topic.p, cn->will_topic.len, cn->will_payload.p,
					  cn->will_payload.len, cn->will_qos, cn->will_retain,
					  v5 ? &cn->will_props : NULL, MQTT_PROPS_WILL);
		if (!x || !x->will) {
			connect_refuse(c, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
				       MQTT_RC_SERVER_UNAVAILABLE, ENG_DISC_CLOSED);
			return -1;
		}
		if (v5 && MQTT_HAS(&cn->will_props, MQTT_PROP_WILL_DELAY_INTERVAL))
			x->will_delay = cn->will_props.will_delay;
	}
	return 0;
}

/* The client's session: an older connection on it goes first (and its
 * will with it), a clean start drops what was kept, and how long it
 * lives offline is set. Returns it (*present: it existed), or NULL when
 * the CONNECT was refused. */
static struct sess *connect_session(struct eng_client *c, const struct mqtt_connect *cn,
				    struct mqtt_props *ack, bool *present)
{
	struct eng *eng = c->eng;
	struct sess *s;
	uint32_t expiry;
	bool v5 = cn->version >= MQTT_V5;

	/* Takeover: the older connection goes first (and its will with it). */
	s = sess_find(eng, c->info.client_id);
	if (s && s->conn) {
		struct eng_client *old = s->conn;

		log_info("client %s: session taken over", c->info.client_id);
		client_kill(old, ENG_DISC_TAKEOVER, MQTT_RC_SESSION_TAKEN_OVER);
		conn_end(old);
		s = sess_find(eng, c->info.client_id);
	}
	if (s && s->x) {
		/* Back before the will delay elapsed: the will is void; no
		 * deadline while connected. */
		msg_unref(s->x->will);
		s->x->will = NULL;
		timer_cancel(&eng->timers, &s->x->tm.t);
		sx_trim(s);
	}
	if (s && cn->clean) {
		sess_remove(eng, s);
		s = NULL;
	}
	*present = s != NULL;
	if (!s && eng->st.sessions >= eng->cfg.max_sessions) {
		struct eng_limit_event ev = {
			.which = ENG_LIMIT_SESSIONS, .client_id = c->info.client_id,
			.opaque = c->info.opaque, .limit = eng->cfg.max_sessions,
		};

		limit_report(eng, &ev);
		connect_refuse(c, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE, MQTT_RC_QUOTA_EXCEEDED,
			       ENG_DISC_CLOSED);
		return NULL;
	}
	if (!s)
		s = sess_new(eng, c->info.client_id);
	if (!s) {
		connect_refuse(c, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
			       MQTT_RC_SERVER_UNAVAILABLE, ENG_DISC_CLOSED);
		return NULL;
	}

	/* Session lifetime after this connection. */
	if (!v5) {
		expiry = cn->clean ? 0 : eng->cfg.session_expiry_default;
	} else {
		expiry = MQTT_HAS(&cn->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL)
			 ? cn->props.session_expiry : 0;
		if (eng->cfg.session_expiry_max && expiry > eng->cfg.session_expiry_max) {
			expiry = eng->cfg.session_expiry_max;
			ack->session_expiry = expiry;
			MQTT_PROP_SET(ack, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
		}
	}
	s->expiry = expiry;
	return s;
}

/* The client is on its session: CONNACK 0 (5.0: with the server's
 * limits), the recorder told, what was kept for it sent again. */
static void connect_accept(struct eng_client *c, const struct mqtt_connect *cn,
			   struct sess *s, bool present, struct mqtt_props *ack)
{
	struct eng *eng = c->eng;
	bool v5 = cn->version >= MQTT_V5;

	/* 5.0 limits announced by the client. */
	if (v5) {
		c->recv_max = MQTT_HAS(&cn->props, MQTT_PROP_RECEIVE_MAXIMUM)
			      ? cn->props.receive_maximum : 65535;
		c->max_packet = MQTT_HAS(&cn->props, MQTT_PROP_MAXIMUM_PACKET_SIZE)
				? cn->props.maximum_packet_size : 0;
	}

	eng->st.offline_bytes -= sx(s)->qbytes;
	s->conn = c;
	c->sess = s;
	c->state = CS_CONNECTED;
	c->info.session_present = present;
	eng->st.connected++;
	eng->st.connects_total++;

	if (v5) {
		if (eng->cfg.max_inflight < 65535) {
			ack->receive_maximum = eng->cfg.max_inflight;
			MQTT_PROP_SET(ack, MQTT_PROP_RECEIVE_MAXIMUM);
		}
		ack->maximum_packet_size = (uint32_t)eng->cfg.max_packet_size;
		MQTT_PROP_SET(ack, MQTT_PROP_MAXIMUM_PACKET_SIZE);
		ack->topic_alias_maximum = ALIAS_MAX;
		MQTT_PROP_SET(ack, MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
		ack->shared_sub_available = 1;
		MQTT_PROP_SET(ack, MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE);
	}
	send_connack(c, present, 0, v5 ? ack : NULL);
	if (c->io_closed)
		return;
	c->notified = true;
	log_debug("client %s connected (%s, level %u, clean %d, present %d)", c->info.client_id,
		  c->info.listener ? c->info.listener : "-", cn->version, cn->clean, present);
	if (eng->cfg.on_session_connected)
		eng->cfg.on_session_connected(eng->cfg.rec_ctx, &c->info);
	if (present)
		sess_resend(eng, s);
}

static void handle_connect(struct eng_client *c, const struct mqtt_connect *cn)
{
	struct mqtt_props ack;
	struct sess *s;
	bool present = false;

	memset(&ack, 0, sizeof(ack));
	if (connect_identity(c, cn, &ack) < 0 || connect_authenticate(c, cn) < 0 ||
	    connect_id_and_will(c, cn, &ack) < 0)
		return;
	s = connect_session(c, cn, &ack, &present);
	if (!s)
		return;
	connect_accept(c, cn, s, present, &ack);
}

/* ---- other packets ------------------------------------------------------ */

static void handle_publish(struct eng_client *c, const struct mqtt_publish *pb)
{
	struct eng *eng = c->eng;
	struct sess *s = c->sess;
	struct mqtt_str topic = pb->topic;
	struct msg *m;
	struct routed r;
	uint8_t rc;

	eng->st.msgs_in++;
	if (c->version >= MQTT_V5) {
		if (pb->props.n_sub_ids) {
			protocol_kill(c, MQTT_RC_PROTOCOL_ERROR, "Subscription Identifier from a client");
			return;
		}
		if (MQTT_HAS(&pb->props, MQTT_PROP_TOPIC_ALIAS)) {
			uint16_t a = pb->props.topic_alias;

			if (a > ALIAS_MAX) {
				protocol_kill(c, MQTT_RC_TOPIC_ALIAS_INVALID, "Topic Alias above the maximum");
				return;
			}
			struct client_x *x = cx_get(c);

			if (x && !x->aliases)
				x->aliases = calloc(ALIAS_MAX + 1, sizeof(*x->aliases));
			if (!x || !x->aliases) {
				client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
				return;
			}
			if (topic.len) {
				char *t = dupn(topic.p, topic.len);

				if (!t) {
					client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
					return;
				}
				free(x->aliases[a]);
				x->aliases[a] = t;
			} else if (!x->aliases[a]) {
				protocol_kill(c, MQTT_RC_PROTOCOL_ERROR, "unknown Topic Alias");
				return;
			} else {
				topic = mqtt_cstr(x->aliases[a]);
			}
		}
	}
	if (pb->qos == 2 && qos2_has(s, pb->id)) {
		/* Retransmission before our PUBREC arrived: not delivered twice. */
		send_ack(c, MQTT_PUBREC, pb->id, 0);
		return;
	}
	if (pb->qos == 2 && sx(s)->n_qos2_in >= eng->cfg.max_inflight && c->version >= MQTT_V5) {
		protocol_kill(c, MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED, "Receive Maximum exceeded");
		return;
	}
	memset(&r, 0, sizeof(r));
	if (!authorized(c, ENG_OP_PUBLISH, topic.p, topic.len)) {
		/* 5.0 says so in the acknowledgement (which ends a QoS 2 flow);
		 * 3.1.1 has no way to: the flow goes on, the message goes nowhere. */
		if (c->version >= MQTT_V5) {
			if (pb->qos)
				send_ack(c, pb->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, pb->id,
					 MQTT_RC_NOT_AUTHORIZED);
			return;
		}
	} else {
		m = msg_new(eng, topic.p, topic.len, pb->payload, pb->payload_len, pb->qos, pb->retain,
			    c->version >= MQTT_V5 ? &pb->props : NULL, MQTT_PUBLISH);
		if (!m) {
			client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
			return;
		}
		route_count(eng, m, s, &r);
		c->eng->budget -= (long)r.reached;
		msg_unref(m);
		if (c->io_closed)
			return;
	}
	/* 5.0 Quota exceeded: no matching session could take it, or it was
	 * to be retained and could not be. */
	rc = r.reached ? MQTT_RC_SUCCESS : MQTT_RC_NO_MATCHING_SUBSCRIBERS;
	if ((r.reached && r.dropped == r.reached) || r.not_retained)
		rc = MQTT_RC_QUOTA_EXCEEDED;
	if (pb->qos == 1) {
		send_ack(c, MQTT_PUBACK, pb->id, rc);
	} else if (pb->qos == 2) {
		/* 5.0: a PUBREC >= 0x80 ends the flow; no PUBREL follows. */
		bool refused = rc >= 0x80 && c->version >= MQTT_V5;

		if (!refused && qos2_add(s, pb->id) < 0) {
			client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
			return;
		}
		send_ack(c, MQTT_PUBREC, pb->id, rc);
	}
}

/* ---- SUBSCRIBE and UNSUBSCRIBE, a batch of filters at a time -------------
 *
 * A packet may carry hundreds of thousands of filters, and each new
 * subscription may send every retained message its filter matches. The
 * work is a job on the client: a filter, a retained message sent (and a
 * KiB of it), a packet (and a KiB of it) each cost one unit of the
 * client's budget for one call of eng_client_input (ENG_BUDGET); what is
 * left waits for the next call
 * (ENG_INPUT_MORE), and the client's next packets wait behind it.
 * Phases: apply every filter, send the SUBACK / UNSUBACK, then (SUBSCRIBE)
 * the retained messages of each new subscription, once per subscription
 * even when its filter comes several times in the packet.
 */

struct job {
	bool unsub;
	uint16_t id;
	uint32_t sub_id;              /* SUBSCRIBE's Subscription Identifier, 0: none */
	const uint8_t *raw;           /* the entries: in the input buffer, then a copy */
	uint8_t *copy;
	size_t raw_len, pos;          /* parse position in raw */
	size_t n, i;                  /* entries, entries applied */
	size_t refused;               /* by the subscriptions limit */
	uint8_t *rcs;                 /* n reason codes */
	struct sub **subs;            /* SUBSCRIBE: n subscriptions made or updated (or NULL) */
	bool *existed;                /* ... and whether each existed before */
	bool acked;
	uint64_t gen;                 /* marks subscriptions whose retained messages were sent */
	size_t k;                     /* retained phase: next entry */
	struct sub *ru;               /* retained messages being sent to this subscription */
	struct ret_found found;
	size_t fi;                    /* next of found */
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = j->fi; i < j->found.n; i++)
		msg_unref(j->found.m[i]);
	free(j->found.m);
	free(j->copy);
	free(j->rcs);
	free(j->subs);
	free(j->existed);
	free(j);
}

static struct job *job_new(struct eng_client *c, bool unsub, const uint8_t *raw, size_t raw_len,
			   size_t n)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->unsub = unsub;
	j->raw = raw;
	j->raw_len = raw_len;
	j->n = n;
	j->gen = ++c->eng->mark_gen;
	j->rcs = calloc(n, 1);
	if (!unsub) {
		j->subs = calloc(n, sizeof(*j->subs));
		j->existed = calloc(n, sizeof(*j->existed));
	}
	if (!j->rcs || (!unsub && (!j->subs || !j->existed))) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* Apply the next filter of a SUBSCRIBE. */
static void job_subscribe_one(struct eng_client *c, struct job *j)
{
	struct eng *eng = c->eng;
	struct mqtt_subscribe sp = { .raw = j->raw, .raw_len = j->raw_len };
	bool v5 = c->version >= MQTT_V5;
	size_t i = j->i++;
	struct mqtt_sub e;
	struct fspec fs;
	struct sub *u;

	j->rcs[i] = v5 ? MQTT_RC_UNSPECIFIED : MQTT_SUBACK_FAILURE;
	if (!mqtt_subscribe_next(&sp, &j->pos, &e))
		return;         /* cannot happen: mqtt_decode checked every entry */
	if (!mqtt_topic_filter_valid(e.filter.p, e.filter.len) ||
	    filter_split(e.filter.p, e.filter.len, &fs) < 0) {
		j->rcs[i] = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : MQTT_SUBACK_FAILURE;
		return;
	}
	if (fs.share && e.no_local) {
		protocol_kill(c, MQTT_RC_PROTOCOL_ERROR, "No Local on a shared subscription");
		return;
	}
	if (!authorized(c, ENG_OP_SUBSCRIBE, fs.f, fs.len)) {
		j->rcs[i] = v5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_SUBACK_FAILURE;
		return;
	}
	u = sub_find(eng, c->sess, &fs);
	j->existed[i] = u != NULL;
	if (!u && c->sess->subs && c->sess->subs->n >= eng->cfg.max_subscriptions) {
		j->refused++;
		j->rcs[i] = v5 ? MQTT_RC_QUOTA_EXCEEDED : MQTT_SUBACK_FAILURE;
		return;
	}
	if (!u)
		u = sub_add(eng, c->sess, &fs);
	if (!u)
		return;
	u->qos = e.qos;
	u->nl = e.no_local;
	u->rap = e.retain_as_published;
	u->rh = e.retain_handling;
	u->sub_id = j->sub_id;
	j->subs[i] = u;
	j->rcs[i] = e.qos;
}

/* Apply the next filter of an UNSUBSCRIBE. */
static void job_unsubscribe_one(struct eng_client *c, struct job *j)
{
	struct mqtt_unsubscribe up = { .raw = j->raw, .raw_len = j->raw_len };
	size_t i = j->i++;
	struct mqtt_str f;
	struct fspec fs;
	struct sub *u;

	j->rcs[i] = MQTT_RC_UNSPECIFIED;
	if (!mqtt_unsubscribe_next(&up, &j->pos, &f))
		return;
	if (!mqtt_topic_filter_valid(f.p, f.len) || filter_split(f.p, f.len, &fs) < 0) {
		j->rcs[i] = MQTT_RC_TOPIC_FILTER_INVALID;
		return;
	}
	u = sub_find(c->eng, c->sess, &fs);
	if (u)
		sub_del(c->eng, u);
	j->rcs[i] = u ? MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
}

static void job_ack(struct eng_client *c, struct job *j)
{
	struct mqtt_pkt ack;

	if (j->refused)
		log_info("client %s: %zu new subscriptions refused: limit of %zu per client "
			 "(mqtt.max_subscriptions_per_client)", c->info.client_id, j->refused,
			 c->eng->cfg.max_subscriptions);
	memset(&ack, 0, sizeof(ack));
	ack.type = j->unsub ? MQTT_UNSUBACK : MQTT_SUBACK;
	ack.suback.id = j->id;
	ack.suback.n = j->unsub && c->version < MQTT_V5 ? 0 : j->n;
	ack.suback.rcs = j->rcs;
	j->acked = true;
	send_pkt(c, &ack);
}

/* Retained phase: the messages for the next entry that wants them. */
static void job_collect(struct eng_client *c, struct job *j)
{
	size_t k = j->k++;
	struct sub *u = j->subs[k];
	size_t len;
	char *filter;

	j->found.n = j->fi = 0;
	if (!c->eng->st.retained) {
		j->k = j->n;    /* nothing to look for */
		return;
	}
	if (!u || u->ret_gen == j->gen)
		return;         /* failed, or this packet named the filter before */
	u->ret_gen = j->gen;
	/* No retained messages for a shared subscription (MQTT 5.0 4.8.2). */
	if (u->grp || u->rh == 2 || (u->rh == 1 && j->existed[k]))
		return;
	len = topic_name(u->node, NULL, 0);
	filter = malloc(len + 1);
	if (!filter)
		return;
	topic_name(u->node, filter, len + 1);
	j->found.eng = c->eng;
	topic_search(&c->eng->retained, filter, len, ret_collect, &j->found);
	free(filter);
	j->ru = u;
}

/* Work on c's job while the budget lasts. Returns true when it is done. */
static bool job_run(struct eng_client *c)
{
	struct job *j = c->x->job;

	while (!c->io_closed && c->eng->budget > 0) {
		c->eng->budget--;
		if (j->i < j->n) {
			if (j->unsub)
				job_unsubscribe_one(c, j);
			else
				job_subscribe_one(c, j);
		} else if (!j->acked) {
			job_ack(c, j);
			if (j->unsub)
				return true;
		} else if (j->fi < j->found.n) {
			struct msg *m = j->found.m[j->fi++];
			struct sub *u = j->ru;

			sess_deliver(c->eng, c->sess, m, m->qos < u->qos ? m->qos : u->qos, true,
				     &u->sub_id, u->sub_id ? 1 : 0);
			c->eng->budget -= (long)(m->len / 1024);
			msg_unref(m);
		} else if (j->k < j->n) {
			job_collect(c, j);
		} else {
			return true;
		}
	}
	return c->io_closed;
}

/* Run c's job; when it must wait for the next call, it keeps its own copy
 * of the entries (the input buffer moves). Returns true when done. */
static bool job_step(struct eng_client *c)
{
	struct job *j = c->x->job;

	if (job_run(c)) {
		job_free(j);
		c->x->job = NULL;
		return true;
	}
	if (!j->copy) {
		j->copy = malloc(j->raw_len ? j->raw_len : 1);
		if (!j->copy) {
			client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
			return false;
		}
		memcpy(j->copy, j->raw, j->raw_len);
		j->raw = j->copy;
	}
	return false;
}

/* j (NULL: out of memory) is c's job from now on. Returns false when
 * the client is killed instead. */
static bool job_start(struct eng_client *c, struct job *j)
{
	struct client_x *x = j ? cx_get(c) : NULL;

	if (!x) {
		job_free(j);
		client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
		return false;
	}
	x->job = j;
	return true;
}

static void handle_subscribe(struct eng_client *c, const struct mqtt_subscribe *sp)
{
	struct eng *eng = c->eng;
	struct job *j = job_new(c, false, sp->raw, sp->raw_len, sp->n);

	if (!job_start(c, j))
		return;
	j->id = sp->id;
	j->sub_id = sp->props.n_sub_ids ? sp->props.sub_ids[0] : 0;
	if (sp->n > eng->cfg.max_subscribe_filters) {
		/* Refused whole: "Quota exceeded" for every filter. */
		log_info("client %s: SUBSCRIBE with %zu filters refused: more than %zu "
			 "(mqtt.max_filters_per_subscribe)", c->info.client_id, sp->n,
			 eng->cfg.max_subscribe_filters);
		memset(j->rcs, c->version >= MQTT_V5 ? MQTT_RC_QUOTA_EXCEEDED : MQTT_SUBACK_FAILURE,
		       j->n);
		j->i = j->k = j->n;
	}
}

static void handle_unsubscribe(struct eng_client *c, const struct mqtt_unsubscribe *up)
{
	struct job *j = job_new(c, true, up->raw, up->raw_len, up->n);

	if (job_start(c, j))
		j->id = up->id;
}

static void handle_disconnect(struct eng_client *c, const struct mqtt_disconnect *d)
{
	struct eng *eng = c->eng;
	struct sess *s = c->sess;

	if (c->version >= MQTT_V5 && MQTT_HAS(&d->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL)) {
		uint32_t x = d->props.session_expiry;

		if (s->expiry == 0 && x != 0) {
			protocol_kill(c, MQTT_RC_PROTOCOL_ERROR,
				      "DISCONNECT sets a Session Expiry after CONNECT had 0");
			return;
		}
		if (eng->cfg.session_expiry_max && x > eng->cfg.session_expiry_max)
			x = eng->cfg.session_expiry_max;
		s->expiry = x;
	}
	/* 5.0: any reason but 0x00 (0x04 Disconnect with Will, errors)
	 * keeps the will. */
	c->normal_disc = c->version < MQTT_V5 || d->rc == MQTT_RC_NORMAL_DISCONNECTION;
	client_kill(c, ENG_DISC_NORMAL, 0);
}

/* ---- client deadlines: CONNECT timeout, keep-alive ------------------------ */

/* When c must have sent something, or -1. Keep-alive: one and a half
 * times it after the last packet. */
static int64_t client_due(const struct eng_client *c)
{
	if (c->io_closed)
		return -1;
	if (c->state == CS_NEW)
		return c->last_rx + (int64_t)c->eng->cfg.connect_timeout * 1000;
	return c->keepalive ? c->last_rx + (int64_t)c->keepalive * 1500 : -1;
}

/* Packets move last_rx without touching the heap: the timer, when it
 * fires early, is moved to the deadline of the moment. */
static void client_timer_fire(struct eng_client *c)
{
	struct eng *eng = c->eng;
	int64_t due = client_due(c);

	if (due < 0)
		return;
	if (eng->now < due) {
		etimer_set(eng, &c->tm, due);
		return;
	}
	if (c->state == CS_NEW) {
		log_info("%s client: no CONNECT within %u s", c->info.listener ? c->info.listener : "-",
			 eng->cfg.connect_timeout);
		client_kill(c, ENG_DISC_KEEPALIVE, 0);
		return;
	}
	log_info("client %s: keep-alive timeout", c->info.client_id);
	client_kill(c, ENG_DISC_KEEPALIVE, MQTT_RC_KEEP_ALIVE_TIMEOUT);
}

static void handle_packet(struct eng_client *c, const uint8_t *buf, size_t len)
{
	struct eng *eng = c->eng;
	struct mqtt_pkt p;
	const char *why = NULL;
	int rc;

	rc = mqtt_decode(buf, len, c->version ? c->version : MQTT_V311, &p, &why);
	c->last_rx = eng->now;
	if (c->state == CS_NEW) {
		if (rc)
			handle_connect_error(c, &p.connect, rc, why);
		else
			handle_connect(c, &p.connect);
		/* From the CONNECT timeout to the keep-alive (or none). */
		etimer_set(eng, &c->tm, client_due(c));
		return;
	}
	if (rc) {
		/* A second CONNECT is a Protocol Error whatever is wrong in it
		 * (its 0x84 is CONNACK's code, not one DISCONNECT carries). */
		protocol_kill(c, buf[0] >> 4 == MQTT_CONNECT ? MQTT_RC_PROTOCOL_ERROR : (uint8_t)rc, why);
		return;
	}
	switch (p.type) {
	case MQTT_PUBLISH:
		handle_publish(c, &p.publish);
		break;
	case MQTT_PUBACK: {
		struct outmsg *o = inflight_take(c->sess, p.ack.id, OUT_WAIT_PUBACK);

		if (o) {
			out_free(eng, c->sess, o);
			sess_pump(eng, c->sess);
		}
		break;
	}
	case MQTT_PUBREC: {
		struct outmsg *o = oq_find(&sx(c->sess)->inflight, p.ack.id);

		if (o && o->state == OUT_WAIT_PUBREC && p.ack.rc >= 0x80) {
			/* 5.0: the receiver refused it; the flow ends here. */
			out_free(eng, c->sess, inflight_take(c->sess, p.ack.id, OUT_WAIT_PUBREC));
			sess_pump(eng, c->sess);
			break;
		}
		if (o && (o->state == OUT_WAIT_PUBREC || o->state == OUT_WAIT_PUBCOMP)) {
			o->state = OUT_WAIT_PUBCOMP;
			send_ack(c, MQTT_PUBREL, p.ack.id, 0);
		} else if (p.ack.rc < 0x80) {
			send_ack(c, MQTT_PUBREL, p.ack.id, MQTT_RC_PACKET_ID_NOT_FOUND);
		}
		break;
	}
	case MQTT_PUBREL: {
		bool found = qos2_del(c->sess, p.ack.id);

		send_ack(c, MQTT_PUBCOMP, p.ack.id, found ? 0 : MQTT_RC_PACKET_ID_NOT_FOUND);
		break;
	}
	case MQTT_PUBCOMP: {
		struct outmsg *o = inflight_take(c->sess, p.ack.id, OUT_WAIT_PUBCOMP);

		if (o) {
			out_free(eng, c->sess, o);
			sess_pump(eng, c->sess);
		}
		break;
	}
	case MQTT_SUBSCRIBE:
		handle_subscribe(c, &p.subscribe);
		break;
	case MQTT_UNSUBSCRIBE:
		handle_unsubscribe(c, &p.unsubscribe);
		break;
	case MQTT_PINGREQ: {
		struct mqtt_pkt r;

		memset(&r, 0, sizeof(r));
		r.type = MQTT_PINGRESP;
		send_pkt(c, &r);
		break;
	}
	case MQTT_DISCONNECT:
		handle_disconnect(c, &p.disconnect);
		break;
	case MQTT_CONNECT:
		protocol_kill(c, MQTT_RC_PROTOCOL_ERROR, "second CONNECT");
		break;
	default:
		/* CONNACK, SUBACK, UNSUBACK, PINGRESP go server -> client;
		 * AUTH without enhanced authentication. */
		protocol_kill(c, MQTT_RC_PROTOCOL_ERROR, "unexpected packet type from a client");
		break;
	}
}

/* ---- public API --------------------------------------------------------- */

struct eng *eng_new(const struct eng_cfg *cfg, struct perr *e)
{
	struct eng *eng = calloc(1, sizeof(*eng));

	if (!eng) {
		perr_set(e, "engine: out of memory");
		return NULL;
	}
	eng->cfg = *cfg;
	if (!eng->cfg.max_packet_size)
		eng->cfg.max_packet_size = DEF_MAX_PACKET;
	if (eng->cfg.max_packet_size > MQTT_MAX_PACKET)
		eng->cfg.max_packet_size = MQTT_MAX_PACKET;
	if (eng->cfg.max_packet_size < 64) {
		free(eng);
		perr_set(e, "engine: max_packet_size %zu is too small (>= 64)", cfg->max_packet_size);
		return NULL;
	}
	if (!eng->cfg.max_inflight)
		eng->cfg.max_inflight = DEF_MAX_INFLIGHT;
	if (!eng->cfg.connect_timeout)
		eng->cfg.connect_timeout = DEF_CONNECT_TIMEOUT;
	if (!eng->cfg.session_expiry_default)
		eng->cfg.session_expiry_default = DEF_SESSION_EXPIRY;
	if (!eng->cfg.max_queued)
		eng->cfg.max_queued = DEF_MAX_QUEUED;
	if (!eng->cfg.max_sessions)
		eng->cfg.max_sessions = DEF_MAX_SESSIONS;
	if (!eng->cfg.max_queued_bytes)
		eng->cfg.max_queued_bytes = DEF_QUEUED_BYTES;
	if (!eng->cfg.max_offline_bytes)
		eng->cfg.max_offline_bytes = DEF_OFFLINE_BYTES;
	if (!eng->cfg.max_output)
		eng->cfg.max_output = DEF_MAX_OUTPUT;
	if (!eng->cfg.retained_max)
		eng->cfg.retained_max = DEF_RETAINED_MAX;
	if (!eng->cfg.retained_max_bytes)
		eng->cfg.retained_max_bytes = DEF_RETAINED_BYTES;
	if (!eng->cfg.max_subscribe_filters)
		eng->cfg.max_subscribe_filters = DEF_SUB_FILTERS;
	if (!eng->cfg.max_subscriptions)
		eng->cfg.max_subscriptions = DEF_SUBSCRIPTIONS;
	eng->cfg.users = NULL;
	if (cfg->n_users) {
		eng->users = calloc(cfg->n_users, sizeof(*eng->users));
		if (!eng->users)
			goto oom;
		for (size_t i = 0; i < cfg->n_users; i++) {
			if (!cfg->users[i].user) {
				eng->cfg.n_users = i;
				eng_free(eng);
				perr_set(e, "engine: user %zu has no name", i + 1);
				return NULL;
			}
			eng->users[i].user = dups(cfg->users[i].user);
			eng->users[i].pass = cfg->users[i].pass ? dups(cfg->users[i].pass) : NULL;
			if (!eng->users[i].user || (cfg->users[i].pass && !eng->users[i].pass)) {
				eng->cfg.n_users = i + 1;
				goto oom;
			}
		}
	}
	eng->ocap = 4096;
	eng->obuf = malloc(eng->ocap);
	if (!eng->obuf || topic_tree_init(&eng->subs) < 0 || topic_tree_init(&eng->retained) < 0)
		goto oom;
	if (!eng->cfg.clock_ms)
		eng->cfg.clock_ms = mono_ms;
	eng->now = eng->cfg.clock_ms(eng->cfg.clock_ctx);
	eng->announced = -1;
	return eng;
oom:
	eng_free(eng);
	perr_set(e, "engine: out of memory");
	return NULL;
}

static void client_free(struct eng_client *c)
{
	struct eng *eng = c->eng;

	if (c->prev)
		c->prev->next = c->next;
	else
		eng->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	eng->st.clients--;
	timer_cancel(&eng->timers, &c->tm.t);
	cx_free(c);
	id_unref(c->info.client_id);
	id_unref(c->info.username);
	free(c);
}

void eng_free(struct eng *eng)
{
	if (!eng)
		return;
	eng->depth++;   /* no pending runs from here on */
	eng->shutting = true;
	while (eng->clients) {
		struct eng_client *c = eng->clients;

		if (!c->ended) {
			c->io_closed = true;
			c->normal_disc = true;   /* nobody left to receive a will */
			if (!c->end)
				end_set(c, ENG_DISC_SHUTDOWN);
			conn_end(c);
		}
		client_free(c);
	}
	/* Nobody is left to receive the delayed wills. */
	for (struct htab_link *l = htab_take_all(&eng->sessions_by_id), *nx; l; l = nx) {
		nx = l->next;
		msg_unref(sess_free(eng, SESS_OF(l)));
	}
	topic_tree_free(&eng->retained, ret_free_cb, NULL);
	topic_tree_free(&eng->subs, NULL, NULL);
	htab_free(&eng->sessions_by_id);
	htab_free(&eng->groups);
	timer_heap_free(&eng->timers);
	for (size_t i = 0; eng->users && i < eng->cfg.n_users; i++) {
		free((char *)eng->users[i].user);
		free((char *)eng->users[i].pass);
	}
	free(eng->users);
	free(eng->obuf);
	free(eng);
}

struct eng_client *eng_client_new(struct eng *eng, const struct eng_client_info *info,
				  const struct eng_io *io, void *io_ctx)
{
	struct eng_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->eng = eng;
	c->info = *info;
	c->info.conn_id = ++eng->conn_seq;
	c->info.client_id = NULL;
	c->info.username = NULL;
	c->info.mqtt_version = 0;
	c->info.clean = false;
	c->info.session_present = false;
	c->info.keepalive = 0;
	c->io = io;
	c->io_ctx = io_ctx;
	enter(eng);
	c->last_rx = eng->now;
	c->next = eng->clients;
	if (eng->clients)
		eng->clients->prev = c;
	eng->clients = c;
	eng->st.clients++;
	etimer_init(&c->tm, TK_CLIENT);
	etimer_set(eng, &c->tm, client_due(c));
	leave(eng);
	return c;
}

static int rbuf_append(struct eng_client *c, const uint8_t *buf, size_t len)
{
	struct client_x *x = cx_get(c);

	if (!x)
		return -1;
	if (x->rlen + len > x->rcap) {
		size_t ncap = x->rcap ? x->rcap : 256;
		uint8_t *nb;

		while (ncap < x->rlen + len)
			ncap *= 2;
		nb = realloc(x->rbuf, ncap);
		if (!nb)
			return -1;
		x->rbuf = nb;
		x->rcap = ncap;
	}
	memcpy(x->rbuf + x->rlen, buf, len);
	x->rlen += len;
	return 0;
}

/* Handle the complete packets of c's buffer, its job first, while the
 * budget lasts. */
static void client_work(struct eng_client *c)
{
	struct eng *eng = c->eng;
	struct client_x *x = c->x;   /* it has a job or bytes: it is there */
	size_t off = 0;

	eng->budget = ENG_BUDGET;
	if (x->job && !job_step(c))
		return;
	while (!c->io_closed && !x->job && eng->budget > 0 && off < x->rlen) {
		long n;

		/* The first packet must be a CONNECT: decide on its first byte. */
		if (c->state == CS_NEW && x->rbuf[off] != (MQTT_CONNECT << 4)) {
			protocol_kill(c, 0, "first packet is not a CONNECT");
			break;
		}
		n = mqtt_frame(x->rbuf + off, x->rlen - off, eng->cfg.max_packet_size);
		if (n == MQTT_NEED_MORE)
			break;
		if (n == MQTT_FRAME_TOO_LARGE) {
			protocol_kill(c, MQTT_RC_PACKET_TOO_LARGE, "packet too large");
			break;
		}
		if (n < 0) {
			protocol_kill(c, MQTT_RC_MALFORMED_PACKET, "bad remaining length");
			break;
		}
		/* Decoding checks every byte: a large packet costs its size. */
		eng->budget -= 1 + n / 1024;
		handle_packet(c, x->rbuf + off, (size_t)n);
		off += (size_t)n;
		if (x->job)
			job_step(c);
	}
	if (c->io_closed) {
		x->rlen = 0;
	} else if (off) {
		memmove(x->rbuf, x->rbuf + off, x->rlen - off);
		x->rlen -= off;
	}
	if (x->rlen == 0 && x->rcap > RBUF_KEEP) {
		free(x->rbuf);
		x->rbuf = NULL;
		x->rcap = 0;
	}
}

int eng_client_input(struct eng_client *c, const uint8_t *buf, size_t len)
{
	struct eng *eng = c->eng;
	bool more;

	if (c->close_req)
		return -1;
	if (c->io_closed || (len == 0 && !cx(c)->job && cx(c)->rlen == 0))
		return 0;
	enter(eng);
	c->in_input = true;
	eng->st.bytes_in += len;
	if (len && rbuf_append(c, buf, len) < 0)
		client_kill(c, ENG_DISC_CLOSED, MQTT_RC_UNSPECIFIED);
	else
		client_work(c);
	/* Out of budget with bytes left: maybe whole packets, maybe not. */
	more = !c->io_closed && (cx(c)->job || (eng->budget <= 0 && cx(c)->rlen > 0));
	leave(eng);
	c->in_input = false;
	if (c->x && !c->x->rbuf && !c->x->will && !c->x->aliases && !c->x->job)
		cx_free(c);
	return c->close_req ? -1 : more ? ENG_INPUT_MORE : 0;
}

void eng_client_closed(struct eng_client *c, bool graceful)
{
	struct eng *eng = c->eng;

	enter(eng);
	if (!c->ended) {
		if (!c->io_closed) {
			c->io_closed = true;
			end_set(c, ENG_DISC_CLOSED);
			if (!graceful)
				log_debug("client %s: connection lost", c->info.client_id ? c->info.client_id : "-");
		}
		conn_end(c);
	}
	client_free(c);
	leave(eng);
}

void eng_client_drained(struct eng_client *c)
{
	struct eng *eng = c->eng;

	c->drain_wait = false;
	if (!client_usable(c) || !c->sess)
		return;
	enter(eng);
	sess_pump(eng, c->sess);
	leave(eng);
}

const struct eng_client_info *eng_client_info(const struct eng_client *c)
{
	return &c->info;
}

#define ETIMER_OF(t, type) ((type *)(void *)((char *)(t) - offsetof(type, tm)))

void eng_tick(struct eng *eng)
{
	struct timer *t;
	size_t budget;

	enter(eng);
	/* Bounded: what is left is due at once, on the next call. */
	budget = eng->timers.n + 16;
	while ((t = timer_first(&eng->timers)) && t->due <= eng->now && budget-- > 0) {
		struct etimer *et = (struct etimer *)(void *)t;

		timer_cancel(&eng->timers, t);
		switch (et->kind) {
		case TK_CLIENT:
			client_timer_fire(ETIMER_OF(et, struct eng_client));
			break;
		case TK_SESSION:
			sess_timer_fire(eng, ETIMER_OF(et, struct sess_x)->s);
			break;
		case TK_RETAINED:
			ret_delete(eng, ETIMER_OF(et, struct ret));
			break;
		}
	}
	/* The core's timer was used up by this call: it needs the next
	 * deadline even when that did not change. */
	eng->announced = -2;
	leave(eng);
}

void eng_stats_get(const struct eng *eng, struct eng_stats *out)
{
	*out = eng->st;
}
