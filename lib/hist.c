/* hist.c - log-linear histogram, see hist.h. */
#include "hist.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#define HALF (HIST_LINEAR / 2)    /* buckets per power of two */

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

size_t hist_index(uint64_t v)
{
	unsigned k, shift;

	if (v > HIST_MAX)
		v = HIST_MAX;
	if (v < HIST_LINEAR)
		return (size_t)v;
	k = 63u - (unsigned)__builtin_clzll(v);        /* 2^k <= v, k >= SUB_BITS + 1 */
	shift = k - HIST_SUB_BITS;
	return HIST_LINEAR + (size_t)(k - HIST_SUB_BITS - 1) * HALF +
	       (size_t)((v >> shift) - HALF);
}

uint64_t hist_low(size_t i)
{
	size_t j;
	unsigned shift;

	if (i < HIST_LINEAR)
		return i;
	j = i - HIST_LINEAR;
	shift = (unsigned)(j / HALF) + 1;
	return (uint64_t)(HALF + j % HALF) << shift;
}

uint64_t hist_high(size_t i)
{
	if (i < HIST_LINEAR)
		return i;
	return hist_low(i) + (UINT64_C(1) << ((i - HIST_LINEAR) / HALF + 1)) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	if (v > HIST_MAX)
		v = HIST_MAX;
	h->b[hist_index(v)]++;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	if (from->count == 0)
		return;
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		into->b[i] += from->b[i];
	if (into->count == 0 || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->count += from->count;
	into->sum += from->sum;
}

int hist_add_bucket(struct hist *h, uint64_t low, uint64_t high, uint64_t n, struct perr *e)
{
	size_t i = hist_index(low);

	if (low > HIST_MAX || hist_low(i) != low || hist_high(i) != high)
		return perr_set(e, "[%" PRIu64 ", %" PRIu64 "] is not a bucket of the histogram "
				"(%u buckets per power of two)", low, high, HALF);
	h->b[i] += n;
	h->count += n;
	h->sum += n * low;
	return 0;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	/* rank = ceil(count * p / 100) in integers: p in parts per million */
	uint64_t ppm = (uint64_t)llround(p * 10000.0), q = h->count / 1000000,
		 r = h->count % 1000000, rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = q * ppm + (r * ppm + 999999) / 1000000;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_high(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
