/* test_pp.c - PROXY protocol parser: the malformation catalog, literal
 * headers with byte-exact expectations, early decisions, options, helpers.
 */
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
#include <sys/un.h>

#include "pp_desc.h"

#define CONNECT "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01" "a"
#define CONNECT_LEN 15

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v = 0;
		if (*s == ' ')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			fail_msg("bad hex character '%c'", *s);
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static bool bytes_eq(struct pp_bytes b, const char *s)
{
	return b.ptr && b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

/* ---- the catalog ---------------------------------------------------------- */

static void test_catalog_shape(void **state)
{
	size_t n, i, j;
	const struct pp_mutation *m = pp_mutations(&n);
	(void)state;

	assert_true(n >= 48);
	for (i = 0; i < n; i++) {
		const char *nm = m[i].name;
		assert_non_null(nm);
		assert_true(m[i].version == 1 || m[i].version == 2);
		assert_true(strncmp(nm, m[i].version == 1 ? "v1-" : "v2-", 3) == 0);
		for (const char *c = nm; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');
		assert_true(strlen(m[i].desc) > 5);
		assert_null(strchr(m[i].desc, '\n'));
		if (m[i].verdict == PP_VERDICT_INCOMPLETE)
			assert_int_equal(m[i].reason, PP_R_OK);
		else
			assert_int_not_equal(m[i].reason, PP_R_OK);
		if (m[i].verdict == PP_VERDICT_NOT_PROXY)
			assert_int_equal(m[i].reason, PP_R_NOT_PROXY);
		assert_ptr_equal(pp_mutation_find(nm), &m[i]);
		for (j = 0; j < i; j++)
			assert_string_not_equal(m[j].name, nm);
	}
	assert_null(pp_mutation_find("no-such-mutation"));
	assert_null(pp_mutation_find(NULL));
}

/* Every mutation must produce what the catalog says, and every prefix of
 * it must be "need more" until the point where the parser decides, then
 * the same decision for every longer prefix. */
static void check_mutation(const struct pp_mutation *m, const uint8_t *buf, size_t len)
{
	struct pp_header h;
	struct pp_error e;
	int r = pp_parse(buf, len, NULL, &h, &e);
	enum pp_detect d = pp_detect(buf, len);

	switch (m->verdict) {
	case PP_VERDICT_REJECT:
	case PP_VERDICT_LIMIT: /* this parser refuses it by its own limit */
		if (r != PP_INVALID || e.reason != m->reason)
			fail_msg("%s: expected reject/%s, got %d/%s (%s)", m->name,
				 pp_reason_name(m->reason), r, pp_reason_name(e.reason), e.msg);
		assert_true(strlen(e.msg) > 10);
		assert_true(e.offset < len);
		break;
	case PP_VERDICT_INCOMPLETE:
		if (r != PP_NEED_MORE)
			fail_msg("%s: expected need-more, got %d (%s)", m->name, r, e.msg);
		assert_int_not_equal(d, PP_DETECT_NONE);
		break;
	case PP_VERDICT_NOT_PROXY:
		assert_int_equal(d, PP_DETECT_NONE);
		if (r != PP_INVALID || e.reason != PP_R_NOT_PROXY)
			fail_msg("%s: expected not-proxy, got %d/%s", m->name, r, pp_reason_name(e.reason));
		assert_true(strlen(e.msg) > 10);
		break;
	}

	bool decided = false;
	for (size_t k = 1; k <= len; k++) {
		struct pp_error pe;
		int pr = pp_parse(buf, k, NULL, &h, &pe);
		if (pr == PP_NEED_MORE) {
			if (decided)
				fail_msg("%s: prefix %zu is need-more after an earlier decision", m->name, k);
			continue;
		}
		assert_int_equal(pr, PP_INVALID);
		if (pe.reason != e.reason)
			fail_msg("%s: prefix %zu says %s, the whole says %s", m->name, k,
				 pp_reason_name(pe.reason), pp_reason_name(e.reason));
		/* the offset may lie beyond the bytes received: a TLV that
		 * the length field leaves no room for is refused early */
		assert_int_equal(pe.offset, e.offset);
		decided = true;
	}
}

static void test_catalog_verdicts(void **state)
{
	size_t n;
	const struct pp_mutation *m = pp_mutations(&n);
	uint8_t buf[70000];
	(void)state;

	for (size_t i = 0; i < n; i++) {
		struct pp_error e;
		int len = pp_mutate(m[i].name, NULL, buf, sizeof(buf), &e);
		if (len <= 0)
			fail_msg("%s: pp_mutate failed: %s", m[i].name, e.msg);
		check_mutation(&m[i], buf, (size_t)len);
	}
}

/* A LOCAL header's block is discarded by its receiver: damage confined to
 * its TLVs does not make it invalid. True (after checking that) when m
 * is such damage on a LOCAL header. */
static bool local_discards(const struct pp_mutation *m, const uint8_t *buf, size_t len)
{
	struct pp_header h;
	struct pp_error e;

	if (len < PP_V2_FIXED_LEN || buf[0] != 0x0D || (buf[12] & 0x0F) != PP_CMD_LOCAL)
		return false;
	switch (m->reason) {
	case PP_R_V2_TLV_TRUNCATED:
	case PP_R_V2_SSL_TRUNCATED:
	case PP_R_V2_BAD_CRC_LEN:
	case PP_R_V2_DUP_TLV:
	case PP_R_V2_TOO_MANY_TLVS:
	case PP_R_V2_BAD_UNIQUE_ID:
	case PP_R_V2_BAD_FAMILY:    /* LOCAL ignores the family byte */
	case PP_R_V2_BAD_TRANSPORT:
		break;
	default:
		return false;
	}
	if (pp_parse(buf, len, NULL, &h, &e) != (int)len)
		fail_msg("%s on LOCAL: the discarded block made the header invalid (%s)",
			 m->name, e.msg);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	if (m->reason != PP_R_V2_BAD_FAMILY && m->reason != PP_R_V2_BAD_TRANSPORT)
		assert_int_equal(h.ntlv, 0);
	return true;
}

/* The catalog holds with other starting headers too. */
static void test_catalog_with_bases(void **state)
{
	size_t n;
	const struct pp_mutation *m = pp_mutations(&n);
	uint8_t buf[70000];
	struct pp_header bases[4];
	struct sockaddr_storage s, d;
	static const uint8_t alpn[] = "mqtt";
	(void)state;

	pp_header_init(&bases[0], 1, PP_CMD_PROXY);
	assert_int_equal(pp_sockaddr_parse("[2001:db8::7]:5", &s), 0);
	assert_int_equal(pp_sockaddr_parse("[2001:db8::8]:8883", &d), 0);
	assert_int_equal(pp_header_set_addrs(&bases[0], &s, &d), 0);
	bases[1] = bases[0];
	bases[1].version = 2;
	assert_int_equal(pp_header_add_tlv(&bases[1], PP2_TYPE_ALPN, alpn, 4), 0);
	pp_header_init(&bases[2], 2, PP_CMD_LOCAL);
	pp_header_init(&bases[3], 1, PP_CMD_PROXY);
	assert_int_equal(pp_sockaddr_parse("10.0.0.1:1", &s), 0);
	assert_int_equal(pp_sockaddr_parse("10.0.0.2:65535", &d), 0);
	assert_int_equal(pp_header_set_addrs(&bases[3], &s, &d), 0);

	for (size_t b = 0; b < 4; b++) {
		for (size_t i = 0; i < n; i++) {
			struct pp_error e;
			int len = pp_mutate(m[i].name, &bases[b], buf, sizeof(buf), &e);
			if (len <= 0)
				fail_msg("%s (base %zu): pp_mutate failed: %s", m[i].name, b, e.msg);
			if (local_discards(&m[i], buf, (size_t)len))
				continue;
			check_mutation(&m[i], buf, (size_t)len);
		}
	}
}

static void test_mutate_errors(void **state)
{
	uint8_t buf[16];
	struct pp_error e;
	(void)state;

	assert_int_equal(pp_mutate("nope", NULL, buf, sizeof(buf), &e), -1);
	assert_int_equal(e.reason, PP_R_BUILD);
	assert_non_null(strstr(e.msg, "nope"));
	/* does not fit */
	assert_int_equal(pp_mutate("v1-too-long", NULL, buf, sizeof(buf), &e), -1);
	assert_int_equal(pp_mutate("v2-unique-id-129", NULL, buf, sizeof(buf), &e), -1);
	assert_int_equal(pp_mutate("v1-double-space", NULL, buf, 0, NULL), -1);
}

/* ---- valid v1 literals ---------------------------------------------------- */

struct v1_case {
	const char *line;
	enum pp_fam fam;
	const char *src, *dst;
	unsigned sport, dport;
};

#define FF39 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

static const struct v1_case v1_cases[] = {
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", PP_FAM_INET, "192.168.0.1", "192.168.0.11", 56324, 443},
	{"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", PP_FAM_INET, "0.0.0.0", "255.255.255.255", 0, 65535},
	{"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", PP_FAM_INET, "255.255.255.255", "255.255.255.255", 65535, 65535},
	{"PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n", PP_FAM_INET, "10.0.0.1", "10.0.0.2", 0, 0},
	{"PROXY TCP6 2001:db8::1 ::1 1 2\r\n", PP_FAM_INET6, "2001:db8::1", "::1", 1, 2},
	{"PROXY TCP6 ::ffff:192.0.2.1 :: 40000 1883\r\n", PP_FAM_INET6, "::ffff:192.0.2.1", "::", 40000, 1883},
	{"PROXY TCP6 2001:DB8:0:0:0:0:0:1 fe80::1 8 9\r\n", PP_FAM_INET6, "2001:db8::1", "fe80::1", 8, 9},
	{"PROXY TCP6 " FF39 " " FF39 " 65535 65535\r\n", PP_FAM_INET6, FF39, FF39, 65535, 65535},
	{"PROXY UNKNOWN\r\n", PP_FAM_UNSPEC, "-", "-", 0, 0},
	{"PROXY UNKNOWN 192.0.2.1 198.51.100.1 1 2\r\n", PP_FAM_UNSPEC, "-", "-", 0, 0},
	{"PROXY UNKNOWN anything at all, even  two spaces\r\n", PP_FAM_UNSPEC, "-", "-", 0, 0},
	/* the worst case of the spec: 107 bytes */
	{"PROXY UNKNOWN " FF39 " " FF39 " 65535 65535\r\n", PP_FAM_UNSPEC, "-", "-", 0, 0},
};

static void check_addr(const struct sockaddr_storage *ss, const char *want, unsigned port)
{
	char buf[128];

	assert_string_equal(pp_addr_str(ss, buf, sizeof(buf)), want);
	assert_int_equal(pp_addr_port(ss), port);
}

static void test_v1_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(v1_cases) / sizeof(v1_cases[0]); i++) {
		const struct v1_case *c = &v1_cases[i];
		size_t len = strlen(c->line);
		uint8_t buf[256];
		struct pp_header h;
		struct pp_error e;
		int r;

		memcpy(buf, c->line, len);
		r = pp_parse(buf, len, NULL, &h, &e);
		if (r != (int)len)
			fail_msg("'%s': got %d (%s)", c->line, r, e.msg);
		assert_int_equal(h.version, 1);
		assert_int_equal(h.command, PP_CMD_PROXY);
		assert_int_equal(h.family, c->fam);
		assert_int_equal(h.transport, c->fam == PP_FAM_UNSPEC ? PP_PROTO_UNSPEC : PP_PROTO_STREAM);
		assert_int_equal(h.len, len);
		assert_int_equal(h.ntlv, 0);
		check_addr(&h.src, c->src, c->sport);
		check_addr(&h.dst, c->dst, c->dport);
		assert_int_equal(pp_detect(buf, len), PP_DETECT_V1);

		/* bytes after the header are not consumed */
		memcpy(buf + len, CONNECT, CONNECT_LEN);
		assert_int_equal(pp_parse(buf, len + CONNECT_LEN, NULL, &h, &e), (int)len);
		memcpy(buf + len, c->line, len);
		assert_int_equal(pp_parse(buf, 2 * len, NULL, &h, &e), (int)len);

		/* every proper prefix is need-more */
		for (size_t k = 0; k < len; k++)
			assert_int_equal(pp_parse(buf, k, NULL, &h, &e), PP_NEED_MORE);
	}
	assert_int_equal(strlen(v1_cases[11].line), 107);
	assert_int_equal(strlen(v1_cases[7].line), 104);
}

static void test_v1_107_and_108(void **state)
{
	uint8_t buf[200];
	struct pp_error e;
	(void)state;

	/* UNKNOWN padded to exactly 107 bytes is fine, 108 is not */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memcpy(buf + 105, "\r\n", 2);
	assert_int_equal(pp_parse(buf, 107, NULL, NULL, &e), 107);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memcpy(buf + 106, "\r\n", 2);
	assert_int_equal(pp_parse(buf, 108, NULL, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V1_TOO_LONG);
	/* decided before the 107th byte: no room left for CRLF */
	assert_int_equal(pp_parse(buf, 106, NULL, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V1_TOO_LONG);
	assert_int_equal(pp_parse(buf, 105, NULL, NULL, &e), PP_NEED_MORE);
}

/* ---- valid v2 literals ---------------------------------------------------- */

#define SIG "0d0a0d0a000d0a515549540a"
#define A4  "c0000201 c6336401 9c40 075b"
#define A6  "20010db8000000000000000000000001 20010db8000000000000000000000002 9c40 075b"

struct v2_case {
	const char *name;
	const char *hex;
	int ret;                /* expected return (length, or PP_INVALID) */
	enum pp_reason reason;
	enum pp_cmd cmd;
	enum pp_fam fam;
	enum pp_proto proto;
	const char *src, *dst;
	unsigned sport, dport;
	size_t ntlv;
	void (*check)(const struct pp_header *h);
};

static void chk_alpn(const struct pp_header *h)
{
	assert_true(bytes_eq(h->alpn, "h2"));
	assert_int_equal(h->tlv[0].type, PP2_TYPE_ALPN);
}

static void chk_authority(const struct pp_header *h)
{
	assert_true(bytes_eq(h->authority, "example.com"));
}

static void chk_crc(const struct pp_header *h)
{
	assert_true(h->has_crc32c);
	assert_int_equal(h->crc32c, 0xed7e7281u);
	assert_true(bytes_eq(h->alpn, "mqtt"));
}

static void chk_crc_local(const struct pp_header *h)
{
	assert_true(h->has_crc32c);
	assert_int_equal(h->crc32c, 0xa9b87e8fu);
}

static void chk_noop(const struct pp_header *h)
{
	assert_int_equal(h->noop_bytes, 3);
	assert_int_equal(h->tlv[0].type, PP2_TYPE_NOOP);
}

static void chk_unique(const struct pp_header *h)
{
	assert_int_equal(h->unique_id.len, 4);
	assert_memory_equal(h->unique_id.ptr, "\xde\xad\xbe\xef", 4);
}

static void chk_ssl(const struct pp_header *h)
{
	assert_true(h->ssl.present);
	assert_int_equal(h->ssl.client, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
	assert_int_equal(h->ssl.verify, 0);
	assert_true(bytes_eq(h->ssl.version, "TLSv1.3"));
	assert_true(bytes_eq(h->ssl.cn, "client.test"));
	assert_true(bytes_eq(h->ssl.cipher, "TLS_AES_128_GCM_SHA256"));
	assert_true(bytes_eq(h->ssl.sig_alg, "RSA-SHA256"));
	assert_true(bytes_eq(h->ssl.key_alg, "RSA2048"));
	assert_int_equal(h->tlv[0].type, PP2_TYPE_SSL);
	assert_int_equal(h->tlv[0].value.len, 77);
}

static void chk_ssl_bare(const struct pp_header *h)
{
	assert_true(h->ssl.present);
	assert_int_equal(h->ssl.client, PP2_CLIENT_SSL);
	assert_int_equal(h->ssl.verify, 0x15);
	assert_null(h->ssl.cn.ptr);
	assert_null(h->ssl.version.ptr);
}

static void chk_netns(const struct pp_header *h)
{
	assert_true(bytes_eq(h->netns, "blue"));
}

static void chk_aws(const struct pp_header *h)
{
	assert_true(bytes_eq(h->aws_vpce_id, "vpce-08d2bf15fac5001c9"));
	assert_int_equal(h->tlv[0].type, PP2_TYPE_AWS);
}

static void chk_aws_other(const struct pp_header *h)
{
	assert_null(h->aws_vpce_id.ptr);
	assert_int_equal(h->tlv[0].type, PP2_TYPE_AWS);
	assert_int_equal(h->tlv[0].value.len, 3);
}

static void chk_azure(const struct pp_header *h)
{
	assert_true(h->has_azure_linkid);
	assert_int_equal(h->azure_linkid, 0x12345678u);
}

static void chk_gcp(const struct pp_header *h)
{
	assert_true(h->has_gcp_psc_id);
	assert_true(h->gcp_psc_id == 0x0102030405060708ull);
}

static void chk_unknown_tlv(const struct pp_header *h)
{
	assert_int_equal(h->tlv[0].type, 0xF0);
	assert_int_equal(h->tlv[0].value.len, 2);
	assert_memory_equal(h->tlv[0].value.ptr, "\xab\xcd", 2);
}

static void chk_several(const struct pp_header *h)
{
	static const uint8_t types[] = {0x01, 0x02, 0x05, 0x04, 0xEA, 0xF0};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(h->tlv[i].type, types[i]);
	assert_true(bytes_eq(h->alpn, "mqtt"));
	assert_true(bytes_eq(h->authority, "broker.example"));
	assert_int_equal(h->unique_id.len, 4);
	assert_int_equal(h->noop_bytes, 2);
	assert_true(bytes_eq(h->aws_vpce_id, "vpce-1"));
	assert_false(h->has_crc32c);
	assert_false(h->ssl.present);
}

static void chk_unspec_tlv(const struct pp_header *h)
{
	assert_true(bytes_eq(h->alpn, "mqtt"));
}

static const struct v2_case v2_cases[] = {
	{"inet-stream", SIG "2111 000c" A4, 28, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM,
	 "192.0.2.1", "198.51.100.1", 40000, 1883, 0, NULL},
	{"inet-dgram", SIG "2112 000c" A4, 28, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_DGRAM,
	 "192.0.2.1", "198.51.100.1", 40000, 1883, 0, NULL},
	{"inet-ports-0-65535", SIG "2111 000c c0000201 c6336401 0000 ffff", 28, PP_R_OK, PP_CMD_PROXY,
	 PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 0, 65535, 0, NULL},
	{"inet6-stream", SIG "2121 0024" A6, 52, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET6, PP_PROTO_STREAM,
	 "2001:db8::1", "2001:db8::2", 40000, 1883, 0, NULL},
	{"inet6-dgram", SIG "2122 0024" A6, 52, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET6, PP_PROTO_DGRAM,
	 "2001:db8::1", "2001:db8::2", 40000, 1883, 0, NULL},
	{"local-no-addr", SIG "2000 0000", 16, PP_R_OK, PP_CMD_LOCAL, PP_FAM_UNSPEC, PP_PROTO_UNSPEC,
	 "-", "-", 0, 0, 0, NULL},
	{"local-with-inet-addr", SIG "2011 000c" A4, 28, PP_R_OK, PP_CMD_LOCAL, PP_FAM_INET, PP_PROTO_STREAM,
	 "-", "-", 0, 0, 0, NULL},
	{"local-inet-shorter-than-block", SIG "2011 0005 0102030405", 21, PP_R_OK, PP_CMD_LOCAL, PP_FAM_INET,
	 PP_PROTO_STREAM, "-", "-", 0, 0, 0, NULL},
	{"local-with-tlv", SIG "2000 0007 0100046d717474", 23, PP_R_OK, PP_CMD_LOCAL, PP_FAM_UNSPEC,
	 PP_PROTO_UNSPEC, "-", "-", 0, 0, 1, chk_unspec_tlv},
	{"proxy-unspec", SIG "2100 0000", 16, PP_R_OK, PP_CMD_PROXY, PP_FAM_UNSPEC, PP_PROTO_UNSPEC,
	 "-", "-", 0, 0, 0, NULL},
	{"proxy-unspec-with-tlv", SIG "2100 0007 0100046d717474", 23, PP_R_OK, PP_CMD_PROXY, PP_FAM_UNSPEC,
	 PP_PROTO_UNSPEC, "-", "-", 0, 0, 1, chk_unspec_tlv},
	{"proxy-inet-unspec-transport", SIG "2110 000c" A4, 28, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_UNSPEC, "-", "-", 0, 0, 0, NULL},
	{"alpn", SIG "2111 0011" A4 "010002 6832", 33, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM,
	 "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_alpn},
	{"authority", SIG "2111 001a" A4 "02000b 6578616d706c652e636f6d", 42, PP_R_OK, PP_CMD_PROXY,
	 PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_authority},
	{"crc-good", SIG "2111 001a" A4 "0100046d717474 030004ed7e7281", 42, PP_R_OK, PP_CMD_PROXY,
	 PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 2, chk_crc},
	{"crc-good-local", SIG "2000 0007 030004a9b87e8f", 23, PP_R_OK, PP_CMD_LOCAL, PP_FAM_UNSPEC,
	 PP_PROTO_UNSPEC, "-", "-", 0, 0, 1, chk_crc_local},
	{"crc-bad", SIG "2111 001a" A4 "0100046d717474 030004ed7e7280", PP_INVALID, PP_R_V2_CRC_MISMATCH,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
	{"crc-bad-data", SIG "2111 001a" A4 "0100046d717475 030004ed7e7281", PP_INVALID, PP_R_V2_CRC_MISMATCH,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
	{"noop", SIG "2111 0012" A4 "040003 000000", 34, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM,
	 "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_noop},
	{"unique-id", SIG "2111 0013" A4 "050004 deadbeef", 35, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_unique},
	{"ssl-full", SIG "2111005cc0000201c63364019c40075b20004d0700000000210007544c5376312e3322000b636c69656e742e74657374230016544c535f4145535f3132385f47434d5f53484132353624000a5253412d53484132353625000752534132303438",
	 108, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883,
	 1, chk_ssl},
	{"ssl-no-sub-tlvs", SIG "21110014c0000201c63364019c40075b2000050100000015", 36, PP_R_OK,
	 PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_ssl_bare},
	{"netns", SIG "2111 0013" A4 "300004 626c7565", 35, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_netns},
	{"aws-vpce", SIG "21110026c0000201c63364019c40075bea001701767063652d3038643262663135666163353030316339",
	 54, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883,
	 1, chk_aws},
	{"aws-other-subtype", SIG "2111 0012" A4 "ea0003 02abcd", 34, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_aws_other},
	{"azure-linkid", SIG "2111 0014" A4 "ee0005 0178563412", 36, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_azure},
	{"gcp-psc", SIG "2111 0018" A4 "e00009 01 0102030405060708", 40, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_gcp},
	{"unknown-tlv", SIG "2111 0011" A4 "f00002 abcd", 33, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET,
	 PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883, 1, chk_unknown_tlv},
	{"several", SIG "2111003fc0000201c63364019c40075b0100046d71747402000e62726f6b65722e6578616d706c65050004deadbeef0400020000ea000701767063652d31f00002abcd",
	 79, PP_R_OK, PP_CMD_PROXY, PP_FAM_INET, PP_PROTO_STREAM, "192.0.2.1", "198.51.100.1", 40000, 1883,
	 6, chk_several},
	{"tlv-overflow", SIG "2111 0011" A4 "010005 6832", PP_INVALID, PP_R_V2_TLV_TRUNCATED,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
	{"ssl-sub-overflow", SIG "2111 0016" A4 "200007 01 00000000 22 0005", PP_INVALID, PP_R_V2_SSL_TRUNCATED,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
	{"crc-len-2", SIG "2111 0011" A4 "030002 0000", PP_INVALID, PP_R_V2_BAD_CRC_LEN,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
	{"unix-no-nul-short", SIG "2131 0000", PP_INVALID, PP_R_V2_SHORT_ADDR,
	 0, 0, 0, NULL, NULL, 0, 0, 0, NULL},
};

static void test_v2_literals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(v2_cases) / sizeof(v2_cases[0]); i++) {
		const struct v2_case *c = &v2_cases[i];
		uint8_t buf[1024];
		struct pp_header h;
		struct pp_error e;
		size_t len = unhex(c->hex, buf, sizeof(buf));
		int r = pp_parse(buf, len, NULL, &h, &e);

		if (r != c->ret)
			fail_msg("%s: expected %d, got %d (%s)", c->name, c->ret, r, e.msg);
		if (r == PP_INVALID) {
			assert_int_equal(e.reason, c->reason);
			assert_true(strlen(e.msg) > 10);
			assert_true(e.offset < len);
			continue;
		}
		assert_int_equal((size_t)r, len);
		assert_int_equal(h.len, len);
		assert_int_equal(h.version, 2);
		assert_int_equal(h.command, c->cmd);
		assert_int_equal(h.family, c->fam);
		assert_int_equal(h.transport, c->proto);
		check_addr(&h.src, c->src, c->sport);
		check_addr(&h.dst, c->dst, c->dport);
		assert_int_equal(h.ntlv, c->ntlv);
		if (c->check)
			c->check(&h);
		assert_int_equal(pp_detect(buf, len), PP_DETECT_V2);

		/* header then CONNECT in one segment: exactly the header */
		memcpy(buf + len, CONNECT, CONNECT_LEN);
		assert_int_equal(pp_parse(buf, len + CONNECT_LEN, NULL, &h, &e), (int)len);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(pp_parse(buf, k, NULL, &h, &e), PP_NEED_MORE);
	}
}

static void test_v2_crc_verify_off(void **state)
{
	uint8_t buf[64];
	struct pp_parse_opts o;
	struct pp_header h;
	struct pp_error e;
	size_t len = unhex(SIG "2111 001a" A4 "0100046d717474 030004ed7e7280", buf, sizeof(buf));
	(void)state;

	pp_parse_opts_init(&o);
	assert_int_equal(pp_parse(buf, len, &o, &h, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V2_CRC_MISMATCH);
	assert_non_null(strstr(e.msg, "0xed7e7280"));
	o.verify_crc32c = false;
	assert_int_equal(pp_parse(buf, len, &o, &h, &e), (int)len);
	assert_true(h.has_crc32c);
	assert_int_equal(h.crc32c, 0xed7e7280u);
}

/* LOCAL: the block after the 16 fixed bytes is discarded, whatever it holds;
 * a CRC32C that does parse is still checked (it covers the command byte). */
static void test_v2_local_discards_block(void **state)
{
	static const uint8_t junk[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x05junk!";
	static const uint8_t junk_inet[] = "\r\n\r\n\0\r\nQUIT\n\x20\x11\x00\x0e"
		"\xc0\x00\x02\x01\xc6\x33\x64\x01\x9c\x40\x07\x5b\x04\xff";
	struct pp_header h;
	struct pp_error e;
	(void)state;

	for (size_t k = 1; k < 21; k++)
		assert_int_equal(pp_parse(junk, k, NULL, &h, &e), PP_NEED_MORE);
	assert_int_equal(pp_parse(junk, 21, NULL, &h, &e), 21);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	assert_int_equal(h.ntlv, 0);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
	/* INET block + a TLV header cut short: still a valid LOCAL header. */
	assert_int_equal(pp_parse(junk_inet, 30, NULL, &h, &e), 30);
	assert_int_equal(h.ntlv, 0);
	/* The same damage on PROXY is invalid. */
	uint8_t proxy[30];
	memcpy(proxy, junk_inet, 30);
	proxy[12] = 0x21;
	assert_int_equal(pp_parse(proxy, 30, NULL, &h, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V2_TLV_TRUNCATED);
}

static void test_v2_unix(void **state)
{
	uint8_t buf[300];
	struct pp_header h;
	struct pp_error e;
	size_t len = unhex(SIG "2131 00d8", buf, sizeof(buf));
	(void)state;

	memset(buf + len, 0, 216);
	memcpy(buf + len, "/run/a.sock", 11);
	memcpy(buf + len + 108, "/run/b.sock", 11);
	len += 216;
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), 232);
	assert_int_equal(h.family, PP_FAM_UNIX);
	assert_int_equal(h.transport, PP_PROTO_STREAM);
	check_addr(&h.src, "unix:/run/a.sock", 0);
	check_addr(&h.dst, "unix:/run/b.sock", 0);
	assert_int_equal(h.src.ss_family, AF_UNIX);
	/* abstract socket: leading NUL is fine */
	buf[16] = 0;
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), 232);
	check_addr(&h.src, "unix:@run/a.sock", 0);
	/* destination without NUL */
	memset(buf + 16 + 108, 'z', 108);
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V2_BAD_UNIX_PATH);
	assert_int_equal(e.offset, 16 + 108);
	/* decided once the block is complete, not before */
	assert_int_equal(pp_parse(buf, len - 1, NULL, &h, &e), PP_NEED_MORE);
	/* LOCAL UNIX: the block is skipped, not checked */
	buf[12] = 0x20;
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), 232);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
}

static void test_v2_unique_id_128(void **state)
{
	uint8_t buf[300];
	struct pp_header h;
	struct pp_error e;
	size_t len = unhex(SIG "2111 008f" A4 "050080", buf, sizeof(buf));
	(void)state;

	memset(buf + len, 'u', 128);
	len += 128;
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), (int)len);
	assert_int_equal(h.unique_id.len, 128);
}

static void test_v2_32_tlvs(void **state)
{
	uint8_t buf[300];
	struct pp_header h;
	struct pp_error e;
	size_t len = unhex(SIG "2111 006c" A4, buf, sizeof(buf));
	(void)state;

	for (int i = 0; i < 32; i++) {
		memcpy(buf + len, "\x04\x00\x00", 3);
		len += 3;
	}
	assert_int_equal(pp_parse(buf, len, NULL, &h, &e), (int)len);
	assert_int_equal(h.ntlv, 32);
	assert_int_equal(h.noop_bytes, 0);
}

/* ---- every family x transport x command byte ------------------------------ */

static void test_v2_all_type_bytes(void **state)
{
	(void)state;
	for (unsigned ver = 0; ver < 16; ver++) {
		for (unsigned cmd = 0; cmd < 16; cmd++) {
			for (unsigned fam = 0; fam < 16; fam++) {
				for (unsigned pr = 0; pr < 16; pr++) {
					uint8_t buf[300] = {0};
					struct pp_header h;
					struct pp_error e;
					size_t block = fam == 1 ? 12 : fam == 2 ? 36 : fam == 3 ? 216 : 0;
					int r;

					memcpy(buf, pp_v2_sig, 12);
					buf[12] = (uint8_t)(ver << 4 | cmd);
					buf[13] = (uint8_t)(fam << 4 | pr);
					buf[15] = (uint8_t)block;
					buf[14] = (uint8_t)(block >> 8);
					if (fam == 3) {
						buf[15] = 216;
						buf[14] = 0;
					}
					r = pp_parse(buf, 16 + block, NULL, &h, &e);
					if (ver != 2) {
						assert_int_equal(r, PP_INVALID);
						assert_int_equal(e.reason, PP_R_V2_BAD_VERSION);
					} else if (cmd > 1) {
						assert_int_equal(r, PP_INVALID);
						assert_int_equal(e.reason, PP_R_V2_BAD_COMMAND);
					} else if (cmd == 0 && (fam > 3 || pr > 2)) {
						/* LOCAL: the family byte is ignored */
						assert_int_equal(r, (int)(16 + block));
						assert_int_equal(h.command, PP_CMD_LOCAL);
						assert_int_equal(h.family, PP_FAM_UNSPEC);
					} else if (fam > 3) {
						assert_int_equal(r, PP_INVALID);
						assert_int_equal(e.reason, PP_R_V2_BAD_FAMILY);
					} else if (pr > 2) {
						assert_int_equal(r, PP_INVALID);
						assert_int_equal(e.reason, PP_R_V2_BAD_TRANSPORT);
					} else {
						bool decoded = cmd == 1 && fam != 0 && pr != 0;
						assert_int_equal(r, (int)(16 + block));
						assert_int_equal(h.command, cmd);
						assert_int_equal(h.family, fam);
						assert_int_equal(h.transport, pr);
						int af = !decoded ? AF_UNSPEC : fam == 1 ? AF_INET :
							 fam == 2 ? AF_INET6 : AF_UNIX;
						assert_int_equal(h.src.ss_family, af);
						assert_int_equal(h.dst.ss_family, af);
					}
					/* the decision never needs more than the fixed part */
					if (r == PP_INVALID)
						assert_int_equal(pp_parse(buf, 14, NULL, &h, &e), PP_INVALID);
				}
			}
		}
	}
}

/* ---- early decisions ------------------------------------------------------- */

struct early_case {
	const char *bytes;
	size_t len;          /* 0: strlen */
	int ret;
	enum pp_reason reason;
};

static const struct early_case early_cases[] = {
	{"PROXY TCP5", 0, PP_INVALID, PP_R_V1_BAD_PROTO},
	{"PROXY TCP", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY X", 0, PP_INVALID, PP_R_V1_BAD_PROTO},
	{"PROXY  ", 0, PP_INVALID, PP_R_V1_BAD_SPACING},
	{"PROXY\t", 0, PP_INVALID, PP_R_V1_BAD_SPACING},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 07", 0, PP_INVALID, PP_R_V1_BAD_SRC_PORT},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 0", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 65536", 0, PP_INVALID, PP_R_V1_BAD_SRC_PORT},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 6553", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 x", 0, PP_INVALID, PP_R_V1_FIELD_COUNT},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r", 0, PP_INVALID, PP_R_V1_BAD_SPACING},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", 0, PP_INVALID, PP_R_V1_BAD_EOL},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, PP_INVALID, PP_R_V1_BAD_EOL},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1\r", 0, PP_INVALID, PP_R_V1_FIELD_COUNT},
	{"PROXY TCP4 1.2.3.", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 1.2.3.00", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP4 1.2.3.4.", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP4 1.2.3.x", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 -", 0, PP_INVALID, PP_R_V1_BAD_SRC_PORT},
	/* "2001" may still be the start of an IPv6 address: wait for the
	 * field end to tell a mismatch from garbage */
	{"PROXY TCP4 2001", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 2001:db8::1 ", 0, PP_INVALID, PP_R_V1_FAMILY_MISMATCH},
	{"PROXY TCP4 2001:db8:::", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP6 fe80::1%", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP6 12345", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP6 :1", 0, PP_INVALID, PP_R_V1_BAD_SRC_ADDR},
	{"PROXY TCP6 ::1 ::2 1 2 ", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY UNKNOWN\r", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY UNKNOWN\rx", 0, PP_INVALID, PP_R_V1_BAD_EOL},
	{"PROXY UNKNOWNX", 0, PP_INVALID, PP_R_V1_BAD_PROTO},
	{"PROXY UNKNOWN \x01\x80\xff", 0, PP_NEED_MORE, PP_R_OK},
	{"PROXY TCP4 \x01", 0, PP_INVALID, PP_R_V1_BAD_EOL},
	{"PROXY TCP4 1.2\0", 15, PP_INVALID, PP_R_V1_BAD_EOL},
	{"P", 0, PP_NEED_MORE, PP_R_OK},
	{"PR", 0, PP_NEED_MORE, PP_R_OK},
	{"PO", 0, PP_INVALID, PP_R_NOT_PROXY},
	{"G", 0, PP_INVALID, PP_R_NOT_PROXY},
	{"\x10", 0, PP_INVALID, PP_R_NOT_PROXY},
	{"\r", 0, PP_NEED_MORE, PP_R_OK},
	{"\r\n\r\n\0\r\nQUIT", 11, PP_NEED_MORE, PP_R_OK},
	{"\r\n\r\n\0\r\nQUIX", 11, PP_INVALID, PP_R_V2_BAD_SIG},
	{"\r\n\r\n\0\r\nQUIT\n\x11", 13, PP_INVALID, PP_R_V2_BAD_VERSION},
	{"\r\n\r\n\0\r\nQUIT\n\x22", 13, PP_INVALID, PP_R_V2_BAD_COMMAND},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x41", 14, PP_INVALID, PP_R_V2_BAD_FAMILY},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x13", 14, PP_INVALID, PP_R_V2_BAD_TRANSPORT},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00", 15, PP_NEED_MORE, PP_R_OK},
	/* over the 4096 default as soon as byte 16 is known */
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x0f\xf1", 16, PP_INVALID, PP_R_TOO_LARGE},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x0f\xf0", 16, PP_NEED_MORE, PP_R_OK},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0b", 16, PP_INVALID, PP_R_V2_SHORT_ADDR},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x23", 16, PP_INVALID, PP_R_V2_SHORT_ADDR},
	/* a TLV length beyond the header is known from its 3-byte header */
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x10\x01\x00\x0e", 19, PP_INVALID, PP_R_V2_TLV_TRUNCATED},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x10\x01\x00\x0d", 19, PP_NEED_MORE, PP_R_OK},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x10\x03\x00\x05", 19, PP_INVALID, PP_R_V2_BAD_CRC_LEN},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x02", 16, PP_INVALID, PP_R_V2_TLV_TRUNCATED},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x10\x20\x00\x04", 19, PP_INVALID, PP_R_V2_SSL_TRUNCATED},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x01\x00\x05\x00\x81", 19, PP_INVALID, PP_R_V2_BAD_UNIQUE_ID},
	/* SSL sub-TLV overflow seen before the SSL value is complete */
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x20\x20\x00\x1d\x01\x00\x00\x00\x00\x22\x00\x20", 27, PP_INVALID, PP_R_V2_SSL_TRUNCATED},
	{"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x20\x20\x00\x1d\x01\x00\x00\x00\x00\x22\x00\x15", 27, PP_NEED_MORE, PP_R_OK},
};

static void test_early(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(early_cases) / sizeof(early_cases[0]); i++) {
		const struct early_case *c = &early_cases[i];
		size_t len = c->len ? c->len : strlen(c->bytes);
		struct pp_error e;
		int r = pp_parse((const uint8_t *)c->bytes, len, NULL, NULL, &e);
		if (r != c->ret || (r == PP_INVALID && e.reason != c->reason))
			fail_msg("early case %zu: expected %d/%s, got %d/%s (%s)", i, c->ret,
				 pp_reason_name(c->reason), r, pp_reason_name(e.reason), e.msg);
		if (r == PP_INVALID) {
			assert_true(e.offset <= len);
			assert_true(strlen(e.msg) > 10);
		}
	}
}

static void test_error_messages(void **state)
{
	struct pp_error e;
	const char *s = "PROXY TCP4 1.2.3.4 5.6.7.8 070 1883\r\n";
	(void)state;

	assert_int_equal(pp_parse((const uint8_t *)s, strlen(s), NULL, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V1_BAD_SRC_PORT);
	assert_int_equal(e.offset, 27);
	assert_non_null(strstr(e.msg, "source port"));
	assert_non_null(strstr(e.msg, "leading zero"));
	assert_non_null(strstr(e.msg, "'07"));

	s = "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n";
	assert_int_equal(pp_parse((const uint8_t *)s, strlen(s), NULL, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_V1_BAD_DST_ADDR);
	assert_int_equal(e.offset, 27);
	assert_non_null(strstr(e.msg, "above 255"));

	/* bytes that cannot be printed are escaped */
	s = "\x16\x03\x01";
	assert_int_equal(pp_parse((const uint8_t *)s, 3, NULL, NULL, &e), PP_INVALID);
	assert_non_null(strstr(e.msg, "\\x16"));
}

/* ---- options --------------------------------------------------------------- */

static void test_options(void **state)
{
	struct pp_parse_opts o;
	struct pp_error e;
	uint8_t buf[64];
	const char *v1 = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"; /* 47 bytes */
	size_t v2len = unhex(SIG "2111 0011" A4 "010002 6832", buf, sizeof(buf));
	(void)state;

	pp_parse_opts_init(&o);
	assert_int_equal(o.max_len, 4096);
	assert_true(o.allow_v1 && o.allow_v2 && o.verify_crc32c);

	o.allow_v1 = false;
	assert_int_equal(pp_parse((const uint8_t *)v1, 47, &o, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_VERSION_DISABLED);
	assert_int_equal(pp_parse((const uint8_t *)v1, 4, &o, NULL, &e), PP_NEED_MORE);
	assert_int_equal(pp_parse(buf, v2len, &o, NULL, &e), (int)v2len);
	o.allow_v1 = true;
	o.allow_v2 = false;
	assert_int_equal(pp_parse(buf, v2len, &o, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_VERSION_DISABLED);
	assert_int_equal(pp_parse((const uint8_t *)v1, 47, &o, NULL, &e), 47);
	o.allow_v2 = true;

	/* max_len applies to both versions */
	o.max_len = 47;
	assert_int_equal(pp_parse((const uint8_t *)v1, 47, &o, NULL, &e), 47);
	o.max_len = 46;
	assert_int_equal(pp_parse((const uint8_t *)v1, 47, &o, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_TOO_LARGE);
	o.max_len = 33;
	assert_int_equal(pp_parse(buf, v2len, &o, NULL, &e), 33);
	o.max_len = 32;
	assert_int_equal(pp_parse(buf, 16, &o, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_TOO_LARGE);
	assert_int_equal(e.offset, 14);
	/* 0 means the default; above the protocol maximum is clamped */
	o.max_len = 0;
	assert_int_equal(pp_parse(buf, v2len, &o, NULL, &e), 33);
	o.max_len = (size_t)-1;
	buf[14] = 0xff;
	buf[15] = 0xff;
	assert_int_equal(pp_parse(buf, 16, &o, NULL, &e), PP_NEED_MORE);
	o.max_len = 4096;
	assert_int_equal(pp_parse(buf, 16, &o, NULL, &e), PP_INVALID);
	assert_int_equal(e.reason, PP_R_TOO_LARGE);

	/* NULL everything but the bytes */
	assert_int_equal(pp_parse((const uint8_t *)v1, 47, NULL, NULL, NULL), 47);
	assert_int_equal(pp_parse((const uint8_t *)"x", 1, NULL, NULL, NULL), PP_INVALID);
	assert_int_equal(pp_parse(NULL, 0, NULL, NULL, NULL), PP_NEED_MORE);
}

/* ---- detection ------------------------------------------------------------- */

static void test_detect(void **state)
{
	(void)state;
	assert_int_equal(pp_detect((const uint8_t *)"", 0), PP_DETECT_MORE);
	assert_int_equal(pp_detect((const uint8_t *)"P", 1), PP_DETECT_MORE);
	assert_int_equal(pp_detect((const uint8_t *)"PROX", 4), PP_DETECT_MORE);
	assert_int_equal(pp_detect((const uint8_t *)"PROXY", 5), PP_DETECT_V1);
	assert_int_equal(pp_detect((const uint8_t *)"PROXY TCP4", 10), PP_DETECT_V1);
	assert_int_equal(pp_detect((const uint8_t *)"PUT", 3), PP_DETECT_NONE);
	assert_int_equal(pp_detect((const uint8_t *)"proxy", 5), PP_DETECT_NONE);
	assert_int_equal(pp_detect((const uint8_t *)CONNECT, CONNECT_LEN), PP_DETECT_NONE);
	assert_int_equal(pp_detect((const uint8_t *)"GET", 1), PP_DETECT_NONE);
	assert_int_equal(pp_detect((const uint8_t *)"\r", 1), PP_DETECT_MORE);
	assert_int_equal(pp_detect(pp_v2_sig, 11), PP_DETECT_MORE);
	assert_int_equal(pp_detect(pp_v2_sig, 12), PP_DETECT_V2);
	assert_int_equal(pp_detect((const uint8_t *)"\r\n\r\n\0\r\nQUIX", 11), PP_DETECT_NONE);
	assert_int_equal(pp_detect((const uint8_t *)"\r\r", 2), PP_DETECT_NONE);
}

/* ---- names ----------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	for (int r = 0; r < PP_R_COUNT; r++) {
		const char *n = pp_reason_name((enum pp_reason)r);
		assert_string_not_equal(n, "unknown");
		assert_true(strlen(pp_reason_text((enum pp_reason)r)) > 5);
		for (int q = 0; q < r; q++)
			assert_string_not_equal(pp_reason_name((enum pp_reason)q), n);
	}
	assert_string_equal(pp_reason_name(PP_R_V1_BAD_SRC_PORT), "v1-bad-src-port");
	assert_string_equal(pp_reason_name(PP_R_NOT_PROXY), "not-proxy");
	assert_string_equal(pp_reason_name(PP_R_COUNT), "unknown");
	assert_string_equal(pp_verdict_name(PP_VERDICT_REJECT), "reject");
	assert_string_equal(pp_verdict_name(PP_VERDICT_INCOMPLETE), "incomplete");
	assert_string_equal(pp_verdict_name(PP_VERDICT_NOT_PROXY), "not-proxy");
}

/* ---- helpers: addresses ------------------------------------------------------ */

static void test_sockaddr_parse(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *addr;
		unsigned port;
	} cases[] = {
		{"1.2.3.4:5", 1, "1.2.3.4", 5},
		{"0.0.0.0:0", 1, "0.0.0.0", 0},
		{"255.255.255.255:65535", 1, "255.255.255.255", 65535},
		{"[::1]:5", 1, "::1", 5},
		{"[2001:db8::1]:1883", 1, "2001:db8::1", 1883},
		{"[::ffff:1.2.3.4]:80", 1, "::ffff:1.2.3.4", 80},
		{"unix:/run/x.sock", 1, "unix:/run/x.sock", 0},
		{"1.2.3.4", 0, NULL, 0},
		{"1.2.3.4:", 0, NULL, 0},
		{"1.2.3.4:65536", 0, NULL, 0},
		{"1.2.3.4:-1", 0, NULL, 0},
		{"1.2.3.4:01", 0, NULL, 0},
		{"1.2.3.4:5x", 0, NULL, 0},
		{"1.2.3:5", 0, NULL, 0},
		{"01.2.3.4:5", 0, NULL, 0},
		{"::1:5", 0, NULL, 0},
		{"[::1]", 0, NULL, 0},
		{"[::1]5", 0, NULL, 0},
		{"[1.2.3.4]:5", 0, NULL, 0},
		{"[fe80::1%eth0]:5", 0, NULL, 0},
		{"host:5", 0, NULL, 0},
		{"", 0, NULL, 0},
		{":5", 0, NULL, 0},
		{"unix:", 0, NULL, 0},
		{"garbage", 0, NULL, 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		int r = pp_sockaddr_parse(cases[i].in, &ss);
		if ((r == 0) != (cases[i].ok == 1))
			fail_msg("'%s': got %d", cases[i].in, r);
		if (r == 0)
			check_addr(&ss, cases[i].addr, cases[i].port);
	}
	assert_int_equal(pp_sockaddr_parse(NULL, NULL), -1);
	char longpath[200] = "unix:";
	memset(longpath + 5, 'a', 120);
	longpath[125] = '\0';
	struct sockaddr_storage ss;
	assert_int_equal(pp_sockaddr_parse(longpath, &ss), -1);
}

static void test_addr_str(void **state)
{
	struct sockaddr_storage ss;
	char small[4];
	char buf[64];
	(void)state;

	memset(&ss, 0, sizeof(ss));
	assert_string_equal(pp_addr_str(&ss, buf, sizeof(buf)), "-");
	assert_int_equal(pp_addr_port(&ss), 0);
	assert_string_equal(pp_addr_str(NULL, buf, sizeof(buf)), "-");
	assert_int_equal(pp_addr_port(NULL), 0);
	assert_int_equal(pp_sockaddr_parse("192.0.2.1:1", &ss), 0);
	/* too small a buffer never overflows */
	pp_addr_str(&ss, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
}

/* ---- helpers: header building --------------------------------------------- */

static void test_header_helpers(void **state)
{
	struct pp_header h;
	struct sockaddr_storage a, b;
	uint8_t v = 1;
	(void)state;

	pp_header_init(&h, 2, PP_CMD_PROXY);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.command, PP_CMD_PROXY);
	assert_int_equal(h.family, PP_FAM_UNSPEC);
	assert_int_equal(h.ntlv, 0);
	assert_int_equal(pp_sockaddr_parse("1.2.3.4:5", &a), 0);
	assert_int_equal(pp_sockaddr_parse("[::1]:5", &b), 0);
	assert_int_equal(pp_header_set_addrs(&h, &a, &b), -1);
	assert_int_equal(pp_header_set_addrs(&h, &a, &a), 0);
	assert_int_equal(h.family, PP_FAM_INET);
	assert_int_equal(h.transport, PP_PROTO_STREAM);
	assert_int_equal(pp_header_set_addrs(&h, &b, &b), 0);
	assert_int_equal(h.family, PP_FAM_INET6);
	for (int i = 0; i < PP_MAX_TLVS; i++)
		assert_int_equal(pp_header_add_tlv(&h, 0xE5, &v, 1), 0);
	assert_int_equal(pp_header_add_tlv(&h, 0xE5, &v, 1), -1);
	assert_int_equal(h.ntlv, PP_MAX_TLVS);
	pp_header_init(&h, 2, PP_CMD_PROXY);
	assert_int_equal(pp_header_add_tlv(&h, 1, NULL, 3), -1);
	assert_int_equal(pp_header_add_tlv(&h, 1, NULL, 0), 0);
}

/* ---- builder: byte-exact ---------------------------------------------------- */

static void test_build_exact(void **state)
{
	struct pp_header h;
	struct pp_build_opts bo;
	struct sockaddr_storage s, d;
	uint8_t out[512], want[512];
	size_t wl;
	int n;
	(void)state;

	assert_int_equal(pp_sockaddr_parse("192.0.2.1:40000", &s), 0);
	assert_int_equal(pp_sockaddr_parse("198.51.100.1:1883", &d), 0);

	pp_header_init(&h, 1, PP_CMD_PROXY);
	assert_int_equal(pp_header_set_addrs(&h, &s, &d), 0);
	n = pp_build(&h, NULL, out, sizeof(out), NULL);
	assert_int_equal(n, 46);
	assert_memory_equal(out, "PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n", 46);

	pp_header_init(&h, 1, PP_CMD_PROXY);
	n = pp_build(&h, NULL, out, sizeof(out), NULL);
	assert_int_equal(n, 15);
	assert_memory_equal(out, "PROXY UNKNOWN\r\n", 15);

	memset(&bo, 0, sizeof(bo));
	bo.v1_unknown_long = true;
	h.src = s;
	h.dst = d;
	n = pp_build(&h, &bo, out, sizeof(out), NULL);
	assert_int_equal(n, 49);
	assert_memory_equal(out, "PROXY UNKNOWN 192.0.2.1 198.51.100.1 40000 1883\r\n", 49);

	pp_header_init(&h, 2, PP_CMD_PROXY);
	assert_int_equal(pp_header_set_addrs(&h, &s, &d), 0);
	assert_int_equal(pp_header_add_tlv(&h, PP2_TYPE_ALPN, "mqtt", 4), 0);
	memset(&bo, 0, sizeof(bo));
	bo.crc32c = true;
	n = pp_build(&h, &bo, out, sizeof(out), NULL);
	wl = unhex(SIG "2111 001a" A4 "0100046d717474 030004ed7e7281", want, sizeof(want));
	assert_int_equal(n, (int)wl);
	assert_memory_equal(out, want, wl);

	pp_header_init(&h, 2, PP_CMD_LOCAL);
	n = pp_build(&h, NULL, out, sizeof(out), NULL);
	wl = unhex(SIG "2000 0000", want, sizeof(want));
	assert_int_equal(n, (int)wl);
	assert_memory_equal(out, want, wl);

	/* NOOP padding, then CRC over everything */
	memset(&bo, 0, sizeof(bo));
	bo.noop_len = 5;
	bo.crc32c = true;
	n = pp_build(&h, &bo, out, sizeof(out), NULL);
	assert_int_equal(n, 16 + 8 + 7);
	assert_memory_equal(out + 16, "\x04\x00\x05\0\0\0\0\0\x03\x00\x04", 11);
	struct pp_header p;
	assert_int_equal(pp_parse(out, (size_t)n, NULL, &p, NULL), n);
	assert_int_equal(p.noop_bytes, 5);
	assert_true(p.has_crc32c);

	/* SSL TLV encoding */
	struct pp_ssl ssl;
	uint8_t sv[128];
	memset(&ssl, 0, sizeof(ssl));
	ssl.client = PP2_CLIENT_SSL;
	ssl.verify = 0x01020304;
	ssl.version.ptr = (const uint8_t *)"TLSv1.2";
	ssl.version.len = 7;
	ssl.cn.ptr = (const uint8_t *)"cn";
	ssl.cn.len = 2;
	n = pp_ssl_encode(&ssl, sv, sizeof(sv));
	assert_int_equal(n, 5 + 10 + 5);
	assert_memory_equal(sv, "\x01\x01\x02\x03\x04\x21\x00\x07TLSv1.2\x22\x00\x02" "cn", 20);
	assert_int_equal(pp_ssl_encode(&ssl, sv, 19), -1);
	assert_int_equal(pp_ssl_encode(&ssl, sv, 4), -1);
}

static void test_build_errors(void **state)
{
	struct pp_header h;
	struct pp_error e;
	struct sockaddr_storage a, b;
	uint8_t out[64];
	(void)state;

	pp_header_init(&h, 3, PP_CMD_PROXY);
	assert_int_equal(pp_build(&h, NULL, out, sizeof(out), &e), -1);
	assert_int_equal(e.reason, PP_R_BUILD);
	assert_true(strlen(e.msg) > 5);
	assert_int_equal(pp_build(NULL, NULL, out, sizeof(out), &e), -1);

	assert_int_equal(pp_sockaddr_parse("1.2.3.4:5", &a), 0);
	assert_int_equal(pp_sockaddr_parse("[::1]:5", &b), 0);
	pp_header_init(&h, 2, PP_CMD_PROXY);
	assert_int_equal(pp_header_set_addrs(&h, &a, &a), 0);
	h.dst = b;
	assert_int_equal(pp_build(&h, NULL, out, sizeof(out), &e), -1);
	h.version = 1;
	assert_int_equal(pp_build(&h, NULL, out, sizeof(out), &e), -1);
	h.dst = a;
	assert_int_equal(pp_build(&h, NULL, out, 10, &e), -1);
	h.version = 2;
	assert_int_equal(pp_build(&h, NULL, out, 27, &e), -1);
	assert_int_equal(pp_build(&h, NULL, out, 28, &e), 28);
	h.family = (enum pp_fam)4;
	assert_int_equal(pp_build(&h, NULL, out, sizeof(out), &e), -1);
	h.family = PP_FAM_INET;
	h.command = (enum pp_cmd)2;
	assert_int_equal(pp_build(&h, NULL, out, sizeof(out), &e), -1);
}

/* ---- address validators against inet_pton ---------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void test_addr_text_vs_inet_pton(void **state)
{
	static const char a6[] = "0123456789abcdefABCDEF:.:::..0f%g";
	static const char a4[] = "0123456789...25";
	(void)state;

	for (int i = 0; i < 40000; i++) {
		bool six = i & 1;
		char txt[48], line[160];
		size_t n = 1 + rnd() % (six ? 40 : 16);
		uint8_t bin[16];
		struct pp_error e;

		for (size_t k = 0; k < n; k++)
			txt[k] = six ? a6[rnd() % (sizeof(a6) - 1)] : a4[rnd() % (sizeof(a4) - 1)];
		txt[n] = '\0';
		if (rnd() % 4 == 0) /* bias towards valid text */
			inet_ntop(six ? AF_INET6 : AF_INET, (uint8_t[16]){(uint8_t)rnd(), 0, 0, (uint8_t)rnd(), 0, 0, 0, 0, 0, 0, 0xff, 0xff, (uint8_t)rnd(), 1, 2, 3}, txt, sizeof(txt));
		bool valid = inet_pton(six ? AF_INET6 : AF_INET, txt, bin) == 1;
		int ll = snprintf(line, sizeof(line), "PROXY %s %s %s 1 2\r\n", six ? "TCP6" : "TCP4",
				  txt, six ? "::1" : "1.1.1.1");
		int r = pp_parse((const uint8_t *)line, (size_t)ll, NULL, NULL, &e);
		if (valid != (r == ll))
			fail_msg("'%s': inet_pton says %d, parser %d (%s)", txt, valid, r, e.msg);
		if (valid) {
			/* no prefix of a valid address is refused */
			for (size_t k = 11; k < 11 + strlen(txt); k++)
				assert_int_equal(pp_parse((const uint8_t *)line, k, NULL, NULL, &e), PP_NEED_MORE);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_shape),
		cmocka_unit_test(test_catalog_verdicts),
		cmocka_unit_test(test_catalog_with_bases),
		cmocka_unit_test(test_mutate_errors),
		cmocka_unit_test(test_v1_valid),
		cmocka_unit_test(test_v1_107_and_108),
		cmocka_unit_test(test_v2_literals),
		cmocka_unit_test(test_v2_crc_verify_off),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_v2_local_discards_block),
		cmocka_unit_test(test_v2_unique_id_128),
		cmocka_unit_test(test_v2_32_tlvs),
		cmocka_unit_test(test_v2_all_type_bytes),
		cmocka_unit_test(test_early),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sockaddr_parse),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_header_helpers),
		cmocka_unit_test(test_build_exact),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_addr_text_vs_inet_pton),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
