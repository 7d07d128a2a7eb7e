/* test_hex.c - lib/hex: the value of every byte as a hex digit, and bytes
 * written as hex text (the form TLVs, received bytes and reports show).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hex.h"

static void test_digit(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		int want = -1;

		if (c >= '0' && c <= '9')
			want = c - '0';
		else if (c >= 'a' && c <= 'f')
			want = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			want = c - 'A' + 10;
		assert_int_equal(hex_digit(c), want);
	}
	assert_int_equal(hex_digit(-1), -1);
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit(' '), -1);
	assert_int_equal(hex_digit(':'), -1);
}

static void test_encode(void **state)
{
	static const uint8_t b[] = { 0x00, 0x0d, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(b) + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	hex_encode(b, sizeof(b), out);
	assert_string_equal(out, "000d7f80abff");

	/* Nothing to write: the empty string, and no read of p. */
	memset(out, 'x', sizeof(out));
	hex_encode(NULL, 0, out);
	assert_string_equal(out, "");

	/* Exactly 2n + 1 bytes written. */
	memset(out, 'x', sizeof(out));
	hex_encode(b, 2, out);
	assert_memory_equal(out, "000d\0xxxxxxxx", 13);
}

static void test_round_trip(void **state)
{
	uint8_t b[256];
	char out[2 * sizeof(b) + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)i;
	hex_encode(b, sizeof(b), out);
	assert_int_equal(strlen(out), 2 * sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(hex_digit(out[2 * i]) << 4 | hex_digit(out[2 * i + 1]), b[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digit),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
