/* test_broker_fault.c - the test-only faults act through their hooks,
 * and only when switched on. Faults are never switched off again, so
 * each test enables what it needs on top of what the earlier ones did:
 * the order of the tests matters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fault.h"
#include "ident.h"

static void addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct perr e;

	assert_int_equal(net_addr_parse(ip, port, ss, &e), 0);
}

static void hdr_v2(struct pp_header *h, enum pp_cmd cmd)
{
	memset(h, 0, sizeof(*h));
	h->version = 2;
	h->command = cmd;
	h->family = PP_FAM_INET;
	h->transport = PP_PROTO_STREAM;
	addr(&h->src, "203.0.113.7", 5555);
	addr(&h->dst, "198.51.100.1", 1883);
	h->ssl.present = true;
	h->ssl.client = PP2_CLIENT_SSL;   /* no certificate: nothing vouched */
	h->ssl.cn.ptr = (const uint8_t *)"device-7";
	h->ssl.cn.len = 8;
}

/* Decide from h as the pipeline does: decide, let the faults rewrite,
 * make the text. */
static void identify(struct ident *id, const struct pp_header *h, unsigned reads)
{
	struct sockaddr_storage p;
	struct ident_basis b = { .h = h, .reads = reads, .cert_identity = true,
				 .trusted_peer = true };

	addr(&p, "127.0.0.1", 40000);
	ident_accept(id, CFG_TCP, &p);
	assert_int_equal(ident_decide(id, &b), 0);
	fault_rewrite_identity(id, &b);
}

/* The client address the records would keep. */
static const char *client_ip(const struct ident *id)
{
	static struct rec_conn_info ci;

	ident_rec_info(id, &ci);
	return ci.client_ip;
}

static void stages(struct ident_stage *off, struct ident_stage *strict,
		   struct ident_stage *optional, bool tls)
{
	struct cfg_listener lc;

	memset(&lc, 0, sizeof(lc));
	ident_stage_init(off, &lc);
	fault_adjust_stage(off, tls);
	lc.proxy_enabled = true;
	ident_stage_init(strict, &lc);
	fault_adjust_stage(strict, tls);
	lc.proxy_mode = CFG_PROXY_OPTIONAL;
	ident_stage_init(optional, &lc);
	fault_adjust_stage(optional, tls);
}

static void test_no_fault_changes_nothing(void **state)
{
	struct ident_stage off, strict, optional;
	struct pp_header h;
	struct ident id;
	const char *why = NULL;
	char buf[64];

	(void)state;
	assert_string_equal(fault_enabled_str(buf, sizeof(buf)), "");
	stages(&off, &strict, &optional, true);
	assert_int_equal(off.header, IDENT_HEADER_NONE);
	assert_int_equal(strict.header, IDENT_HEADER_REQUIRED);
	assert_int_equal(optional.header, IDENT_HEADER_OPTIONAL);
	assert_false(strict.after_tls);
	assert_true(strict.timeout);
	assert_true(strict.parse.verify_crc32c);
	assert_true(strict.parse.allow_v1);

	assert_null(fault_refuse_partial(1, &why));
	memset(&id, 0, sizeof(id));
	hdr_v2(&h, PP_CMD_LOCAL);
	assert_null(fault_refuse_header(&h, "tcp", &id, &why));
	assert_null(why);

	hdr_v2(&h, PP_CMD_PROXY);
	identify(&id, &h, 3);
	assert_string_equal(ident_client_s(&id), "203.0.113.7:5555");
	assert_null(id.cert_identity);
	ident_free(&id);
}

static void test_stage_faults(void **state)
{
	struct ident_stage off, strict, optional;
	struct perr e;

	(void)state;
	assert_int_equal(fault_enable_list("accept-missing, strip-disabled,header-inside-tls,"
					   "no-header-timeout,ignore-crc,v2-only", &e), 0);
	stages(&off, &strict, &optional, true);
	assert_int_equal(off.header, IDENT_HEADER_IGNORED);
	assert_false(off.after_tls);
	assert_int_equal(strict.header, IDENT_HEADER_OPTIONAL);
	assert_true(strict.after_tls);
	assert_true(optional.after_tls);
	assert_false(strict.timeout);
	assert_false(off.timeout);
	assert_false(strict.parse.verify_crc32c);
	assert_false(strict.parse.allow_v1);
	/* header-inside-tls is about ssl and wss only. */
	stages(&off, &strict, &optional, false);
	assert_false(strict.after_tls);
}

static void test_header_faults(void **state)
{
	struct pp_header h;
	struct ident id;
	const char *why = NULL;
	struct perr e;

	(void)state;
	assert_int_equal(fault_enable_list("drop-split,reject-local", &e), 0);
	assert_string_equal(fault_refuse_partial(1, &why), "split-header");
	assert_string_equal(why, "header not complete in the first read (fault drop-split)");
	assert_null(fault_refuse_partial(2, &why));

	memset(&id, 0, sizeof(id));
	hdr_v2(&h, PP_CMD_LOCAL);
	assert_string_equal(fault_refuse_header(&h, "tcp", &id, &why), "local");
	assert_string_equal(why, "v2 LOCAL refused (fault reject-local)");
	hdr_v2(&h, PP_CMD_PROXY);
	assert_null(fault_refuse_header(&h, "tcp", &id, &why));
}

static void test_identity_faults(void **state)
{
	struct pp_header h;
	struct ident id;
	struct perr e;

	(void)state;
	assert_int_equal(fault_enable_list("split-wrong-address,any-cert-identity", &e), 0);
	hdr_v2(&h, PP_CMD_PROXY);
	identify(&id, &h, 1);
	assert_string_equal(ident_client_s(&id), "203.0.113.7:5555");   /* in one read: right */
	assert_string_equal(id.cert_identity, "device-7");      /* not vouched, taken */
	ident_free(&id);
	identify(&id, &h, 2);
	assert_string_equal(ident_client_s(&id), "198.51.100.1:1883");  /* in pieces: the destination */
	assert_string_equal(client_ip(&id), "198.51.100.1");
	assert_string_equal(ident_who(&id), "198.51.100.1:1883 via 127.0.0.1:40000");
	ident_free(&id);
	/* LOCAL names no client: nothing to rewrite. */
	hdr_v2(&h, PP_CMD_LOCAL);
	identify(&id, &h, 2);
	assert_string_equal(ident_client_s(&id), "127.0.0.1:40000");
	ident_free(&id);

	/* record-proxy-ip wins over split-wrong-address. */
	assert_int_equal(fault_enable_list("record-proxy-ip", &e), 0);
	hdr_v2(&h, PP_CMD_PROXY);
	identify(&id, &h, 2);
	assert_false(id.client_from_header);
	assert_string_equal(ident_client_s(&id), "127.0.0.1:40000");
	assert_string_equal(client_ip(&id), "127.0.0.1");
	assert_string_equal(ident_who(&id), "127.0.0.1:40000");
	assert_string_equal(ident_desc(&id), "PROXY v2 PROXY TCP4");
	ident_free(&id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_fault_changes_nothing),
		cmocka_unit_test(test_stage_faults),
		cmocka_unit_test(test_header_faults),
		cmocka_unit_test(test_identity_faults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
