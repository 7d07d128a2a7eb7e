/* test_pp_desc.c - lib/pp_desc: TLV types by name and back, the value
 * encoders byte for byte, families / transports / commands by name, the
 * default addresses, and descriptions made into headers.
 *
 * Linked with pp.o, pp_addr.o and pp_desc.o only (Makefile): the codec
 * stays a leaf that needs nothing but libc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "pp_desc.h"

/* ---- TLV types ---------------------------------------------------------- */

static void test_tlv_names_round_trip(void **state)
{
	size_t n, i, j;
	const struct pp_tlv_def *d = pp_tlv_defs(&n);

	(void)state;
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		char upper[32];
		uint8_t t = 0;

		assert_non_null(d[i].name);
		assert_non_null(d[i].help);
		assert_ptr_equal(pp_tlv_def_by_name(d[i].name), &d[i]);
		assert_ptr_equal(pp_tlv_def_by_type(d[i].type), &d[i]);
		assert_string_equal(pp_tlv_name(d[i].type), d[i].name);
		assert_int_equal(pp_tlv_type_parse(d[i].name, &t), 0);
		assert_int_equal(t, d[i].type);
		/* Names are case-insensitive. */
		for (j = 0; d[i].name[j] && j + 1 < sizeof(upper); j++)
			upper[j] = (char)(d[i].name[j] >= 'a' && d[i].name[j] <= 'z'
					  ? d[i].name[j] - 32 : d[i].name[j]);
		upper[j] = '\0';
		assert_ptr_equal(pp_tlv_def_by_name(upper), &d[i]);
		/* Names, codes and options are each unique. */
		for (j = i + 1; j < n; j++) {
			assert_string_not_equal(d[i].name, d[j].name);
			assert_int_not_equal(d[i].type, d[j].type);
			if (d[i].option && d[j].option)
				assert_string_not_equal(d[i].option, d[j].option);
		}
		/* Every type but SSL (its sub-TLVs have options) has an option;
		 * a flag only where the builder computes the value. */
		assert_true(d[i].val == PP_VAL_SSL ? d[i].option == NULL : d[i].option != NULL);
		assert_true(d[i].val == PP_VAL_CRC32C || d[i].val == PP_VAL_SSL
			    ? d[i].arg == NULL : d[i].arg != NULL);
	}
}

static void test_tlv_known_codes(void **state)
{
	static const struct { const char *name; uint8_t type; enum pp_val val; } want[] = {
		{ "alpn", 0x01, PP_VAL_TEXT }, { "authority", 0x02, PP_VAL_TEXT },
		{ "crc32c", 0x03, PP_VAL_CRC32C }, { "noop", 0x04, PP_VAL_ZEROS },
		{ "unique_id", 0x05, PP_VAL_TEXT }, { "ssl", 0x20, PP_VAL_SSL },
		{ "netns", 0x30, PP_VAL_TEXT }, { "gcp", 0xE0, PP_VAL_GCP_PSC },
		{ "aws", 0xEA, PP_VAL_AWS_VPCE }, { "azure", 0xEE, PP_VAL_AZURE_LINKID },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct pp_tlv_def *d = pp_tlv_def_by_name(want[i].name);

		assert_non_null(d);
		assert_int_equal(d->type, want[i].type);
		assert_int_equal(d->val, want[i].val);
	}
	assert_null(pp_tlv_name(0x00));
	assert_null(pp_tlv_name(0x21)); /* a sub-TLV, not a TLV */
	assert_null(pp_tlv_name(0xE5));
	assert_null(pp_tlv_def_by_name("unique-id"));
	assert_null(pp_tlv_def_by_name(""));
	assert_null(pp_tlv_def_by_name(NULL));
}

static void test_tlv_type_numbers(void **state)
{
	static const struct { const char *s; int type; } cases[] = {
		{ "0", 0 }, { "1", 1 }, { "255", 255 }, { "0xEA", 0xEA }, { "0Xea", 0xEA },
		{ "0x0", 0 }, { "0xff", 255 }, { "010", 10 },
		{ "256", -1 }, { "0x100", -1 }, { "-1", -1 }, { "+1", -1 }, { " 1", -1 },
		{ "1 ", -1 }, { "", -1 }, { "0x", -1 }, { "1a", -1 }, { "0xg", -1 },
		{ "bogus", -1 }, { "99999999999999999999", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t t = 0x77;
		int rc = pp_tlv_type_parse(cases[i].s, &t);

		if (cases[i].type < 0) {
			assert_int_equal(rc, -1);
			assert_int_equal(t, 0x77); /* untouched */
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(t, cases[i].type);
		}
	}
	assert_int_equal(pp_tlv_type_parse(NULL, &(uint8_t){ 0 }), -1);
}

/* ---- SSL ---------------------------------------------------------------- */

static void test_ssl_subs(void **state)
{
	static const char *const names[] = { "version", "cn", "cipher", "sig_alg", "key_alg" };
	static const char *const opts[] = { "ssl-version", "ssl-cn", "ssl-cipher",
					    "ssl-sig-alg", "ssl-key-alg" };
	struct pp_ssl ssl;

	(void)state;
	memset(&ssl, 0, sizeof(ssl));
	for (size_t i = 0; i < PP_SSL_NSUBS; i++) {
		assert_string_equal(pp_ssl_subs[i].name, names[i]);
		assert_string_equal(pp_ssl_subs[i].option, opts[i]);
		assert_int_equal(pp_ssl_subs[i].type, 0x21 + i);
		pp_ssl_field(&ssl, i)->len = i + 1;
		assert_ptr_equal(pp_ssl_field_c(&ssl, i), pp_ssl_field(&ssl, i));
	}
	assert_int_equal(ssl.version.len, 1);
	assert_int_equal(ssl.cn.len, 2);
	assert_int_equal(ssl.cipher.len, 3);
	assert_int_equal(ssl.sig_alg.len, 4);
	assert_int_equal(ssl.key_alg.len, 5);
}

static void set_text(struct pp_bytes *b, const char *s)
{
	b->ptr = (const uint8_t *)s;
	b->len = strlen(s);
}

static void test_ssl_encode(void **state)
{
	static const uint8_t want[] = {
		0x07, 0x00, 0x00, 0x00, 0x2a,             /* client, verify 42 */
		0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',
		0x22, 0x00, 0x02, 'c', '1',
		0x25, 0x00, 0x00,                         /* set, empty */
	};
	struct pp_ssl ssl;
	uint8_t out[64];

	(void)state;
	memset(&ssl, 0, sizeof(ssl));
	ssl.client = 7;
	ssl.verify = 42;
	set_text(&ssl.version, "TLSv1.3");
	set_text(&ssl.cn, "c1");
	set_text(&ssl.key_alg, "");
	assert_int_equal(pp_ssl_encode(&ssl, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* Exactly enough room, then one byte short. */
	assert_int_equal(pp_ssl_encode(&ssl, out, sizeof(want)), sizeof(want));
	assert_int_equal(pp_ssl_encode(&ssl, out, sizeof(want) - 1), -1);
	assert_int_equal(pp_ssl_encode(&ssl, out, 4), -1);
	/* No sub-TLV: client and verify only. */
	memset(&ssl, 0, sizeof(ssl));
	ssl.client = 1;
	ssl.verify = 0x01020304;
	assert_int_equal(pp_ssl_encode(&ssl, out, sizeof(out)), 5);
	assert_memory_equal(out, "\x01\x01\x02\x03\x04", 5);
}

/* ---- cloud sub-TLVs ----------------------------------------------------- */

static void test_cloud_values(void **state)
{
	uint8_t out[32];

	(void)state;
	assert_int_equal(pp_tlv_aws_vpce("vpce-08d2bf15fac5001c9", out, sizeof(out)), 23);
	assert_memory_equal(out, "\x01vpce-08d2bf15fac5001c9", 23);
	assert_int_equal(pp_tlv_aws_vpce("", out, sizeof(out)), 1);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(pp_tlv_aws_vpce("abc", out, 3), -1);

	assert_int_equal(pp_tlv_azure_linkid(0x12345678, out, sizeof(out)), 5);
	assert_memory_equal(out, "\x01\x78\x56\x34\x12", 5);
	assert_int_equal(pp_tlv_azure_linkid(258, out, 5), 5);
	assert_memory_equal(out, "\x01\x02\x01\x00\x00", 5);
	assert_int_equal(pp_tlv_azure_linkid(1, out, 4), -1);

	assert_int_equal(pp_tlv_gcp_psc(0x0102030405060708ull, out, sizeof(out)), 9);
	assert_memory_equal(out, "\x01\x01\x02\x03\x04\x05\x06\x07\x08", 9);
	assert_int_equal(pp_tlv_gcp_psc(UINT64_MAX, out, 9), 9);
	assert_memory_equal(out, "\x01\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	assert_int_equal(pp_tlv_gcp_psc(1, out, 8), -1);
}

/* The parser reads back what the encoders wrote. */
static void test_cloud_values_parse_back(void **state)
{
	struct pp_desc d;
	struct pp_header h;
	uint8_t aws[32], az[8], gcp[16], buf[256];
	int n;

	(void)state;
	pp_desc_init(&d, 2);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_AWS, aws,
					 (size_t)pp_tlv_aws_vpce("vpce-1", aws, sizeof(aws))), 0);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_AZURE, az,
					 (size_t)pp_tlv_azure_linkid(2147483650u, az, sizeof(az))), 0);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_GCP, gcp,
					 (size_t)pp_tlv_gcp_psc(1234567890123ull, gcp, sizeof(gcp))), 0);
	n = pp_desc_build(&d, buf, sizeof(buf), NULL);
	assert_true(n > 0);
	assert_int_equal(pp_parse(buf, (size_t)n, NULL, &h, NULL), n);
	assert_int_equal(h.aws_vpce_id.len, 6);
	assert_memory_equal(h.aws_vpce_id.ptr, "vpce-1", 6);
	assert_true(h.has_azure_linkid);
	assert_int_equal(h.azure_linkid, 2147483650u);
	assert_true(h.has_gcp_psc_id);
	assert_int_equal(h.gcp_psc_id, 1234567890123ull);
}

/* ---- names -------------------------------------------------------------- */

static void test_family_names(void **state)
{
	static const struct { const char *s; int fam; } cases[] = {
		{ "inet", PP_FAM_INET }, { "INET", PP_FAM_INET }, { "inet4", PP_FAM_INET },
		{ "ipv4", PP_FAM_INET }, { "tcp4", PP_FAM_INET }, { "TCP4", PP_FAM_INET },
		{ "inet6", PP_FAM_INET6 }, { "ipv6", PP_FAM_INET6 }, { "tcp6", PP_FAM_INET6 },
		{ "unix", PP_FAM_UNIX }, { "unspec", PP_FAM_UNSPEC }, { "unknown", PP_FAM_UNSPEC },
		{ "ipx", -1 }, { "", -1 }, { "inet ", -1 }, { "tcp", -1 },
	};
	enum pp_fam f;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = (enum pp_fam)99;
		assert_int_equal(pp_fam_parse(cases[i].s, &f), cases[i].fam < 0 ? -1 : 0);
		if (cases[i].fam >= 0)
			assert_int_equal(f, cases[i].fam);
	}
	assert_string_equal(pp_fam_name(PP_FAM_UNSPEC), "unspec");
	assert_string_equal(pp_fam_name(PP_FAM_INET), "inet");
	assert_string_equal(pp_fam_name(PP_FAM_INET6), "inet6");
	assert_string_equal(pp_fam_name(PP_FAM_UNIX), "unix");
	assert_string_equal(pp_fam_name((enum pp_fam)4), "?");
	for (int i = 0; i <= PP_FAM_UNIX; i++) {
		assert_int_equal(pp_fam_parse(pp_fam_name((enum pp_fam)i), &f), 0);
		assert_int_equal(f, i);
	}
}

static void test_transport_command_names(void **state)
{
	enum pp_proto p;
	enum pp_cmd c;

	(void)state;
	for (int i = 0; i <= PP_PROTO_DGRAM; i++) {
		assert_int_equal(pp_proto_parse(pp_proto_name((enum pp_proto)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(pp_proto_name(PP_PROTO_STREAM), "stream");
	assert_int_equal(pp_proto_parse("DGRAM", &p), 0);
	assert_int_equal(p, PP_PROTO_DGRAM);
	assert_int_equal(pp_proto_parse("udp", &p), -1);
	assert_string_equal(pp_proto_name((enum pp_proto)3), "?");

	assert_string_equal(pp_cmd_name(PP_CMD_LOCAL), "local");
	assert_string_equal(pp_cmd_name(PP_CMD_PROXY), "proxy");
	assert_int_equal(pp_cmd_parse("PROXY", &c), 0);
	assert_int_equal(c, PP_CMD_PROXY);
	assert_int_equal(pp_cmd_parse("local", &c), 0);
	assert_int_equal(c, PP_CMD_LOCAL);
	assert_int_equal(pp_cmd_parse("health", &c), -1);
}

/* ---- defaults and descriptions -------------------------------------------- */

static void test_defaults(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	assert_null(pp_defaults.src[PP_FAM_UNSPEC]);
	assert_null(pp_defaults.dst[PP_FAM_UNSPEC]);
	assert_string_equal(pp_defaults.src[PP_FAM_INET], "192.0.2.1:40000");
	assert_string_equal(pp_defaults.dst[PP_FAM_INET], "198.51.100.1:1883");
	assert_string_equal(pp_defaults.src[PP_FAM_INET6], "[2001:db8::1]:40000");
	assert_string_equal(pp_defaults.dst[PP_FAM_INET6], "[2001:db8::2]:1883");
	for (int f = PP_FAM_INET; f <= PP_FAM_UNIX; f++) {
		static const int af[] = { 0, AF_INET, AF_INET6, AF_UNIX };

		assert_int_equal(pp_sockaddr_parse(pp_defaults.src[f], &ss), 0);
		assert_int_equal(ss.ss_family, af[f]);
		assert_int_equal(pp_sockaddr_parse(pp_defaults.dst[f], &ss), 0);
		assert_int_equal(ss.ss_family, af[f]);
	}
}

static int build_text(const struct pp_desc *d, char *out, size_t cap)
{
	struct pp_error e;
	int n = pp_desc_build(d, (uint8_t *)out, cap - 1, &e);

	out[n > 0 ? n : 0] = '\0';
	return n;
}

static void test_desc_v1(void **state)
{
	struct pp_desc d;
	struct sockaddr_storage src;
	char out[128];

	(void)state;
	pp_desc_init(&d, 1);
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n");

	d.family = PP_FAM_INET6;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY TCP6 2001:db8::1 2001:db8::2 40000 1883\r\n");

	/* A given source with the family's default destination. */
	assert_int_equal(pp_sockaddr_parse("[2001:db8::7]:5", &src), 0);
	d.src = &src;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY TCP6 2001:db8::7 2001:db8::2 5 1883\r\n");

	/* UNKNOWN, short and long (addresses of the given one's family). */
	d.family = PP_FAM_UNSPEC;
	d.src = NULL;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY UNKNOWN\r\n");
	d.unknown_long = true;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY UNKNOWN 192.0.2.1 198.51.100.1 40000 1883\r\n");
	d.src = &src;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY UNKNOWN 2001:db8::7 2001:db8::2 5 1883\r\n");
}

static void test_desc_v2(void **state)
{
	static const uint8_t alpn[] = "mqtt";
	struct pp_desc d;
	struct pp_header h;
	struct pp_build_opts bo;
	struct sockaddr_storage src;
	uint8_t buf[256];
	char a[64];
	int n;

	(void)state;
	pp_desc_init(&d, 2);
	d.family = PP_FAM_INET6;
	assert_int_equal(pp_sockaddr_parse("192.0.2.9:9", &src), 0);
	d.src = &src;
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_ALPN, alpn, 4), 0);
	d.crc32c = true;
	d.noop = 3;
	assert_int_equal(pp_desc_header(&d, &h, &bo, NULL), 0);
	assert_int_equal(h.family, PP_FAM_INET6);
	assert_int_equal(h.transport, PP_PROTO_STREAM);
	assert_true(bo.crc32c);
	assert_int_equal(bo.noop_len, 3);
	n = pp_desc_build(&d, buf, sizeof(buf), NULL);
	assert_true(n > 0);
	assert_int_equal(pp_parse(buf, (size_t)n, NULL, &h, NULL), n);
	/* INET6 writes an IPv4 address IPv4-mapped. */
	assert_string_equal(pp_addr_str(&h.src, a, sizeof(a)), "::ffff:192.0.2.9");
	assert_string_equal(pp_addr_str(&h.dst, a, sizeof(a)), "2001:db8::2");
	assert_int_equal(h.ntlv, 3);
	assert_int_equal(h.tlv[0].type, PP2_TYPE_ALPN);
	assert_int_equal(h.tlv[1].type, PP2_TYPE_NOOP);
	assert_int_equal(h.tlv[1].value.len, 3);
	assert_int_equal(h.tlv[2].type, PP2_TYPE_CRC32C);
	assert_true(h.has_crc32c);

	/* LOCAL UNSPEC: no addresses, transport UNSPEC by default. */
	pp_desc_init(&d, 2);
	d.command = PP_CMD_LOCAL;
	d.family = PP_FAM_UNSPEC;
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), NULL), 16);
	assert_int_equal(buf[12], 0x20);
	assert_int_equal(buf[13], 0x00);
	d.transport = PP_PROTO_DGRAM;
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), NULL), 16);
	assert_int_equal(buf[13], 0x02);

	/* UNIX defaults. */
	pp_desc_init(&d, 2);
	d.family = PP_FAM_UNIX;
	n = pp_desc_build(&d, buf, sizeof(buf), NULL);
	assert_int_equal(n, 16 + 216);
	assert_int_equal(pp_parse(buf, (size_t)n, NULL, &h, NULL), n);
	assert_string_equal(pp_addr_str(&h.src, a, sizeof(a)), "unix:/run/client.sock");
}

static void test_desc_own_defaults(void **state)
{
	static const struct pp_defaults mine = {
		.src = { NULL, "203.0.113.1:1", "[2001:db8::5]:2", "unix:/a" },
		.dst = { NULL, "203.0.113.2:3", NULL, "unix:/b" },
	};
	struct pp_desc d;
	struct pp_error e;
	char out[128];

	(void)state;
	pp_desc_init(&d, 1);
	d.defaults = &mine;
	assert_true(build_text(&d, out, sizeof(out)) > 0);
	assert_string_equal(out, "PROXY TCP4 203.0.113.1 203.0.113.2 1 3\r\n");
	d.family = PP_FAM_INET6;
	memset(&e, 0, sizeof(e));
	assert_int_equal(pp_desc_build(&d, (uint8_t *)out, sizeof(out), &e), -1);
	assert_int_equal(e.reason, PP_R_BUILD);
	assert_string_equal(e.msg, "no default destination address for family inet6");
}

static void test_desc_errors(void **state)
{
	struct pp_desc d;
	struct pp_error e;
	struct sockaddr_storage v6, un;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(pp_sockaddr_parse("[::1]:1", &v6), 0);
	assert_int_equal(pp_sockaddr_parse("unix:/x", &un), 0);
	pp_desc_init(&d, 2);
	d.src = &v6;
	memset(&e, 0, sizeof(e));
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), &e), -1);
	assert_string_equal(e.msg, "family inet needs IPv4 addresses");

	d.family = PP_FAM_UNIX;
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), &e), -1);
	assert_string_equal(e.msg, "family unix needs UNIX addresses");

	d.family = PP_FAM_INET6;
	d.dst = &un;
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), &e), -1);
	assert_string_equal(e.msg, "family inet6 needs IP addresses");

	d.family = (enum pp_fam)7;
	assert_int_equal(pp_desc_build(&d, buf, sizeof(buf), &e), -1);
	assert_string_equal(e.msg, "family 7 cannot be encoded");

	/* The header does not fit: the builder's reason. */
	pp_desc_init(&d, 2);
	assert_int_equal(pp_desc_build(&d, buf, 20, &e), -1);
	assert_int_equal(e.reason, PP_R_BUILD);

	/* At most PP_MAX_TLVS TLVs, values of at most 65535 bytes, and a
	 * length needs a value. */
	for (int i = 0; i < PP_MAX_TLVS; i++)
		assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_NOOP, NULL, 0), 0);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_NOOP, NULL, 0), -1);
	pp_desc_init(&d, 2);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_NOOP, buf, 65536), -1);
	assert_int_equal(pp_desc_add_tlv(&d, PP2_TYPE_ALPN, NULL, 3), -1);
	assert_int_equal(d.ntlv, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlv_names_round_trip),
		cmocka_unit_test(test_tlv_known_codes),
		cmocka_unit_test(test_tlv_type_numbers),
		cmocka_unit_test(test_ssl_subs),
		cmocka_unit_test(test_ssl_encode),
		cmocka_unit_test(test_cloud_values),
		cmocka_unit_test(test_cloud_values_parse_back),
		cmocka_unit_test(test_family_names),
		cmocka_unit_test(test_transport_command_names),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_desc_v1),
		cmocka_unit_test(test_desc_v2),
		cmocka_unit_test(test_desc_own_defaults),
		cmocka_unit_test(test_desc_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
