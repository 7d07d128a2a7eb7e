/* test_crc32c.c - CRC32C (Castagnoli) as the PROXY v2 CRC32C TLV uses it:
 * published check values, incremental use, and agreement with a bitwise
 * reference written here independently of the table in lib/pp.c.
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

static void test_vectors(void **state)
{
	uint8_t buf[32];
	(void)state;

	assert_int_equal(pp_crc32c(0, "123456789", 9), 0xE3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pp_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(pp_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(pp_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(pp_crc32c(0, buf, 32), 0x113FDB5Cu);
	/* empty input leaves the value unchanged */
	assert_int_equal(pp_crc32c(0, "", 0), 0);
	assert_int_equal(pp_crc32c(0x12345678u, "", 0), 0x12345678u);
}

static void test_incremental(void **state)
{
	uint8_t buf[1000];
	uint32_t x = 2463534242u;
	(void)state;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	uint32_t whole = pp_crc32c(0, buf, sizeof(buf));
	assert_int_equal(whole, crc_bitwise(buf, sizeof(buf)));
	/* every split in two, and byte by byte */
	for (size_t k = 0; k <= sizeof(buf); k++)
		assert_int_equal(pp_crc32c(pp_crc32c(0, buf, k), buf + k, sizeof(buf) - k), whole);
	uint32_t c = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		c = pp_crc32c(c, buf + i, 1);
	assert_int_equal(c, whole);
	/* every length against the reference */
	for (size_t n = 0; n <= 300; n++)
		assert_int_equal(pp_crc32c(0, buf + 7, n), crc_bitwise(buf + 7, n));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_header_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
