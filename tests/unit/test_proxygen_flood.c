/* test_proxygen_flood.c - how `proxygen flood` splits a load (flood_plan.c)
 * and merges the summaries of its shards (flood_report.c):
 *   - shards take disjoint connection numbers whose union is the whole;
 *   - header sources are a bijection of the connection number: no two
 *     connections alike, addresses before ports, IPv4 and IPv6;
 *   - roles, topics and what each subscriber expects add up to the load;
 *   - --shard I/N values;
 *   - --bind CIDR: the host addresses connections bind to in turn;
 *   - merged summaries: counts add up, percentiles are those of the
 *     merged histograms, and a summary survives its JSON.
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
#include <unistd.h>

#include "flood.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Source k as one number: address (low 64 bits) and port. */
static uint64_t source_key(const struct fl_plan *p, uint64_t k, uint64_t *addr_only)
{
	struct sockaddr_storage ss;
	uint64_t a = 0;
	const uint8_t *b;
	size_t n;
	uint16_t port;

	fl_source(p, k, &ss);
	if (ss.ss_family == AF_INET) {
		b = (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr;
		n = 4;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		b = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr + 8;
		n = 8;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	for (size_t i = 0; i < n; i++)
		a = a << 8 | b[i];
	assert_true(port >= 1024);
	*addr_only = a;
	return a << 16 | port;
}

static void test_shares(void **state)
{
	struct fl_plan p = { .connections = 1000, .shards = 7 };
	uint64_t total = 0, *seen = calloc(1000, sizeof(*seen));

	(void)state;
	assert_int_equal(fl_share(10, 0, 1), 10);
	assert_int_equal(fl_share(10, 0, 3), 4);
	assert_int_equal(fl_share(10, 1, 3), 3);
	assert_int_equal(fl_share(10, 2, 3), 3);
	assert_int_equal(fl_share(2, 2, 3), 0);
	for (p.shard = 0; p.shard < p.shards; p.shard++) {
		uint64_t n = fl_share(p.connections, p.shard, p.shards);

		total += n;
		for (uint64_t l = 0; l < n; l++) {
			uint64_t k = fl_global(&p, l);

			assert_true(k < p.connections);
			assert_int_equal(k % p.shards, p.shard);
			seen[k]++;
		}
	}
	assert_int_equal(total, 1000);
	for (uint64_t k = 0; k < 1000; k++)
		assert_int_equal(seen[k], 1);
	free(seen);
}

static void check_sources(const char *cidr, uint64_t count, bool addresses_distinct)
{
	struct net_cidr c;
	struct perr e;
	struct fl_plan p = { .seed = 42, .cidr = &c };
	uint64_t *all = calloc(count, sizeof(*all)), *addrs = calloc(count, sizeof(*addrs));

	assert_int_equal(net_cidr_parse(cidr, &c, &e), 0);
	for (uint64_t k = 0; k < count; k++) {
		struct sockaddr_storage ss;

		fl_source(&p, k, &ss);
		assert_true(net_cidr_match(&c, &ss));
		all[k] = source_key(&p, k, &addrs[k]);
	}
	qsort(all, count, sizeof(*all), cmp_u64);
	qsort(addrs, count, sizeof(*addrs), cmp_u64);
	for (uint64_t k = 1; k < count; k++) {
		if (all[k] == all[k - 1])
			fail_msg("%s: two connections with one source", cidr);
		if (addresses_distinct && addrs[k] == addrs[k - 1])
			fail_msg("%s: an address repeats below the number of addresses", cidr);
	}
	free(all);
	free(addrs);
}

static void test_sources(void **state)
{
	struct net_cidr c;
	struct perr e;
	struct fl_plan p = { .seed = 1, .cidr = &c };
	struct sockaddr_storage a, b;

	(void)state;
	check_sources("10.0.0.0/8", 20000, true);
	check_sources("192.0.2.0/24", 256, true);
	check_sources("192.0.2.0/24", 256 * 40, false);  /* ports make the difference */
	check_sources("192.0.2.7/32", 5000, false);
	check_sources("2001:db8::/32", 20000, true);
	check_sources("2001:db8::/120", 256 * 10, false);
	/* the seed shuffles; the same seed gives the same sources */
	assert_int_equal(net_cidr_parse("10.0.0.0/8", &c, &e), 0);
	fl_source(&p, 5, &a);
	fl_source(&p, 5, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	p.seed = 2;
	fl_source(&p, 5, &b);
	assert_memory_not_equal(&a, &b, sizeof(a));
}

static void test_roles_and_targets(void **state)
{
	struct fl_plan p = { .connections = 103, .subscribers = 10, .publish = true,
			     .messages = 7, .topics = 4, .shards = 1 };
	uint64_t expected = 0, pubs_per_topic[4] = { 0 }, subs_per_topic[4] = { 0 }, want = 0;

	(void)state;
	for (uint64_t k = 0; k < p.connections; k++) {
		enum fl_role r = fl_role(&p, k);

		assert_int_equal(r, k < 10 ? FR_SUB : FR_PUB);
		assert_int_equal(fl_topic(&p, k), k % 4);
		if (r == FR_SUB)
			subs_per_topic[k % 4]++;
		else
			pubs_per_topic[k % 4]++;
		expected += fl_sub_target(&p, k);
		if (r == FR_PUB)
			assert_int_equal(fl_sub_target(&p, k), 0);
	}
	for (int t = 0; t < 4; t++)
		want += subs_per_topic[t] * pubs_per_topic[t] * p.messages;
	assert_int_equal(expected, want);
	/* without a publish load, everyone only connects */
	p.publish = false;
	assert_int_equal(fl_role(&p, 0), FR_PLAIN);
	assert_int_equal(fl_sub_target(&p, 0), 0);
}

static void test_shard_parse(void **state)
{
	uint64_t i, n;
	struct perr e;

	(void)state;
	assert_int_equal(fl_shard_parse("0/1", 100, &i, &n, &e), 0);
	assert_int_equal(i, 0);
	assert_int_equal(n, 1);
	assert_int_equal(fl_shard_parse("2/3", 100, &i, &n, &e), 0);
	assert_int_equal(i, 2);
	assert_int_equal(n, 3);
	assert_int_equal(fl_shard_parse("3/3", 100, &i, &n, &e), -1);
	assert_non_null(strstr(e.msg, "must be below N (3)"));
	assert_int_equal(fl_shard_parse("1/0", 100, &i, &n, &e), -1);
	assert_non_null(strstr(e.msg, "N must be at least 1"));
	assert_int_equal(fl_shard_parse("1", 100, &i, &n, &e), -1);
	assert_non_null(strstr(e.msg, "expected I/N"));
	assert_int_equal(fl_shard_parse("x/3", 100, &i, &n, &e), -1);
	assert_non_null(strstr(e.msg, "I: "));
	assert_int_equal(fl_shard_parse("1/101", 100, &i, &n, &e), -1);
	assert_non_null(strstr(e.msg, "N: "));
}

/* --bind CIDR: how many hosts, and which address connection k binds. */
static void test_bind_hosts(void **state)
{
	static const struct {
		const char *cidr;
		uint32_t first, count;
		uint64_t k;
		const char *addr; /* of connection k */
	} cases[] = {
		{ "127.0.4.0/29", 1, 6, 0, "127.0.4.1" },      /* .0 and .7 left out */
		{ "127.0.4.0/29", 1, 6, 5, "127.0.4.6" },
		{ "127.0.4.0/29", 1, 6, 6, "127.0.4.1" },      /* in turn */
		{ "127.0.4.9/29", 1, 6, 1, "127.0.4.10" },     /* the network 127.0.4.8 */
		{ "10.1.0.0/24", 1, 254, 253, "10.1.0.254" },
		{ "10.1.0.0/24", 1, 254, 254, "10.1.0.1" },
		{ "10.0.0.0/16", 1, 65534, 300, "10.0.1.45" },
		{ "10.0.0.0/8", 1, 65536, 65535, "10.1.0.0" }, /* the first 65,536 */
		{ "10.0.0.0/8", 1, 65536, 65536, "10.0.0.1" },
		{ "192.0.2.6/31", 0, 2, 1, "192.0.2.7" },      /* two: both */
		{ "192.0.2.6/32", 0, 1, 9, "192.0.2.6" },
		{ "2001:db8::/126", 1, 3, 2, "2001:db8::3" },  /* IPv6: no broadcast */
		{ "2001:db8::/64", 1, 65536, 0, "2001:db8::1" },
		{ "::1/128", 0, 1, 4, "::1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_cidr c;
		struct perr e;
		struct sockaddr_storage ss;
		char buf[NET_IP_STRLEN];
		uint32_t first, count;

		assert_int_equal(net_cidr_parse(cases[i].cidr, &c, &e), 0);
		fl_bind_hosts(&c, &first, &count);
		if (first != cases[i].first || count != cases[i].count)
			fail_msg("%s: hosts %u from %u, want %u from %u", cases[i].cidr, count, first,
				 cases[i].count, cases[i].first);
		fl_bind_source(&c, first, count, cases[i].k, &ss);
		assert_true(net_cidr_match(&c, &ss));
		if (strcmp(net_ip_str(&ss, buf, sizeof(buf)), cases[i].addr) != 0)
			fail_msg("%s: connection %llu binds %s, want %s", cases[i].cidr,
				 (unsigned long long)cases[i].k, buf, cases[i].addr);
	}
}

/* A summary with some of everything; latencies from a seed. */
static void fake_result(struct fl_result *r, uint64_t shard, uint64_t seed)
{
	fl_result_init(r);
	snprintf(r->target, sizeof(r->target), "127.0.0.1:1883");
	snprintf(r->transport, sizeof(r->transport), "tcp");
	snprintf(r->header, sizeof(r->header), "v2");
	snprintf(r->mqtt, sizeof(r->mqtt), "3.1.1");
	r->shard = shard;
	r->shards = 3;
	r->connections = r->attempted = r->connacks = r->count[FK_OK] = 100 + shard;
	r->count[FK_TIMEOUT] = shard;
	r->connections_per_s = 1000.0;
	r->elapsed_s = 1.0 + (double)shard;
	r->publish = true;
	r->msg.qos = 1;
	r->msg.payload_size = 64;
	r->msg.topics = 3;
	r->msg.messages = 10;
	r->publishers = 90;
	r->subscribers = 10 + shard;
	r->published = r->acknowledged = 900;
	r->expected = r->received = 300 * (shard + 1);
	r->cpu_user_s = 0.5;
	for (uint64_t i = 0; i < 5000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		hist_add(&r->connack_us, (seed >> 40) % 50000);
		hist_add(&r->latency_us, (seed >> 33) % (i % 10 ? 3000 : 900000));
	}
}

static void test_merge(void **state)
{
	static struct fl_result part[3], merged, all, back;
	static const double ps[] = { 50, 90, 99, 99.9, 100 };
	char path[] = "/tmp/ppmq-test-flood.XXXXXX";
	struct perr e;
	FILE *f;
	int fd;

	(void)state;
	for (int i = 0; i < 3; i++)
		fake_result(&part[i], (uint64_t)i, 7 + (uint64_t)i);
	merged = part[0];
	fl_result_merge(&merged, &part[1]);
	fl_result_merge(&merged, &part[2]);
	assert_int_equal(merged.merged, 3);
	assert_int_equal(merged.attempted, 303);
	assert_int_equal(merged.count[FK_OK], 303);
	assert_int_equal(merged.count[FK_TIMEOUT], 3);
	assert_int_equal(merged.received, 1800);
	assert_int_equal(merged.subscribers, 33);
	assert_true(merged.elapsed_s == 3.0);            /* the longest */
	assert_true(merged.connections_per_s == 3000.0); /* side by side: rates add up */
	hist_init(&all.latency_us);
	for (int i = 0; i < 3; i++)
		hist_merge(&all.latency_us, &part[i].latency_us);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		assert_int_equal(hist_percentile(&merged.latency_us, ps[i]),
				 hist_percentile(&all.latency_us, ps[i]));
	assert_int_equal(merged.latency_us.count, 15000);

	/* a shard's summary survives its JSON */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fl_print_json(&part[1], f);
	fclose(f);
	assert_int_equal(fl_result_read(path, &back, &e), 0);
	unlink(path);
	assert_int_equal(back.shard, 1);
	assert_int_equal(back.shards, 3);
	assert_int_equal(back.count[FK_TIMEOUT], 1);
	assert_int_equal(back.received, part[1].received);
	assert_int_equal(back.msg.messages, 10);
	assert_memory_equal(&back.latency_us, &part[1].latency_us, sizeof(back.latency_us));
	assert_memory_equal(&back.connack_us, &part[1].connack_us, sizeof(back.connack_us));

	assert_int_equal(fl_result_read("/nonexistent/x.json", &back, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/x.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_roles_and_targets),
		cmocka_unit_test(test_shard_parse),
		cmocka_unit_test(test_bind_hosts),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
