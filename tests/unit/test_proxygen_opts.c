/* test_proxygen_opts.c - proxygen's shared option parser: addresses, TLV
 * specs, hex values, and the headers built from them (checked byte by
 * byte, and parsed back with lib/pp). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "opts.h"
#include "pp.h"

#define assert_contains(hay, needle) \
	do { \
		if (!strstr((hay), (needle))) \
			fail_msg("'%s' does not contain '%s'", (hay), (needle)); \
	} while (0)

/* ---- value parsers ------------------------------------------------------ */

static void test_port(void **state)
{
	struct perr e;
	uint16_t p;

	(void)state;
	assert_int_equal(opts_parse_port("0", &p, &e), 0);
	assert_int_equal(p, 0);
	assert_int_equal(opts_parse_port("65535", &p, &e), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(opts_parse_port("1883", &p, &e), 0);
	assert_int_equal(p, 1883);

	assert_int_equal(opts_parse_port("65536", &p, &e), -1);
	assert_contains(e.msg, "out of range 0..65535");
	assert_int_equal(opts_parse_port("999999", &p, &e), -1);
	assert_contains(e.msg, "out of range");
	assert_int_equal(opts_parse_port("-1", &p, &e), -1);
	assert_contains(e.msg, "not a decimal number");
	assert_int_equal(opts_parse_port("12a", &p, &e), -1);
	assert_int_equal(opts_parse_port("", &p, &e), -1);
	assert_contains(e.msg, "missing port");
	assert_int_equal(opts_parse_port(" 1", &p, &e), -1);
}

static void test_ipport_good(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr want6;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_ipport("192.0.2.1:40000", &ss, &e), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0xc0000201);
	assert_int_equal(ntohs(a4->sin_port), 40000);

	assert_int_equal(opts_parse_ipport("[2001:db8::1]:1883", &ss, &e), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::1", &want6);
	assert_memory_equal(&a6->sin6_addr, &want6, 16);
	assert_int_equal(ntohs(a6->sin6_port), 1883);

	assert_int_equal(opts_parse_ipport("[::ffff:192.0.2.9]:0", &ss, &e), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 0);
}

static void test_ipport_bad(void **state)
{
	struct sockaddr_storage ss;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_ipport("1.2.3:5", &ss, &e), -1);
	assert_contains(e.msg, "'1.2.3' is not an IPv4 address");
	assert_int_equal(opts_parse_ipport("2001:db8::1:5", &ss, &e), -1);
	assert_contains(e.msg, "brackets");
	assert_int_equal(opts_parse_ipport("[::1]5", &ss, &e), -1);
	assert_contains(e.msg, "missing ':PORT'");
	assert_int_equal(opts_parse_ipport("[::1", &ss, &e), -1);
	assert_contains(e.msg, "missing ']'");
	assert_int_equal(opts_parse_ipport("1.2.3.4", &ss, &e), -1);
	assert_contains(e.msg, "missing ':PORT'");
	assert_int_equal(opts_parse_ipport("1.2.3.4:70000", &ss, &e), -1);
	assert_contains(e.msg, "70000 out of range");
	assert_int_equal(opts_parse_ipport("1.2.3.4:", &ss, &e), -1);
	assert_contains(e.msg, "missing port");
	assert_int_equal(opts_parse_ipport(":80", &ss, &e), -1);
	assert_contains(e.msg, "missing address");
	assert_int_equal(opts_parse_ipport("[zz::q]:1", &ss, &e), -1);
	assert_contains(e.msg, "not an IPv6 address");
	assert_int_equal(opts_parse_ipport("[]:1", &ss, &e), -1);
	assert_int_equal(opts_parse_ipport("", &ss, &e), -1);
	assert_int_equal(opts_parse_ipport("localhost:1883", &ss, &e), -1);
	assert_contains(e.msg, "not an IPv4 address");
	/* Leading zeros in a dotted quad are ambiguous (octal?): refused. */
	assert_int_equal(opts_parse_ipport("192.0.2.01:1", &ss, &e), -1);
}

static void test_hostport(void **state)
{
	char host[64];
	uint16_t port;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_hostport("broker.local:1883", host, sizeof(host), &port, &e), 0);
	assert_string_equal(host, "broker.local");
	assert_int_equal(port, 1883);
	assert_int_equal(opts_parse_hostport("[::1]:8883", host, sizeof(host), &port, &e), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8883);
	assert_int_equal(opts_parse_hostport("127.0.0.1:0", host, sizeof(host), &port, &e), 0);
	assert_string_equal(host, "127.0.0.1");

	assert_int_equal(opts_parse_hostport("bro ker:1", host, sizeof(host), &port, &e), -1);
	assert_contains(e.msg, "not a host name");
	assert_int_equal(opts_parse_hostport("host:", host, sizeof(host), &port, &e), -1);
	assert_int_equal(opts_parse_hostport("host", host, sizeof(host), &port, &e), -1);
	assert_int_equal(opts_parse_hostport("[::1]:x", host, sizeof(host), &port, &e), -1);
	assert_contains(e.msg, "not a decimal number");
	/* A name longer than the buffer is refused, not truncated. */
	assert_int_equal(opts_parse_hostport("aaaaaaaaaaaaaaaa:1", host, 8, &port, &e), -1);
	assert_contains(e.msg, "too long");
}

static void test_uint(void **state)
{
	uint64_t v;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_uint("0x10", 255, &v, &e), 0);
	assert_int_equal(v, 16);
	assert_int_equal(opts_parse_uint("0XeA", 255, &v, &e), 0);
	assert_int_equal(v, 0xea);
	assert_int_equal(opts_parse_uint("255", 255, &v, &e), 0);
	assert_int_equal(v, 255);
	assert_int_equal(opts_parse_uint("18446744073709551615", UINT64_MAX, &v, &e), 0);
	assert_true(v == UINT64_MAX);

	assert_int_equal(opts_parse_uint("256", 255, &v, &e), -1);
	assert_contains(e.msg, "256 out of range 0..255");
	assert_int_equal(opts_parse_uint("18446744073709551616", UINT64_MAX, &v, &e), -1);
	assert_contains(e.msg, "out of range");
	assert_int_equal(opts_parse_uint("0x", 255, &v, &e), -1);
	assert_int_equal(opts_parse_uint("12z", 255, &v, &e), -1);
	/* hexadecimal is taken too: the message says so */
	assert_string_equal(e.msg, "'12z' is not a number (decimal, or hexadecimal after 0x)");
	assert_int_equal(opts_parse_uint("0x1g", 255, &v, &e), -1);
	assert_contains(e.msg, "not a hexadecimal number");
	assert_int_equal(opts_parse_uint("-1", 255, &v, &e), -1);
	assert_int_equal(opts_parse_uint("", 255, &v, &e), -1);
}

static void test_hex(void **state)
{
	static const uint8_t want[] = { 0x0d, 0x0a, 0x51, 0xff };
	uint8_t *b;
	size_t n;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_hex("0d0a51ff", &b, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, want, 4);
	free(b);
	assert_int_equal(opts_parse_hex("0D 0A:51 FF", &b, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, want, 4);
	free(b);
	assert_int_equal(opts_parse_hex("", &b, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_null(b);

	assert_int_equal(opts_parse_hex("abc", &b, &n, &e), -1);
	assert_contains(e.msg, "odd number of hex digits (3)");
	assert_null(b);
	assert_int_equal(opts_parse_hex("zz", &b, &n, &e), -1);
	assert_contains(e.msg, "'z' at offset 0 is not a hex digit");
	assert_int_equal(opts_parse_hex("0 d", &b, &n, &e), -1);
	assert_contains(e.msg, "separator inside a byte");
	assert_null(b);
}

static void test_value_and_tlv(void **state)
{
	uint8_t *v, type;
	size_t n;
	struct perr e;

	(void)state;
	assert_int_equal(opts_parse_value("hex:ABCD", &v, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 0xab);
	assert_int_equal(v[1], 0xcd);
	free(v);
	assert_int_equal(opts_parse_value("text", &v, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(v, "text", 4);
	free(v);
	assert_int_equal(opts_parse_value("hex:", &v, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(opts_parse_value("", &v, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(opts_parse_value("hex:xyz", &v, &n, &e), -1);

	assert_int_equal(opts_parse_tlv("0xEA=hex:01414243", &type, &v, &n, &e), 0);
	assert_int_equal(type, 0xea);
	assert_int_equal(n, 4);
	assert_memory_equal(v, "\x01" "ABC", 4);
	free(v);
	assert_int_equal(opts_parse_tlv("5=a=b", &type, &v, &n, &e), 0);
	assert_int_equal(type, 5);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "a=b", 3);
	free(v);
	assert_int_equal(opts_parse_tlv("4=", &type, &v, &n, &e), 0);
	assert_int_equal(n, 0);

	assert_int_equal(opts_parse_tlv("256=x", &type, &v, &n, &e), -1);
	assert_contains(e.msg, "TYPE");
	assert_contains(e.msg, "out of range 0..255");
	assert_int_equal(opts_parse_tlv("=x", &type, &v, &n, &e), -1);
	assert_contains(e.msg, "missing TYPE");
	assert_int_equal(opts_parse_tlv("x", &type, &v, &n, &e), -1);
	assert_contains(e.msg, "TYPE=VALUE");
	assert_int_equal(opts_parse_tlv("0x1G=1", &type, &v, &n, &e), -1);
	/* TYPE by name, any case (lib/pp_desc's table); the value as it is. */
	assert_int_equal(opts_parse_tlv("authority=broker", &type, &v, &n, &e), 0);
	assert_int_equal(type, PP2_TYPE_AUTHORITY);
	assert_memory_equal(v, "broker", 6);
	free(v);
	assert_int_equal(opts_parse_tlv("AWS=x", &type, &v, &n, &e), 0);
	assert_int_equal(type, PP2_TYPE_AWS);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(opts_parse_tlv("bogus=1", &type, &v, &n, &e), -1);
	assert_string_equal(e.msg, "TYPE: 'bogus' is not a TLV name or a number 0..255");
	assert_int_equal(opts_parse_tlv("-1=1", &type, &v, &n, &e), -1);
	assert_string_equal(e.msg, "TYPE: '-1' is not a number (decimal, or hexadecimal after 0x)");
	assert_int_equal(opts_parse_tlv("1=hex:1", &type, &v, &n, &e), -1);
	assert_contains(e.msg, "VALUE");
	assert_contains(e.msg, "odd number");
}

static void test_merge_and_getopt_error(void **state)
{
	static const struct option a[] = {
		{ "transport", required_argument, NULL, 1 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct option out[64], tiny[4];
	struct perr e;
	int ntransport = 0, n = 0;

	(void)state;
	assert_int_equal(opts_merge(out, 64, a, opts_hdr_longopts), 0);
	for (struct option *o = out; o->name; o++, n++)
		if (strcmp(o->name, "transport") == 0) {
			ntransport++;
			assert_int_equal(o->val, 1); /* the subcommand's own meaning wins */
		}
	assert_int_equal(ntransport, 1);
	assert_int_equal(n, 17); /* "proto" stays: another name */
	assert_int_equal(opts_merge(tiny, 4, a, opts_hdr_longopts), -1);

	/* The whole table: the fixed options, then pp_desc's. */
	assert_int_equal(opts_longopts(out, 64, a), 0);
	for (n = 0; out[n].name; n++)
		if (strcmp(out[n].name, "crc32c") == 0)
			assert_int_equal(out[n].has_arg, no_argument);
		else if (strcmp(out[n].name, "authority") == 0 || strcmp(out[n].name, "ssl-cn") == 0)
			assert_int_equal(out[n].has_arg, required_argument);
	assert_int_equal(n, 17 + PP_SSL_NSUBS + 9); /* every TLV type but SSL has an option */
	assert_int_equal(opts_longopts(tiny, 4, a), -1);
	assert_int_equal(opts_hdr_code("ssl-cn"), OPT_SSL_SUB + 1);
	assert_int_equal(opts_hdr_code("src"), OPT_SRC);
	assert_int_equal(opts_hdr_code("bogus"), -1);

	opts_getopt_error('?', 0, "--bogus", out, &e);
	assert_string_equal(e.msg, "unknown or ambiguous option '--bogus'");
	opts_getopt_error(':', OPT_SRC, "--src", out, &e);
	assert_string_equal(e.msg, "option '--src' needs a value");
	opts_getopt_error('?', 0, "--local=1", out, &e);
	assert_string_equal(e.msg, "option '--local' takes no value");
	opts_getopt_error('?', 'x', "-x", out, &e);
	assert_string_equal(e.msg, "unknown option '-x'");
}

/* ---- header options ----------------------------------------------------- */

static int apply(struct opts_hdr *h, int code, const char *arg, struct perr *e)
{
	return opts_hdr_apply(h, code, arg, e);
}

static void test_apply_errors(void **state)
{
	struct opts_hdr h;
	struct perr e;

	(void)state;
	opts_hdr_init(&h);
	assert_int_equal(apply(&h, 'h', NULL, &e), 0); /* not a header option */
	assert_false(h.touched);

	assert_int_equal(apply(&h, OPT_SRC, "1.2.3.4:99999", &e), -1);
	assert_string_equal(e.msg, "--src '1.2.3.4:99999': port 99999 out of range 0..65535");
	assert_int_equal(apply(&h, OPT_DST, "example.com:1883", &e), -1);
	assert_contains(e.msg, "--dst 'example.com:1883'");
	assert_int_equal(apply(&h, OPT_FAMILY, "ipx", &e), -1);
	assert_string_equal(e.msg, "--family 'ipx': expected inet, inet6, unix or unspec");
	assert_int_equal(apply(&h, OPT_TRANSPORT, "tcp", &e), -1);
	assert_contains(e.msg, "expected stream, dgram or unspec");
	assert_int_equal(apply(&h, OPT_TLV, "300=x", &e), -1);
	assert_contains(e.msg, "--tlv '300=x': TYPE");
	assert_int_equal(apply(&h, opts_hdr_code("noop"), "70000", &e), -1);
	assert_contains(e.msg, "--noop '70000'");
	assert_int_equal(apply(&h, opts_hdr_code("azure-linkid"), "4294967296", &e), -1);
	assert_contains(e.msg, "--azure-linkid");
	assert_int_equal(apply(&h, OPT_SSL_VERIFY, "x", &e), -1);
	assert_contains(e.msg, "--ssl-verify 'x'");
	assert_int_equal(apply(&h, OPT_MUTATE, "no-such-thing", &e), -1);
	assert_contains(e.msg, "--mutate 'no-such-thing': unknown malformation");
	assert_int_equal(apply(&h, opts_hdr_code("aws-vpce"), "", &e), -1);
	assert_int_equal(apply(&h, OPT_UNIX_SRC,
			       "/a/very/long/path/that/goes/on/and/on/and/on/and/on/and/on/"
			       "and/on/and/on/and/on/and/on/and/on/and/on/and/on/x", &e), -1);
	assert_contains(e.msg, "path too long");

	assert_int_equal(apply(&h, OPT_V1, NULL, &e), 1);
	assert_int_equal(apply(&h, OPT_V2, NULL, &e), -1);
	assert_contains(e.msg, "--v1 and --v2");
	opts_hdr_free(&h);

	/* Too many TLVs: the 33rd is refused. */
	opts_hdr_init(&h);
	for (int i = 0; i < PP_MAX_TLVS; i++)
		assert_int_equal(apply(&h, OPT_TLV, "0xE1=x", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("authority"), "a", &e), -1);
	assert_contains(e.msg, "too many TLVs");
	opts_hdr_free(&h);
}

static void test_check_conflicts(void **state)
{
	struct opts_hdr h;
	struct perr e;

	(void)state;
	opts_hdr_init(&h);
	apply(&h, OPT_V1, NULL, &e);
	apply(&h, opts_hdr_code("authority"), "broker", &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "need v2");
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_V1, NULL, &e);
	apply(&h, OPT_LOCAL, NULL, &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "--local is a v2 command");
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_V2, NULL, &e);
	apply(&h, OPT_UNKNOWN, NULL, &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "--unknown is a v1 form");
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_SRC, "192.0.2.1:1", &e);
	apply(&h, OPT_DST, "[2001:db8::1]:2", &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "different families");
	apply(&h, OPT_FAMILY, "inet6", &e);
	assert_int_equal(opts_hdr_check(&h, &e), 0);
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_FAMILY, "unix", &e);
	apply(&h, OPT_SRC, "192.0.2.1:1", &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "--unix-src");
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_V1, NULL, &e);
	apply(&h, OPT_UNIX_SRC, "/tmp/x", &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "UNIX");
	opts_hdr_free(&h);

	/* --unknown implies v1; --local implies nothing about the version but is v2. */
	opts_hdr_init(&h);
	apply(&h, OPT_UNKNOWN, NULL, &e);
	assert_int_equal(opts_hdr_version(&h), 1);
	assert_int_equal(opts_hdr_check(&h, &e), 0);
	opts_hdr_free(&h);
	opts_hdr_init(&h);
	assert_int_equal(opts_hdr_version(&h), 2);
	opts_hdr_free(&h);
}

/* ---- building ----------------------------------------------------------- */

static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
				 0x55, 0x49, 0x54, 0x0a };

static void test_mqtt_version(void **state)
{
	struct perr e;
	int v = 0;

	(void)state;
	assert_int_equal(opts_parse_mqtt("3.1.1", &v, &e), 0);
	assert_int_equal(v, 4);
	assert_int_equal(opts_parse_mqtt("311", &v, &e), 0);
	assert_int_equal(v, 4);
	assert_int_equal(opts_parse_mqtt("4", &v, &e), 0);
	assert_int_equal(v, 4);
	assert_int_equal(opts_parse_mqtt("5.0", &v, &e), 0);
	assert_int_equal(v, 5);
	assert_int_equal(opts_parse_mqtt("5", &v, &e), 0);
	assert_int_equal(v, 5);
	assert_int_equal(opts_parse_mqtt("3", &v, &e), -1);
	assert_string_equal(e.msg, "expected 3.1.1 or 5");
	assert_int_equal(opts_parse_mqtt("", &v, &e), -1);
}

/* opts_uint_arg / opts_int_arg: bounds both ways; the usage errors go to
 * stderr, silenced here. */
static void test_option_numbers(void **state)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	uint64_t u = 7;
	int i = 7;

	(void)state;
	assert_true(saved >= 0 && null >= 0);
	assert_int_equal(opts_uint_arg("t", "n", "1", 1, 10, &u), 0);
	assert_true(u == 1);
	assert_int_equal(opts_uint_arg("t", "n", "0x0a", 1, 10, &u), 0);
	assert_true(u == 10);
	assert_int_equal(opts_int_arg("t", "n", "0", 0, 65535, &i), 0);
	assert_int_equal(i, 0);
	assert_int_equal(opts_int_arg("t", "n", "65535", 0, 65535, &i), 0);
	assert_int_equal(i, 65535);

	dup2(null, STDERR_FILENO);
	assert_int_equal(opts_uint_arg("t", "n", "0", 1, 10, &u), PG_EXIT_USAGE);
	assert_int_equal(opts_uint_arg("t", "n", "11", 1, 10, &u), PG_EXIT_USAGE);
	assert_int_equal(opts_int_arg("t", "n", "x", 0, 10, &i), PG_EXIT_USAGE);
	assert_int_equal(opts_int_arg("t", "n", "-1", 0, 10, &i), PG_EXIT_USAGE);
	dup2(saved, STDERR_FILENO);
	close(null);
	close(saved);
	/* A refused value leaves the output alone. */
	assert_true(u == 10);
	assert_int_equal(i, 65535);
}

static void test_cidr_addr(void **state)
{
	static const uint8_t ones[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t zeros[16];
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct net_cidr c;
	struct perr e;
	char buf[64];

	(void)state;
	assert_int_equal(net_cidr_parse("10.0.0.0/8", &c, &e), 0);
	opts_cidr_addr(&c, ones, 40000, &ss);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "10.255.255.255");
	assert_int_equal(ntohs(a4->sin_port), 40000);
	opts_cidr_addr(&c, zeros, 1024, &ss);
	assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "10.0.0.0");

	/* A prefix inside a byte: its network bits are kept. */
	assert_int_equal(net_cidr_parse("192.0.2.128/25", &c, &e), 0);
	opts_cidr_addr(&c, ones, 1, &ss);
	assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "192.0.2.255");
	opts_cidr_addr(&c, zeros, 1, &ss);
	assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "192.0.2.128");

	assert_int_equal(net_cidr_parse("192.0.2.7/32", &c, &e), 0);
	opts_cidr_addr(&c, ones, 1, &ss);
	assert_string_equal(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "192.0.2.7");

	assert_int_equal(net_cidr_parse("2001:db8::/36", &c, &e), 0);
	opts_cidr_addr(&c, ones, 65535, &ss);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf)),
			    "2001:db8:fff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(ntohs(a6->sin6_port), 65535);
	opts_cidr_addr(&c, zeros, 65535, &ss);
	assert_string_equal(inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf)), "2001:db8::");
}

static void test_build_v1(void **state)
{
	static const char want[] = "PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n";
	static const char want6[] = "PROXY TCP6 2001:db8::7 2001:db8::100 5 1883\r\n";
	struct opts_hdr h;
	uint8_t out[512];
	struct perr e;
	int n;

	(void)state;
	opts_hdr_init(&h);
	apply(&h, OPT_V1, NULL, &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, (size_t)n);
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_V1, NULL, &e);
	apply(&h, OPT_SRC, "[2001:db8::7]:5", &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, (int)strlen(want6));
	assert_memory_equal(out, want6, (size_t)n);
	opts_hdr_free(&h);

	opts_hdr_init(&h);
	apply(&h, OPT_UNKNOWN, NULL, &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 15);
	assert_memory_equal(out, "PROXY UNKNOWN\r\n", 15);
	opts_hdr_free(&h);
}

static void test_build_v2_default(void **state)
{
	static const uint8_t tail[] = { 0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 1,
					0x9c, 0x40, 0x07, 0x5b };
	struct opts_hdr h;
	uint8_t out[512];
	struct perr e;
	int n;

	(void)state;
	opts_hdr_init(&h);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 28);
	assert_memory_equal(out, sig, 12);
	assert_memory_equal(out + 12, tail, sizeof(tail));
	opts_hdr_free(&h);

	/* LOCAL without addresses: 16 bytes, family/transport UNSPEC. */
	opts_hdr_init(&h);
	apply(&h, OPT_LOCAL, NULL, &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 16);
	assert_int_equal(out[12], 0x20);
	assert_int_equal(out[13], 0x00);
	assert_int_equal(out[14], 0);
	assert_int_equal(out[15], 0);
	opts_hdr_free(&h);

	/* LOCAL with addresses given. */
	opts_hdr_init(&h);
	apply(&h, OPT_LOCAL, NULL, &e);
	apply(&h, OPT_SRC, "192.0.2.1:40000", &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 28);
	assert_int_equal(out[12], 0x20);
	assert_int_equal(out[13], 0x11);
	opts_hdr_free(&h);
}

static void test_build_v2_tlvs_parse_back(void **state)
{
	struct opts_hdr h;
	struct pp_header *p = malloc(sizeof(*p));
	uint8_t out[2048];
	struct pp_error pe;
	struct perr e;
	int n;

	(void)state;
	assert_non_null(p);
	opts_hdr_init(&h);
	assert_int_equal(apply(&h, OPT_SRC, "203.0.113.9:5555", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("authority"), "mqtt.example.com", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("alpn"), "mqtt", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("ssl-version"), "TLSv1.3", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("unique-id"), "abc-123", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("ssl-cn"), "client-1", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("aws-vpce"), "vpce-08d2bf15fac5001c9", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("azure-linkid"), "0x01020304", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("gcp-psc"), "1234567890123", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("netns"), "blue", &e), 1);
	assert_int_equal(apply(&h, OPT_TLV, "0xE5=hex:00ff", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("noop"), "3", &e), 1);
	assert_int_equal(apply(&h, opts_hdr_code("crc32c"), NULL, &e), 1);
	assert_int_equal(opts_hdr_check(&h, &e), 0);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_true(n > 28);
	/* The length field covers everything after the fixed part. */
	assert_int_equal((out[14] << 8 | out[15]) + 16, n);
	/* First TLV right after the INET block: AUTHORITY, in command-line order. */
	assert_int_equal(out[28], PP2_TYPE_AUTHORITY);
	assert_int_equal(out[29] << 8 | out[30], 16);
	assert_memory_equal(out + 31, "mqtt.example.com", 16);

	memset(&pe, 0, sizeof(pe));
	assert_int_equal(pp_parse(out, (size_t)n, NULL, p, &pe), n);
	assert_int_equal(p->version, 2);
	assert_int_equal(p->command, PP_CMD_PROXY);
	assert_int_equal(p->family, PP_FAM_INET);
	assert_int_equal(pp_addr_port(&p->src), 5555);
	assert_int_equal(ntohl(((struct sockaddr_in *)&p->src)->sin_addr.s_addr), 0xcb007109);
	assert_int_equal(p->authority.len, 16);
	assert_memory_equal(p->authority.ptr, "mqtt.example.com", 16);
	assert_int_equal(p->alpn.len, 4);
	assert_memory_equal(p->unique_id.ptr, "abc-123", 7);
	assert_memory_equal(p->netns.ptr, "blue", 4);
	assert_true(p->ssl.present);
	assert_int_equal(p->ssl.client, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
	assert_int_equal(p->ssl.verify, 0);
	assert_int_equal(p->ssl.cn.len, 8);
	assert_memory_equal(p->ssl.cn.ptr, "client-1", 8);
	assert_memory_equal(p->ssl.version.ptr, "TLSv1.3", 7);
	assert_int_equal(p->aws_vpce_id.len, 22);
	assert_memory_equal(p->aws_vpce_id.ptr, "vpce-08d2bf15fac5001c9", 22);
	assert_true(p->has_azure_linkid);
	assert_int_equal(p->azure_linkid, 0x01020304);
	assert_true(p->has_gcp_psc_id);
	assert_true(p->gcp_psc_id == 1234567890123ULL);
	assert_true(p->has_crc32c);
	assert_int_equal(p->noop_bytes, 3);
	/* SSL keeps the slot of the first --ssl-* option: after ALPN. */
	assert_true(p->ntlv >= 10);
	assert_int_equal(p->tlv[0].type, PP2_TYPE_AUTHORITY);
	assert_int_equal(p->tlv[1].type, PP2_TYPE_ALPN);
	assert_int_equal(p->tlv[2].type, PP2_TYPE_SSL);
	assert_int_equal(p->tlv[3].type, PP2_TYPE_UNIQUE_ID);

	/* A flipped bit anywhere breaks the CRC. */
	out[20] ^= 1;
	assert_int_equal(pp_parse(out, (size_t)n, NULL, p, &pe), PP_INVALID);
	assert_int_equal(pe.reason, PP_R_V2_CRC_MISMATCH);
	opts_hdr_free(&h);
	free(p);
}

static void test_build_families(void **state)
{
	struct opts_hdr h;
	struct pp_header *p = malloc(sizeof(*p));
	uint8_t out[1024];
	struct perr e;
	char a[160];
	int n;

	(void)state;
	assert_non_null(p);
	/* --family inet6 writes IPv4 addresses IPv4-mapped. */
	opts_hdr_init(&h);
	apply(&h, OPT_FAMILY, "inet6", &e);
	apply(&h, OPT_SRC, "192.0.2.44:1000", &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 16 + 36);
	assert_int_equal(out[13], 0x21);
	assert_int_equal(pp_parse(out, (size_t)n, NULL, p, NULL), n);
	assert_string_equal(pp_addr_str(&p->src, a, sizeof(a)), "::ffff:192.0.2.44");
	assert_string_equal(pp_addr_str(&p->dst, a, sizeof(a)), "2001:db8::100");
	opts_hdr_free(&h);

	/* UNIX, DGRAM. */
	opts_hdr_init(&h);
	apply(&h, OPT_UNIX_SRC, "/tmp/c.sock", &e);
	apply(&h, OPT_UNIX_DST, "/tmp/s.sock", &e);
	apply(&h, OPT_TRANSPORT, "dgram", &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 16 + 216);
	assert_int_equal(out[13], 0x32);
	assert_int_equal(pp_parse(out, (size_t)n, NULL, p, NULL), n);
	assert_int_equal(p->family, PP_FAM_UNIX);
	assert_string_equal(((struct sockaddr_un *)&p->src)->sun_path, "/tmp/c.sock");
	assert_string_equal(((struct sockaddr_un *)&p->dst)->sun_path, "/tmp/s.sock");
	opts_hdr_free(&h);

	/* PROXY with family UNSPEC: no address block. */
	opts_hdr_init(&h);
	apply(&h, OPT_FAMILY, "unspec", &e);
	n = opts_hdr_build(&h, out, sizeof(out), &e);
	assert_int_equal(n, 16);
	assert_int_equal(out[12], 0x21);
	assert_int_equal(out[13], 0x00);
	opts_hdr_free(&h);

	/* Relay: client and listener of different families -> IPv6. */
	{
		struct sockaddr_storage s, d;

		opts_hdr_init(&h);
		opts_parse_ipport("[2001:db8::5]:4000", &s, NULL);
		opts_parse_ipport("127.0.0.1:1884", &d, NULL);
		n = opts_hdr_build_addrs(&h, &s, &d, out, sizeof(out), &e);
		assert_int_equal(n, 16 + 36);
		assert_int_equal(pp_parse(out, (size_t)n, NULL, p, NULL), n);
		assert_string_equal(pp_addr_str(&p->dst, a, sizeof(a)), "::ffff:127.0.0.1");
		assert_int_equal(pp_addr_port(&p->dst), 1884);
		opts_hdr_free(&h);
	}
	free(p);
}

static void test_build_mutation(void **state)
{
	const struct pp_mutation *m;
	struct opts_hdr h;
	uint8_t out[PP_V2_MAX_LEN + 1024];
	struct perr e;
	size_t count;
	int n;

	(void)state;
	m = pp_mutations(&count);
	assert_true(count > 0);
	for (size_t i = 0; i < count; i++) {
		opts_hdr_init(&h);
		assert_int_equal(apply(&h, OPT_MUTATE, m[i].name, &e), 1);
		assert_int_equal(opts_hdr_version(&h), m[i].version);
		n = opts_hdr_build(&h, out, sizeof(out), &e);
		if (n <= 0)
			fail_msg("--mutate %s: %s", m[i].name, e.msg);
		opts_hdr_free(&h);
	}
	/* A mutation of the other version than the one asked for. */
	opts_hdr_init(&h);
	apply(&h, OPT_MUTATE, m[0].name, &e);
	apply(&h, m[0].version == 1 ? OPT_V2 : OPT_V1, NULL, &e);
	assert_int_equal(opts_hdr_check(&h, &e), -1);
	assert_contains(e.msg, "damages a v");
	opts_hdr_free(&h);
}

/* Every TLV type of lib/pp_desc's table with an option is an option here,
 * and writes a TLV of that type: a new row needs no code in proxygen. */
static void test_tlv_options_from_table(void **state)
{
	size_t n;
	const struct pp_tlv_def *d = pp_tlv_defs(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct opts_hdr h;
		struct perr e;
		const char *arg = d[i].val == PP_VAL_TEXT ? "x" : d[i].val == PP_VAL_AWS_VPCE ? "vpce-1" : "2";
		int code;

		if (!d[i].option)
			continue;
		code = opts_hdr_code(d[i].option);
		assert_true(code >= OPTS_HDR_BASE);
		opts_hdr_init(&h);
		assert_int_equal(apply(&h, code, d[i].arg ? arg : NULL, &e), 1);
		if (d[i].val == PP_VAL_CRC32C) {
			assert_true(h.crc32c);
			assert_int_equal(h.ntlv, 0);
		} else {
			assert_int_equal(h.ntlv, 1);
			assert_int_equal(h.tlv[0].type, d[i].type);
		}
		opts_hdr_free(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_ipport_good),
		cmocka_unit_test(test_ipport_bad),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_value_and_tlv),
		cmocka_unit_test(test_merge_and_getopt_error),
		cmocka_unit_test(test_apply_errors),
		cmocka_unit_test(test_check_conflicts),
		cmocka_unit_test(test_mqtt_version),
		cmocka_unit_test(test_option_numbers),
		cmocka_unit_test(test_cidr_addr),
		cmocka_unit_test(test_build_v1),
		cmocka_unit_test(test_build_v2_default),
		cmocka_unit_test(test_build_v2_tlvs_parse_back),
		cmocka_unit_test(test_build_families),
		cmocka_unit_test(test_build_mutation),
		cmocka_unit_test(test_tlv_options_from_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
