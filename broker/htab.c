/* htab.c - see htab.h.
 *
 * Resizing: a new bucket array is made and the old one kept; every add
 * and del then moves the entries of a few old buckets into the new one,
 * until none is left. Meanwhile an entry is in the old array when its old
 * bucket is not moved yet, in the new one otherwise. The table doubles
 * after as many adds as it has buckets, by which time the previous move
 * is long done; it halves at one entry per 8 buckets, and the dels that
 * follow move 32 (mostly empty) buckets each.
 */
#include "htab.h"

#include <stdint.h>
#include <stdlib.h>

#define HTAB_MIN  4
#define MOVE_STEP 4      /* buckets moved by an add: a doubling is done in half the adds before the next */
#define MOVE_STEP_DEL 32 /* by a del: a halving (old buckets 8 per entry) is done before the table empties */

size_t htab_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	size_t h = (size_t)(1469598103934665603ull & SIZE_MAX);

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= (size_t)1099511628211ull;
	}
	return h;
}

/* The bucket that holds (or would hold) an entry with hash. */
static struct htab_link **bucket(const struct htab *t, size_t hash)
{
	if (t->old) {
		size_t i = hash & (t->old_cap - 1);

		if (i >= t->moved)
			return &t->old[i];
	}
	return &t->b[hash & (t->cap - 1)];
}

/* Move the entries of up to n old buckets; the old array goes when empty. */
static void move_some(struct htab *t, size_t n)
{
	while (t->old && n-- > 0) {
		struct htab_link *l = t->old[t->moved];

		t->old[t->moved++] = NULL;
		while (l) {
			struct htab_link *nx = l->next;
			struct htab_link **b = &t->b[l->hash & (t->cap - 1)];

			l->next = *b;
			*b = l;
			l = nx;
		}
		if (t->moved == t->old_cap) {
			free(t->old);
			t->old = NULL;
			t->old_cap = t->moved = 0;
		}
	}
}

/* Start moving to ncap buckets (a move in progress is finished first). */
static int resize(struct htab *t, size_t ncap)
{
	struct htab_link **nb;

	move_some(t, SIZE_MAX);
	nb = calloc(ncap, sizeof(*nb));
	if (!nb)
		return -1;
	t->old = t->b;
	t->old_cap = t->cap;
	t->moved = 0;
	t->b = nb;
	t->cap = ncap;
	if (!t->old)
		t->old_cap = 0;
	return 0;
}

int htab_add(struct htab *t, struct htab_link *l, size_t hash)
{
	struct htab_link **b;

	if (t->n + 1 > t->cap && resize(t, t->cap ? t->cap * 2 : HTAB_MIN) < 0)
		return -1;
	move_some(t, MOVE_STEP);
	b = bucket(t, hash);
	l->hash = hash;
	l->next = *b;
	*b = l;
	t->n++;
	return 0;
}

void htab_del(struct htab *t, struct htab_link *l)
{
	struct htab_link **pp = bucket(t, l->hash);

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	l->next = NULL;
	t->n--;
	if (t->n == 0) {
		htab_free(t);
		return;
	}
	move_some(t, MOVE_STEP_DEL);
	/* Shrinking is an economy: when it cannot allocate, keep the array. */
	if (!t->old && t->cap > HTAB_MIN && t->n < t->cap / 8)
		resize(t, t->cap / 2);
}

struct htab_link *htab_find(const struct htab *t, size_t hash,
			    bool (*same)(const struct htab_link *l, const void *key), const void *key)
{
	if (!t->cap)
		return NULL;
	for (struct htab_link *l = *bucket(t, hash); l; l = l->next)
		if (l->hash == hash && same(l, key))
			return l;
	return NULL;
}

/* pos: the new array's buckets, then the old one's. */
struct htab_link *htab_next(const struct htab *t, size_t *pos, const struct htab_link *cur)
{
	if (cur && cur->next)
		return cur->next;
	if (cur)
		++*pos;
	for (; *pos < t->cap + t->old_cap; ++*pos) {
		struct htab_link *l = *pos < t->cap ? t->b[*pos] : t->old[*pos - t->cap];

		if (l)
			return l;
	}
	return NULL;
}

/* Push the entries of chain l onto the list all. */
static struct htab_link *chain_onto(struct htab_link *l, struct htab_link *all)
{
	while (l) {
		struct htab_link *nx = l->next;

		l->next = all;
		all = l;
		l = nx;
	}
	return all;
}

struct htab_link *htab_take_all(struct htab *t)
{
	struct htab_link *all = NULL;

	for (size_t i = 0; i < t->cap; i++)
		all = chain_onto(t->b[i], all);
	for (size_t i = 0; i < t->old_cap; i++)
		all = chain_onto(t->old[i], all);
	htab_free(t);
	return all;
}

void htab_free(struct htab *t)
{
	free(t->b);
	free(t->old);
	t->b = t->old = NULL;
	t->cap = t->n = t->old_cap = t->moved = 0;
}
