/* hist.h - a log-linear histogram of non-negative integers (latencies in
 * microseconds), in the manner of HdrHistogram:
 *
 *   - values 0..127 each have a bucket of their own (exact);
 *   - each power of two above, [2^k, 2^(k+1)) for k >= 7, is cut into 64
 *     equal buckets, so a bucket is never wider than 1/64 (1.6 %) of the
 *     values it holds;
 *   - values above HIST_MAX are counted as HIST_MAX (2^40 - 1: 12.7 days
 *     in microseconds).
 *
 * A histogram is a fixed array (HIST_NBUCKETS counts) plus the exact count,
 * sum, minimum and maximum; it allocates nothing. Two histograms merge by
 * adding their counts, so percentiles of a merged histogram are those of
 * all the values together, to the bucket's precision: this is how the
 * summaries of several `proxygen flood` processes are combined exactly.
 *
 * Percentiles are nearest-rank: the smallest value v such that at least
 * p % of the values are <= v, reported as the highest value of v's bucket
 * (never above the recorded maximum).
 */
#ifndef PPMQ_HIST_H
#define PPMQ_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HIST_SUB_BITS  6                               /* 64 buckets per power of two */
#define HIST_LINEAR    (1u << (HIST_SUB_BITS + 1))     /* 128 exact values */
#define HIST_MAX_BITS  40
#define HIST_MAX       ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_NBUCKETS  (HIST_LINEAR + (HIST_MAX_BITS - HIST_SUB_BITS - 1) * (HIST_LINEAR / 2))

struct hist {
	uint64_t count;
	uint64_t sum;               /* of the values as counted (at most HIST_MAX each) */
	uint64_t min, max;          /* 0 when empty */
	uint64_t b[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);

/* The bucket of v, and the lowest and highest value of bucket i. */
size_t hist_index(uint64_t v);
uint64_t hist_low(size_t i);
uint64_t hist_high(size_t i);

/* Add every value of from to into. */
void hist_merge(struct hist *into, const struct hist *from);

/* Add n values to the bucket [low, high] (a summary read back): 0, or -1
 * with *e set when [low, high] is not one of the buckets. count and sum
 * grow by n and n * low; set min, max and sum afterwards from the
 * summary, which has them exact. */
int hist_add_bucket(struct hist *h, uint64_t low, uint64_t high, uint64_t n,
		    struct perr *e);

/* Nearest-rank percentile, 0 < p <= 100 (to 0.0001): the rank is
 * ceil(count * p / 100), in integers. 0 when the histogram is empty. */
uint64_t hist_percentile(const struct hist *h, double p);
/* Mean of the values; 0.0 when empty. */
double hist_mean(const struct hist *h);

#endif
