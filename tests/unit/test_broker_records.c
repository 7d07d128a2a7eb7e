/* test_broker_records.c - session store, unauthorized-clients ring,
 * PROXY details copies and counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "records.h"

static void addr4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void addr6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

/* A connection's addresses as the core gives them to the records. */
static void ci_addrs(struct rec_conn_info *ci, const struct sockaddr_storage *client,
		     const struct sockaddr_storage *peer)
{
	rec_addr_text(client, ci->client_ip, &ci->client_port);
	rec_addr_text(peer, ci->peer_ip, &ci->peer_port);
}

/* client NULL: no header, the client is the peer. */
static void conn_info(struct rec_conn_info *ci, enum cfg_listener_kind l, const char *peer,
		      uint16_t pport, const char *client, uint16_t cport)
{
	struct sockaddr_storage p, c;

	memset(ci, 0, sizeof(*ci));
	ci->listener = l;
	addr4(&p, peer, pport);
	c = p;
	if (client)
		addr4(&c, client, cport);
	ci_addrs(ci, &c, &p);
}

/* Collect visited records' client ids, comma-separated. */
struct ids {
	char buf[512];
	size_t n;
	size_t stop_after;
};

static int collect_sess(const struct rec_session *r, void *ctx)
{
	struct ids *ids = ctx;

	snprintf(ids->buf + strlen(ids->buf), sizeof(ids->buf) - strlen(ids->buf), "%s%s",
		 ids->n ? "," : "", r->client_id);
	ids->n++;
	return ids->stop_after && ids->n >= ids->stop_after;
}

static int collect_unauth(const struct rec_unauth *r, void *ctx)
{
	struct ids *ids = ctx;

	snprintf(ids->buf + strlen(ids->buf), sizeof(ids->buf) - strlen(ids->buf), "%s%s",
		 ids->n ? "," : "", r->client_id);
	ids->n++;
	return 0;
}

static int copy_sess(const struct rec_session *r, void *ctx)
{
	static char cip[REC_IP_STRLEN], pip[REC_IP_STRLEN];
	struct rec_session *out = ctx;

	*out = *r;   /* shallow: scalar fields, and the addresses copied here */
	snprintf(cip, sizeof(cip), "%s", r->client_ip);
	snprintf(pip, sizeof(pip), "%s", r->peer_ip);
	out->client_ip = cip;
	out->peer_ip = pip;
	out->client_id = NULL;
	out->username = NULL;
	out->proxy = NULL;
	return 0;
}

/* ---- sessions --------------------------------------------------------------- */

/* The record's strings as the admin API reads them (store locked). */
struct strs {
	char id[64], user[64], cip[REC_IP_STRLEN], pip[REC_IP_STRLEN];
	bool has_user;
};

static int copy_strs(const struct rec_session *r, void *ctx)
{
	struct strs *o = ctx;

	snprintf(o->id, sizeof(o->id), "%s", r->client_id);
	o->has_user = r->username != NULL;
	snprintf(o->user, sizeof(o->user), "%s", r->username ? r->username : "");
	snprintf(o->cip, sizeof(o->cip), "%s", r->client_ip);
	snprintf(o->pip, sizeof(o->pip), "%s", r->peer_ip);
	return 0;
}

/* A record keeps its strings in one block: each still reads as given,
 * no user name stays apart from an empty one, and a client that is the
 * peer reads the peer's address. */
static void test_session_strings(void **state)
{
	struct rec_store *s = rec_store_new(100, 10);
	struct rec_conn_info ci;
	struct strs o;

	(void)state;
	assert_non_null(s);
	conn_info(&ci, CFG_TCP, "10.0.0.1", 5000, "192.0.2.7", 40000);
	assert_true(rec_session_connect(s, "a", NULL, 4, &ci) > 0);
	assert_true(rec_session_get(s, "a", copy_strs, &o));
	assert_string_equal(o.id, "a");
	assert_false(o.has_user);
	assert_string_equal(o.cip, "192.0.2.7");
	assert_string_equal(o.pip, "10.0.0.1");

	conn_info(&ci, CFG_TCP, "10.0.0.2", 5001, NULL, 0);
	assert_true(rec_session_connect(s, "", "", 4, &ci) > 0);
	assert_true(rec_session_get(s, "", copy_strs, &o));
	assert_string_equal(o.id, "");
	assert_true(o.has_user);
	assert_string_equal(o.user, "");
	assert_string_equal(o.cip, "10.0.0.2");
	assert_string_equal(o.pip, "10.0.0.2");

	/* a reconnect replaces every string */
	conn_info(&ci, CFG_WS, "10.0.0.3", 5002, "192.0.2.9", 1);
	assert_true(rec_session_connect(s, "a", "bob", 5, &ci) > 0);
	assert_true(rec_session_get(s, "a", copy_strs, &o));
	assert_string_equal(o.user, "bob");
	assert_string_equal(o.cip, "192.0.2.9");
	assert_string_equal(o.pip, "10.0.0.3");
	rec_store_free(s);
}

static void test_session_connect_reconnect(void **state)
{
	struct rec_store *s = rec_store_new(100, 10);
	struct rec_conn_info ci;
	struct rec_session r;
	struct rec_counters c;
	uint64_t g1, g2;

	(void)state;
	assert_non_null(s);
	conn_info(&ci, CFG_TCP, "10.0.0.1", 5000, "192.0.2.1", 40000);
	ci.tls = true;
	ci.tls_version = "TLSv1.3";
	ci.tls_cipher = "TLS_AES_256_GCM_SHA384";
	g1 = rec_session_connect(s, "dev-1", "alice", 4, &ci);
	assert_true(g1 > 0);
	assert_true(rec_session_get(s, "dev-1", copy_sess, &r));
	assert_string_equal(r.client_ip, "192.0.2.1");
	assert_int_equal(r.client_port, 40000);
	assert_string_equal(r.peer_ip, "10.0.0.1");
	assert_int_equal(r.peer_port, 5000);
	assert_int_equal(r.listener, CFG_TCP);
	assert_int_equal(r.mqtt_version, 4);
	assert_true(r.tls);
	assert_string_equal(r.tls_version, "TLSv1.3");
	assert_string_equal(r.tls_cipher, "TLS_AES_256_GCM_SHA384");
	assert_true(r.connected);
	assert_true(r.connected_ms > 0);
	assert_int_equal(r.disconnected_ms, 0);
	assert_int_equal(r.gen, g1);
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 1);
	assert_int_equal(c.sessions_kept, 1);

	/* takeover: same id, other listener, no header (client = peer) */
	conn_info(&ci, CFG_WS, "198.51.100.9", 6000, NULL, 0);
	g2 = rec_session_connect(s, "dev-1", NULL, 5, &ci);
	assert_true(g2 > g1);
	assert_true(rec_session_get(s, "dev-1", copy_sess, &r));
	assert_int_equal(r.listener, CFG_WS);
	assert_string_equal(r.client_ip, "198.51.100.9");
	assert_int_equal(r.client_port, 6000);
	assert_false(r.tls);
	assert_string_equal(r.tls_version, "");
	assert_int_equal(r.mqtt_version, 5);
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 1);
	assert_int_equal(c.sessions_kept, 1);

	/* the old connection's close is ignored */
	rec_session_disconnect(s, "dev-1", g1);
	assert_true(rec_session_get(s, "dev-1", copy_sess, &r));
	assert_true(r.connected);
	/* the current one's is not */
	rec_session_disconnect(s, "dev-1", g2);
	assert_true(rec_session_get(s, "dev-1", copy_sess, &r));
	assert_false(r.connected);
	assert_true(r.disconnected_ms >= r.connected_ms);
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 0);
	assert_int_equal(c.sessions_kept, 1);
	/* twice: no underflow */
	rec_session_disconnect(s, "dev-1", g2);
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 0);

	assert_false(rec_session_get(s, "nope", copy_sess, &r));
	assert_false(rec_session_get(s, "", NULL, NULL));
	rec_session_disconnect(s, "nope", 1);
	rec_session_disconnect(s, NULL, 1);
	rec_store_free(s);
	rec_store_free(NULL);
}

static void test_session_order_and_bound(void **state)
{
	struct rec_store *s = rec_store_new(2, 10);
	struct rec_conn_info ci;
	struct ids ids = { { 0 }, 0, 0 };
	uint64_t ga, gb, gc, gd;
	struct rec_counters c;

	(void)state;
	conn_info(&ci, CFG_TCP, "127.0.0.1", 1, NULL, 0);
	gc = rec_session_connect(s, "c", NULL, 4, &ci);
	ga = rec_session_connect(s, "a", NULL, 4, &ci);
	gb = rec_session_connect(s, "b", NULL, 4, &ci);
	/* connected records are never dropped, even over the bound */
	rec_session_foreach(s, collect_sess, &ids);
	assert_string_equal(ids.buf, "a,b,c");
	/* stopping early */
	memset(&ids, 0, sizeof(ids));
	ids.stop_after = 2;
	rec_session_foreach(s, collect_sess, &ids);
	assert_string_equal(ids.buf, "a,b");

	/* over the bound: a disconnected record goes at once */
	rec_session_disconnect(s, "a", ga);
	assert_false(rec_session_get(s, "a", NULL, NULL));
	rec_session_disconnect(s, "b", gb);
	assert_true(rec_session_get(s, "b", NULL, NULL));   /* 2 kept: within bound */
	rec_session_disconnect(s, "c", gc);
	/* b and c are disconnected; d pushes the oldest disconnected (b) out */
	gd = rec_session_connect(s, "d", NULL, 4, &ci);
	assert_true(gd > 0);
	memset(&ids, 0, sizeof(ids));
	rec_session_foreach(s, collect_sess, &ids);
	assert_string_equal(ids.buf, "c,d");
	/* a reconnect takes a record off the eviction list */
	gc = rec_session_connect(s, "c", NULL, 4, &ci);
	rec_session_connect(s, "e", NULL, 4, &ci);
	memset(&ids, 0, sizeof(ids));
	rec_session_foreach(s, collect_sess, &ids);
	assert_string_equal(ids.buf, "c,d,e");
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 3);
	assert_int_equal(c.sessions_kept, 3);
	rec_store_free(s);
}

static void test_session_many(void **state)
{
	struct rec_store *s = rec_store_new(5000, 10);
	struct rec_conn_info ci;
	struct rec_counters c;
	char id[32];
	struct ids ids = { { 0 }, 0, 0 };

	(void)state;
	conn_info(&ci, CFG_WSS, "127.0.0.1", 1, NULL, 0);
	for (int i = 0; i < 20000; i++) {
		uint64_t g;

		snprintf(id, sizeof(id), "client-%05d", i);
		g = rec_session_connect(s, id, NULL, 4, &ci);
		assert_true(g > 0);
		if (i % 2)
			rec_session_disconnect(s, id, g);
	}
	rec_counters_get(s, &c);
	assert_int_equal(c.sessions_connected, 10000);
	assert_int_equal(c.sessions_kept, 10000);    /* all disconnected ones evicted */
	snprintf(id, sizeof(id), "client-%05d", 19998);
	assert_true(rec_session_get(s, id, NULL, NULL));
	snprintf(id, sizeof(id), "client-%05d", 19999);
	assert_false(rec_session_get(s, id, NULL, NULL));
	ids.stop_after = 1;
	rec_session_foreach(s, collect_sess, &ids);
	assert_string_equal(ids.buf, "client-00000");
	rec_store_free(s);
}

/* ---- unauthorized ring -------------------------------------------------------------- */

struct unauth_first {
	struct rec_unauth u;
	bool seen;
};

static int first_unauth(const struct rec_unauth *r, void *ctx)
{
	struct unauth_first *f = ctx;

	f->u = *r;
	f->u.client_id = f->u.username = NULL;
	f->seen = true;
	return 1;
}

static void test_unauthorized_ring(void **state)
{
	struct rec_store *s = rec_store_new(10, 3);
	struct rec_conn_info ci;
	struct ids ids = { { 0 }, 0, 0 };
	struct rec_counters c;
	struct unauth_first f = { 0 };
	char id[16];

	(void)state;
	conn_info(&ci, CFG_SSL, "10.9.9.9", 7000, "203.0.113.5", 51000);
	ci.tls = true;
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		rec_unauthorized_add(s, id, i == 2 ? NULL : "bob", "bad-password", i != 3, &ci);
	}
	rec_unauthorized_foreach(s, collect_unauth, &ids);
	assert_string_equal(ids.buf, "u3,u4,u5");   /* oldest evicted, oldest first */
	rec_unauthorized_foreach(s, first_unauth, &f);
	assert_true(f.seen);
	assert_string_equal(f.u.client_ip, "203.0.113.5");
	assert_int_equal(f.u.client_port, 51000);
	assert_string_equal(f.u.peer_ip, "10.9.9.9");
	assert_int_equal(f.u.peer_port, 7000);
	assert_int_equal(f.u.listener, CFG_SSL);
	assert_string_equal(f.u.reason, "bad-password");
	assert_false(f.u.password_provided);   /* u3 */
	assert_true(f.u.tls_used);
	assert_true(f.u.ts.tv_sec > 0);
	rec_counters_get(s, &c);
	assert_int_equal(c.unauthorized_total, 5);
	assert_int_equal(c.unauthorized_kept, 3);

	rec_unauthorized_clear(s);
	memset(&ids, 0, sizeof(ids));
	rec_unauthorized_foreach(s, collect_unauth, &ids);
	assert_int_equal(ids.n, 0);
	rec_counters_get(s, &c);
	assert_int_equal(c.unauthorized_kept, 0);
	assert_int_equal(c.unauthorized_total, 5);

	/* works again after a clear, and wraps again */
	for (int i = 6; i <= 10; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		rec_unauthorized_add(s, id, NULL, NULL, false, &ci);
	}
	memset(&ids, 0, sizeof(ids));
	rec_unauthorized_foreach(s, collect_unauth, &ids);
	assert_string_equal(ids.buf, "u8,u9,u10");
	memset(&f, 0, sizeof(f));
	rec_unauthorized_foreach(s, first_unauth, &f);
	assert_string_equal(f.u.reason, "unknown");
	rec_store_free(s);
}

/* ---- addresses ---------------------------------------------------------------------- */

static void test_address_forms(void **state)
{
	struct rec_store *s = rec_store_new(10, 10);
	struct rec_conn_info ci;
	struct rec_session r;
	struct sockaddr_storage peer, client;
	struct sockaddr_un *un;

	(void)state;
	memset(&ci, 0, sizeof(ci));
	ci.listener = CFG_WSS;
	addr6(&peer, "::ffff:10.0.0.2", 443);
	addr6(&client, "2001:db8::1", 65535);
	ci_addrs(&ci, &client, &peer);
	rec_session_connect(s, "v6", NULL, 4, &ci);
	assert_true(rec_session_get(s, "v6", copy_sess, &r));
	assert_string_equal(r.client_ip, "2001:db8::1");
	assert_int_equal(r.client_port, 65535);
	assert_string_equal(r.peer_ip, "::ffff:10.0.0.2");   /* kept as seen */

	memset(&client, 0, sizeof(client));
	un = (struct sockaddr_un *)&client;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, "/run/x\x01y", 8);
	ci_addrs(&ci, &client, &peer);
	rec_session_connect(s, "unix", NULL, 4, &ci);
	assert_true(rec_session_get(s, "unix", copy_sess, &r));
	assert_string_equal(r.client_ip, "unix:/run/x?y");   /* control bytes never leak out */
	assert_int_equal(r.client_port, 0);

	/* out-of-range listener kinds are clamped, not used as an index */
	ci.listener = (enum cfg_listener_kind)77;
	rec_conn_open(s, ci.listener);
	rec_session_connect(s, "odd", NULL, 4, &ci);
	assert_true(rec_session_get(s, "odd", copy_sess, &r));
	assert_int_equal(r.listener, CFG_TCP);
	rec_store_free(s);
}

/* ---- PROXY details ----------------------------------------------------------------- */

static void set_bytes(struct pp_bytes *b, const void *p, size_t n)
{
	b->ptr = p;
	b->len = n;
}

static void test_proxy_copy(void **state)
{
	struct pp_header h;
	struct rec_proxy *p, *d;
	uint8_t *buf = malloc(64);
	static const uint8_t uid[] = { 0x01, 0xff, 0x00, 0x7f };
	static const uint8_t crc[] = { 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t custom[] = { 0x41, 0x42 };
	static const uint8_t aws[] = { 0x01, 'v', 'p', 'c', 'e', '-', '1' };

	(void)state;
	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.command = PP_CMD_PROXY;
	h.family = PP_FAM_INET;
	h.transport = PP_PROTO_STREAM;
	addr4(&h.src, "192.0.2.1", 40000);
	addr4(&h.dst, "198.51.100.1", 1883);
	/* byte strings point into a buffer the caller will reuse */
	memcpy(buf, "mqtt" "broker.example" "CN=dev\\1\x01", 4 + 14 + 9);
	set_bytes(&h.alpn, buf, 4);
	set_bytes(&h.authority, buf + 4, 14);
	set_bytes(&h.unique_id, uid, sizeof(uid));
	set_bytes(&h.aws_vpce_id, aws + 1, 6);
	h.ssl.present = true;
	h.ssl.client = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN;
	h.ssl.verify = 0;
	set_bytes(&h.ssl.cn, buf + 18, 9);
	set_bytes(&h.ssl.version, "TLSv1.3", 7);
	h.ntlv = 6;
	h.tlv[0].type = PP2_TYPE_ALPN;
	set_bytes(&h.tlv[0].value, buf, 4);
	h.tlv[1].type = PP2_TYPE_CRC32C;
	set_bytes(&h.tlv[1].value, crc, 4);
	h.tlv[2].type = PP2_TYPE_AWS;
	set_bytes(&h.tlv[2].value, aws, sizeof(aws));
	h.tlv[3].type = 0xE5;
	set_bytes(&h.tlv[3].value, custom, 2);
	h.tlv[4].type = PP2_TYPE_NOOP;
	set_bytes(&h.tlv[4].value, NULL, 0);
	h.tlv[5].type = PP2_TYPE_SSL;
	set_bytes(&h.tlv[5].value, buf, 1);

	p = rec_proxy_new(&h);
	assert_non_null(p);
	memset(buf, 'X', 64);   /* the copy must not depend on it */
	free(buf);
	assert_int_equal(p->version, 2);
	assert_int_equal(p->command, PP_CMD_PROXY);
	assert_int_equal(p->family, PP_FAM_INET);
	assert_string_equal(p->src_ip, "192.0.2.1");
	assert_int_equal(p->src_port, 40000);
	assert_string_equal(p->dst_ip, "198.51.100.1");
	assert_int_equal(p->dst_port, 1883);
	assert_string_equal(p->alpn, "mqtt");
	assert_string_equal(p->authority, "broker.example");
	assert_string_equal(p->unique_id, "01ff007f");
	assert_string_equal(p->aws_vpce_id, "vpce-1");
	assert_true(p->ssl_present);
	assert_int_equal(p->ssl_client, 3);
	assert_string_equal(p->ssl_cn, "CN=dev\\x5c1\\x01");
	assert_string_equal(p->ssl_version, "TLSv1.3");
	assert_null(p->ssl_cipher);
	/* raw: everything not decoded above, in wire order */
	assert_int_equal(p->nraw, 3);
	assert_int_equal(p->raw[0].type, PP2_TYPE_CRC32C);
	assert_string_equal(p->raw[0].hex, "deadbeef");
	assert_int_equal(p->raw[0].len, 4);
	assert_int_equal(p->raw[1].type, 0xE5);
	assert_string_equal(p->raw[1].hex, "4142");
	assert_int_equal(p->raw[2].type, PP2_TYPE_NOOP);
	assert_string_equal(p->raw[2].hex, "");
	assert_string_equal(rec_pp_cmd_name(p->command), "proxy");
	assert_string_equal(rec_pp_fam_name(p->family), "inet");

	d = rec_proxy_dup(p);
	assert_non_null(d);
	rec_proxy_free(p);
	assert_string_equal(d->alpn, "mqtt");
	assert_string_equal(d->raw[1].hex, "4142");
	assert_string_equal(d->ssl_cn, "CN=dev\\x5c1\\x01");

	/* the session keeps its own copy too */
	{
		struct rec_store *s = rec_store_new(4, 4);
		struct rec_conn_info ci;
		struct rec_session r;

		conn_info(&ci, CFG_TCP, "10.0.0.1", 1, NULL, 0);
		rec_addr_text(&h.src, ci.client_ip, &ci.client_port);
		ci.proxy = d;
		rec_session_connect(s, "px", NULL, 4, &ci);
		rec_proxy_free(d);
		assert_true(rec_session_get(s, "px", copy_sess, &r));
		assert_string_equal(r.client_ip, "192.0.2.1");
		rec_store_free(s);
	}
	assert_null(rec_proxy_dup(NULL));
	rec_proxy_free(NULL);
}

static void test_proxy_local_and_long_tlv(void **state)
{
	struct pp_header h;
	struct rec_proxy *p;
	uint8_t *big = calloc(1, 1000);

	(void)state;
	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.command = PP_CMD_LOCAL;
	h.family = PP_FAM_UNSPEC;
	h.ntlv = 1;
	h.tlv[0].type = PP2_TYPE_NOOP;
	set_bytes(&h.tlv[0].value, big, 1000);
	/* an AWS TLV without the endpoint sub-type stays visible as raw */
	h.ntlv = 2;
	h.tlv[1].type = PP2_TYPE_AWS;
	set_bytes(&h.tlv[1].value, "\x02xy", 3);
	p = rec_proxy_new(&h);
	assert_non_null(p);
	assert_string_equal(p->src_ip, "-");
	assert_int_equal(p->src_port, 0);
	assert_null(p->alpn);
	assert_null(p->aws_vpce_id);
	assert_false(p->ssl_present);
	assert_int_equal(p->nraw, 2);
	assert_int_equal(p->raw[0].len, 1000);
	assert_int_equal(strlen(p->raw[0].hex), 2 * REC_RAW_HEX_MAX);
	assert_int_equal(p->raw[1].type, PP2_TYPE_AWS);
	assert_string_equal(p->raw[1].hex, "027879");
	assert_string_equal(rec_pp_cmd_name(p->command), "local");
	assert_string_equal(rec_pp_fam_name(p->family), "unspec");
	rec_proxy_free(p);
	free(big);
}

/* ---- counters ------------------------------------------------------------------------ */

static uint64_t reason_count(const struct rec_counters *c, const char *name)
{
	for (size_t i = 0; i < c->nreasons; i++)
		if (strcmp(c->rejected[i].name, name) == 0)
			return c->rejected[i].count;
	return 0;
}

static void test_counters(void **state)
{
	struct rec_store *s = rec_store_new(4, 4);
	struct rec_counters c;
	char name[32];

	(void)state;
	rec_conn_open(s, CFG_TCP);
	rec_conn_open(s, CFG_TCP);
	rec_conn_open(s, CFG_WS);
	rec_conn_close(s, CFG_TCP);
	rec_conn_close(s, CFG_SSL);   /* never below zero */
	rec_proxy_accepted(s, CFG_TCP, 1, PP_CMD_PROXY);
	rec_proxy_accepted(s, CFG_WS, 2, PP_CMD_LOCAL);
	rec_proxy_accepted(s, CFG_WS, 2, PP_CMD_PROXY);
	rec_proxy_rejected(s, CFG_TCP, "v1-bad-src-port");
	rec_proxy_rejected(s, CFG_TCP, REC_REJECT_MISSING);
	rec_proxy_rejected(s, CFG_SSL, "v1-bad-src-port");
	rec_proxy_rejected(s, CFG_SSL, "weird \"reason\"\n");
	rec_proxy_rejected(s, CFG_SSL, NULL);
	rec_tls_failure(s, CFG_SSL);
	rec_tls_failure(s, CFG_WSS);
	rec_tls_failure(s, CFG_WSS);
	rec_ws_failure(s, CFG_WS);
	rec_mqtt_connect(s, CFG_TCP, true);
	rec_mqtt_connect(s, CFG_TCP, false);
	rec_mqtt_connect(s, CFG_WSS, true);
	rec_counters_get(s, &c);
	assert_int_equal(c.conn_current[CFG_TCP], 1);
	assert_int_equal(c.conn_total[CFG_TCP], 2);
	assert_int_equal(c.conn_current[CFG_WS], 1);
	assert_int_equal(c.conn_current[CFG_SSL], 0);
	assert_int_equal(c.proxy_accepted_version[1], 1);
	assert_int_equal(c.proxy_accepted_version[2], 2);
	assert_int_equal(c.proxy_accepted_command[PP_CMD_LOCAL], 1);
	assert_int_equal(c.proxy_accepted_command[PP_CMD_PROXY], 2);
	assert_int_equal(c.proxy_accepted_listener[CFG_WS], 2);
	assert_int_equal(c.proxy_rejected_listener[CFG_TCP], 2);
	assert_int_equal(c.proxy_rejected_listener[CFG_SSL], 3);
	assert_int_equal(c.nreasons, 4);
	assert_string_equal(c.rejected[0].name, "v1-bad-src-port");   /* first-seen order */
	assert_int_equal(reason_count(&c, "v1-bad-src-port"), 2);
	assert_int_equal(reason_count(&c, "missing"), 1);
	assert_int_equal(reason_count(&c, "weird__reason__"), 1);   /* safe as a label value */
	assert_int_equal(reason_count(&c, "unknown"), 1);
	assert_int_equal(c.tls_failures[CFG_SSL], 1);
	assert_int_equal(c.tls_failures[CFG_WSS], 2);
	assert_int_equal(c.ws_failures[CFG_WS], 1);
	assert_int_equal(c.mqtt_accepted[CFG_TCP], 1);
	assert_int_equal(c.mqtt_refused[CFG_TCP], 1);
	assert_int_equal(c.mqtt_accepted[CFG_WSS], 1);

	/* more distinct reasons than slots: the rest is counted as "other" */
	for (int i = 0; i < REC_MAX_REASONS + 10; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		rec_proxy_rejected(s, CFG_WS, name);
	}
	rec_counters_get(s, &c);
	assert_int_equal(c.nreasons, REC_MAX_REASONS);
	assert_string_equal(c.rejected[REC_MAX_REASONS - 1].name, "other");
	{
		uint64_t total = 0;

		for (size_t i = 0; i < c.nreasons; i++)
			total += c.rejected[i].count;
		assert_int_equal(total, 5 + REC_MAX_REASONS + 10);
	}
	rec_store_free(s);
}

static void test_names_and_time(void **state)
{
	struct timespec ts = { 0, 123456789 };
	char b[40];

	(void)state;
	assert_string_equal(rec_time_str(&ts, b, sizeof(b)), "1970-01-01T00:00:00.123Z");
	ts.tv_sec = 1714564800;   /* 2024-05-01T12:00:00Z */
	ts.tv_nsec = 5000000;
	assert_string_equal(rec_time_str(&ts, b, sizeof(b)), "2024-05-01T12:00:00.005Z");
	assert_string_equal(rec_mqtt_version_name(3), "3.1");
	assert_string_equal(rec_mqtt_version_name(4), "3.1.1");
	assert_string_equal(rec_mqtt_version_name(5), "5");
	assert_string_equal(rec_mqtt_version_name(9), "unknown");
}

/* ---- two threads: the loop writes while the admin thread reads ----------------------------- */

static int count_sess(const struct rec_session *r, void *ctx)
{
	(void)r;
	(*(size_t *)ctx)++;
	return 0;
}

static void *reader(void *arg)
{
	struct rec_store *s = arg;
	size_t max = 0;

	for (int i = 0; i < 200; i++) {
		size_t n = 0;
		struct rec_counters c;

		rec_session_foreach(s, count_sess, &n);
		rec_counters_get(s, &c);
		if (n > max)
			max = n;
	}
	return (void *)max;
}

static void test_concurrent(void **state)
{
	struct rec_store *s = rec_store_new(100, 50);
	struct rec_conn_info ci;
	pthread_t t;
	void *ret;
	char id[32];

	(void)state;
	conn_info(&ci, CFG_TCP, "127.0.0.1", 1, NULL, 0);
	assert_int_equal(pthread_create(&t, NULL, reader, s), 0);
	for (int i = 0; i < 5000; i++) {
		uint64_t g;

		snprintf(id, sizeof(id), "c%d", i % 300);
		g = rec_session_connect(s, id, "u", 4, &ci);
		rec_unauthorized_add(s, id, "u", "bad-password", true, &ci);
		rec_conn_open(s, CFG_TCP);
		if (i % 3)
			rec_session_disconnect(s, id, g);
	}
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_true((size_t)ret <= 300);
	rec_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_connect_reconnect),
		cmocka_unit_test(test_session_strings),
		cmocka_unit_test(test_session_order_and_bound),
		cmocka_unit_test(test_session_many),
		cmocka_unit_test(test_unauthorized_ring),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_proxy_copy),
		cmocka_unit_test(test_proxy_local_and_long_tlv),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_names_and_time),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
