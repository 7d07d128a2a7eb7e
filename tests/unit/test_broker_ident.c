/* test_broker_ident.c - who a connection is: the peer at accept, then
 * what the PROXY header decides (client address, PROXY details,
 * certificate identity), and the text made of it once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/un.h>

#include "ident.h"

static void addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct perr e;

	assert_int_equal(net_addr_parse(ip, port, ss, &e), 0);
}

/* A PROXY command header (TCP over the family of src) from src:sport to
 * port 1883 of dst. */
static void hdr(struct pp_header *h, int version, const char *src, uint16_t sport,
		const char *dst)
{
	memset(h, 0, sizeof(*h));
	h->version = version;
	h->command = PP_CMD_PROXY;
	addr(&h->src, src, sport);
	addr(&h->dst, dst, 1883);
	h->family = h->src.ss_family == AF_INET6 ? PP_FAM_INET6 : PP_FAM_INET;
	h->transport = PP_PROTO_STREAM;
}

static void hdr_v2(struct pp_header *h, const char *src, uint16_t sport)
{
	hdr(h, 2, src, sport, "198.51.100.1");
}

/* What the records would keep of id (made anew by each call). */
static const struct rec_conn_info *rec(const struct ident *id)
{
	static struct rec_conn_info ci;

	ident_rec_info(id, &ci);
	return &ci;
}

/* The connection came from peer; decide from h (NULL: no header). */
static void identify(struct ident *id, const char *peer, const struct ident_basis *b)
{
	struct sockaddr_storage p;

	addr(&p, peer, 40000);
	ident_accept(id, CFG_TCP, &p);
	assert_int_equal(ident_decide(id, b), 0);
}

static void test_accept_is_the_peer(void **state)
{
	struct ident id;
	struct sockaddr_storage p;
	struct ident_basis b = { 0 };

	(void)state;
	/* A "::" listener sees IPv4 peers mapped: the identity unmaps them. */
	addr(&p, "::ffff:127.0.0.1", 40000);
	ident_accept(&id, CFG_WS, &p);
	assert_string_equal(ident_peer_s(&id), "127.0.0.1:40000");
	assert_string_equal(ident_client_s(&id), "127.0.0.1:40000");
	assert_string_equal(ident_who(&id), "127.0.0.1:40000");
	assert_string_equal(ident_desc(&id), "no PROXY header");
	assert_int_equal(id.listener, CFG_WS);
	assert_string_equal(rec(&id)->peer_ip, "127.0.0.1");
	assert_int_equal(rec(&id)->peer_port, 40000);
	assert_string_equal(rec(&id)->client_ip, "127.0.0.1");

	/* No header: the peer is the client, nothing else is known. */
	assert_int_equal(ident_decide(&id, &b), 0);
	assert_false(id.client_from_header);
	assert_null(id.proxy);
	assert_null(id.cert_identity);
	assert_string_equal(ident_who(&id), "127.0.0.1:40000");
	assert_string_equal(rec(&id)->client_ip, "127.0.0.1");
	assert_int_equal(rec(&id)->client_port, 40000);
	assert_false(rec(&id)->tls);
	ident_free(&id);
}

/* One identity per open connection: addresses in binary, no text kept
 * (the text is made when asked for), smaller than one sockaddr_storage. */
static void test_identity_is_small(void **state)
{
	(void)state;
	assert_true(sizeof(struct ident) < sizeof(struct sockaddr_storage));
}

static void test_header_source(void **state)
{
	struct ident id;
	struct pp_header h;
	struct ident_basis b = { .h = &h, .reads = 1 };

	(void)state;
	hdr_v2(&h, "203.0.113.7", 5555);
	identify(&id, "127.0.0.1", &b);
	assert_true(id.client_from_header);
	assert_string_equal(ident_client_s(&id), "203.0.113.7:5555");
	assert_string_equal(ident_peer_s(&id), "127.0.0.1:40000");
	assert_string_equal(ident_who(&id), "203.0.113.7:5555 via 127.0.0.1:40000");
	assert_string_equal(ident_desc(&id), "PROXY v2 PROXY TCP4");
	assert_string_equal(rec(&id)->client_ip, "203.0.113.7");
	assert_int_equal(rec(&id)->client_port, 5555);
	assert_string_equal(rec(&id)->peer_ip, "127.0.0.1");
	assert_int_equal(rec(&id)->peer_port, 40000);
	assert_non_null(id.proxy);
	assert_string_equal(id.proxy->src_ip, "203.0.113.7");
	ident_free(&id);
	assert_null(id.proxy);

	/* A header naming the peer itself: nothing to say "via". */
	hdr_v2(&h, "127.0.0.1", 40000);
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(ident_who(&id), "127.0.0.1:40000");
	ident_free(&id);

	/* v1 TCP6, an IPv4-mapped source unmapped. */
	hdr(&h, 1, "2001:db8::1", 5555, "2001:db8::2");
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(ident_client_s(&id), "[2001:db8::1]:5555");
	assert_string_equal(rec(&id)->client_ip, "2001:db8::1");
	assert_string_equal(ident_desc(&id), "PROXY v1 TCP6");
	ident_free(&id);
	addr(&h.src, "::ffff:203.0.113.9", 6000);
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(ident_client_s(&id), "203.0.113.9:6000");
	ident_free(&id);
}

static void test_socket_addresses_stand(void **state)
{
	struct ident id;
	struct pp_header h;
	struct ident_basis b = { .h = &h, .reads = 1 };

	(void)state;
	/* LOCAL (health checks), UNSPEC, v1 UNKNOWN: the peer is the client,
	 * the header is still recorded. */
	hdr_v2(&h, "203.0.113.7", 5555);
	h.command = PP_CMD_LOCAL;
	assert_false(ident_header_names_client(&h));
	identify(&id, "127.0.0.1", &b);
	assert_false(id.client_from_header);
	assert_string_equal(ident_client_s(&id), "127.0.0.1:40000");
	assert_string_equal(ident_who(&id), "127.0.0.1:40000");
	assert_string_equal(ident_desc(&id), "PROXY v2 LOCAL");
	assert_non_null(id.proxy);
	ident_free(&id);

	hdr_v2(&h, "203.0.113.7", 5555);
	h.family = PP_FAM_UNSPEC;
	memset(&h.src, 0, sizeof(h.src));
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(rec(&id)->client_ip, "127.0.0.1");
	assert_string_equal(ident_desc(&id), "PROXY v2 PROXY UNSPEC");
	ident_free(&id);

	memset(&h, 0, sizeof(h));
	h.version = 1;
	h.command = PP_CMD_PROXY;
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(ident_desc(&id), "PROXY v1 UNKNOWN");
	assert_string_equal(rec(&id)->client_ip, "127.0.0.1");
	ident_free(&id);
}

static void test_unix_source_text(void **state)
{
	struct ident id;
	struct pp_header h;
	struct sockaddr_un *un;
	struct ident_basis b = { .h = &h, .reads = 1 };

	(void)state;
	hdr_v2(&h, "203.0.113.7", 5555);
	h.family = PP_FAM_UNIX;
	memset(&h.src, 0, sizeof(h.src));
	un = (struct sockaddr_un *)&h.src;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, "/run/x\x01y", 8);
	identify(&id, "127.0.0.1", &b);
	/* One text for the records and the log lines: no control bytes. */
	assert_string_equal(rec(&id)->client_ip, "unix:/run/x?y");
	assert_int_equal(rec(&id)->client_port, 0);
	assert_string_equal(ident_client_s(&id), "unix:/run/x?y");
	assert_string_equal(ident_who(&id), "unix:/run/x?y via 127.0.0.1:40000");
	assert_string_equal(ident_desc(&id), "PROXY v2 PROXY UNIX_STREAM");
	ident_free(&id);
}

static void hdr_cert(struct pp_header *h, uint8_t client, uint32_t verify)
{
	hdr_v2(h, "203.0.113.7", 5555);
	h->ssl.present = true;
	h->ssl.client = client;
	h->ssl.verify = verify;
	h->ssl.cn.ptr = (const uint8_t *)"device-7";
	h->ssl.cn.len = 8;
}

static void test_cert_identity(void **state)
{
	const uint8_t vouched = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN;
	struct ident id;
	struct pp_header h;
	struct ident_basis b = { .h = &h, .reads = 1, .cert_identity = true,
				 .trusted_peer = true };

	(void)state;
	hdr_cert(&h, vouched, 0);
	identify(&id, "127.0.0.1", &b);
	assert_string_equal(id.cert_identity, "device-7");
	assert_ptr_equal(id.cert_identity, id.proxy->ssl_cn);
	ident_free(&id);
	assert_null(id.cert_identity);

	/* security.proxy_cert_identity off. */
	b.cert_identity = false;
	identify(&id, "127.0.0.1", &b);
	assert_null(id.cert_identity);
	assert_string_equal(ident_cert_claim(&id), "device-7");
	ident_free(&id);
	b.cert_identity = true;

	/* Not from a trusted proxy. */
	b.trusted_peer = false;
	identify(&id, "127.0.0.1", &b);
	assert_null(id.cert_identity);
	ident_free(&id);
	b.trusted_peer = true;

	/* The proxy did not verify it, or saw no certificate, or no TLS. */
	hdr_cert(&h, vouched, 1);
	identify(&id, "127.0.0.1", &b);
	assert_null(id.cert_identity);
	assert_string_equal(ident_cert_claim(&id), "device-7");
	ident_free(&id);
	hdr_cert(&h, PP2_CLIENT_SSL, 0);
	identify(&id, "127.0.0.1", &b);
	assert_null(id.cert_identity);
	ident_free(&id);
	hdr_cert(&h, PP2_CLIENT_CERT_CONN, 0);
	identify(&id, "127.0.0.1", &b);
	assert_null(id.cert_identity);
	ident_free(&id);

	/* No claim at all: v1, LOCAL, empty CN. */
	hdr_cert(&h, vouched, 0);
	h.command = PP_CMD_LOCAL;
	identify(&id, "127.0.0.1", &b);
	assert_null(ident_cert_claim(&id));
	assert_null(id.cert_identity);
	ident_free(&id);
	hdr_cert(&h, vouched, 0);
	h.ssl.cn.len = 0;
	identify(&id, "127.0.0.1", &b);
	assert_null(ident_cert_claim(&id));
	ident_free(&id);
}

static void test_stage_from_config(void **state)
{
	struct cfg_listener lc;
	struct ident_stage st;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	ident_stage_init(&st, &lc);
	assert_int_equal(st.header, IDENT_HEADER_NONE);
	assert_false(st.after_tls);
	assert_true(st.timeout);
	assert_true(st.parse.verify_crc32c);
	assert_true(st.parse.allow_v1);

	lc.proxy_enabled = true;
	lc.proxy_max_header = 512;
	ident_stage_init(&st, &lc);
	assert_int_equal(st.header, IDENT_HEADER_REQUIRED);
	assert_int_equal(st.parse.max_len, 512);
	lc.proxy_mode = CFG_PROXY_OPTIONAL;
	ident_stage_init(&st, &lc);
	assert_int_equal(st.header, IDENT_HEADER_OPTIONAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_is_the_peer),
		cmocka_unit_test(test_header_source),
		cmocka_unit_test(test_socket_addresses_stand),
		cmocka_unit_test(test_identity_is_small),
		cmocka_unit_test(test_unix_source_text),
		cmocka_unit_test(test_cert_identity),
		cmocka_unit_test(test_stage_from_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
