/* pp_parse_bench.c - pp_parse() cost per header, for scripts/bench.
 *
 *   pp_parse_bench                  every case: name, header bytes, ns/op
 *                                   (best of 5 runs of >= 100 ms each)
 *   pp_parse_bench CASE ITERS       parse CASE exactly ITERS times, print
 *                                   nothing: run twice under callgrind
 *                                   (ITERS and 0) for instructions per parse
 *
 * The headers are made by pp_build, so they are what a strict receiver
 * accepts; each parse must return the full length (checked every time,
 * which also keeps the compiler from dropping the call). One more case is
 * a malformed v1 line, refused at its source address before the line ends:
 * its parse must say PP_INVALID with the expected reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_desc.h"

struct bcase {
	const char *name;
	uint8_t buf[512];
	int len;
	int want;              /* the length, or PP_INVALID */
	enum pp_reason reason; /* with PP_INVALID */
};

static int build_case(struct bcase *c, const char *name, int version, const char *src,
		      const char *dst, bool tlvs)
{
	struct pp_header h;
	struct pp_build_opts bo;
	struct sockaddr_storage s, d;
	static uint8_t ssl[128];
	struct pp_ssl x;
	int n;

	memset(&bo, 0, sizeof(bo));
	pp_header_init(&h, version, PP_CMD_PROXY);
	if (pp_sockaddr_parse(src, &s) < 0 || pp_sockaddr_parse(dst, &d) < 0 ||
	    pp_header_set_addrs(&h, &s, &d) < 0)
		return -1;
	if (tlvs) {
		memset(&x, 0, sizeof(x));
		x.present = true;
		x.client = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS;
		x.version.ptr = (const uint8_t *)"TLSv1.3";
		x.version.len = 7;
		x.cn.ptr = (const uint8_t *)"device-0042.example.com";
		x.cn.len = 23;
		n = pp_ssl_encode(&x, ssl, sizeof(ssl));
		if (n < 0 ||
		    pp_header_add_tlv(&h, PP2_TYPE_AUTHORITY, "mqtt.example.com", 16) < 0 ||
		    pp_header_add_tlv(&h, PP2_TYPE_ALPN, "mqtt", 4) < 0 ||
		    pp_header_add_tlv(&h, PP2_TYPE_SSL, ssl, (size_t)n) < 0)
			return -1;
		bo.crc32c = true;
	}
	c->name = name;
	c->len = pp_build(&h, &bo, c->buf, sizeof(c->buf), NULL);
	c->want = c->len;
	return c->len > 0 ? 0 : -1;
}

/* A v1 line given as text, refused for reason r. */
static int text_case(struct bcase *c, const char *name, const char *line, enum pp_reason r)
{
	c->name = name;
	c->len = (int)strlen(line);
	memcpy(c->buf, line, (size_t)c->len);
	c->want = PP_INVALID;
	c->reason = r;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse n times; exits on any result but the expected one. */
static void parse_n(const struct bcase *c, long n)
{
	struct pp_header h;
	struct pp_error e;

	for (long i = 0; i < n; i++) {
		int r = pp_parse(c->buf, (size_t)c->len, NULL, &h, &e);

		if (r != c->want || (r == PP_INVALID && e.reason != c->reason)) {
			fprintf(stderr, "pp_parse_bench: %s: got %d (%s)\n", c->name, r,
				r == PP_INVALID ? e.msg : "?");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct bcase cases[7];
	size_t nc = 0;

	if (build_case(&cases[nc++], "v1-tcp4", 1, "203.0.113.7:51234", "198.51.100.1:1883", false) ||
	    build_case(&cases[nc++], "v1-tcp6", 1, "[2001:db8:85a3::8a2e:370:7334]:51234",
		       "[2001:db8::100]:1883", false) ||
	    build_case(&cases[nc++], "v1-unknown", 1, "unix:/run/a.sock", "unix:/run/b.sock", false) ||
	    text_case(&cases[nc++], "v1-bad-src-addr", "PROXY TCP4 203.0.113.256 198.51.100.1 51234 1883\r\n",
		      PP_R_V1_BAD_SRC_ADDR) ||
	    build_case(&cases[nc++], "v2-inet", 2, "203.0.113.7:51234", "198.51.100.1:1883", false) ||
	    build_case(&cases[nc++], "v2-inet6", 2, "[2001:db8:85a3::8a2e:370:7334]:51234",
		       "[2001:db8::100]:1883", false) ||
	    build_case(&cases[nc++], "v2-inet-tlvs-crc", 2, "203.0.113.7:51234",
		       "198.51.100.1:1883", true)) {
		fprintf(stderr, "pp_parse_bench: cannot build the headers\n");
		return 1;
	}
	if (argc == 3) {
		for (size_t i = 0; i < nc; i++) {
			if (strcmp(argv[1], cases[i].name) == 0) {
				parse_n(&cases[i], atol(argv[2]));
				return 0;
			}
		}
		fprintf(stderr, "pp_parse_bench: unknown case '%s'\n", argv[1]);
		return 2;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: pp_parse_bench [CASE ITERS]\n");
		return 2;
	}
	for (size_t i = 0; i < nc; i++) {
		const struct bcase *c = &cases[i];
		double best = 1e30;
		long n = 1000;

		/* grow until one run takes >= 100 ms */
		for (;;) {
			double t = now_s();

			parse_n(c, n);
			t = now_s() - t;
			if (t >= 0.1)
				break;
			n *= t > 0.01 ? (long)(0.12 / t) + 1 : 10;
		}
		for (int r = 0; r < 5; r++) {
			double t = now_s();

			parse_n(c, n);
			t = (now_s() - t) * 1e9 / (double)n;
			if (t < best)
				best = t;
		}
		printf("%s\t%d\t%.1f\n", c->name, c->len, best);
	}
	return 0;
}
