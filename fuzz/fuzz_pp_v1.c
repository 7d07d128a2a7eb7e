/* fuzz_pp_v1.c - differential harness for the PROXY v1 line parser.
 *
 * fuzz_pp.c feeds pp_parse() arbitrary bytes; random bytes rarely form a
 * nearly-valid v1 line, where the decisions are hard (leading zeros, octets
 * over 255, IPv6 forms, ports 65535 and 65536, spacing). Here the input
 * drives a generator of v1 lines built from such tokens, and an independent
 * reference written from the specification judges each line:
 *
 *   "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF,
 *   at most 107 bytes; addresses as inet_pton() of the family takes them
 *   (IPv4: four decimal octets without leading zeros); ports decimal
 *   0..65535 without leading zeros; single spaces; or "PROXY UNKNOWN"
 *   followed by CRLF, or by a space and anything up to CRLF (ignored).
 *
 * pp_parse() must accept exactly the lines the reference accepts, with the
 * same length, family, addresses and ports; and answer "need more" for
 * every proper prefix of an accepted line. Lines holding CR or LF before
 * their end are parsed (no crash, no overread) but not judged.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* ---- input as a stream of choices --------------------------------------------- */

struct src {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct src *s)
{
	if (s->n == 0)
		return 0;
	s->n--;
	return *s->p++;
}

struct line {
	char b[512];
	size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->n + n > sizeof(l->b))
		n = sizeof(l->b) - l->n;
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static const char *const addr_table[] = {
	"192.0.2.1", "0.0.0.0", "255.255.255.255", "10.0.0.1", "01.2.3.4", "1.2.3.04",
	"256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4 ",
	"0x1.2.3.4", "1.2.3.-4", "1.2.3.4a", "2001:db8::1", "::", "::1", "1::",
	"2001:DB8::A", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
	"1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1:2:3:4:5:6:7:", "12345::1",
	"::ffff:192.0.2.1", "::192.0.2.1", "::ffff:1.2.3.04", "1:2:3:4:5:6:1.2.3.4",
	"1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "[::1]", "g::1", "0:0:0:0:0:0:0:0",
	"00000::1", "0001::1", "::ffff:256.1.1.1", "", "-",
};

static const char *const port_table[] = {
	"0", "1", "65535", "65536", "99999", "080", "00", "", "-1", "+1", "1e3",
	"123456", "6553", "0x10", " 1",
};

static const char *const proto_table[] = {
	"TCP4", "TCP6", "UNKNOWN", "TCP5", "tcp4", "UDP4", "TCP", "UNKNOWNX", "",
};

/* Bytes from the input, as is (may hold anything). */
static void raw_token(struct line *l, struct src *s, size_t max)
{
	size_t n = take(s) % (max + 1);

	for (size_t i = 0; i < n && s->n; i++) {
		char c = (char)take(s);

		put(l, &c, 1);
	}
}

static void addr(struct line *l, struct src *s, bool v6)
{
	unsigned c = take(s);
	char buf[INET6_ADDRSTRLEN];

	if (c < 120) {
		/* a valid address of the family, from random bits */
		uint8_t a[16];

		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)take(s);
		if (v6 && (c & 1))
			memset(a, 0, 10 - (c & 2)); /* runs of zeros: "::" forms, v4-mapped */
		if (v6 && (c & 4)) {
			a[10] = a[11] = 0xff;
		}
		inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
		puts_(l, buf);
	} else if (c < 220) {
		puts_(l, addr_table[c % (sizeof(addr_table) / sizeof(addr_table[0]))]);
	} else {
		raw_token(l, s, 48);
	}
}

static void port(struct line *l, struct src *s)
{
	unsigned c = take(s);
	char buf[16];

	if (c < 100) {
		snprintf(buf, sizeof(buf), "%u", (take(s) << 8 | take(s)) + (c & 1));
		puts_(l, buf);
	} else if (c < 220) {
		puts_(l, port_table[c % (sizeof(port_table) / sizeof(port_table[0]))]);
	} else {
		raw_token(l, s, 8);
	}
}

static void sep(struct line *l, struct src *s, unsigned odds)
{
	unsigned c = take(s);

	if (c >= odds)
		puts_(l, c & 1 ? "  " : (c & 2) ? "\t" : "");
	else
		puts_(l, " ");
}

static void generate(struct line *l, struct src *s)
{
	unsigned mode = take(s);
	unsigned odds = 240 + (mode & 15); /* mostly single spaces */

	l->n = 0;
	puts_(l, "PROXY");
	if (mode < 16) {
		/* anything after "PROXY " */
		puts_(l, " ");
		raw_token(l, s, 120);
	} else {
		unsigned p = take(s);
		const char *proto = p < 100 ? "TCP4" : p < 200 ? "TCP6" :
			proto_table[p % (sizeof(proto_table) / sizeof(proto_table[0]))];
		bool v6 = strcmp(proto, "TCP6") == 0 || (p >= 200 && (p & 1));

		sep(l, s, odds);
		puts_(l, proto);
		if (strcmp(proto, "UNKNOWN") == 0 && (mode & 0x30) == 0) {
			/* short form, or a tail of anything */
			if (mode & 0x40) {
				puts_(l, " ");
				raw_token(l, s, 100);
			}
		} else {
			sep(l, s, odds);
			addr(l, s, v6 != ((mode & 0x80) && (mode & 0x40)));
			sep(l, s, odds);
			addr(l, s, v6);
			sep(l, s, odds);
			port(l, s);
			sep(l, s, odds);
			port(l, s);
			if ((mode & 0x70) == 0x70) /* trailing junk field */
				sep(l, s, odds), raw_token(l, s, 6);
		}
	}
	puts_(l, "\r\n");
	/* pad to the length limit and past it now and then */
	if ((mode & 0x0f) == 0x0f && l->n < 110) {
		memmove(l->b + 7 + (110 - l->n), l->b + 7, l->n - 7);
		memset(l->b + 7, 'X', 110 - l->n);
		l->n = 110;
	}
}

/* ---- the reference --------------------------------------------------------------- */

struct ref {
	bool valid;
	int family;                 /* PP_FAM_INET, PP_FAM_INET6 or PP_FAM_UNSPEC */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static bool ref_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool ref_addr(const char *s, size_t n, bool v6, uint8_t *out)
{
	char buf[64];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strlen(buf) != n)
		return false;
	return inet_pton(v6 ? AF_INET6 : AF_INET, buf, out) == 1;
}

/* Judge a line that ends with its only CRLF. */
static void reference(const char *b, size_t n, struct ref *r)
{
	const char *tok[6];
	size_t len[6], nt = 0, i, start;
	const char *rest;
	size_t rn;

	memset(r, 0, sizeof(*r));
	if (n > PP_V1_MAX_LEN || n < 8 || memcmp(b, "PROXY ", 6) != 0)
		return;
	rest = b + 6;
	rn = n - 8;
	if ((rn == 7 && memcmp(rest, "UNKNOWN", 7) == 0) ||
	    (rn >= 8 && memcmp(rest, "UNKNOWN ", 8) == 0)) {
		r->valid = true;
		r->family = PP_FAM_UNSPEC;
		return;
	}
	for (i = 0, start = 0; i <= rn; i++) {
		if (i == rn || rest[i] == ' ') {
			if (nt == 6)
				return;
			tok[nt] = rest + start;
			len[nt++] = i - start;
			start = i + 1;
		}
	}
	if (nt != 5)
		return;
	for (i = 0; i < 5; i++)
		if (len[i] == 0)
			return;
	bool v6;

	if (len[0] == 4 && memcmp(tok[0], "TCP4", 4) == 0)
		v6 = false;
	else if (len[0] == 4 && memcmp(tok[0], "TCP6", 4) == 0)
		v6 = true;
	else
		return;
	if (!ref_addr(tok[1], len[1], v6, r->src) || !ref_addr(tok[2], len[2], v6, r->dst) ||
	    !ref_port(tok[3], len[3], &r->sport) || !ref_port(tok[4], len[4], &r->dport))
		return;
	r->valid = true;
	r->family = v6 ? PP_FAM_INET6 : PP_FAM_INET;
}

static void same_addr(const struct sockaddr_storage *ss, int family, const uint8_t *a, uint16_t port)
{
	if (family == PP_FAM_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		check(ss->ss_family == AF_INET);
		check(memcmp(&s4->sin_addr, a, 4) == 0 && ntohs(s4->sin_port) == port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		check(ss->ss_family == AF_INET6);
		check(memcmp(&s6->sin6_addr, a, 16) == 0 && ntohs(s6->sin6_port) == port);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data, size };
	struct line l;
	struct pp_header h;
	struct pp_error e;
	struct ref r;
	uint8_t *buf;
	int got;
	bool judged;

	generate(&l, &s);
	buf = malloc(l.n);
	if (!buf)
		return 0;
	memcpy(buf, l.b, l.n);
	got = pp_parse(buf, l.n, NULL, &h, &e);
	check(got >= PP_INVALID && got <= (int)l.n);

	/* only the final CRLF: otherwise the line is not what the reference reads */
	judged = true;
	for (size_t i = 0; i + 2 < l.n; i++)
		if (l.b[i] == '\r' || l.b[i] == '\n')
			judged = false;
	if (judged) {
		reference(l.b, l.n, &r);
		if (r.valid != (got > 0)) {
			fprintf(stderr, "v1 line (%zu bytes): '%.*s'\nreference: %s; pp_parse: %s\n",
				l.n, (int)l.n - 2, l.b, r.valid ? "valid" : "invalid",
				got > 0 ? "valid" : e.msg);
			abort();
		}
		if (r.valid) {
			check((size_t)got == l.n && h.version == 1 && h.len == l.n);
			check((int)h.family == r.family);
			if (r.family != PP_FAM_UNSPEC) {
				same_addr(&h.src, r.family, r.src, r.sport);
				same_addr(&h.dst, r.family, r.dst, r.dport);
			}
			/* a valid line: "need more" for every proper prefix */
			for (size_t k = 0; k < l.n; k++) {
				uint8_t *p = malloc(k ? k : 1);

				if (!p)
					break;
				memcpy(p, l.b, k);
				check(pp_parse(p, k, NULL, &h, &e) == PP_NEED_MORE);
				free(p);
			}
		}
	}
	free(buf);
	return 0;
}
