/* flood_plan.c - who connection k of a `proxygen flood` load is, see
 * flood.h. Everything here is a function of the options alone, so that N
 * processes given the same options and --shard 0/N ... N-1/N split one
 * load between them without talking to each other: the connection
 * numbers (and so the client ids), the roles, the topics and the header
 * sources of the shards are disjoint and together make the whole load.
 */
#include "flood.h"

#include <netinet/in.h>
#include <string.h>

#include "opts.h"

#define PORT_FIRST  1024u
#define PORT_COUNT  64512u        /* 1024..65535 */
#define PORT_STEP   40009u        /* prime to PORT_COUNT = 2^10 * 3^2 * 7: a bijection */

uint64_t fl_share(uint64_t total, uint64_t i, uint64_t n)
{
	if (n <= 1)
		return total;
	return total / n + (i < total % n ? 1 : 0);
}

uint64_t fl_global(const struct fl_plan *p, uint64_t local)
{
	return p->shards > 1 ? local * p->shards + p->shard : local;
}

enum fl_role fl_role(const struct fl_plan *p, uint64_t k)
{
	if (!p->publish)
		return FR_PLAIN;
	return k < p->subscribers ? FR_SUB : FR_PUB;
}

uint64_t fl_topic(const struct fl_plan *p, uint64_t k)
{
	return p->topics > 1 ? k % p->topics : 0;
}

/* How many of 0 .. x-1 are t modulo m. */
static uint64_t count_mod(uint64_t x, uint64_t t, uint64_t m)
{
	return x / m + (t < x % m ? 1 : 0);
}

uint64_t fl_sub_target(const struct fl_plan *p, uint64_t k)
{
	uint64_t m = p->topics ? p->topics : 1, t = fl_topic(p, k);

	if (fl_role(p, k) != FR_SUB)
		return 0;
	return (count_mod(p->connections, t, m) - count_mod(p->subscribers, t, m)) * p->messages;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A bijection of [0, 2^bits) onto itself, shuffled by key: additions and
 * odd multiplications modulo 2^bits, and right xorshifts, each invertible. */
static uint64_t shuffle(uint64_t x, unsigned bits, uint64_t key)
{
	uint64_t mask = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
	unsigned r = bits > 1 ? bits / 2 : 1;

	if (bits == 0)
		return 0;
	x = (x + key) & mask;
	x = (x * 0x9E3779B97F4A7C15ull) & mask;
	x ^= x >> r;
	x = (x * (0xBF58476D1CE4E5B9ull | 1)) & mask;
	x ^= x >> r;
	return (x + (key >> 11)) & mask;
}

void fl_source(const struct fl_plan *p, uint64_t k, struct sockaddr_storage *ss)
{
	const struct net_cidr *c = p->cidr;
	size_t n = c->family == AF_INET ? 4 : 16, tail = n < 8 ? n : 8;
	unsigned host = (unsigned)(n * 8) - c->prefix, bits = host < 64 ? host : 64;
	uint64_t s = p->seed, key = splitmix(&s), port_key = splitmix(&s), fill, a, q, x;
	uint8_t rnd[16];

	/* host bits beyond the 64 that vary: fixed by the seed */
	for (size_t i = 0; i < n; i += 8) {
		fill = splitmix(&s);
		memcpy(rnd + i, &fill, n - i < 8 ? n - i : 8);
	}
	a = bits >= 64 ? k : k & ((UINT64_C(1) << bits) - 1);
	q = bits >= 64 ? 0 : k >> bits;
	x = shuffle(a, bits, key);
	for (size_t i = 0; i < tail; i++)
		rnd[n - 1 - i] = (uint8_t)(x >> (8 * i));
	/* ports differ with the address too; for one address, one port per q */
	q = (q % PORT_COUNT + x % PORT_COUNT) % PORT_COUNT;
	opts_cidr_addr(c, rnd, (uint16_t)(PORT_FIRST + (q * PORT_STEP + port_key % PORT_COUNT) %
					  PORT_COUNT), ss);
}

void fl_bind_hosts(const struct net_cidr *c, uint32_t *first, uint32_t *count)
{
	unsigned host = (c->family == AF_INET ? 32u : 128u) - c->prefix;
	/* beyond 2^32 addresses the cap decides anyway */
	uint64_t all = UINT64_C(1) << (host < 32 ? host : 32);

	*first = host >= 2; /* the network's first address left out */
	if (host >= 2)
		all -= c->family == AF_INET ? 2 : 1; /* IPv4: its broadcast too */
	*count = (uint32_t)(all < FL_BIND_MAX ? all : FL_BIND_MAX);
}

void fl_bind_source(const struct net_cidr *c, uint32_t first, uint32_t count, uint64_t k,
		    struct sockaddr_storage *ss)
{
	uint64_t x = first + k % (count ? count : 1);
	uint8_t rnd[16] = { 0 };
	size_t n = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < 8 && i < n; i++)
		rnd[n - 1 - i] = (uint8_t)(x >> (8 * i));
	opts_cidr_addr(c, rnd, 0, ss);
}

int fl_shard_parse(const char *s, uint64_t max, uint64_t *i, uint64_t *n, struct perr *e)
{
	const char *slash = strchr(s, '/');
	char idx[32];
	struct perr ve;

	if (!slash || (size_t)(slash - s) >= sizeof(idx))
		return perr_set(e, "expected I/N, shard I of N counted from 0 (e.g. 0/4)");
	memcpy(idx, s, (size_t)(slash - s));
	idx[slash - s] = '\0';
	if (opts_parse_uint(slash + 1, max, n, &ve) < 0)
		return perr_set(e, "N: %s", ve.msg);
	if (*n == 0)
		return perr_set(e, "N must be at least 1");
	if (opts_parse_uint(idx, max, i, &ve) < 0)
		return perr_set(e, "I: %s", ve.msg);
	if (*i >= *n)
		return perr_set(e, "I counts from 0 and must be below N (%llu)",
				(unsigned long long)*n);
	return 0;
}
