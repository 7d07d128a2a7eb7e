/* test_pp_roundtrip.c - random valid headers: build -> parse gives the same
 * fields back, every proper prefix is "need more", and a header delivered in
 * random segments (with data after it) is found whole and exactly.
 *
 * The seed is printed; PP_SEED=<n> replays a run.
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
#include <time.h>

#include "pp_desc.h"

#define ROUNDS 3000

static uint64_t seed, rs;

static uint64_t rnd64(void)
{
	/* splitmix64: small, and good enough to cover the header space */
	uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(rnd64() % n);
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd64();
}

static void rnd_text(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(0x21 + rnd(0x5e));
}

static void rnd_addr(int af, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		rnd_bytes((uint8_t *)&s->sin_addr, 4);
		s->sin_port = htons((uint16_t)(rnd(4) == 0 ? (rnd(2) ? 0 : 65535) : rnd(65536)));
	} else if (af == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		uint8_t *a = s->sin6_addr.s6_addr;
		s->sin6_family = AF_INET6;
		rnd_bytes(a, 16);
		switch (rnd(4)) {
		case 0: /* a run of zero groups, written with "::" in text */
			memset(a + 2 * rnd(6), 0, 2 * (1 + rnd(3)));
			break;
		case 1: /* IPv4-mapped */
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
			break;
		case 2:
			memset(a, 0, 16);
			a[15] = (uint8_t)rnd(2);
			break;
		default:
			break;
		}
		s->sin6_port = htons((uint16_t)rnd(65536));
	} else {
		struct sockaddr_un *s = (struct sockaddr_un *)ss;
		size_t n = 1 + rnd(sizeof(s->sun_path) - 1);
		s->sun_family = AF_UNIX;
		rnd_text((uint8_t *)s->sun_path, n);
		if (rnd(8) == 0)
			s->sun_path[0] = '\0'; /* abstract namespace */
	}
}

static void same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	assert_int_equal(a->ss_family, b->ss_family);
	switch (a->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		assert_memory_equal(&x->sin_addr, &y->sin_addr, 4);
		assert_int_equal(x->sin_port, y->sin_port);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		assert_memory_equal(&x->sin6_addr, &y->sin6_addr, 16);
		assert_int_equal(x->sin6_port, y->sin6_port);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
		assert_memory_equal(x->sun_path, y->sun_path, sizeof(x->sun_path));
		break;
	}
	default:
		break;
	}
}

static void same_bytes(struct pp_bytes a, struct pp_bytes b)
{
	assert_true((a.ptr == NULL) == (b.ptr == NULL));
	if (!a.ptr)
		return;
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.ptr, b.ptr, a.len);
}

/* What the parser must report, built alongside the random header. */
struct expect {
	struct pp_header h;      /* version, command, family, transport, src, dst, decoded TLVs */
	size_t ntlv;
	struct pp_tlv tlv[PP_MAX_TLVS];
};

struct gen {
	struct pp_header h;
	struct pp_build_opts bo;
	uint8_t pool[PP_MAX_TLVS][200];
	struct pp_ssl ssl[PP_MAX_TLVS];
	uint8_t sslstr[PP_MAX_TLVS][5][40];
};

static void add_random_tlv(struct gen *g, struct expect *x)
{
	size_t k = g->h.ntlv;
	uint8_t *v = g->pool[k];
	size_t len = 0;
	uint8_t type;

	switch (rnd(11)) {
	case 0: type = PP2_TYPE_ALPN; len = rnd(20); rnd_text(v, len); break;
	case 1: type = PP2_TYPE_AUTHORITY; len = 1 + rnd(40); rnd_text(v, len); break;
	case 2: type = PP2_TYPE_UNIQUE_ID; len = rnd(4) ? rnd(40) : 129 - 1 - rnd(3) + 1; rnd_bytes(v, len); break;
	case 3: type = PP2_TYPE_NOOP; len = rnd(8); memset(v, 0, len); break;
	case 4: type = PP2_TYPE_NETNS; len = rnd(16); rnd_text(v, len); break;
	case 5: {
		struct pp_ssl *s = &g->ssl[k];
		struct pp_bytes *f[5] = {&s->version, &s->cn, &s->cipher, &s->sig_alg, &s->key_alg};
		memset(s, 0, sizeof(*s));
		s->client = (uint8_t)rnd(8);
		s->verify = (uint32_t)rnd64();
		for (int i = 0; i < 5; i++) {
			if (rnd(2)) {
				size_t n = rnd(30);
				rnd_text(g->sslstr[k][i], n);
				f[i]->ptr = g->sslstr[k][i];
				f[i]->len = n;
			}
		}
		type = PP2_TYPE_SSL;
		int n = pp_ssl_encode(s, v, sizeof(g->pool[k]));
		assert_true(n >= 5);
		len = (size_t)n;
		if (!x->h.ssl.present) {
			x->h.ssl = *s;
			x->h.ssl.present = true;
		}
		break;
	}
	case 6:
		type = PP2_TYPE_AWS;
		len = 1 + rnd(30);
		v[0] = rnd(4) ? 0x01 : (uint8_t)(2 + rnd(10));
		rnd_text(v + 1, len - 1);
		if (v[0] == 0x01 && !x->h.aws_vpce_id.ptr) {
			x->h.aws_vpce_id.ptr = v + 1;
			x->h.aws_vpce_id.len = len - 1;
		}
		break;
	case 7: {
		uint32_t id = (uint32_t)rnd64();
		type = PP2_TYPE_AZURE;
		len = 5;
		v[0] = rnd(4) ? 0x01 : 0x02;
		for (int i = 0; i < 4; i++)
			v[1 + i] = (uint8_t)(id >> (8 * i));
		if (v[0] == 0x01 && !x->h.has_azure_linkid) {
			x->h.has_azure_linkid = true;
			x->h.azure_linkid = id;
		}
		break;
	}
	case 8: {
		uint64_t id = rnd64();
		type = PP2_TYPE_GCP;
		len = 9;
		v[0] = rnd(4) ? 0x01 : 0x07;
		for (int i = 0; i < 8; i++)
			v[1 + i] = (uint8_t)(id >> (56 - 8 * i));
		if (v[0] == 0x01 && !x->h.has_gcp_psc_id) {
			x->h.has_gcp_psc_id = true;
			x->h.gcp_psc_id = id;
		}
		break;
	}
	default: {
		/* anything else, except the types with rules of their own */
		static const uint8_t others[] = {0x00, 0x06, 0x10, 0x21, 0x31, 0x7f, 0xE1, 0xE5, 0xEF, 0xF0, 0xF7, 0xF8, 0xFF};
		type = others[rnd(sizeof(others))];
		len = rnd(50);
		rnd_bytes(v, len);
		break;
	}
	}
	if (type == PP2_TYPE_UNIQUE_ID && len > 128)
		len = 128;
	assert_int_equal(pp_header_add_tlv(&g->h, type, v, len), 0);
	struct pp_bytes b = {v, len};
	switch (type) {
	case PP2_TYPE_ALPN: if (!x->h.alpn.ptr) x->h.alpn = b; break;
	case PP2_TYPE_AUTHORITY: if (!x->h.authority.ptr) x->h.authority = b; break;
	case PP2_TYPE_UNIQUE_ID: if (!x->h.unique_id.ptr) x->h.unique_id = b; break;
	case PP2_TYPE_NETNS: if (!x->h.netns.ptr) x->h.netns = b; break;
	case PP2_TYPE_NOOP: x->h.noop_bytes += len; break;
	default: break;
	}
	x->tlv[x->ntlv].type = type;
	x->tlv[x->ntlv].value = b;
	x->ntlv++;
}

static void gen_header(struct gen *g, struct expect *x)
{
	static const int afs[4] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
	struct sockaddr_storage s, d;

	memset(g, 0, sizeof(*g));
	memset(x, 0, sizeof(*x));
	if (rnd(3) == 0) {
		/* v1: TCP4, TCP6, UNKNOWN (short or long) */
		int kind = (int)rnd(4);
		pp_header_init(&g->h, 1, PP_CMD_PROXY);
		x->h.version = 1;
		x->h.command = PP_CMD_PROXY;
		if (kind < 2) {
			int af = kind == 0 ? AF_INET : AF_INET6;
			rnd_addr(af, &s);
			rnd_addr(af, &d);
			assert_int_equal(pp_header_set_addrs(&g->h, &s, &d), 0);
			x->h.family = g->h.family;
			x->h.transport = PP_PROTO_STREAM;
			x->h.src = s;
			x->h.dst = d;
		} else {
			x->h.family = PP_FAM_UNSPEC;
			x->h.transport = PP_PROTO_UNSPEC;
			if (kind == 3) {
				int af = rnd(2) ? AF_INET : AF_INET6;
				rnd_addr(af, &g->h.src);
				rnd_addr(af, &g->h.dst);
				g->bo.v1_unknown_long = true;
			}
		}
		return;
	}

	enum pp_cmd cmd = rnd(4) ? PP_CMD_PROXY : PP_CMD_LOCAL;
	int fam = (int)rnd(4);
	pp_header_init(&g->h, 2, cmd);
	if (fam != PP_FAM_UNSPEC) {
		rnd_addr(afs[fam], &s);
		rnd_addr(afs[fam], &d);
		assert_int_equal(pp_header_set_addrs(&g->h, &s, &d), 0);
	}
	g->h.transport = (enum pp_proto)rnd(3);
	x->h.version = 2;
	x->h.command = cmd;
	x->h.family = (enum pp_fam)fam;
	x->h.transport = g->h.transport;
	if (cmd == PP_CMD_PROXY && fam != PP_FAM_UNSPEC && g->h.transport != PP_PROTO_UNSPEC) {
		x->h.src = s;
		x->h.dst = d;
	}

	size_t n = rnd(20) ? rnd(6) : rnd(PP_MAX_TLVS - 1);
	for (size_t i = 0; i < n; i++)
		add_random_tlv(g, x);
	if (rnd(3) == 0 && x->ntlv < PP_MAX_TLVS) {
		g->bo.noop_len = rnd(3) ? rnd(8) : 1 + rnd(300);
		if (g->bo.noop_len) {
			x->tlv[x->ntlv].type = PP2_TYPE_NOOP;
			x->tlv[x->ntlv].value.len = g->bo.noop_len;
			x->ntlv++;
			x->h.noop_bytes += g->bo.noop_len;
		}
	}
	if (rnd(2) && x->ntlv < PP_MAX_TLVS) {
		g->bo.crc32c = true;
		x->tlv[x->ntlv].type = PP2_TYPE_CRC32C;
		x->tlv[x->ntlv].value.len = 4;
		x->ntlv++;
		x->h.has_crc32c = true;
	}
}

static void check_fields(const struct expect *x, const struct pp_header *h, size_t len)
{
	assert_int_equal(h->version, x->h.version);
	assert_int_equal(h->command, x->h.command);
	assert_int_equal(h->family, x->h.family);
	assert_int_equal(h->transport, x->h.transport);
	assert_int_equal(h->len, len);
	same_addr(&x->h.src, &h->src);
	same_addr(&x->h.dst, &h->dst);
	assert_int_equal(h->ntlv, x->ntlv);
	for (size_t i = 0; i < x->ntlv; i++) {
		assert_int_equal(h->tlv[i].type, x->tlv[i].type);
		assert_int_equal(h->tlv[i].value.len, x->tlv[i].value.len);
		if (x->tlv[i].value.ptr && x->tlv[i].value.len)
			assert_memory_equal(h->tlv[i].value.ptr, x->tlv[i].value.ptr, x->tlv[i].value.len);
	}
	same_bytes(x->h.alpn, h->alpn);
	same_bytes(x->h.authority, h->authority);
	same_bytes(x->h.unique_id, h->unique_id);
	same_bytes(x->h.netns, h->netns);
	same_bytes(x->h.aws_vpce_id, h->aws_vpce_id);
	assert_int_equal(h->has_azure_linkid, x->h.has_azure_linkid);
	if (x->h.has_azure_linkid)
		assert_int_equal(h->azure_linkid, x->h.azure_linkid);
	assert_int_equal(h->has_gcp_psc_id, x->h.has_gcp_psc_id);
	if (x->h.has_gcp_psc_id)
		assert_true(h->gcp_psc_id == x->h.gcp_psc_id);
	assert_int_equal(h->noop_bytes, x->h.noop_bytes);
	assert_int_equal(h->has_crc32c, x->h.has_crc32c);
	assert_int_equal(h->ssl.present, x->h.ssl.present);
	if (x->h.ssl.present) {
		assert_int_equal(h->ssl.client, x->h.ssl.client);
		assert_int_equal(h->ssl.verify, x->h.ssl.verify);
		same_bytes(x->h.ssl.version, h->ssl.version);
		same_bytes(x->h.ssl.cn, h->ssl.cn);
		same_bytes(x->h.ssl.cipher, h->ssl.cipher);
		same_bytes(x->h.ssl.sig_alg, h->ssl.sig_alg);
		same_bytes(x->h.ssl.key_alg, h->ssl.key_alg);
	}
}

static void test_roundtrip(void **state)
{
	static struct gen g;
	static struct expect x;
	static uint8_t buf[8192];
	size_t counts[2] = {0, 0}, crcs = 0, splits = 0;
	(void)state;

	for (int round = 0; round < ROUNDS; round++) {
		struct pp_header h;
		struct pp_error e;
		struct pp_parse_opts o;
		int n;

		gen_header(&g, &x);
		n = pp_build(&g.h, &g.bo, buf, sizeof(buf), &e);
		if (n <= 0)
			fail_msg("round %d: build failed: %s", round, e.msg);
		counts[x.h.version - 1]++;
		crcs += g.bo.crc32c;
		pp_parse_opts_init(&o);
		o.max_len = PP_V2_MAX_LEN;
		o.verify_crc32c = rnd(4) != 0;

		int r = pp_parse(buf, (size_t)n, &o, &h, &e);
		if (r != n)
			fail_msg("round %d (seed %llu): parse %d of %d bytes: %s", round,
				 (unsigned long long)seed, r, n, e.msg);
		check_fields(&x, &h, (size_t)n);

		/* every proper prefix needs more */
		for (int k = 0; k < n; k++) {
			r = pp_parse(buf, (size_t)k, &o, &h, &e);
			if (r != PP_NEED_MORE)
				fail_msg("round %d: prefix %d of %d gives %d (%s)", round, k, n, r, e.msg);
		}

		/* every split point, with the next bytes of the stream behind:
		 * the first part needs more, the whole is the header exactly */
		size_t extra = 1 + rnd(40);
		rnd_bytes(buf + n, extra);
		for (int k = 1; k < n; k++) {
			assert_int_equal(pp_parse(buf, (size_t)k, &o, &h, &e), PP_NEED_MORE);
			assert_int_equal(pp_parse(buf, (size_t)n + extra, &o, &h, &e), n);
			splits++;
		}
		check_fields(&x, &h, (size_t)n);

		/* random segmentation, as a receiver sees it */
		size_t have = 0;
		for (;;) {
			have += 1 + rnd(16);
			if (have > (size_t)n + extra)
				have = (size_t)n + extra;
			r = pp_parse(buf, have, &o, &h, &e);
			if (have < (size_t)n) {
				assert_int_equal(r, PP_NEED_MORE);
				continue;
			}
			assert_int_equal(r, n);
			break;
		}
		check_fields(&x, &h, (size_t)n);
	}
	print_message("# %d headers (v1 %zu, v2 %zu, %zu with CRC32C), %zu split points, seed %llu\n",
		      ROUNDS, counts[0], counts[1], crcs, splits, (unsigned long long)seed);
	assert_true(counts[0] > ROUNDS / 5 && counts[1] > ROUNDS / 2);
}

/* Any v2 header the builder makes has a CRC the parser accepts, and one
 * flipped bit anywhere in it is caught (or is a structural error). */
static void test_crc_bit_flips(void **state)
{
	static struct gen g;
	static struct expect x;
	uint8_t buf[8192];
	size_t flips = 0, vanished = 0;
	struct pp_parse_opts o;
	struct pp_header h;
	(void)state;

	pp_parse_opts_init(&o);
	o.max_len = PP_V2_MAX_LEN;

	for (int round = 0; round < 200; round++) {
		struct pp_error e;
		int n;

		do
			gen_header(&g, &x);
		while (g.h.version != 2);
		g.bo.crc32c = true;
		g.bo.noop_len = 0;
		n = pp_build(&g.h, &g.bo, buf, sizeof(buf), &e);
		assert_true(n > 0);
		assert_int_equal(pp_parse(buf, (size_t)n, &o, NULL, &e), n);
		for (int k = 16; k < n; k++) {
			int bit = (int)rnd(8);
			buf[k] ^= (uint8_t)(1 << bit);
			int r = pp_parse(buf, (size_t)n, &o, &h, &e);
			/* A flip may break a TLV or be caught by the CRC. It can
			 * only pass when it removed the CRC TLV itself (its type
			 * byte, or a length that swallows it). */
			if (r == n) {
				assert_false(h.has_crc32c);
				vanished++;
			}
			buf[k] ^= (uint8_t)(1 << bit);
			flips++;
		}
	}
	print_message("# %zu single-bit flips, %zu passed only by removing the CRC TLV\n",
		      flips, vanished);
	assert_true(vanished < flips / 20);
}

int main(void)
{
	const char *env = getenv("PP_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_crc_bit_flips),
	};

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	rs = seed;
	printf("# seed %llu (set PP_SEED to replay)\n", (unsigned long long)seed);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
