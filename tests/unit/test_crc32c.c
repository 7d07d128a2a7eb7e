/* test_crc32c.c - CRC32C (Castagnoli) as the PROXY v2 CRC32C TLV uses it:
 * published check values (RFC 3720 appendix B.4), incremental use, and
 * agreement with a bitwise reference written here independently of
 * lib/pp_crc32c.c. Every check runs on both ways: the tables
 * (pp_crc32c_table) and pp_crc32c, which takes the CPU's instruction where
 * there is one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pp.h"

/* One bit at a time, reflected polynomial 0x82F63B78 (RFC 4960 appendix B). */
static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

typedef uint32_t (*crc_fn)(uint32_t crc, const void *data, size_t len);

/* The ways to compute it: the tables, and pp_crc32c's own choice. */
static const struct way {
	const char *name;
	crc_fn fn;
} ways[] = {
	{"tables", pp_crc32c_table},
	{"pp_crc32c", pp_crc32c},
};
#define NWAYS (sizeof(ways) / sizeof(ways[0]))

static uint32_t rng = 2463534242u;

static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (uint8_t)rng;
}

/* RFC 3720 B.4: an iSCSI Read (10) command PDU. */
static const uint8_t iscsi_read[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void test_vectors(void **state)
{
	uint8_t buf[32];
	(void)state;

	for (size_t w = 0; w < NWAYS; w++) {
		crc_fn crc = ways[w].fn;

		assert_int_equal(crc(0, "123456789", 9), 0xE3069283u);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(crc(0, buf, 32), 0x8A9136AAu);
		memset(buf, 0xFF, sizeof(buf));
		assert_int_equal(crc(0, buf, 32), 0x62A8AB43u);
		for (int i = 0; i < 32; i++)
			buf[i] = (uint8_t)i;
		assert_int_equal(crc(0, buf, 32), 0x46DD794Eu);
		for (int i = 0; i < 32; i++)
			buf[i] = (uint8_t)(31 - i);
		assert_int_equal(crc(0, buf, 32), 0x113FDB5Cu);
		assert_int_equal(crc(0, iscsi_read, sizeof(iscsi_read)), 0xD9963A56u);
		/* empty input leaves the value unchanged */
		assert_int_equal(crc(0, "", 0), 0);
		assert_int_equal(crc(0x12345678u, "", 0), 0x12345678u);
	}
}

static void test_incremental(void **state)
{
	uint8_t buf[1000];
	(void)state;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = rnd8();
	for (size_t w = 0; w < NWAYS; w++) {
		crc_fn crc = ways[w].fn;
		uint32_t whole = crc(0, buf, sizeof(buf));

		assert_int_equal(whole, crc_bitwise(buf, sizeof(buf)));
		/* every split in two, and byte by byte */
		for (size_t k = 0; k <= sizeof(buf); k++)
			assert_int_equal(crc(crc(0, buf, k), buf + k, sizeof(buf) - k), whole);
		uint32_t c = 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			c = crc(c, buf + i, 1);
		assert_int_equal(c, whole);
		/* every length at every alignment against the reference */
		for (size_t at = 0; at < 8; at++)
			for (size_t n = 0; n <= 300; n++)
				assert_int_equal(crc(0, buf + at, n), crc_bitwise(buf + at, n));
	}
}

/* Both ways agree on random inputs, offsets and starting values. */
static void test_ways_agree(void **state)
{
	uint8_t buf[4096];
	(void)state;

	if (!pp_crc32c_hw_available())
		print_message("# no crc32 instruction here: pp_crc32c takes the tables too\n");
	for (int round = 0; round < 2000; round++) {
		size_t at = rnd8() % 16, n = ((size_t)rnd8() << 4 | rnd8()) % (sizeof(buf) - 16);
		uint32_t seed = (uint32_t)rnd8() << 24 | (uint32_t)rnd8() << 8 | rnd8();

		for (size_t i = 0; i < n; i++)
			buf[at + i] = rnd8();
		assert_int_equal(pp_crc32c(seed, buf + at, n), pp_crc32c_table(seed, buf + at, n));
	}
}

/* The v2 rule: CRC over the whole header with the CRC field zeroed. */
static void test_header_rule(void **state)
{
	struct pp_header h;
	struct pp_build_opts o;
	uint8_t out[128];
	int n;
	(void)state;

	pp_header_init(&h, 2, PP_CMD_LOCAL);
	memset(&o, 0, sizeof(o));
	o.crc32c = true;
	n = pp_build(&h, &o, out, sizeof(out), NULL);
	assert_int_equal(n, 23);
	uint32_t sent = (uint32_t)out[19] << 24 | (uint32_t)out[20] << 16 |
			(uint32_t)out[21] << 8 | out[22];
	memset(out + 19, 0, 4);
	assert_int_equal(sent, crc_bitwise(out, 23));
	assert_int_equal(sent, 0xA9B87E8Fu);
}

/* pp_crc32c_zeroed, the parser's check in one call, against the
 * reference over a copy with the 4 bytes zeroed, at every place in every
 * length up to 200 (on a CPU without the instruction it chains the tables
 * the way this test does, so both ways are checked there). */
static void test_zeroed(void **state)
{
	static const uint8_t zero4[4];
	uint8_t buf[208], copy[208];
	(void)state;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = rnd8();
	for (size_t len = 4; len <= 200; len++) {
		for (size_t at = 0; at + 4 <= len; at++) {
			uint32_t c;

			memcpy(copy, buf, len);
			memset(copy + at, 0, 4);
			c = pp_crc32c_table(pp_crc32c_table(0, buf, at), zero4, 4);
			c = pp_crc32c_table(c, buf + at + 4, len - at - 4);
			assert_int_equal(c, crc_bitwise(copy, len));
			assert_int_equal(pp_crc32c_zeroed(buf, len, at), c);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_ways_agree),
		cmocka_unit_test(test_header_rule),
		cmocka_unit_test(test_zeroed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
