/* htab.c - see htab.h. */
#include "htab.h"

#include <stdint.h>
#include <stdlib.h>

#define HTAB_MIN 4

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

/* Move every entry to a new array of ncap buckets (0: no array). */
static int rehash(struct htab *t, size_t ncap)
{
	struct htab_link **nb = NULL;

	if (ncap) {
		nb = calloc(ncap, sizeof(*nb));
		if (!nb)
			return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		struct htab_link *l = t->b[i];

		while (l) {
			struct htab_link *nx = l->next;
			size_t k = l->hash & (ncap - 1);

			l->next = nb[k];
			nb[k] = l;
			l = nx;
		}
	}
	free(t->b);
	t->b = nb;
	t->cap = ncap;
	return 0;
}

int htab_add(struct htab *t, struct htab_link *l, size_t hash)
{
	size_t k;

	if (t->n + 1 > t->cap && rehash(t, t->cap ? t->cap * 2 : HTAB_MIN) < 0)
		return -1;
	k = hash & (t->cap - 1);
	l->hash = hash;
	l->next = t->b[k];
	t->b[k] = l;
	t->n++;
	return 0;
}

void htab_del(struct htab *t, struct htab_link *l)
{
	struct htab_link **pp = &t->b[l->hash & (t->cap - 1)];

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	l->next = NULL;
	t->n--;
	/* Shrinking is an economy: when it cannot allocate, keep the array. */
	if (t->n == 0)
		rehash(t, 0);
	else if (t->cap > HTAB_MIN && t->n < t->cap / 8)
		rehash(t, t->cap / 2);
}

struct htab_link *htab_chain(const struct htab *t, size_t hash)
{
	return t->cap ? t->b[hash & (t->cap - 1)] : NULL;
}

struct htab_link *htab_next(const struct htab *t, size_t *pos, const struct htab_link *cur)
{
	if (cur && cur->next)
		return cur->next;
	if (cur)
		++*pos;
	for (; *pos < t->cap; ++*pos)
		if (t->b[*pos])
			return t->b[*pos];
	return NULL;
}

struct htab_link *htab_take_all(struct htab *t)
{
	struct htab_link *all = NULL;

	for (size_t i = 0; i < t->cap; i++) {
		struct htab_link *l = t->b[i];

		while (l) {
			struct htab_link *nx = l->next;

			l->next = all;
			all = l;
			l = nx;
		}
	}
	htab_free(t);
	return all;
}

void htab_free(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->cap = t->n = 0;
}
