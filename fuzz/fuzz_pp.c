/* fuzz_pp.c - libFuzzer harness for the PROXY protocol parser.
 *
 * For several maximum lengths, parses the input and every prefix of it
 * (each copied to a buffer of exactly that size, so that AddressSanitizer
 * sees any read past the end) and checks what a caller relies on:
 *   - the result is PP_NEED_MORE, PP_INVALID with a reason and a message,
 *     or a length within the bytes given and the maximum;
 *   - prefixes are consistent: "need more" until a decision, then the
 *     same decision (same length, or same reason and offset) for every
 *     longer prefix;
 *   - a decoded v2 PROXY header rebuilds to the same bytes.
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void rebuild(const uint8_t *buf, const struct pp_header *h)
{
	uint8_t out[PP_V2_MAX_LEN];
	struct pp_header c;
	int n;

	if (h->version != 2 || h->command != PP_CMD_PROXY || h->src.ss_family == 0)
		return;
	c = *h;
	n = pp_build(&c, NULL, out, sizeof(out), NULL);
	check(n == (int)h->len);
	check(memcmp(out, buf, h->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {16, 64, 107, 4096, PP_V2_MAX_LEN};
	struct pp_parse_opts o;
	struct pp_header h;
	struct pp_error e, first;

	pp_detect(data, size);
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		int decided = 0, whole;

		pp_parse_opts_init(&o);
		o.max_len = maxes[m];
		o.verify_crc32c = size == 0 || (data[0] & 1);
		whole = pp_parse(data, size, &o, &h, &e);
		check(whole >= PP_INVALID && (size_t)(whole > 0 ? whole : 0) <= size);
		if (whole > 0) {
			check(h.len == (size_t)whole && h.len <= maxes[m]);
			check(h.version == 1 || h.version == 2);
			check(h.ntlv <= PP_MAX_TLVS);
			rebuild(data, &h);
		} else if (whole == PP_INVALID) {
			check(e.reason > PP_R_OK && e.reason < PP_R_COUNT && e.msg[0] != '\0');
		}
		/* every split: the first k bytes as all the receiver has */
		if (size > 2048)
			continue;
		for (size_t k = 0; k <= size; k++) {
			uint8_t *p = malloc(k ? k : 1);
			int r;

			if (!p)
				return 0;
			memcpy(p, data, k);
			r = pp_parse(p, k, &o, &h, &e);
			if (r == PP_NEED_MORE) {
				check(!decided);
			} else if (r == PP_INVALID) {
				if (!decided)
					first = e;
				else
					check(decided == -1 && e.reason == first.reason &&
					      e.offset == first.offset);
				decided = -1;
			} else {
				check(r > 0 && (size_t)r <= k);
				check(!decided || decided == r);
				decided = r;
			}
			free(p);
		}
		check(decided == 0 ? whole == PP_NEED_MORE :
		      decided == -1 ? whole == PP_INVALID : whole == decided);
	}
	return 0;
}
