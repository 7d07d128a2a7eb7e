/* test_broker_engine.c - the MQTT engine driven with byte buffers through
 * fake connections that capture what the engine writes, with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "mqtt.h"

#define T0 1000000

/* ---- fakes -------------------------------------------------------------- */

struct fake {
	struct eng *eng;
	struct eng_client *c;
	uint8_t *out;
	size_t len, rd, cap;
	int close_calls;
	bool fail_send;
	bool gone;           /* eng_client_closed done */
	uint8_t version;
	size_t backlog;      /* what io.backlog says */
	int drain_watches;   /* io.watch_drain calls */
};

static int f_send(void *ctx, const uint8_t *b, size_t n)
{
	struct fake *f = ctx;

	if (f->fail_send)
		return -1;
	if (f->len + n > f->cap) {
		f->cap = (f->len + n) * 2;
		f->out = realloc(f->out, f->cap);
		assert_non_null(f->out);
	}
	memcpy(f->out + f->len, b, n);
	f->len += n;
	return 0;
}

static void f_close(void *ctx)
{
	struct fake *f = ctx;

	f->close_calls++;
}

static size_t f_backlog(void *ctx)
{
	return ((struct fake *)ctx)->backlog;
}

static void f_watch_drain(void *ctx)
{
	((struct fake *)ctx)->drain_watches++;
}

struct rec {
	int connected, disconnected, auth_failed, removed;
	char client_id[64], username[64], reason[64], disc_reason[64], removed_id[64];
	char listener[8];
	bool password_provided;
	int mqtt_version;
	void *opaque;
	uint64_t conn_id;
	int limits[ENG_NLIMITS];       /* on_limit calls by limit */
	struct eng_limit_event last_limit;
};

static struct rec R;

static void cpy(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "(null)");
}

static void on_connected(void *ctx, const struct eng_client_info *i)
{
	struct rec *r = ctx;

	r->connected++;
	cpy(r->client_id, sizeof(r->client_id), i->client_id);
	cpy(r->username, sizeof(r->username), i->username);
	cpy(r->listener, sizeof(r->listener), i->listener);
	r->mqtt_version = i->mqtt_version;
	r->opaque = i->opaque;
	r->conn_id = i->conn_id;
}

static void on_disconnected(void *ctx, const struct eng_client_info *i, const char *reason)
{
	struct rec *r = ctx;

	r->disconnected++;
	cpy(r->client_id, sizeof(r->client_id), i->client_id);
	cpy(r->disc_reason, sizeof(r->disc_reason), reason);
}

static void on_auth_failed(void *ctx, const struct eng_client_info *i, const char *cid,
			   const char *user, const char *reason, bool pw)
{
	struct rec *r = ctx;

	r->auth_failed++;
	cpy(r->client_id, sizeof(r->client_id), cid);
	cpy(r->username, sizeof(r->username), user);
	cpy(r->reason, sizeof(r->reason), reason);
	cpy(r->listener, sizeof(r->listener), i->listener);
	r->opaque = i->opaque;
	r->password_provided = pw;
}

static void on_limit(void *ctx, const struct eng_limit_event *ev)
{
	struct rec *r = ctx;

	r->limits[ev->which]++;
	r->last_limit = *ev;
}

static void on_removed(void *ctx, const char *cid)
{
	struct rec *r = ctx;

	r->removed++;
	cpy(r->removed_id, sizeof(r->removed_id), cid);
}

/* ---- the engine's clock and its deadlines: both in the test's hands ----- */

static int64_t clock_now;            /* ms */
static int64_t timer_in = -1;        /* last in_ms the engine asked for */
static int timer_calls;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return clock_now;
}

static void fake_timer_set(void *ctx, int64_t in_ms)
{
	(void)ctx;
	timer_in = in_ms;
	timer_calls++;
}

/* The clock at ms; the engine does what is due. */
static void tick_ms(struct eng *eng, int64_t ms)
{
	clock_now = ms;
	eng_tick(eng);
}

static void tick(struct eng *eng, int64_t s)
{
	tick_ms(eng, s * 1000);
}

static struct eng *mk(struct eng_cfg *cfg)
{
	struct perr e;
	struct eng *eng;

	memset(&R, 0, sizeof(R));
	clock_now = 0;
	timer_in = -1;
	timer_calls = 0;
	cfg->clock_ms = fake_clock;
	cfg->timer_set = fake_timer_set;
	cfg->rec_ctx = &R;
	cfg->on_session_connected = on_connected;
	cfg->on_session_disconnected = on_disconnected;
	cfg->on_auth_failed = on_auth_failed;
	cfg->on_session_removed = on_removed;
	cfg->on_limit = on_limit;
	eng = eng_new(cfg, &e);
	assert_non_null(eng);
	tick(eng, T0);
	return eng;
}

static struct eng *mk_default(void)
{
	struct eng_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	return mk(&cfg);
}

static void fake_open_id(struct eng *eng, struct fake *f, const char *listener, const char *cert_id);

static void fake_open(struct eng *eng, struct fake *f, const char *listener)
{
	fake_open_id(eng, f, listener, NULL);
}

/* cert_id: the CN of a certificate the proxy verified (NULL: none). */
static void fake_open_id(struct eng *eng, struct fake *f, const char *listener, const char *cert_id)
{
	struct eng_client_info info;
	static const struct eng_io io = { .send = f_send, .close = f_close, .backlog = f_backlog,
					  .watch_drain = f_watch_drain };

	memset(f, 0, sizeof(*f));
	memset(&info, 0, sizeof(info));
	f->eng = eng;
	info.listener = listener;
	info.cert_identity = cert_id;
	info.opaque = f;
	f->c = eng_client_new(eng, &info, &io, f);
	assert_non_null(f->c);
}

/* The transport goes away (as the core would report it). */
static void fake_gone(struct fake *f, bool graceful)
{
	if (!f->gone)
		eng_client_closed(f->c, graceful);
	f->gone = true;
}

static void fake_free(struct fake *f)
{
	fake_gone(f, true);
	free(f->out);
	f->out = NULL;
}

static int input(struct fake *f, const uint8_t *b, size_t n)
{
	return eng_client_input(f->c, b, n);
}

static int input_hex(struct fake *f, const char *h)
{
	uint8_t b[512];
	size_t n = 0;

	while (*h) {
		unsigned v;

		if (*h == ' ') {
			h++;
			continue;
		}
		assert_true(sscanf(h, "%2x", &v) == 1);
		b[n++] = (uint8_t)v;
		h += 2;
	}
	return input(f, b, n);
}

static int send_p(struct fake *f, const struct mqtt_pkt *p)
{
	uint8_t buf[4096];
	long n = mqtt_encode(p, f->version, buf, sizeof(buf));

	assert_true(n > 0 && (size_t)n <= sizeof(buf));
	return input(f, buf, (size_t)n);
}

/* Next packet the engine sent to f; false when none. Pointers in *p are
 * valid until the next send to f. */
static bool next(struct fake *f, struct mqtt_pkt *p)
{
	long n;
	int rc;

	if (f->rd == f->len)
		return false;
	n = mqtt_frame(f->out + f->rd, f->len - f->rd, 0);
	assert_true(n > 0);
	rc = mqtt_decode(f->out + f->rd, (size_t)n, f->version ? f->version : MQTT_V311, p, NULL);
	assert_int_equal(rc, 0);
	f->rd += (size_t)n;
	return true;
}

static void expect_type(struct fake *f, struct mqtt_pkt *p, enum mqtt_type t)
{
	if (!next(f, p))
		fail_msg("expected %s, got nothing", mqtt_type_name(t));
	if (p->type != t)
		fail_msg("expected %s, got %s", mqtt_type_name(t), mqtt_type_name(p->type));
}

static void expect_nothing(struct fake *f)
{
	struct mqtt_pkt p;

	if (next(f, &p))
		fail_msg("unexpected %s", mqtt_type_name(p.type));
}

struct copts {
	uint8_t version;
	const char *id, *user, *pass;
	bool clean;
	uint16_t keepalive;
	const char *will_topic, *will_msg;
	uint8_t will_qos;
	bool will_retain;
	uint32_t session_expiry;   /* 5.0, 0 = absent */
	uint32_t will_delay;       /* 5.0 */
	uint16_t receive_max;      /* 5.0, 0 = absent */
	uint32_t max_packet;       /* 5.0, 0 = absent */
};

/* CONNECT; returns the CONNACK code (-1 when none came) and input's result. */
static int connect_o(struct fake *f, const struct copts *o, int *in_rc, struct mqtt_pkt *ack)
{
	struct mqtt_pkt p, a;
	int r;

	memset(&p, 0, sizeof(p));
	f->version = o->version ? o->version : MQTT_V311;
	p.type = MQTT_CONNECT;
	p.connect.version = f->version;
	p.connect.clean = o->clean;
	p.connect.keepalive = o->keepalive;
	p.connect.client_id = mqtt_cstr(o->id ? o->id : "");
	if (o->user) {
		p.connect.has_username = true;
		p.connect.username = mqtt_cstr(o->user);
	}
	if (o->pass) {
		p.connect.has_password = true;
		p.connect.password = mqtt_cstr(o->pass);
	}
	if (o->will_topic) {
		p.connect.will = true;
		p.connect.will_topic = mqtt_cstr(o->will_topic);
		p.connect.will_payload = mqtt_cstr(o->will_msg);
		p.connect.will_qos = o->will_qos;
		p.connect.will_retain = o->will_retain;
		if (o->will_delay) {
			p.connect.will_props.will_delay = o->will_delay;
			MQTT_PROP_SET(&p.connect.will_props, MQTT_PROP_WILL_DELAY_INTERVAL);
		}
	}
	if (o->session_expiry) {
		p.connect.props.session_expiry = o->session_expiry;
		MQTT_PROP_SET(&p.connect.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
	}
	if (o->receive_max) {
		p.connect.props.receive_maximum = o->receive_max;
		MQTT_PROP_SET(&p.connect.props, MQTT_PROP_RECEIVE_MAXIMUM);
	}
	if (o->max_packet) {
		p.connect.props.maximum_packet_size = o->max_packet;
		MQTT_PROP_SET(&p.connect.props, MQTT_PROP_MAXIMUM_PACKET_SIZE);
	}
	r = send_p(f, &p);
	if (in_rc)
		*in_rc = r;
	if (!next(f, &a))
		return -1;
	assert_int_equal(a.type, MQTT_CONNACK);
	if (ack)
		*ack = a;
	return a.connack.rc;
}

static void connect_ok(struct fake *f, uint8_t version, const char *id, bool clean)
{
	struct copts o = { .version = version, .id = id, .clean = clean };
	int in_rc;

	assert_int_equal(connect_o(f, &o, &in_rc, NULL), 0);
	assert_int_equal(in_rc, 0);
}

/* A SUBSCRIBE (id 77) of one filter, with a Subscription Identifier when
 * sub_id is not 0; input's result. */
static int send_sub1(struct fake *f, const struct mqtt_sub *s, uint32_t sub_id)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBSCRIBE;
	p.subscribe.id = 77;
	p.subscribe.n = 1;
	p.subscribe.subs = s;
	if (sub_id) {
		p.subscribe.props.sub_ids[0] = sub_id;
		p.subscribe.props.n_sub_ids = 1;
	}
	return send_p(f, &p);
}

static void subscribe(struct fake *f, const char *filter, uint8_t qos, uint8_t want_rc)
{
	struct mqtt_sub s = { mqtt_cstr(filter), qos, false, false, 0 };
	struct mqtt_pkt p;

	assert_int_equal(send_sub1(f, &s, 0), 0);
	expect_type(f, &p, MQTT_SUBACK);
	assert_int_equal(p.suback.id, 77);
	assert_int_equal(p.suback.n, 1);
	assert_int_equal(p.suback.rcs[0], want_rc);
}

static int publish(struct fake *f, const char *topic, const char *payload, uint8_t qos,
		   bool retain, uint16_t id)
{
	uint8_t buf[1024];
	long n = mqtt_build_publish(buf, sizeof(buf), f->version, topic, payload, strlen(payload),
				    qos, retain, id);

	assert_true(n > 0);
	return input(f, buf, (size_t)n);
}

static void ack(struct fake *f, enum mqtt_type t, uint16_t id)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	p.ack.id = id;
	assert_int_equal(send_p(f, &p), 0);
}

static void expect_publish(struct fake *f, const char *topic, const char *payload, uint8_t qos,
			   bool retain, struct mqtt_pkt *out)
{
	struct mqtt_pkt p;

	expect_type(f, &p, MQTT_PUBLISH);
	if (!mqtt_str_eq(p.publish.topic, topic))
		fail_msg("topic '%.*s', want '%s'", (int)p.publish.topic.len, p.publish.topic.p, topic);
	assert_int_equal(p.publish.payload_len, strlen(payload));
	assert_memory_equal(p.publish.payload, payload, strlen(payload));
	assert_int_equal(p.publish.qos, qos);
	assert_int_equal(p.publish.retain, retain);
	if (qos)
		assert_int_not_equal(p.publish.id, 0);
	if (out)
		*out = p;
}

/* ---- CONNECT ------------------------------------------------------------ */

static void test_connect_v311(void **state)
{
	struct eng *eng = mk_default();
	struct fake f;
	struct eng_stats st;
	(void)state;

	fake_open(eng, &f, "ssl");
	assert_int_equal(input_hex(&f, "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63"), 0);
	assert_int_equal(f.len, 4);
	assert_memory_equal(f.out, "\x20\x02\x00\x00", 4);
	assert_int_equal(R.connected, 1);
	assert_string_equal(R.client_id, "abc");
	assert_string_equal(R.username, "(null)");
	assert_string_equal(R.listener, "ssl");
	assert_int_equal(R.mqtt_version, 4);
	assert_ptr_equal(R.opaque, &f);
	assert_true(R.conn_id > 0);
	assert_string_equal(eng_client_info(f.c)->client_id, "abc");
	eng_stats_get(eng, &st);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.connected, 1);
	assert_int_equal(st.connects_total, 1);
	assert_int_equal(st.bytes_in, 17);
	assert_int_equal(st.bytes_out, 4);

	/* PINGREQ -> PINGRESP; DISCONNECT -> close, no more bytes. */
	assert_int_equal(input_hex(&f, "c0 00"), 0);
	assert_int_equal(f.len, 6);
	assert_memory_equal(f.out + 4, "\xd0\x00", 2);
	assert_int_equal(input_hex(&f, "e0 00"), -1);
	assert_int_equal(f.len, 6);
	assert_int_equal(f.close_calls, 0);
	assert_int_equal(R.disconnected, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_NORMAL);
	/* Clean session: gone with the connection. */
	assert_int_equal(R.removed, 1);
	fake_free(&f);
	eng_stats_get(eng, &st);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.connected, 0);
	assert_int_equal(st.sessions, 0);
	eng_free(eng);
}

static void test_connect_v5_and_split(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	struct mqtt_pkt a;
	uint8_t buf[128];
	long n;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_inflight = 5;
	cfg.max_packet_size = 4096;
	cfg.session_expiry_max = 100;
	eng = mk(&cfg);
	fake_open(eng, &f, "ws");
	f.version = MQTT_V5;
	/* Empty client id, Session Expiry 1000 (capped to 100); one byte per call. */
	{
		struct mqtt_pkt p;

		memset(&p, 0, sizeof(p));
		p.type = MQTT_CONNECT;
		p.connect.version = MQTT_V5;
		p.connect.keepalive = 30;
		p.connect.props.session_expiry = 1000;
		MQTT_PROP_SET(&p.connect.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
		n = mqtt_encode(&p, MQTT_V5, buf, sizeof(buf));
		assert_true(n > 0);
	}
	for (long i = 0; i < n; i++) {
		assert_int_equal(input(&f, buf + i, 1), 0);
		if (i < n - 1)
			assert_int_equal(f.len, 0);
	}
	expect_type(&f, &a, MQTT_CONNACK);
	assert_int_equal(a.connack.rc, 0);
	assert_false(a.connack.session_present);
	assert_true(MQTT_HAS(&a.connack.props, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER));
	assert_true(mqtt_str_eq(a.connack.props.assigned_client_id, R.client_id));
	assert_memory_equal(R.client_id, "ppmq-", 5);
	assert_int_equal(a.connack.props.receive_maximum, 5);
	assert_int_equal(a.connack.props.maximum_packet_size, 4096);
	assert_int_equal(a.connack.props.session_expiry, 100);
	assert_true(MQTT_HAS(&a.connack.props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM));
	assert_true(MQTT_HAS(&a.connack.props, MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE));
	assert_int_equal(a.connack.props.shared_sub_available, 1);
	assert_int_equal(R.mqtt_version, 5);
	assert_string_equal(R.listener, "ws");

	/* Two packets in one buffer, the second cut in half. */
	assert_int_equal(input_hex(&f, "c0 00 c0"), 0);
	expect_type(&f, &a, MQTT_PINGRESP);
	expect_nothing(&f);
	assert_int_equal(input_hex(&f, "00"), 0);
	expect_type(&f, &a, MQTT_PINGRESP);
	fake_free(&f);
	assert_int_equal(R.disconnected, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_CLOSED);
	/* Session Expiry 100: still there. */
	assert_int_equal(R.removed, 0);
	tick(eng, T0 + 99);
	assert_int_equal(R.removed, 0);
	tick(eng, T0 + 100);
	assert_int_equal(R.removed, 1);
	eng_free(eng);
}

/* A verified certificate's CN (from the core) is the user name, and
 * authenticates: the CONNECT's own user name and password do not matter. */
static void test_cert_identity(void **state)
{
	static const struct eng_user users[] = { { "alice", "secret" } };
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	int in_rc, before;
	struct copts o = { .version = 4, .id = "dev-9", .clean = true, .user = "mallory", .pass = "x" };
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = false;
	cfg.users = users;
	cfg.n_users = 1;
	eng = mk(&cfg);
	before = R.auth_failed;
	fake_open_id(eng, &f, "ssl", "device-9");
	assert_int_equal(connect_o(&f, &o, &in_rc, NULL), 0);
	assert_int_equal(R.auth_failed, before);
	assert_string_equal(R.username, "device-9");
	fake_free(&f);
	/* without one, the same CONNECT is refused */
	fake_open(eng, &f, "ssl");
	assert_int_equal(connect_o(&f, &o, &in_rc, NULL), 4);
	assert_int_equal(R.auth_failed, before + 1);
	fake_free(&f);
	eng_free(eng);
}

static void test_auth(void **state)
{
	static const struct eng_user users[] = { { "alice", "secret" }, { "bob", NULL } };
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	struct eng_stats st;
	int in_rc;
	static const struct {
		uint8_t version;
		const char *user, *pass;
		int rc;
		const char *reason;
	} cases[] = {
		{ 4, "alice", "secret", 0, NULL },
		{ 4, "alice", "wrong", 4, ENG_AUTH_BAD_PASSWORD },
		{ 4, "alice", NULL, 4, ENG_AUTH_BAD_PASSWORD },
		{ 4, "alice", "secre", 4, ENG_AUTH_BAD_PASSWORD },
		{ 4, "alice", "secret!", 4, ENG_AUTH_BAD_PASSWORD },
		{ 4, "mallory", "x", 4, ENG_AUTH_UNKNOWN_USER },
		{ 4, NULL, NULL, 5, ENG_AUTH_ANONYMOUS_NOT_ALLOWED },
		{ 4, "bob", "anything", 0, NULL },
		{ 5, "alice", "secret", 0, NULL },
		{ 5, "alice", "wrong", 0x86, ENG_AUTH_BAD_PASSWORD },
		{ 5, "mallory", NULL, 0x86, ENG_AUTH_UNKNOWN_USER },
		{ 5, NULL, NULL, 0x87, ENG_AUTH_ANONYMOUS_NOT_ALLOWED },
		{ 5, NULL, "pw-only", 0x87, ENG_AUTH_ANONYMOUS_NOT_ALLOWED },
	};
	int fails = 0;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = false;
	cfg.users = users;
	cfg.n_users = 2;
	eng = mk(&cfg);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct copts o = { .version = cases[i].version, .id = "dev-1", .clean = true,
				   .user = cases[i].user, .pass = cases[i].pass };
		int before = R.auth_failed;

		fake_open(eng, &f, "tcp");
		assert_int_equal(connect_o(&f, &o, &in_rc, NULL), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(in_rc, 0);
			assert_int_equal(R.auth_failed, before);
		} else {
			fails++;
			assert_int_equal(in_rc, -1);
			expect_nothing(&f);
			assert_int_equal(R.auth_failed, before + 1);
			assert_string_equal(R.reason, cases[i].reason);
			assert_string_equal(R.client_id, "dev-1");
			assert_string_equal(R.username, cases[i].user ? cases[i].user : "(null)");
			assert_int_equal(R.password_provided, cases[i].pass != NULL);
			assert_ptr_equal(R.opaque, &f);
			/* Nothing more is processed on a refused connection. */
			assert_int_equal(input_hex(&f, "c0 00"), -1);
			expect_nothing(&f);
		}
		fake_free(&f);
	}
	eng_stats_get(eng, &st);
	assert_int_equal(st.auth_failures, fails);
	assert_int_equal(st.connects_refused, fails);
	assert_int_equal(R.disconnected, R.connected);
	eng_free(eng);

	/* No user database, anonymous allowed: user names are accepted. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	eng = mk(&cfg);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "x", .user = "who", .pass = "ever", .clean = true };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), 0);
	}
	fake_free(&f);
	eng_free(eng);
}

static bool ext_auth(void *ctx, const char *user, const void *pw, size_t len, bool given,
		     const char **why)
{
	(void)ctx;
	if (user && strcmp(user, "ext") == 0 && given && len == 2 && memcmp(pw, "ok", 2) == 0)
		return true;
	*why = ENG_AUTH_BAD_PASSWORD;
	return false;
}

static void test_auth_callback_and_method(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	struct mqtt_pkt p, a;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.auth = ext_auth;
	eng = mk(&cfg);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "e", .user = "ext", .pass = "ok", .clean = true };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), 0);
	}
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "e", .user = "ext", .pass = "no", .clean = true };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), 4);
		assert_string_equal(R.reason, ENG_AUTH_BAD_PASSWORD);
	}
	fake_free(&f);

	/* 5.0 enhanced authentication is refused: 0x8C, recorded. */
	fake_open(eng, &f, "wss");
	f.version = MQTT_V5;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	p.connect.version = MQTT_V5;
	p.connect.clean = true;
	p.connect.client_id = mqtt_cstr("scram");
	p.connect.props.auth_method = mqtt_cstr("SCRAM-SHA-1");
	MQTT_PROP_SET(&p.connect.props, MQTT_PROP_AUTHENTICATION_METHOD);
	assert_int_equal(send_p(&f, &p), -1);
	expect_type(&f, &a, MQTT_CONNACK);
	assert_int_equal(a.connack.rc, MQTT_RC_BAD_AUTHENTICATION_METHOD);
	assert_string_equal(R.reason, ENG_AUTH_BAD_METHOD);
	assert_string_equal(R.listener, "wss");
	fake_free(&f);
	eng_free(eng);
}

static void test_client_id_rules(void **state)
{
	struct eng *eng = mk_default();
	struct fake f;
	int in_rc;
	(void)state;

	/* 3.1.1: empty id needs clean session. */
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "", .clean = false };

		assert_int_equal(connect_o(&f, &o, &in_rc, NULL), MQTT_CONNACK_REFUSED_IDENTIFIER);
		assert_int_equal(in_rc, -1);
	}
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "", .clean = true };

		assert_int_equal(connect_o(&f, &o, &in_rc, NULL), 0);
		assert_memory_equal(eng_client_info(f.c)->client_id, "ppmq-", 5);
		assert_string_equal(R.client_id, eng_client_info(f.c)->client_id);
	}
	fake_free(&f);
	/* 5.0: assigned even without clean start. */
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 5, .id = "", .clean = false };
		struct mqtt_pkt a;

		assert_int_equal(connect_o(&f, &o, &in_rc, &a), 0);
		assert_true(mqtt_str_eq(a.connack.props.assigned_client_id,
					eng_client_info(f.c)->client_id));
	}
	fake_free(&f);
	eng_free(eng);
}

static void test_keepalive_max(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	struct mqtt_pkt a;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.keepalive_max = 60;
	eng = mk(&cfg);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "k", .clean = true, .keepalive = 120 };

		/* 3.1.1 cannot be told: accepted, and the cap is enforced. */
		assert_int_equal(connect_o(&f, &o, NULL, &a), 0);
		assert_false(MQTT_HAS(&a.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE));
		assert_int_equal(eng_client_info(f.c)->keepalive, 60);
	}
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 5, .id = "k", .clean = true, .keepalive = 0 };

		assert_int_equal(connect_o(&f, &o, NULL, &a), 0);
		assert_true(MQTT_HAS(&a.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE));
		assert_int_equal(a.connack.props.server_keepalive, 60);
		assert_int_equal(eng_client_info(f.c)->keepalive, 60);
	}
	/* The server's keep-alive applies: 90 s of silence ends it, not a
	 * millisecond less. */
	tick_ms(eng, (T0 + 90) * 1000 - 1);
	assert_int_equal(f.close_calls, 0);
	tick(eng, T0 + 90);
	assert_int_equal(f.close_calls, 1);
	fake_free(&f);
	eng_free(eng);
}

/* ---- protocol violations ------------------------------------------------ */

static void test_violations_before_connect(void **state)
{
	struct eng *eng = mk_default();
	struct fake f;
	struct mqtt_pkt a;
	struct eng_stats st;
	(void)state;

	/* Not a CONNECT first: closed on the first byte, nothing sent. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "30"), -1);
	assert_int_equal(f.len, 0);
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	assert_int_equal(input(&f, (const uint8_t *)"GET / HTTP/1.1\r\n", 16), -1);
	assert_int_equal(f.len, 0);
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "c0 00"), -1);
	fake_free(&f);
	/* Wrong protocol name: close without CONNACK. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "10 0f 00 04 4d 51 54 58 04 02 00 3c 00 03 61 62 63"), -1);
	assert_int_equal(f.len, 0);
	fake_free(&f);
	/* MQTT 3.1 (MQIsdp): CONNACK 0x01. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "10 11 00 06 4d 51 49 73 64 70 03 02 00 3c 00 03 61 62 63"), -1);
	assert_int_equal(f.len, 4);
	assert_memory_equal(f.out, "\x20\x02\x00\x01", 4);
	fake_free(&f);
	/* Level 6: the 5.0 form, 0x84. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "10 0f 00 04 4d 51 54 54 06 02 00 3c 00 03 61 62 63"), -1);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.out, "\x20\x03\x00\x84\x00", 5);
	fake_free(&f);
	/* 5.0 CONNECT with a duplicate property: CONNACK 0x82. */
	fake_open(eng, &f, "tcp");
	f.version = MQTT_V5;
	assert_int_equal(input_hex(&f, "10 17 00 04 4d 51 54 54 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 00"),
			 -1);
	expect_type(&f, &a, MQTT_CONNACK);
	assert_int_equal(a.connack.rc, MQTT_RC_PROTOCOL_ERROR);
	fake_free(&f);
	/* 3.1.1 reserved flag: close, nothing sent. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "10 0f 00 04 4d 51 54 54 04 03 00 3c 00 03 61 62 63"), -1);
	assert_int_equal(f.len, 0);
	fake_free(&f);
	/* Bad remaining length. */
	fake_open(eng, &f, "tcp");
	assert_int_equal(input_hex(&f, "10 ff ff ff ff"), -1);
	fake_free(&f);
	assert_int_equal(R.connected, 0);
	assert_int_equal(R.auth_failed, 0);
	eng_stats_get(eng, &st);
	assert_int_equal(st.protocol_errors, 9);
	eng_free(eng);
}

static void test_violations_after_connect(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f;
	struct mqtt_pkt a;
	static const struct {
		uint8_t version;
		const char *hex;
		int disconnect_rc;   /* -1: no DISCONNECT expected */
	} cases[] = {
		{ 4, "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63", -1 }, /* second CONNECT */
		{ 5, "10 10 00 04 4d 51 54 54 05 02 00 3c 00 00 03 61 62 63", 0x82 },
		/* a second CONNECT of an unknown level: still a Protocol Error
		 * (0x84 is CONNACK's code, not one a DISCONNECT may carry) */
		{ 5, "10 0f 00 04 4d 51 54 54 06 02 00 3c 00 03 61 62 63", 0x82 },
		{ 4, "30 05 00 03 61 2f 2b", -1 },                 /* wildcard in topic */
		{ 5, "30 06 00 03 61 2f 2b 00", 0x90 },
		{ 5, "36 06 00 01 74 00 01 00", 0x81 },            /* QoS 3 */
		{ 4, "20 02 00 00", -1 },                          /* CONNACK from a client */
		{ 5, "d0 00", 0x82 },                              /* PINGRESP from a client */
		{ 5, "f0 00", 0x82 },                              /* AUTH */
		{ 4, "f0 00", -1 },
		{ 5, "60 02 00 01", 0x81 },                        /* PUBREL flags */
		{ 5, "30 07 00 01 74 03 23 00 11", 0x94 },         /* alias above maximum */
		{ 5, "30 06 00 00 03 23 00 01", 0x82 },            /* unknown alias */
		{ 5, "30 06 00 01 74 02 0b 01", 0x82 },            /* Subscription Identifier */
		{ 5, "30 7f", 0x95 },                              /* over max_packet_size */
		{ 4, "30 7f", -1 },
		{ 5, "e0 07 00 05 11 00 00 00 0a", 0x82 },         /* expiry after 0 */
		{ 5, "c0 ff ff ff ff", 0x81 },
	};
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_packet_size = 100;
	eng = mk(&cfg);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_open(eng, &f, "tcp");
		connect_ok(&f, cases[i].version, "viol", true);
		if (input_hex(&f, cases[i].hex) != -1)
			fail_msg("case %zu (%s): connection kept", i, cases[i].hex);
		if (cases[i].disconnect_rc >= 0) {
			expect_type(&f, &a, MQTT_DISCONNECT);
			assert_int_equal(a.disconnect.rc, cases[i].disconnect_rc);
		}
		expect_nothing(&f);
		assert_string_equal(R.disc_reason, ENG_DISC_PROTOCOL);
		fake_free(&f);
	}
	eng_free(eng);
}

/* ---- publish / subscribe ------------------------------------------------ */

static void test_qos_flows(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b;
	struct mqtt_pkt p;
	uint16_t id;
	struct eng_stats st;
	(void)state;

	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		fake_open(eng, &a, "tcp");
		fake_open(eng, &b, "ws");
		connect_ok(&a, v, "pub", true);
		connect_ok(&b, v, "sub", true);
		subscribe(&b, "t/+", 2, 2);
		subscribe(&b, "bad/#/x", 1, v == MQTT_V5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80);

		/* QoS 0. */
		assert_int_equal(publish(&a, "t/0", "zero", 0, false, 0), 0);
		expect_nothing(&a);
		expect_publish(&b, "t/0", "zero", 0, false, NULL);

		/* QoS 1: PUBACK to the publisher, the subscriber acks its copy. */
		assert_int_equal(publish(&a, "t/1", "one", 1, false, 11), 0);
		expect_type(&a, &p, MQTT_PUBACK);
		assert_int_equal(p.ack.id, 11);
		assert_int_equal(p.ack.rc, 0);
		expect_publish(&b, "t/1", "one", 1, false, &p);
		ack(&b, MQTT_PUBACK, p.publish.id);
		expect_nothing(&b);

		/* QoS 2 both ways. */
		assert_int_equal(publish(&a, "t/2", "two", 2, false, 12), 0);
		expect_type(&a, &p, MQTT_PUBREC);
		assert_int_equal(p.ack.id, 12);
		expect_publish(&b, "t/2", "two", 2, false, &p);
		id = p.publish.id;
		/* The publisher resends (DUP) before PUBREL: not delivered twice. */
		{
			uint8_t buf[64];
			long n = mqtt_build_publish(buf, sizeof(buf), v, "t/2", "two", 3, 2, false, 12);

			buf[0] |= 0x08;
			assert_int_equal(input(&a, buf, (size_t)n), 0);
			expect_type(&a, &p, MQTT_PUBREC);
			expect_nothing(&b);
		}
		ack(&a, MQTT_PUBREL, 12);
		expect_type(&a, &p, MQTT_PUBCOMP);
		assert_int_equal(p.ack.id, 12);
		assert_int_equal(p.ack.rc, 0);
		/* PUBREL for an unknown id: PUBCOMP (5.0: 0x92). */
		ack(&a, MQTT_PUBREL, 12);
		expect_type(&a, &p, MQTT_PUBCOMP);
		assert_int_equal(p.ack.rc, v == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0);
		ack(&b, MQTT_PUBREC, id);
		expect_type(&b, &p, MQTT_PUBREL);
		assert_int_equal(p.ack.id, id);
		ack(&b, MQTT_PUBCOMP, id);
		expect_nothing(&b);

		/* Downgrade to the subscription's QoS. */
		subscribe(&b, "d/#", 0, 0);
		assert_int_equal(publish(&a, "d/x", "down", 2, false, 13), 0);
		expect_type(&a, &p, MQTT_PUBREC);
		expect_publish(&b, "d/x", "down", 0, false, NULL);
		ack(&a, MQTT_PUBREL, 13);
		expect_type(&a, &p, MQTT_PUBCOMP);

		/* Overlapping subscriptions: one copy, at the highest QoS. */
		subscribe(&b, "d/+", 1, 1);
		assert_int_equal(publish(&a, "d/y", "both", 1, false, 14), 0);
		expect_type(&a, &p, MQTT_PUBACK);
		expect_publish(&b, "d/y", "both", 1, false, &p);
		ack(&b, MQTT_PUBACK, p.publish.id);
		expect_nothing(&b);

		/* No subscriber: 5.0 says so in the PUBACK. */
		assert_int_equal(publish(&a, "nobody", "x", 1, false, 15), 0);
		expect_type(&a, &p, MQTT_PUBACK);
		assert_int_equal(p.ack.rc, v == MQTT_V5 ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : 0);

		/* Unsubscribe: UNSUBACK, then nothing more. */
		{
			struct mqtt_str fl[2] = { mqtt_cstr("t/+"), mqtt_cstr("never") };

			memset(&p, 0, sizeof(p));
			p.type = MQTT_UNSUBSCRIBE;
			p.unsubscribe.id = 9;
			p.unsubscribe.n = 2;
			p.unsubscribe.filters = fl;
			assert_int_equal(send_p(&b, &p), 0);
			expect_type(&b, &p, MQTT_UNSUBACK);
			assert_int_equal(p.suback.id, 9);
			if (v == MQTT_V5) {
				assert_int_equal(p.suback.n, 2);
				assert_int_equal(p.suback.rcs[0], 0);
				assert_int_equal(p.suback.rcs[1], MQTT_RC_NO_SUBSCRIPTION_EXISTED);
			}
			assert_int_equal(publish(&a, "t/0", "gone", 0, false, 0), 0);
			expect_nothing(&b);
		}
		fake_free(&a);
		fake_free(&b);
	}
	eng_stats_get(eng, &st);
	assert_int_equal(st.msgs_in, 2 * 8);
	assert_int_equal(st.msgs_out, 2 * 5);
	eng_free(eng);
}

static void test_inflight_window(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b;
	struct mqtt_pkt p;
	uint16_t ids[4];
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_inflight = 2;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	fake_open(eng, &b, "tcp");
	connect_ok(&a, 4, "a", true);
	connect_ok(&b, 4, "b", true);
	subscribe(&b, "w", 1, 1);
	for (int i = 0; i < 4; i++) {
		char pl[2] = { (char)('0' + i), 0 };

		assert_int_equal(publish(&a, "w", pl, 1, false, (uint16_t)(i + 1)), 0);
		expect_type(&a, &p, MQTT_PUBACK);
	}
	expect_publish(&b, "w", "0", 1, false, &p);
	ids[0] = p.publish.id;
	expect_publish(&b, "w", "1", 1, false, &p);
	ids[1] = p.publish.id;
	assert_int_not_equal(ids[0], ids[1]);
	expect_nothing(&b);
	ack(&b, MQTT_PUBACK, ids[0]);
	expect_publish(&b, "w", "2", 1, false, &p);
	ids[2] = p.publish.id;
	expect_nothing(&b);
	/* A stray PUBACK changes nothing. */
	ack(&b, MQTT_PUBACK, 999);
	expect_nothing(&b);
	ack(&b, MQTT_PUBACK, ids[1]);
	expect_publish(&b, "w", "3", 1, false, &p);
	ids[3] = p.publish.id;
	ack(&b, MQTT_PUBACK, ids[2]);
	ack(&b, MQTT_PUBACK, ids[3]);
	expect_nothing(&b);
	fake_free(&a);
	fake_free(&b);
	eng_free(eng);
}

static void test_retained(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b, c;
	struct mqtt_pkt p;
	struct eng_stats st;
	(void)state;

	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "a", true);
	assert_int_equal(publish(&a, "r/1", "hello", 1, true, 1), 0);
	expect_type(&a, &p, MQTT_PUBACK);
	assert_int_equal(publish(&a, "r/2", "world", 0, true, 0), 0);
	assert_int_equal(publish(&a, "other", "x", 0, true, 0), 0);
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 3);

	/* New subscription: retained copies, RETAIN set, QoS min(msg, sub). */
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "b", true);
	subscribe(&b, "r/#", 1, 1);
	{
		bool seen1 = false, seen2 = false;

		for (int i = 0; i < 2; i++) {
			expect_type(&b, &p, MQTT_PUBLISH);
			assert_true(p.publish.retain);
			if (mqtt_str_eq(p.publish.topic, "r/1")) {
				seen1 = true;
				assert_int_equal(p.publish.qos, 1);
				ack(&b, MQTT_PUBACK, p.publish.id);
			} else {
				seen2 = mqtt_str_eq(p.publish.topic, "r/2");
				assert_int_equal(p.publish.qos, 0);
			}
		}
		assert_true(seen1 && seen2);
	}
	expect_nothing(&b);
	/* Established subscription: RETAIN cleared (3.1.1). Replaces r/1. */
	assert_int_equal(publish(&a, "r/1", "again", 0, true, 0), 0);
	expect_publish(&b, "r/1", "again", 0, false, NULL);
	/* Empty retained payload: delivered, and deletes r/2. */
	assert_int_equal(publish(&a, "r/2", "", 0, true, 0), 0);
	expect_publish(&b, "r/2", "", 0, false, NULL);
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 2);

	fake_open(eng, &c, "tcp");
	connect_ok(&c, 4, "c", true);
	subscribe(&c, "r/+", 0, 0);
	expect_publish(&c, "r/1", "again", 0, true, NULL);
	expect_nothing(&c);
	/* '#' does not reach $-topics. */
	assert_int_equal(publish(&a, "$x/y", "dollar", 0, true, 0), 0);
	subscribe(&c, "#", 0, 0);
	for (int i = 0; i < 2; i++) {
		expect_type(&c, &p, MQTT_PUBLISH);
		assert_false(mqtt_str_eq(p.publish.topic, "$x/y"));
	}
	expect_nothing(&c);
	subscribe(&c, "$x/#", 0, 0);
	expect_publish(&c, "$x/y", "dollar", 0, true, NULL);
	fake_free(&a);
	fake_free(&b);
	fake_free(&c);
	eng_free(eng);
}

/* A PUBACK (QoS 1) or PUBREC (QoS 2) to f with id: its reason code. */
static uint8_t expect_ack_rc(struct fake *f, enum mqtt_type t, uint16_t id)
{
	struct mqtt_pkt p;

	expect_type(f, &p, t);
	assert_int_equal(p.ack.id, id);
	return p.ack.rc;
}

static void test_retained_limits(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a;
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.retained_max = 2;
	cfg.retained_max_bytes = 12;   /* topic and payload bytes */
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "a", true);
	assert_int_equal(publish(&a, "1", "aaaa", 0, true, 0), 0);
	assert_int_equal(publish(&a, "2", "bbbb", 0, true, 0), 0);
	assert_int_equal(publish(&a, "3", "c", 0, true, 0), 0);    /* count limit */
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 2);
	assert_int_equal(publish(&a, "2", "", 0, true, 0), 0);
	assert_int_equal(publish(&a, "3", "ccccccc", 0, true, 0), 0); /* 5 + 8 > 12 bytes */
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 1);
	assert_int_equal(publish(&a, "3", "cccccc", 0, true, 0), 0);
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 2);
	assert_int_equal(st.limit_hits[ENG_LIMIT_RETAINED_MESSAGES], 1);
	assert_int_equal(st.limit_hits[ENG_LIMIT_RETAINED_BYTES], 1);
	assert_int_equal(R.limits[ENG_LIMIT_RETAINED_BYTES], 1);
	assert_null(R.last_limit.client_id);
	fake_free(&a);

	/* 5.0: a QoS 1 retained message the store cannot keep is
	 * acknowledged with Quota exceeded. */
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "a5", true);
	assert_int_equal(publish(&a, "4", "d", 1, true, 9), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 9), MQTT_RC_QUOTA_EXCEEDED);
	eng_stats_get(eng, &st);
	assert_int_equal(st.limit_hits[ENG_LIMIT_RETAINED_MESSAGES], 2);
	fake_free(&a);
	eng_free(eng);
}

/* Bytes limits on a session's queue and on every offline session: what
 * does not fit is dropped for that session, counted and reported; a 5.0
 * publisher that reached nobody hears Quota exceeded. */
static void test_queue_byte_limits(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b, c;
	struct mqtt_pkt p;
	struct eng_stats st;
	char payload[1001];
	(void)state;

	memset(payload, 'x', 1000);
	payload[1000] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_queued_bytes = 2500;       /* two messages of 1003 bytes, not three */
	cfg.max_offline_bytes = 3500;      /* three, over both sessions */
	cfg.session_expiry_default = 60;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "pub", true);
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "s1", false);
	subscribe(&b, "a/#", 1, 1);
	fake_open(eng, &c, "tcp");
	connect_ok(&c, 4, "s2", false);
	subscribe(&c, "b/#", 1, 1);
	fake_free(&b);
	fake_free(&c);

	/* Offline: s1 takes two (its own limit), s2 one (the total). */
	assert_int_equal(publish(&a, "a/1", payload, 1, false, 1), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 1), 0);
	assert_int_equal(publish(&a, "a/2", payload, 1, false, 2), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 2), 0);
	assert_int_equal(publish(&a, "a/3", payload, 1, false, 3), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 3), MQTT_RC_QUOTA_EXCEEDED);
	assert_int_equal(R.limits[ENG_LIMIT_QUEUE_BYTES], 1);
	assert_string_equal(R.last_limit.client_id, "s1");
	assert_int_equal(R.last_limit.size, 1003);
	assert_int_equal(R.last_limit.limit, 2500);
	assert_int_equal(publish(&a, "b/1", payload, 1, false, 4), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 4), 0);
	assert_int_equal(publish(&a, "b/2", payload, 2, false, 5), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBREC, 5), MQTT_RC_QUOTA_EXCEEDED);
	assert_int_equal(R.limits[ENG_LIMIT_OFFLINE_BYTES], 1);
	assert_int_equal(R.last_limit.qos, 1);       /* as it would have been delivered */
	assert_int_equal(R.last_limit.limit, 3500);
	eng_stats_get(eng, &st);
	assert_int_equal(st.limit_hits[ENG_LIMIT_QUEUE_BYTES], 1);
	assert_int_equal(st.limit_hits[ENG_LIMIT_OFFLINE_BYTES], 1);
	assert_int_equal(st.offline_bytes, 3 * 1003);
	assert_int_equal(st.queued_bytes, 3 * 1003);

	/* Back online: what was kept arrives, and its bytes leave the
	 * offline total; acknowledged, they leave the session's. */
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "s1", false);
	expect_publish(&b, "a/1", payload, 1, false, &p);
	ack(&b, MQTT_PUBACK, p.publish.id);
	expect_publish(&b, "a/2", payload, 1, false, &p);
	ack(&b, MQTT_PUBACK, p.publish.id);
	expect_nothing(&b);
	eng_stats_get(eng, &st);
	assert_int_equal(st.offline_bytes, 1003);
	assert_int_equal(st.queued_bytes, 1003);

	/* Online, its own limit still holds. It does not read: what it
	 * takes waits in its queue. */
	b.backlog = 1u << 30;
	assert_int_equal(publish(&a, "a/4", payload, 1, false, 6), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 6), 0);
	assert_int_equal(publish(&a, "a/5", payload, 1, false, 7), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 7), 0);
	assert_int_equal(publish(&a, "a/6", payload, 1, false, 8), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 8), MQTT_RC_QUOTA_EXCEEDED);
	expect_nothing(&b);
	assert_int_equal(publish(&a, "b/3", payload, 1, false, 9), 0);
	assert_int_equal(expect_ack_rc(&a, MQTT_PUBACK, 9), 0);
	eng_stats_get(eng, &st);
	assert_int_equal(st.limit_hits[ENG_LIMIT_QUEUE_BYTES], 2);
	assert_int_equal(st.queued_bytes, 4 * 1003);
	assert_int_equal(st.offline_bytes, 2 * 1003);

	/* Offline again with 2 queued: over the total, its oldest goes. */
	fake_free(&b);
	eng_stats_get(eng, &st);
	assert_int_equal(st.limit_hits[ENG_LIMIT_OFFLINE_BYTES], 2);
	assert_int_equal(st.offline_bytes, 3 * 1003);
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "s1", false);
	expect_publish(&b, "a/5", payload, 1, false, NULL);
	expect_nothing(&b);
	fake_free(&b);
	fake_free(&a);
	eng_free(eng);
}

/* max_sessions: a CONNECT that needs a new session past it is refused;
 * one whose session is kept connects. */
static void test_sessions_limit(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b, c;
	struct copts o5 = { .version = 5, .id = "c5", .clean = true };
	struct copts o4 = { .version = 4, .id = "c4", .clean = true };
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_sessions = 2;
	cfg.session_expiry_default = 60;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "kept", false);
	fake_free(&a);                 /* offline, kept */
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "online", true);
	fake_open(eng, &c, "tcp");
	assert_int_equal(connect_o(&c, &o5, NULL, NULL), MQTT_RC_QUOTA_EXCEEDED);
	assert_int_equal(R.limits[ENG_LIMIT_SESSIONS], 1);
	assert_string_equal(R.last_limit.client_id, "c5");
	assert_ptr_equal(R.last_limit.opaque, &c);
	assert_int_equal(R.last_limit.limit, 2);
	fake_free(&c);
	fake_open(eng, &c, "tcp");
	assert_int_equal(connect_o(&c, &o4, NULL, NULL), MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE);
	fake_free(&c);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "kept", false);
	eng_stats_get(eng, &st);
	assert_int_equal(st.sessions, 2);
	assert_int_equal(st.limit_hits[ENG_LIMIT_SESSIONS], 2);
	fake_free(&a);
	fake_free(&b);
	eng_free(eng);
}

/* A client with more than max_output waiting to be written: QoS 0 is
 * dropped, QoS 1 waits in the session until the core says the output
 * was written. */
static void test_output_backlog(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b;
	struct mqtt_pkt p;
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_output = 4096;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "pub", true);
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "sub", true);
	subscribe(&b, "t", 1, 1);

	b.backlog = 4095;
	assert_int_equal(publish(&a, "t", "q0-a", 0, false, 0), 0);
	expect_publish(&b, "t", "q0-a", 0, false, NULL);
	b.backlog = 4096;
	assert_int_equal(publish(&a, "t", "q0-b", 0, false, 0), 0);
	assert_int_equal(publish(&a, "t", "q1-a", 1, false, 1), 0);
	expect_type(&a, &p, MQTT_PUBACK);
	expect_nothing(&b);
	eng_stats_get(eng, &st);
	assert_int_equal(st.limit_hits[ENG_LIMIT_OUTPUT], 1);
	assert_int_equal(R.limits[ENG_LIMIT_OUTPUT], 1);
	assert_string_equal(R.last_limit.client_id, "sub");
	assert_int_equal(R.last_limit.qos, 0);
	assert_int_equal(b.drain_watches, 1);
	assert_int_equal(st.queued_bytes, 5);

	/* Written out: the QoS 1 message goes. */
	b.backlog = 0;
	eng_client_drained(b.c);
	expect_publish(&b, "t", "q1-a", 1, false, &p);
	ack(&b, MQTT_PUBACK, p.publish.id);
	eng_stats_get(eng, &st);
	assert_int_equal(st.queued_bytes, 0);
	fake_free(&a);
	fake_free(&b);
	eng_free(eng);
}

/* ---- will --------------------------------------------------------------- */

static void open_will_client(struct eng *eng, struct fake *f, uint8_t v, const char *id,
			     uint32_t delay, uint32_t expiry)
{
	struct copts o = { .version = v, .id = id, .clean = true, .keepalive = 10,
			   .will_topic = "will/x", .will_msg = "bye", .will_qos = 1,
			   .will_delay = delay, .session_expiry = expiry };

	fake_open(eng, f, "tcp");
	assert_int_equal(connect_o(f, &o, NULL, NULL), 0);
}

static void test_will(void **state)
{
	struct eng *eng = mk_default();
	struct fake w, s;
	struct mqtt_pkt p;
	(void)state;

	fake_open(eng, &s, "tcp");
	connect_ok(&s, 5, "watcher", true);
	subscribe(&s, "will/#", 1, 1);

	/* Transport lost: the will goes out. */
	open_will_client(eng, &w, 4, "w1", 0, 0);
	fake_gone(&w, false);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	free(w.out);

	/* DISCONNECT: no will. */
	open_will_client(eng, &w, 4, "w2", 0, 0);
	assert_int_equal(input_hex(&w, "e0 00"), -1);
	fake_gone(&w, true);
	expect_nothing(&s);
	free(w.out);

	/* 5.0 DISCONNECT 0x04: will. */
	open_will_client(eng, &w, 5, "w3", 0, 0);
	assert_int_equal(input_hex(&w, "e0 01 04"), -1);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	fake_gone(&w, true);
	free(w.out);

	/* Protocol error: will. */
	open_will_client(eng, &w, 4, "w4", 0, 0);
	assert_int_equal(input_hex(&w, "20 02 00 00"), -1);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	fake_gone(&w, true);
	free(w.out);

	/* Keep-alive timeout (10 s => 15 s): will. */
	open_will_client(eng, &w, 4, "w5", 0, 0);
	tick_ms(eng, (T0 + 15) * 1000 - 1);
	assert_int_equal(w.close_calls, 0);
	expect_nothing(&s);
	/* The watcher stays alive with a ping. */
	assert_int_equal(input_hex(&s, "c0 00"), 0);
	expect_type(&s, &p, MQTT_PINGRESP);
	tick(eng, T0 + 15);
	assert_int_equal(w.close_calls, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_KEEPALIVE);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	/* After a close request, input is ignored. */
	assert_int_equal(input_hex(&w, "c0 00"), 0);
	assert_int_equal(w.len, 4);
	fake_gone(&w, true);
	free(w.out);

	/* 5.0 Will Delay 5 s with Session Expiry 100: published 5 s later... */
	tick(eng, T0 + 20);
	assert_int_equal(input_hex(&s, "c0 00"), 0);
	expect_type(&s, &p, MQTT_PINGRESP);
	open_will_client(eng, &w, 5, "w6", 5, 100);
	fake_gone(&w, false);
	expect_nothing(&s);
	tick(eng, T0 + 24);
	expect_nothing(&s);
	tick(eng, T0 + 25);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	free(w.out);
	/* ... and not at all when the client is back in time. */
	assert_int_equal(input_hex(&s, "c0 00"), 0);
	expect_type(&s, &p, MQTT_PINGRESP);
	open_will_client(eng, &w, 5, "w7", 5, 100);
	fake_gone(&w, false);
	free(w.out);
	open_will_client(eng, &w, 5, "w7", 0, 0);
	tick(eng, T0 + 35);
	expect_nothing(&s);
	assert_int_equal(input_hex(&w, "e0 00"), -1);
	fake_gone(&w, true);
	free(w.out);
	expect_nothing(&s);

	fake_free(&s);
	eng_free(eng);
}

/* ---- takeover, keep-alive, sessions -------------------------------------- */

static void test_takeover(void **state)
{
	struct eng *eng = mk_default();
	struct fake a1, a2, s;
	struct mqtt_pkt p;
	int in_rc;
	(void)state;

	fake_open(eng, &s, "tcp");
	connect_ok(&s, 4, "watch", true);
	subscribe(&s, "will/#", 0, 0);

	fake_open(eng, &a1, "tcp");
	{
		struct copts o = { .version = 5, .id = "dup", .clean = false, .session_expiry = 60,
				   .will_topic = "will/dup", .will_msg = "old" };

		assert_int_equal(connect_o(&a1, &o, NULL, NULL), 0);
	}
	subscribe(&a1, "keep/me", 1, 1);
	uint64_t first_conn = R.conn_id;

	fake_open(eng, &a2, "ssl");
	{
		struct copts o = { .version = 5, .id = "dup", .clean = false, .session_expiry = 60 };
		struct mqtt_pkt ack2;

		assert_int_equal(connect_o(&a2, &o, &in_rc, &ack2), 0);
		assert_int_equal(in_rc, 0);
		assert_true(ack2.connack.session_present);
	}
	/* The old one: DISCONNECT 0x8E then closed; its will published. */
	expect_type(&a1, &p, MQTT_DISCONNECT);
	assert_int_equal(p.disconnect.rc, MQTT_RC_SESSION_TAKEN_OVER);
	assert_int_equal(a1.close_calls, 1);
	expect_publish(&s, "will/dup", "old", 0, false, NULL);
	assert_int_equal(R.disconnected, 1);
	assert_int_equal(R.connected, 3);
	assert_true(R.conn_id != first_conn);
	assert_string_equal(R.listener, "ssl");
	/* The session (and its subscription) moved to the new connection. */
	assert_int_equal(publish(&s, "keep/me", "hi", 0, false, 0), 0);
	expect_publish(&a2, "keep/me", "hi", 0, false, NULL);
	expect_nothing(&a1);
	/* The old transport closes later: no second callback, nothing sent. */
	assert_int_equal(input_hex(&a1, "c0 00"), 0);
	fake_free(&a1);
	assert_int_equal(R.disconnected, 1);
	expect_nothing(&a1);

	/* 3.1.1 takeover: no DISCONNECT, just closed. */
	fake_open(eng, &a1, "tcp");
	connect_ok(&a1, 4, "dup3", true);
	fake_free(&a2);
	{
		struct fake a3;

		fake_open(eng, &a3, "tcp");
		connect_ok(&a3, 4, "dup3", true);
		assert_int_equal(a1.close_calls, 1);
		expect_nothing(&a1);
		assert_string_equal(R.disc_reason, ENG_DISC_TAKEOVER);
		fake_free(&a3);
	}
	fake_free(&a1);
	fake_free(&s);
	eng_free(eng);
}

static void test_keepalive_and_connect_timeout(void **state)
{
	struct eng *eng = mk_default();
	struct fake f, idle;
	struct mqtt_pkt p;
	(void)state;

	fake_open(eng, &idle, "tcp");
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "ka", .clean = true, .keepalive = 10 };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), 0);
	}
	tick(eng, T0 + 9);
	assert_int_equal(idle.close_calls, 0);
	/* No CONNECT within the default 10 s. */
	tick(eng, T0 + 10);
	assert_int_equal(idle.close_calls, 1);
	assert_int_equal(idle.len, 0);
	/* Any packet resets the keep-alive clock. */
	assert_int_equal(input_hex(&f, "c0 00"), 0);
	expect_type(&f, &p, MQTT_PINGRESP);
	tick_ms(eng, (T0 + 25) * 1000 - 1);
	assert_int_equal(f.close_calls, 0);
	tick(eng, T0 + 25);
	assert_int_equal(f.close_calls, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_KEEPALIVE);
	/* Ticking again does not close twice. */
	tick(eng, T0 + 100);
	assert_int_equal(f.close_calls, 1);
	fake_free(&f);
	fake_free(&idle);
	eng_free(eng);
}

static void test_persistent_session(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b;
	struct mqtt_pkt p, ackp;
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_queued = 3;
	cfg.session_expiry_default = 60;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 4, "pub", true);

	fake_open(eng, &b, "tcp");
	connect_ok(&b, 4, "pers", false);
	subscribe(&b, "q/#", 2, 2);
	/* One QoS 1 delivered but not acknowledged before the drop. */
	assert_int_equal(publish(&a, "q/0", "m0", 1, false, 1), 0);
	expect_type(&a, &p, MQTT_PUBACK);
	expect_publish(&b, "q/0", "m0", 1, false, NULL);
	fake_free(&b);
	assert_int_equal(R.removed, 0);

	/* Offline: QoS > 0 queued (bounded), QoS 0 not. */
	assert_int_equal(publish(&a, "q/1", "m1", 1, false, 2), 0);
	assert_int_equal(publish(&a, "q/2", "m2", 2, false, 3), 0);
	assert_int_equal(publish(&a, "q/3", "m3", 0, false, 0), 0);
	assert_int_equal(publish(&a, "q/4", "m4", 1, false, 4), 0);
	assert_int_equal(publish(&a, "q/5", "m5", 1, false, 5), 0);
	eng_stats_get(eng, &st);
	assert_int_equal(st.msgs_dropped, 1);

	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 4, .id = "pers", .clean = false };

		assert_int_equal(connect_o(&b, &o, NULL, &ackp), 0);
		assert_true(ackp.connack.session_present);
	}
	/* Unacknowledged first, with DUP, then the queue in order. */
	{
		uint16_t id0, id1, id2, id4;

		expect_publish(&b, "q/0", "m0", 1, false, &p);
		assert_true(p.publish.dup);
		id0 = p.publish.id;
		expect_publish(&b, "q/1", "m1", 1, false, &p);
		assert_false(p.publish.dup);
		id1 = p.publish.id;
		expect_publish(&b, "q/2", "m2", 2, false, &p);
		id2 = p.publish.id;
		expect_publish(&b, "q/4", "m4", 1, false, &p);
		id4 = p.publish.id;
		expect_nothing(&b);
		ack(&b, MQTT_PUBACK, id0);
		ack(&b, MQTT_PUBACK, id1);
		ack(&b, MQTT_PUBREC, id2);
		expect_type(&b, &ackp, MQTT_PUBREL);
		assert_int_equal(ackp.ack.id, id2);
		/* Drop again between PUBREC and PUBCOMP: PUBREL is resent, and
		 * the unacknowledged QoS 1 with DUP. */
		fake_free(&b);
		fake_open(eng, &b, "tcp");
		connect_ok(&b, 4, "pers", false);
		expect_type(&b, &ackp, MQTT_PUBREL);
		assert_int_equal(ackp.ack.id, id2);
		expect_publish(&b, "q/4", "m4", 1, false, &p);
		assert_true(p.publish.dup);
		assert_int_equal(p.publish.id, id4);
		ack(&b, MQTT_PUBACK, id4);
		ack(&b, MQTT_PUBCOMP, id2);
	}
	expect_nothing(&b);
	fake_free(&b);

	/* Expiry: 60 s offline, then gone. */
	tick(eng, T0 + 59);
	assert_int_equal(R.removed, 0);
	tick(eng, T0 + 60);
	assert_int_equal(R.removed, 1);
	assert_string_equal(R.removed_id, "pers");
	assert_int_equal(input_hex(&a, "c0 00"), 0);   /* keep the publisher's clock fresh */
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 4, .id = "pers", .clean = false };

		assert_int_equal(connect_o(&b, &o, NULL, &ackp), 0);
		assert_false(ackp.connack.session_present);
	}
	/* Clean session discards the stored one. */
	fake_free(&b);
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 4, .id = "pers", .clean = true };

		assert_int_equal(connect_o(&b, &o, NULL, &ackp), 0);
		assert_false(ackp.connack.session_present);
		assert_int_equal(R.removed, 2);
	}
	fake_free(&b);
	fake_free(&a);
	eng_free(eng);
}

/* ---- 5.0 features -------------------------------------------------------- */

static void sub5(struct fake *f, const char *filter, uint8_t qos, bool nl, bool rap, uint8_t rh,
		 uint32_t sub_id)
{
	struct mqtt_sub s = { mqtt_cstr(filter), qos, nl, rap, rh };
	struct mqtt_pkt p;

	assert_int_equal(send_sub1(f, &s, sub_id), 0);
	expect_type(f, &p, MQTT_SUBACK);
	assert_int_equal(p.suback.rcs[0], qos);
}

static void test_v5_features(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b;
	struct mqtt_pkt p;
	struct mqtt_user_prop up;
	size_t pos = 0;
	(void)state;

	fake_open(eng, &a, "tcp");
	fake_open(eng, &b, "tcp");
	connect_ok(&a, 5, "a5", true);
	connect_ok(&b, 5, "b5", true);

	/* No Local: a's own messages do not come back to it. */
	sub5(&a, "nl/#", 0, true, false, 0, 0);
	sub5(&b, "nl/#", 0, false, false, 0, 0);
	assert_int_equal(publish(&a, "nl/1", "x", 0, false, 0), 0);
	expect_nothing(&a);
	expect_publish(&b, "nl/1", "x", 0, false, NULL);

	/* Retain As Published keeps the flag; without it, cleared. */
	sub5(&b, "rap/#", 0, false, true, 0, 0);
	assert_int_equal(publish(&a, "rap/1", "r", 0, true, 0), 0);
	expect_publish(&b, "rap/1", "r", 0, true, NULL);
	/* Retain Handling 2: no retained copies; 1: only for a new subscription. */
	sub5(&a, "rap/#", 0, false, false, 2, 0);
	expect_nothing(&a);
	sub5(&b, "rap/#", 0, false, true, 1, 0);
	expect_nothing(&b);
	sub5(&b, "rap/+", 0, false, false, 1, 0);
	expect_publish(&b, "rap/1", "r", 0, true, NULL);

	/* Subscription Identifier on delivery; properties forwarded,
	 * Topic Alias resolved and not forwarded. */
	sub5(&b, "props/+", 1, false, false, 0, 321);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.qos = 1;
	p.publish.id = 50;
	p.publish.topic = mqtt_cstr("props/x");
	p.publish.payload = (const uint8_t *)"{}";
	p.publish.payload_len = 2;
	p.publish.props.content_type = mqtt_cstr("application/json");
	p.publish.props.response_topic = mqtt_cstr("reply/to");
	p.publish.props.topic_alias = 3;
	p.publish.props.message_expiry = 30;
	p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE) |
				  MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) |
				  MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
				  MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
	{
		static const struct mqtt_user_prop u = { { "trace", 5 }, { "42", 2 } };

		p.publish.props.user = &u;
		p.publish.props.n_user = 1;
	}
	assert_int_equal(send_p(&a, &p), 0);
	expect_type(&a, &p, MQTT_PUBACK);
	expect_publish(&b, "props/x", "{}", 1, false, &p);
	assert_int_equal(p.publish.props.n_sub_ids, 1);
	assert_int_equal(p.publish.props.sub_ids[0], 321);
	assert_true(mqtt_str_eq(p.publish.props.content_type, "application/json"));
	assert_true(mqtt_str_eq(p.publish.props.response_topic, "reply/to"));
	assert_false(MQTT_HAS(&p.publish.props, MQTT_PROP_TOPIC_ALIAS));
	assert_int_equal(p.publish.props.message_expiry, 30);
	assert_true(mqtt_props_user_next(&p.publish.props, &pos, &up));
	assert_true(mqtt_str_eq(up.key, "trace") && mqtt_str_eq(up.val, "42"));
	ack(&b, MQTT_PUBACK, p.publish.id);
	/* The alias now stands for props/x. */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.topic = mqtt_cstr("");
	p.publish.payload = (const uint8_t *)"alias";
	p.publish.payload_len = 5;
	p.publish.props.topic_alias = 3;
	MQTT_PROP_SET(&p.publish.props, MQTT_PROP_TOPIC_ALIAS);
	assert_int_equal(send_p(&a, &p), 0);
	expect_publish(&b, "props/x", "alias", 0, false, NULL);

	/* Shared subscriptions are taken (test_shared_subscriptions). */
	sub5(&b, "$share/g/t", 0, false, false, 0, 0);
	fake_free(&a);
	fake_free(&b);
	eng_free(eng);
}

/* ---- shared subscriptions ----------------------------------------------- */

/* Messages of topic received by f until nothing is left. */
static int received_on(struct fake *f, const char *topic)
{
	struct mqtt_pkt p;
	int n = 0;

	while (next(f, &p)) {
		if (p.type != MQTT_PUBLISH)
			fail_msg("unexpected %s", mqtt_type_name(p.type));
		assert_true(mqtt_str_eq(p.publish.topic, topic));
		n++;
	}
	return n;
}

static void test_shared_subscriptions(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b, c, pub;
	struct eng_stats st;
	int na = 0, nb = 0;
	(void)state;

	fake_open(eng, &pub, "tcp");
	connect_ok(&pub, MQTT_V311, "pub", true);
	/* A retained message is not sent to a new shared subscription. */
	assert_int_equal(publish(&pub, "t/r", "kept", 0, true, 0), 0);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, MQTT_V311, "a", true);
	subscribe(&a, "$share/g/t/#", 0, 0);       /* from 3.1.1 too */
	expect_nothing(&a);
	fake_open(eng, &b, "ws");
	connect_ok(&b, MQTT_V5, "b", true);
	sub5(&b, "$share/g/t/#", 1, false, false, 0, 0);
	expect_nothing(&b);
	/* Another group on an overlapping filter gets its own copy. */
	fake_open(eng, &c, "tcp");
	connect_ok(&c, MQTT_V311, "c", true);
	subscribe(&c, "$share/h/t/+", 0, 0);
	expect_nothing(&c);

	/* Each message to one member of g, in turn; every one to h. */
	for (int i = 0; i < 6; i++) {
		assert_int_equal(publish(&pub, "t/x", "m", 0, false, 0), 0);
		na += received_on(&a, "t/x");
		nb += received_on(&b, "t/x");
		assert_int_equal(na + nb, i + 1);
		assert_true(na - nb <= 1 && nb - na <= 1);
	}
	assert_int_equal(received_on(&c, "t/x"), 6);

	/* A member that leaves takes its turns with it; the group ends with
	 * its last member. */
	fake_free(&a);
	for (int i = 0; i < 3; i++)
		assert_int_equal(publish(&pub, "t/y", "m", 0, false, 0), 0);
	assert_int_equal(received_on(&b, "t/y"), 3);
	assert_int_equal(received_on(&c, "t/y"), 3);
	{
		struct mqtt_str f = mqtt_cstr("$share/g/t/#");
		struct mqtt_pkt p;

		memset(&p, 0, sizeof(p));
		p.type = MQTT_UNSUBSCRIBE;
		p.unsubscribe.id = 9;
		p.unsubscribe.n = 1;
		p.unsubscribe.filters = &f;
		assert_int_equal(send_p(&b, &p), 0);
		expect_type(&b, &p, MQTT_UNSUBACK);
		assert_int_equal(p.suback.rcs[0], MQTT_RC_SUCCESS);
	}
	assert_int_equal(publish(&pub, "t/z", "m", 0, false, 0), 0);
	expect_nothing(&b);
	assert_int_equal(received_on(&c, "t/z"), 1);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 1);

	/* Share names: not empty, no wildcard, a filter after them. */
	sub5(&b, "$share/g2/t", 0, false, false, 0, 0);
	{
		static const char *const bad[] = { "$share//t", "$share/g", "$share/g/", "$share/+/t",
						   "$share/#/t", "$share/a+/t" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct mqtt_sub sb = { mqtt_cstr(bad[i]), 0, false, false, 0 };
			struct mqtt_pkt p;

			assert_int_equal(send_sub1(&b, &sb, 0), 0);
			expect_type(&b, &p, MQTT_SUBACK);
			if (p.suback.rcs[0] != MQTT_RC_TOPIC_FILTER_INVALID)
				fail_msg("%s: 0x%02x", bad[i], p.suback.rcs[0]);
		}
		subscribe(&c, "$share//t", 0, MQTT_SUBACK_FAILURE);
	}
	/* No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]. */
	{
		struct mqtt_sub sb = { mqtt_cstr("$share/g/t"), 0, true, false, 0 };
		struct mqtt_pkt p;

		assert_int_equal(send_sub1(&b, &sb, 0), -1);
		expect_type(&b, &p, MQTT_DISCONNECT);
		assert_int_equal(p.disconnect.rc, MQTT_RC_PROTOCOL_ERROR);
	}
	fake_free(&b);
	fake_free(&c);
	fake_free(&pub);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 0);
	eng_free(eng);
}

/* A member whose session is offline is passed over while another is
 * connected; with all offline, the next in turn queues the message. */
static void test_shared_offline_member(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b, pub;
	struct mqtt_pkt p;
	(void)state;

	fake_open(eng, &pub, "tcp");
	connect_ok(&pub, MQTT_V311, "pub", true);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, MQTT_V311, "pa", false);
	subscribe(&a, "$share/g/q", 1, 1);
	fake_open(eng, &b, "tcp");
	connect_ok(&b, MQTT_V311, "pb", false);
	subscribe(&b, "$share/g/q", 1, 1);
	fake_free(&a);                              /* persistent: still a member */
	for (uint16_t i = 1; i <= 4; i++) {
		assert_int_equal(publish(&pub, "q", "m", 1, false, i), 0);
		expect_type(&pub, &p, MQTT_PUBACK);
		expect_publish(&b, "q", "m", 1, false, &p);
		ack(&b, MQTT_PUBACK, p.publish.id);
	}
	fake_free(&b);
	assert_int_equal(publish(&pub, "q", "queued", 1, false, 5), 0);
	expect_type(&pub, &p, MQTT_PUBACK);
	assert_int_equal(p.ack.rc, 0);
	/* Exactly one of the two sessions kept it. */
	fake_open(eng, &a, "tcp");
	connect_ok(&a, MQTT_V311, "pa", false);
	fake_open(eng, &b, "tcp");
	connect_ok(&b, MQTT_V311, "pb", false);
	assert_int_equal(received_on(&a, "q") + received_on(&b, "q"), 1);
	fake_free(&a);
	fake_free(&b);
	fake_free(&pub);
	eng_free(eng);
}

/* ---- authorization (cfg.authorize) ------------------------------------- */

struct authz_call {
	int n;
	enum eng_op op;
	char topic[64];
};

static struct authz_call AZ;

/* Refuses client "bad", publishing under deny/ and subscribing to
 * anything but open/... */
static bool fake_authorize(void *ctx, const struct eng_client_info *info, enum eng_op op,
			   const char *topic, size_t len)
{
	(void)ctx;
	AZ.n++;
	AZ.op = op;
	snprintf(AZ.topic, sizeof(AZ.topic), "%.*s", (int)len, topic ? topic : "");
	switch (op) {
	case ENG_OP_CONNECT:
		return strcmp(info->client_id, "bad") != 0;
	case ENG_OP_PUBLISH:
		return !(len >= 5 && memcmp(topic, "deny/", 5) == 0);
	default:
		return len >= 5 && memcmp(topic, "open/", 5) == 0;
	}
}

static void test_authorize(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake f, g, sub;
	struct mqtt_pkt p;
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.authorize = fake_authorize;
	eng = mk(&cfg);
	memset(&AZ, 0, sizeof(AZ));

	/* The connection: 3.1.1 0x05, 5.0 0x87, recorded as acl-denied. */
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "bad", .clean = true };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), MQTT_CONNACK_REFUSED_NOT_AUTHORIZED);
		assert_int_equal(AZ.op, ENG_OP_CONNECT);
		assert_string_equal(R.reason, ENG_AUTH_ACL);
		assert_string_equal(R.client_id, "bad");
	}
	fake_free(&f);
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 5, .id = "bad", .clean = true };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), MQTT_RC_NOT_AUTHORIZED);
	}
	fake_free(&f);
	/* A will is a PUBLISH ahead of time: one the rules refuse refuses
	 * the CONNECT. */
	fake_open(eng, &f, "tcp");
	{
		struct copts o = { .version = 4, .id = "w", .clean = true, .will_topic = "deny/w",
				   .will_msg = "x" };

		assert_int_equal(connect_o(&f, &o, NULL, NULL), MQTT_CONNACK_REFUSED_NOT_AUTHORIZED);
		assert_int_equal(AZ.op, ENG_OP_PUBLISH);
		assert_string_equal(AZ.topic, "deny/w");
		assert_string_equal(R.reason, ENG_AUTH_ACL);
	}
	fake_free(&f);

	/* Subscriptions: 0x80 / 0x87 per filter; a shared one is judged by
	 * its filter. */
	fake_open(eng, &sub, "tcp");
	connect_ok(&sub, MQTT_V311, "sub", true);
	subscribe(&sub, "secret/#", 0, MQTT_SUBACK_FAILURE);
	subscribe(&sub, "open/#", 1, 1);
	subscribe(&sub, "$share/g/deny/#", 0, MQTT_SUBACK_FAILURE);
	assert_string_equal(AZ.topic, "deny/#");
	fake_open(eng, &g, "tcp");
	connect_ok(&g, MQTT_V5, "g5", true);
	{
		struct mqtt_sub sb = { mqtt_cstr("secret/x"), 0, false, false, 0 };

		assert_int_equal(send_sub1(&g, &sb, 0), 0);
		expect_type(&g, &p, MQTT_SUBACK);
		assert_int_equal(p.suback.rcs[0], MQTT_RC_NOT_AUTHORIZED);
	}

	/* Publishing: 5.0 says so (PUBACK / PUBREC 0x87); 3.1.1 is
	 * acknowledged as usual; nobody receives the message. */
	assert_int_equal(publish(&g, "deny/x", "no", 1, false, 1), 0);
	expect_type(&g, &p, MQTT_PUBACK);
	assert_int_equal(p.ack.rc, MQTT_RC_NOT_AUTHORIZED);
	assert_int_equal(publish(&g, "deny/x", "no", 2, false, 2), 0);
	expect_type(&g, &p, MQTT_PUBREC);
	assert_int_equal(p.ack.rc, MQTT_RC_NOT_AUTHORIZED);
	assert_int_equal(publish(&g, "deny/x", "no", 0, false, 0), 0);
	expect_nothing(&g);
	fake_open(eng, &f, "tcp");
	connect_ok(&f, MQTT_V311, "p311", true);
	assert_int_equal(publish(&f, "deny/x", "no", 1, false, 7), 0);
	expect_type(&f, &p, MQTT_PUBACK);
	assert_int_equal(p.ack.id, 7);
	assert_int_equal(publish(&f, "deny/x", "no", 2, false, 8), 0);
	expect_type(&f, &p, MQTT_PUBREC);
	ack(&f, MQTT_PUBREL, 8);
	expect_type(&f, &p, MQTT_PUBCOMP);
	assert_int_equal(publish(&f, "open/x", "yes", 0, false, 0), 0);
	expect_publish(&sub, "open/x", "yes", 0, false, NULL);
	expect_nothing(&sub);
	eng_stats_get(eng, &st);
	assert_int_equal(st.acl_denied, 2 + 1 + 3 + 3 + 2); /* connections, a will, filters, publishes */
	fake_free(&f);
	fake_free(&g);
	fake_free(&sub);
	eng_free(eng);
}

static void test_v5_client_limits_and_expiry(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b;
	struct mqtt_pkt p;
	struct eng_stats st;
	(void)state;

	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "a", true);
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 5, .id = "small", .clean = true, .receive_max = 1,
				   .max_packet = 40 };

		assert_int_equal(connect_o(&b, &o, NULL, NULL), 0);
	}
	sub5(&b, "lim/#", 1, false, false, 0, 0);
	/* Too large for b's Maximum Packet Size: dropped, not sent. */
	assert_int_equal(publish(&a, "lim/big", "0123456789012345678901234567890123456789", 1, false, 1), 0);
	expect_type(&a, &p, MQTT_PUBACK);
	expect_nothing(&b);
	eng_stats_get(eng, &st);
	assert_int_equal(st.msgs_dropped, 1);
	/* Receive Maximum 1: one at a time. */
	assert_int_equal(publish(&a, "lim/1", "1", 1, false, 2), 0);
	assert_int_equal(publish(&a, "lim/2", "2", 1, false, 3), 0);
	expect_publish(&b, "lim/1", "1", 1, false, &p);
	expect_nothing(&b);
	ack(&b, MQTT_PUBACK, p.publish.id);
	expect_publish(&b, "lim/2", "2", 1, false, &p);
	ack(&b, MQTT_PUBACK, p.publish.id);

	/* Message Expiry: a queued message past its expiry is not delivered. */
	fake_free(&b);
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 5, .id = "exp", .clean = true, .session_expiry = 300 };

		assert_int_equal(connect_o(&b, &o, NULL, NULL), 0);
	}
	sub5(&b, "exp/#", 1, false, false, 0, 0);
	fake_free(&b);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.qos = 1;
	p.publish.id = 9;
	p.publish.topic = mqtt_cstr("exp/short");
	p.publish.props.message_expiry = 5;
	MQTT_PROP_SET(&p.publish.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
	assert_int_equal(send_p(&a, &p), 0);
	p.publish.topic = mqtt_cstr("exp/long");
	p.publish.props.message_expiry = 50;
	assert_int_equal(send_p(&a, &p), 0);
	tick(eng, T0 + 10);
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 5, .id = "exp", .clean = false, .session_expiry = 300 };
		struct mqtt_pkt ackp;

		assert_int_equal(connect_o(&b, &o, NULL, &ackp), 0);
		assert_true(ackp.connack.session_present);
	}
	expect_publish(&b, "exp/long", "", 1, false, &p);
	assert_int_equal(p.publish.props.message_expiry, 40);
	ack(&b, MQTT_PUBACK, p.publish.id);
	expect_nothing(&b);
	/* DISCONNECT with Session Expiry 0 ends the session at once. */
	{
		int removed = R.removed;

		assert_int_equal(input_hex(&b, "e0 07 00 05 11 00 00 00 00"), -1);
		assert_int_equal(R.removed, removed + 1);
	}
	fake_free(&b);

	/* A delivery already started is finished after the expiry: resent
	 * with DUP, without a Message Expiry Interval. */
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 5, .id = "exp2", .clean = true, .session_expiry = 300 };

		assert_int_equal(connect_o(&b, &o, NULL, NULL), 0);
	}
	sub5(&b, "exp2/#", 1, false, false, 0, 0);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.qos = 1;
	p.publish.id = 10;
	p.publish.topic = mqtt_cstr("exp2/a");
	p.publish.props.message_expiry = 5;
	MQTT_PROP_SET(&p.publish.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
	assert_int_equal(send_p(&a, &p), 0);
	expect_publish(&b, "exp2/a", "", 1, false, &p);
	assert_int_equal(p.publish.props.message_expiry, 5);
	fake_free(&b);
	tick(eng, T0 + 30);
	fake_open(eng, &b, "tcp");
	{
		struct copts o = { .version = 5, .id = "exp2", .clean = false, .session_expiry = 300 };

		assert_int_equal(connect_o(&b, &o, NULL, NULL), 0);
	}
	expect_publish(&b, "exp2/a", "", 1, false, &p);
	assert_true(p.publish.dup);
	assert_false(MQTT_HAS(&p.publish.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL));
	ack(&b, MQTT_PUBACK, p.publish.id);
	expect_nothing(&b);
	fake_free(&b);
	fake_free(&a);
	eng_free(eng);
}

/* ---- failures ------------------------------------------------------------ */

/* ---- deadlines to the millisecond ------------------------------------------ */

/* PUBLISH with a 5.0 Message Expiry Interval (seconds). */
static void publish_exp(struct fake *f, const char *topic, uint8_t qos, bool retain, uint16_t id,
			uint32_t expiry)
{
	struct mqtt_pkt p = { .type = MQTT_PUBLISH };

	p.publish = (struct mqtt_publish){ .topic = mqtt_cstr(topic), .qos = qos, .retain = retain,
					   .id = id, .payload = (const uint8_t *)"e", .payload_len = 1 };
	p.publish.props.message_expiry = expiry;
	MQTT_PROP_SET(&p.publish.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
	assert_int_equal(send_p(f, &p), 0);
	if (qos)
		expect_type(f, &p, MQTT_PUBACK);
}

/* Will delay and session expiry: at the millisecond, not one before. */
static void test_exact_will_and_expiry(void **state)
{
	struct eng *eng = mk_default();
	struct fake s, w;
	struct mqtt_pkt p;
	int64_t t;
	(void)state;

	fake_open(eng, &s, "tcp");
	connect_ok(&s, 5, "watch", true);
	subscribe(&s, "will/#", 1, 1);

	/* Will Delay 2 s (session kept 60 s). */
	open_will_client(eng, &w, 5, "w", 2, 60);
	t = clock_now = T0 * 1000 + 123;
	fake_gone(&w, false);
	free(w.out);
	assert_int_equal(timer_in, 2000);   /* the core is asked for exactly that */
	tick_ms(eng, t + 1999);
	expect_nothing(&s);
	tick_ms(eng, t + 2000);
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	assert_int_equal(timer_in, 58000);  /* then the session's end */

	/* Session Expiry 2 s with a will delayed 60 s: the session ends at
	 * 2 s, and its will goes with it. */
	open_will_client(eng, &w, 5, "se", 60, 2);
	t = clock_now = T0 * 1000 + 5077;
	fake_gone(&w, false);
	free(w.out);
	tick_ms(eng, t + 1999);
	expect_nothing(&s);
	assert_string_not_equal(R.removed_id, "se");
	tick_ms(eng, t + 2000);
	assert_string_equal(R.removed_id, "se");
	expect_publish(&s, "will/x", "bye", 1, false, &p);
	ack(&s, MQTT_PUBACK, p.publish.id);
	fake_free(&s);
	eng_free(eng);
}

/* CONNECT timeout and keep-alive: at the millisecond. */
static void test_exact_keepalive(void **state)
{
	struct eng *eng = mk_default();
	struct fake idle, k;
	struct mqtt_pkt p;
	struct copts o = { .version = 5, .id = "k", .clean = true, .keepalive = 2 };
	int64_t t = clock_now = T0 * 1000 + 7;
	(void)state;

	fake_open(eng, &idle, "tcp");
	fake_open(eng, &k, "tcp");
	assert_int_equal(connect_o(&k, &o, NULL, NULL), 0);
	/* A packet at +1 s: the keep-alive (1.5 x 2 s) counts from it. */
	clock_now = t + 1000;
	assert_int_equal(input_hex(&k, "c0 00"), 0);
	expect_type(&k, &p, MQTT_PINGRESP);
	tick_ms(eng, t + 3000);                  /* the first deadline: moved, not fired */
	assert_int_equal(k.close_calls, 0);
	assert_int_equal(timer_in, 1000);
	tick_ms(eng, t + 3999);
	assert_int_equal(k.close_calls, 0);
	tick_ms(eng, t + 4000);
	assert_int_equal(k.close_calls, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_KEEPALIVE);
	expect_type(&k, &p, MQTT_DISCONNECT);
	assert_int_equal(p.disconnect.rc, MQTT_RC_KEEP_ALIVE_TIMEOUT);
	/* No CONNECT within 10 s. */
	tick_ms(eng, t + 9999);
	assert_int_equal(idle.close_calls, 0);
	tick_ms(eng, t + 10000);
	assert_int_equal(idle.close_calls, 1);
	fake_free(&k);
	fake_free(&idle);
	eng_free(eng);
}

/* Message expiry: a queued message is sent until the millisecond it
 * expires, with what is left rounded up; a retained one leaves the store
 * at that millisecond. */
static void test_exact_message_expiry(void **state)
{
	struct eng *eng = mk_default();
	struct fake pub, q, r;
	struct mqtt_pkt p;
	struct eng_stats st;
	struct copts o = { .version = 5, .id = "q", .clean = true, .session_expiry = 100 };
	int64_t t;
	(void)state;

	fake_open(eng, &pub, "tcp");
	connect_ok(&pub, 5, "pub", true);
	fake_open(eng, &q, "tcp");
	assert_int_equal(connect_o(&q, &o, NULL, NULL), 0);
	subscribe(&q, "me/#", 1, 1);
	fake_free(&q);                           /* offline: messages queue */
	o.clean = false;

	t = clock_now = T0 * 1000 + 500;
	publish_exp(&pub, "me/a", 1, false, 1, 2);
	clock_now = t + 1999;
	fake_open(eng, &q, "tcp");
	assert_int_equal(connect_o(&q, &o, NULL, NULL), 0);
	expect_publish(&q, "me/a", "e", 1, false, &p);
	assert_int_equal(p.publish.props.message_expiry, 1);
	ack(&q, MQTT_PUBACK, p.publish.id);
	fake_free(&q);

	t = clock_now = T0 * 1000 + 9000;
	publish_exp(&pub, "me/b", 1, false, 2, 2);
	clock_now = t + 2000;
	fake_open(eng, &q, "tcp");
	assert_int_equal(connect_o(&q, &o, NULL, NULL), 0);
	expect_nothing(&q);
	fake_free(&q);

	/* Retained, 2 s: there at +1999 ms (1 s left), gone at +2000. */
	t = clock_now = T0 * 1000 + 20000;
	publish_exp(&pub, "me/r", 0, true, 0, 2);
	tick_ms(eng, t + 1999);
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 1);
	fake_open(eng, &r, "tcp");
	connect_ok(&r, 5, "r", true);
	subscribe(&r, "me/r", 0, 0);
	expect_publish(&r, "me/r", "e", 0, true, &p);
	assert_int_equal(p.publish.props.message_expiry, 1);
	tick_ms(eng, t + 2000);
	eng_stats_get(eng, &st);
	assert_int_equal(st.retained, 0);
	subscribe(&r, "me/#", 0, 0);
	expect_nothing(&r);
	fake_free(&r);
	fake_free(&pub);
	eng_free(eng);
}

/* ---- big SUBSCRIBE / UNSUBSCRIBE, a batch at a time ---------------------- */

/* "prefix/0" ... "prefix/n-1" (free with free_names). */
static char **numbered(const char *prefix, size_t n)
{
	char **v = calloc(n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = malloc(strlen(prefix) + 24);
		assert_non_null(v[i]);
		sprintf(v[i], "%s/%zu", prefix, i);
	}
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* SUBSCRIBE (opts: QoS | retain handling << 4) or UNSUBSCRIBE of n
 * filters, then extra bytes, in one input. Returns its result. */
static int sub_many(struct fake *f, enum mqtt_type t, char *const *names, size_t n, uint8_t opts,
		    const char *extra_hex)
{
	struct mqtt_sub *subs = calloc(n, sizeof(*subs));
	struct mqtt_str *fl = calloc(n, sizeof(*fl));
	struct mqtt_pkt p;
	uint8_t *buf;
	long len;
	size_t x = 0;
	int rc;

	assert_true(subs && fl);
	for (size_t i = 0; i < n; i++) {
		fl[i] = mqtt_cstr(names[i]);
		subs[i].filter = fl[i];
		subs[i].qos = opts & 3;
		subs[i].retain_handling = opts >> 4;
	}
	memset(&p, 0, sizeof(p));
	p.type = t;
	p.subscribe.id = 9;
	p.subscribe.n = n;
	p.subscribe.subs = subs;
	if (t == MQTT_UNSUBSCRIBE) {
		memset(&p.unsubscribe, 0, sizeof(p.unsubscribe));
		p.unsubscribe.id = 9;
		p.unsubscribe.n = n;
		p.unsubscribe.filters = fl;
	}
	len = mqtt_encode(&p, f->version, NULL, 0);
	assert_true(len > 0);
	buf = malloc((size_t)len + 64);
	assert_non_null(buf);
	assert_int_equal(mqtt_encode(&p, f->version, buf, (size_t)len), len);
	for (const char *h = extra_hex; h && *h; h += 2) {
		unsigned v;

		assert_true(sscanf(h, "%2x", &v) == 1);
		buf[len + (long)x++] = (uint8_t)v;
	}
	rc = input(f, buf, (size_t)len + x);
	free(buf);
	free(subs);
	free(fl);
	return rc;
}

/* Call the engine again until f's work is done; returns the calls. */
static int finish(struct fake *f)
{
	int calls = 0, rc;

	do {
		rc = eng_client_input(f->c, NULL, 0);
		assert_true(++calls < 100000);
	} while (rc == ENG_INPUT_MORE);
	assert_int_equal(rc, 0);
	return calls;
}

static void expect_ack_codes(struct fake *f, enum mqtt_type t, size_t n, uint8_t rc)
{
	struct mqtt_pkt p;

	expect_type(f, &p, t);
	assert_int_equal(p.suback.n, n);
	for (size_t i = 0; i < n; i++)
		if (p.suback.rcs[i] != rc)
			fail_msg("code %zu: 0x%02x, want 0x%02x", i, p.suback.rcs[i], rc);
}

static void test_subscribe_batches(void **state)
{
	enum { N = 5000 };
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, b;
	struct mqtt_pkt p;
	struct eng_stats st;
	char **f = numbered("f", N);
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_subscribe_filters = 100000;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "big", true);
	/* SUBSCRIBE then PINGREQ in one read: more than one call's work. */
	assert_int_equal(sub_many(&a, MQTT_SUBSCRIBE, f, N, 1, "c000"), ENG_INPUT_MORE);
	expect_nothing(&a);
	/* Meanwhile another client is served. */
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 5, "other", true);
	assert_true(finish(&a) >= N / 1000);
	expect_ack_codes(&a, MQTT_SUBACK, N, 1);
	expect_type(&a, &p, MQTT_PINGRESP);     /* the next packet waited */
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, N);
	assert_int_equal(publish(&b, "f/4321", "x", 0, false, 0), 0);
	expect_publish(&a, "f/4321", "x", 0, false, NULL);
	/* UNSUBSCRIBE the same way. */
	assert_int_equal(sub_many(&a, MQTT_UNSUBSCRIBE, f, N, 0, NULL), ENG_INPUT_MORE);
	finish(&a);
	expect_ack_codes(&a, MQTT_UNSUBACK, N, MQTT_RC_SUCCESS);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 0);
	/* A client that goes away in the middle of one: nothing leaks. */
	assert_int_equal(sub_many(&a, MQTT_SUBSCRIBE, f, N, 0, NULL), ENG_INPUT_MORE);
	fake_free(&a);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 0);
	fake_free(&b);
	free_names(f, N);
	eng_free(eng);
}

static void test_subscribe_limits(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake a, c;
	struct mqtt_pkt p;
	struct eng_stats st;
	char **x = numbered("x", 4), **y = numbered("y", 3);
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_subscribe_filters = 3;
	cfg.max_subscriptions = 4;
	eng = mk(&cfg);
	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "a", true);
	/* More filters than allowed in one SUBSCRIBE: refused whole. */
	assert_int_equal(sub_many(&a, MQTT_SUBSCRIBE, x, 4, 0, NULL), 0);
	expect_ack_codes(&a, MQTT_SUBACK, 4, MQTT_RC_QUOTA_EXCEEDED);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 0);
	/* Subscriptions per client: new filters past 4 refused, ... */
	assert_int_equal(sub_many(&a, MQTT_SUBSCRIBE, x, 3, 0, NULL), 0);
	expect_ack_codes(&a, MQTT_SUBACK, 3, 0);
	assert_int_equal(sub_many(&a, MQTT_SUBSCRIBE, y, 3, 0, NULL), 0);
	expect_type(&a, &p, MQTT_SUBACK);
	assert_int_equal(p.suback.n, 3);
	assert_int_equal(p.suback.rcs[0], 0);
	assert_int_equal(p.suback.rcs[1], MQTT_RC_QUOTA_EXCEEDED);
	assert_int_equal(p.suback.rcs[2], MQTT_RC_QUOTA_EXCEEDED);
	/* ... an existing one may change. */
	subscribe(&a, "x/1", 2, 2);
	eng_stats_get(eng, &st);
	assert_int_equal(st.subscriptions, 4);
	/* 3.1.1 says it with 0x80. */
	fake_open(eng, &c, "tcp");
	connect_ok(&c, 4, "c", true);
	assert_int_equal(sub_many(&c, MQTT_SUBSCRIBE, x, 4, 0, NULL), 0);
	expect_ack_codes(&c, MQTT_SUBACK, 4, MQTT_SUBACK_FAILURE);
	fake_free(&a);
	fake_free(&c);
	free_names(x, 4);
	free_names(y, 3);
	eng_free(eng);
}

static int count_publish(struct fake *f, bool want_retain)
{
	struct mqtt_pkt p;
	int n = 0;

	while (next(f, &p)) {
		assert_int_equal(p.type, MQTT_PUBLISH);
		assert_int_equal(p.publish.retain, want_retain);
		n++;
	}
	return n;
}

static void test_retained_batches(void **state)
{
	enum { N = 3000 };
	struct eng *eng = mk_default();
	struct fake a, b;
	char *all[] = { "r/#" }, *twice[] = { "r/7", "r/7", "r/none/+" }, *again[] = { "r/8", "r/8" };
	char topic[32];
	(void)state;

	fake_open(eng, &a, "tcp");
	connect_ok(&a, 5, "pub", true);
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof(topic), "r/%d", i);
		assert_int_equal(publish(&a, topic, "v", 0, true, 0), 0);
	}
	fake_open(eng, &b, "tcp");
	connect_ok(&b, 5, "sub", true);
	/* Every retained message, a batch per call, after the SUBACK. */
	assert_int_equal(sub_many(&b, MQTT_SUBSCRIBE, all, 1, 0, NULL), ENG_INPUT_MORE);
	assert_true(finish(&b) >= 2);
	expect_ack_codes(&b, MQTT_SUBACK, 1, 0);
	assert_int_equal(count_publish(&b, true), N);
	/* A filter named twice in one SUBSCRIBE: its retained message once. */
	assert_int_equal(sub_many(&b, MQTT_SUBSCRIBE, twice, 3, 0, NULL), 0);
	expect_ack_codes(&b, MQTT_SUBACK, 3, 0);
	assert_int_equal(count_publish(&b, true), 1);
	/* Retain handling 1, twice in a packet for a new subscription: once;
	 * for an existing one: not at all. */
	assert_int_equal(sub_many(&b, MQTT_SUBSCRIBE, again, 2, 1 << 4, NULL), 0);
	expect_ack_codes(&b, MQTT_SUBACK, 2, 0);
	assert_int_equal(count_publish(&b, true), 1);
	assert_int_equal(sub_many(&b, MQTT_SUBSCRIBE, again, 1, 1 << 4, NULL), 0);
	expect_ack_codes(&b, MQTT_SUBACK, 1, 0);
	assert_int_equal(count_publish(&b, true), 0);
	/* Gone in the middle of the retained messages: nothing leaks. */
	assert_int_equal(sub_many(&b, MQTT_SUBSCRIBE, all, 1, 1, NULL), ENG_INPUT_MORE);
	fake_free(&a);
	fake_free(&b);
	eng_free(eng);
}

static void test_send_failure_and_shutdown(void **state)
{
	struct eng *eng = mk_default();
	struct fake a, b, c, idle;
	struct eng_stats st;
	(void)state;

	fake_open(eng, &a, "tcp");
	fake_open(eng, &b, "tcp");
	fake_open(eng, &c, "tcp");
	connect_ok(&a, 4, "a", true);
	connect_ok(&b, 4, "b", true);
	{
		struct copts o = { .version = 4, .id = "c", .clean = true,
				   .will_topic = "f/will", .will_msg = "c died" };

		assert_int_equal(connect_o(&c, &o, NULL, NULL), 0);
	}
	subscribe(&b, "f/#", 0, 0);
	subscribe(&c, "f/#", 0, 0);
	/* c cannot take more bytes: closed during a's fan-out; its will
	 * reaches b; a is unaffected. */
	c.fail_send = true;
	assert_int_equal(publish(&a, "f/1", "hi", 0, false, 0), 0);
	assert_int_equal(c.close_calls, 1);
	assert_string_equal(R.disc_reason, ENG_DISC_SEND_FAILED);
	expect_publish(&b, "f/1", "hi", 0, false, NULL);
	expect_publish(&b, "f/will", "c died", 0, false, NULL);
	assert_int_equal(publish(&a, "f/2", "again", 0, false, 0), 0);
	expect_publish(&b, "f/2", "again", 0, false, NULL);
	fake_free(&c);

	/* A client whose own reply fails is closed through the return value. */
	a.fail_send = true;
	assert_int_equal(input_hex(&a, "c0 00"), -1);
	assert_int_equal(a.close_calls, 0);
	fake_free(&a);

	/* Shutdown with live clients: callbacks, no leaks, no io. */
	fake_open(eng, &idle, "tcp");
	eng_stats_get(eng, &st);
	assert_int_equal(st.clients, 2);
	{
		int d = R.disconnected;

		eng_free(eng);
		assert_int_equal(R.disconnected, d + 1);
		assert_string_equal(R.disc_reason, ENG_DISC_SHUTDOWN);
	}
	assert_int_equal(b.close_calls, 0);
	free(b.out);
	free(idle.out);
}

/* Append one encoded packet to a byte string. */
static void put(uint8_t *buf, size_t *len, size_t cap, const struct mqtt_pkt *p, uint8_t v)
{
	long n = mqtt_encode(p, v, buf + *len, cap - *len);

	assert_true(n > 0 && (size_t)n <= cap - *len);
	*len += (size_t)n;
}

/* A session's worth of valid traffic for version v. */
static size_t corpus(uint8_t *buf, size_t cap, uint8_t v)
{
	struct mqtt_sub subs[3] = {
		{ mqtt_cstr("z/#"), 2, false, false, 0 },
		{ mqtt_cstr("z/+/x"), 1, true, true, 1 },
		{ mqtt_cstr("+"), 0, false, false, 2 },
	};
	struct mqtt_str fl[1] = { mqtt_cstr("z/#") };
	struct mqtt_pkt p;
	size_t len = 0;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBSCRIBE;
	p.subscribe.id = 1;
	p.subscribe.n = 3;
	p.subscribe.subs = subs;
	put(buf, &len, cap, &p, v);
	for (uint8_t q = 0; q <= 2; q++) {
		memset(&p, 0, sizeof(p));
		p.type = MQTT_PUBLISH;
		p.publish.qos = q;
		p.publish.retain = q != 1;
		p.publish.id = (uint16_t)(q + 10);
		p.publish.topic = mqtt_cstr(q == 1 ? "z/y/x" : "z");
		p.publish.payload = (const uint8_t *)"payload";
		p.publish.payload_len = 7;
		if (v == MQTT_V5) {
			p.publish.props.topic_alias = (uint16_t)(q + 1);
			p.publish.props.message_expiry = 9;
			p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
						  MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
		}
		put(buf, &len, cap, &p, v);
	}
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBREL;
	p.ack.id = 12;
	put(buf, &len, cap, &p, v);
	p.type = MQTT_PUBACK;
	p.ack.id = 1;
	put(buf, &len, cap, &p, v);
	p.type = MQTT_PUBREC;
	p.ack.id = 2;
	put(buf, &len, cap, &p, v);
	p.type = MQTT_PUBCOMP;
	put(buf, &len, cap, &p, v);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PINGREQ;
	put(buf, &len, cap, &p, v);
	p.type = MQTT_UNSUBSCRIBE;
	p.unsubscribe.id = 3;
	p.unsubscribe.n = 1;
	p.unsubscribe.filters = fl;
	put(buf, &len, cap, &p, v);
	return len;
}

static void test_mutation_fuzz(void **state)
{
	struct eng_cfg cfg;
	struct eng *eng;
	struct fake peer;
	uint32_t x = 12345;
	uint8_t base[2][1024];
	size_t blen[2];
	struct eng_stats st;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_anonymous = true;
	cfg.max_packet_size = 512;
	cfg.max_inflight = 3;
	cfg.max_queued = 5;
	eng = mk(&cfg);
	blen[0] = corpus(base[0], sizeof(base[0]), MQTT_V311);
	blen[1] = corpus(base[1], sizeof(base[1]), MQTT_V5);
	/* A peer that receives the fan-out and never acknowledges. */
	fake_open(eng, &peer, "tcp");
	connect_ok(&peer, MQTT_V5, "peer", true);
	sub5(&peer, "#", 2, false, true, 0, 7);
	/* Valid traffic with a few bytes flipped, cut into random chunks:
	 * whatever happens, no crash, no leak, no overread (ASan/valgrind). */
	for (int round = 0; round < 400; round++) {
		struct fake f;
		int vi = round % 2;
		uint8_t buf[1024];
		size_t n = blen[vi], off = 0;
		int flips;

		memcpy(buf, base[vi], n);
		x = x * 1103515245u + 12345u;
		flips = (int)((x >> 16) % 4);
		for (int k = 0; k < flips; k++) {
			x = x * 1103515245u + 12345u;
			buf[(x >> 8) % n] ^= (uint8_t)(1u << ((x >> 4) % 8));
		}
		fake_open(eng, &f, "tcp");
		/* Mostly the same two ids (session reuse, persistent
		 * sessions), once the peer's (takeover). */
		connect_ok(&f, vi ? MQTT_V5 : MQTT_V311,
			   round == 399 ? "peer" : round % 5 ? "fuzz" : "fuzz2", round % 3 == 0);
		while (off < n) {
			size_t chunk;

			x = x * 1103515245u + 12345u;
			chunk = 1 + (x >> 16) % 64;
			if (chunk > n - off)
				chunk = n - off;
			if (input(&f, buf + off, chunk) < 0)
				break;
			off += chunk;
		}
		fake_gone(&f, round % 2);
		free(f.out);
		if (round % 50 == 0)
			tick(eng, T0 + round);
	}
	eng_stats_get(eng, &st);
	assert_true(st.msgs_in > 400);
	assert_true(st.msgs_out > 100);
	assert_int_equal(peer.close_calls, 1);
	assert_true(st.protocol_errors > 0);
	fake_free(&peer);
	eng_free(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_v311),
		cmocka_unit_test(test_connect_v5_and_split),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_cert_identity),
		cmocka_unit_test(test_auth_callback_and_method),
		cmocka_unit_test(test_client_id_rules),
		cmocka_unit_test(test_keepalive_max),
		cmocka_unit_test(test_violations_before_connect),
		cmocka_unit_test(test_violations_after_connect),
		cmocka_unit_test(test_qos_flows),
		cmocka_unit_test(test_inflight_window),
		cmocka_unit_test(test_retained),
		cmocka_unit_test(test_retained_limits),
		cmocka_unit_test(test_queue_byte_limits),
		cmocka_unit_test(test_output_backlog),
		cmocka_unit_test(test_sessions_limit),
		cmocka_unit_test(test_will),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_keepalive_and_connect_timeout),
		cmocka_unit_test(test_persistent_session),
		cmocka_unit_test(test_v5_features),
		cmocka_unit_test(test_v5_client_limits_and_expiry),
		cmocka_unit_test(test_exact_will_and_expiry),
		cmocka_unit_test(test_exact_keepalive),
		cmocka_unit_test(test_exact_message_expiry),
		cmocka_unit_test(test_subscribe_batches),
		cmocka_unit_test(test_subscribe_limits),
		cmocka_unit_test(test_retained_batches),
		cmocka_unit_test(test_send_failure_and_shutdown),
		cmocka_unit_test(test_mutation_fuzz),
		cmocka_unit_test(test_shared_subscriptions),
		cmocka_unit_test(test_shared_offline_member),
		cmocka_unit_test(test_authorize),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
