/* htab.h - an intrusive chained hash table. Entries embed a struct
 * htab_link and keep their own key; the table holds links and hashes,
 * and the caller says what equal keys are:
 *
 *   struct htab_link *l = htab_find(&t, htab_hash(key, len), same_key, key);
 *
 * The bucket array grows with the entries (at most one per bucket on
 * average) and shrinks when most of them are gone; an empty table holds
 * no memory. Resizing is spread over the following changes (a few
 * buckets moved by each add or del), so that no single operation walks
 * the whole table, whatever its size. No allocation per entry.
 */
#ifndef PPMQ_BROKER_HTAB_H
#define PPMQ_BROKER_HTAB_H

#include <stdbool.h>
#include <stddef.h>

struct htab_link {
	struct htab_link *next;
	size_t hash;
};

struct htab {
	struct htab_link **b;
	size_t cap, n;           /* buckets (0 or a power of two), entries */
	struct htab_link **old;  /* while resizing: the previous buckets, */
	size_t old_cap, moved;   /* ... of which the first `moved` are empty */
};

/* FNV-1a of len bytes. */
size_t htab_hash(const void *key, size_t len);

/* Add l (not in any table) with hash. Returns 0, or -1 when the table
 * cannot grow (l is then not added). */
int htab_add(struct htab *t, struct htab_link *l, size_t hash);
/* Remove l, which must be in t. */
void htab_del(struct htab *t, struct htab_link *l);

/* The entry with hash for which same(entry, key) holds, or NULL. */
struct htab_link *htab_find(const struct htab *t, size_t hash,
			    bool (*same)(const struct htab_link *l, const void *key), const void *key);

/* Every entry, in no particular order: *pos starts at 0 with cur NULL;
 * returns the entry after cur, or NULL at the end. The table must not
 * change meanwhile. */
struct htab_link *htab_next(const struct htab *t, size_t *pos, const struct htab_link *cur);

/* Empty the table and return its entries as one list (through next),
 * NULL when there were none: for freeing them all. */
struct htab_link *htab_take_all(struct htab *t);

/* Release the bucket arrays (entries are the caller's). */
void htab_free(struct htab *t);

#endif
