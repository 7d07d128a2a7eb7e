/* test_broker_topic.c - the topic tree (broker/topic.c) and its hash table
 * (broker/htab.c): matching filters against a name, searching names with
 * a filter, both checked against lib/mqtt.c's mqtt_topic_match; adding
 * and removing leaves nothing behind (run under ASan or valgrind). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "mqtt.h"
#include "topic.h"

/* ---- helpers -------------------------------------------------------------- */

static int VAL = 1;   /* a val for the nodes that should carry one */

/* Names reached by a walk, sorted and joined with " | ". */
struct hits {
	char *names[256];
	size_t n;
};

static void hit(struct topic_node *n, void *ctx)
{
	struct hits *h = ctx;
	char buf[512];

	assert_ptr_equal(n->val, &VAL);
	assert_true(topic_name(n, buf, sizeof(buf)) < sizeof(buf));
	assert_true(h->n < 256);
	h->names[h->n++] = strdup(buf);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, joined; frees the names. Returns a static buffer. */
static const char *joined(struct hits *h)
{
	static char out[4096];
	size_t used = 0;

	qsort(h->names, h->n, sizeof(h->names[0]), cmp);
	out[0] = '\0';
	for (size_t i = 0; i < h->n; i++) {
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? " | " : "",
					 h->names[i]);
		free(h->names[i]);
	}
	h->n = 0;
	return out;
}

static void add_all(struct topic_tree *t, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct topic_node *x = topic_add(t, names[i], strlen(names[i]));

		assert_non_null(x);
		x->val = &VAL;
	}
}

static void remove_all(struct topic_tree *t, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct topic_node *x = topic_find(t, names[i], strlen(names[i]));

		if (!x)
			continue;   /* a duplicate, removed already */
		x->val = NULL;
		topic_prune(t, x);
	}
	assert_int_equal(t->nodes, 0);
	assert_int_equal(t->root->kids.n, 0);
	assert_null(t->root->kids.b);
}

/* What the oracle says, in the same form as joined(). */
static const char *oracle(const char *const *set, size_t n, const char *q, bool q_is_topic)
{
	static char out[4096];
	const char *m[256];
	size_t k = 0, used = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < k; j++)
			dup |= strcmp(m[j], set[i]) == 0;
		if (dup)
			continue;
		if (q_is_topic ? mqtt_topic_match(set[i], q) : mqtt_topic_match(q, set[i]))
			m[k++] = set[i];
	}
	qsort(m, k, sizeof(m[0]), cmp);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? " | " : "", m[i]);
	return out;
}

/* ---- matching: filters in the tree, a topic name asked ------------------ */

static const char *const FILTERS[] = {
	"#", "+", "+/+", "/+", "+/", "/#", "a", "a/", "a/b", "a/+", "a/#", "a/+/#", "a/b/#",
	"a/+/c", "+/b/c", "a//c", "a/+/+", "$SYS/#", "$SYS/+", "$SYS", "+/monitor", "$x/+/z",
	"sport/tennis/player1/#", "sport/+/player1", "/", "//", "+/+/+", "", "a/b/c/d/e/f",
};

/* A question and its answer: the names (filters) reached, sorted, " | ". */
struct qa {
	const char *q;
	const char *want;
};

static const struct qa MATCHES[] = {
	{ "a", "# | + | a | a/#" },
	{ "a/b", "# | +/+ | a/# | a/+ | a/+/# | a/b | a/b/#" },
	{ "a/b/c", "# | +/+/+ | +/b/c | a/# | a/+/# | a/+/+ | a/+/c | a/b/#" },
	{ "a//c", "# | +/+/+ | a/# | a/+/# | a/+/+ | a/+/c | a//c" },
	{ "/a", "# | +/+ | /# | /+" },
	{ "a/", "# | +/ | +/+ | a/ | a/# | a/+ | a/+/#" },
	{ "/", "# | +/ | +/+ | / | /# | /+" },
	{ "//", "# | +/+/+ | /# | //" },
	{ "$SYS", "$SYS | $SYS/#" },
	{ "$SYS/broker", "$SYS/# | $SYS/+" },
	{ "$SYS/monitor", "$SYS/# | $SYS/+" },
	{ "$x/y/z", "$x/+/z" },
	{ "b/monitor", "# | +/+ | +/monitor" },
	{ "sport/tennis/player1", "# | +/+/+ | sport/+/player1 | sport/tennis/player1/#" },
	{ "sport/tennis/player1/ranking", "# | sport/tennis/player1/#" },
	{ "a/b/c/d/e/f", "# | a/# | a/+/# | a/b/# | a/b/c/d/e/f" },
	{ "x", "# | +" },
	{ "$", "" },
};

/* Each question asked of a tree holding set: match (topic names asked
 * of filters) or search (filters asked of names); the answers are also
 * what the oracle says. */
static void check_table(const char *const *set, size_t nset, const struct qa *qa, size_t n,
			bool match)
{
	struct topic_tree t;
	struct hits h = { .n = 0 };

	assert_int_equal(topic_tree_init(&t), 0);
	add_all(&t, set, nset);
	for (size_t i = 0; i < n; i++) {
		const char *q = qa[i].q;
		const char *got;

		assert_string_equal(oracle(set, nset, q, match), qa[i].want);
		if (match)
			assert_int_equal(topic_match(&t, q, strlen(q), hit, &h), 0);
		else
			assert_int_equal(topic_search(&t, q, strlen(q), hit, &h), 0);
		got = joined(&h);
		if (strcmp(got, qa[i].want) != 0)
			fail_msg("'%s': got '%s', want '%s'", q, got, qa[i].want);
	}
	if (!match) {
		/* A name without val (an inner node) is not reported. */
		topic_find(&t, "a/b", 3)->val = NULL;
		assert_int_equal(topic_search(&t, "a/+", 3, hit, &h), 0);
		assert_string_equal(joined(&h), "a/");
		topic_find(&t, "a/b", 3)->val = &VAL;
	}
	remove_all(&t, set, nset);
	topic_tree_free(&t, NULL, NULL);
}

static void test_match_table(void **state)
{
	(void)state;
	check_table(FILTERS, sizeof(FILTERS) / sizeof(FILTERS[0]), MATCHES,
		    sizeof(MATCHES) / sizeof(MATCHES[0]), true);
}

/* ---- searching: names in the tree, a filter asked (retained) ------------ */

static const char *const NAMES[] = {
	"a", "a/b", "a/b/c", "a//c", "/a", "a/", "/", "//", "$SYS", "$SYS/broker",
	"$SYS/broker/load", "$x", "b/monitor", "sport/tennis/player1",
	"sport/tennis/player1/ranking", "sport/golf/player1", "x",
};

static const struct qa SEARCHES[] = {
	{ "#", "/ | // | /a | a | a/ | a//c | a/b | a/b/c | b/monitor | sport/golf/player1 | "
	       "sport/tennis/player1 | sport/tennis/player1/ranking | x" },
	{ "+", "a | x" },
	{ "+/+", "/ | /a | a/ | a/b | b/monitor" },
	{ "a/#", "a | a/ | a//c | a/b | a/b/c" },
	{ "a/+", "a/ | a/b" },
	{ "a/+/c", "a//c | a/b/c" },
	{ "+/+/+", "// | a//c | a/b/c | sport/golf/player1 | sport/tennis/player1" },
	{ "/#", "/ | // | /a" },
	{ "/+", "/ | /a" },
	{ "$SYS/#", "$SYS | $SYS/broker | $SYS/broker/load" },
	{ "$SYS/+", "$SYS/broker" },
	{ "+/broker", "" },
	{ "sport/+/player1", "sport/golf/player1 | sport/tennis/player1" },
	{ "sport/tennis/player1/#", "sport/tennis/player1 | sport/tennis/player1/ranking" },
	{ "a/b", "a/b" },
	{ "nothing/here", "" },
	{ "$x", "$x" },
};

static void test_search_table(void **state)
{
	(void)state;
	check_table(NAMES, sizeof(NAMES) / sizeof(NAMES[0]), SEARCHES,
		    sizeof(SEARCHES) / sizeof(SEARCHES[0]), false);
}

/* ---- random cross-check against mqtt_topic_match ------------------------ */

static void random_name(char *buf, size_t cap, bool filter)
{
	static const char *const lv[] = { "a", "b", "", "$s", "c" };
	int levels = 1 + rand() % 4;
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < levels; i++) {
		const char *l = lv[rand() % 5];
		int r = rand() % 6;

		if (i > 0 && l[0] == '$')
			l = "d";                      /* '$' only means something first */
		if (levels == 1 && !*l)
			l = "e";                      /* "" is neither a name nor a filter */
		if (filter && r == 0)
			l = "+";
		if (filter && r == 1 && i == levels - 1)
			l = "#";
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "/" : "", l);
	}
}

static void test_random_against_oracle(void **state)
{
	enum { NS = 60, ROUNDS = 400 };
	static char filters[NS][64], names[NS][64];
	const char *fp[NS], *np[NS];
	struct topic_tree ft, nt;
	struct hits h = { .n = 0 };
	int nonempty = 0;
	(void)state;

	srand(12345);
	for (int i = 0; i < NS; i++) {
		random_name(filters[i], sizeof(filters[i]), true);
		random_name(names[i], sizeof(names[i]), false);
		assert_true(mqtt_topic_filter_valid(filters[i], strlen(filters[i])));
		fp[i] = filters[i];
		np[i] = names[i];
	}
	assert_int_equal(topic_tree_init(&ft), 0);
	assert_int_equal(topic_tree_init(&nt), 0);
	add_all(&ft, fp, NS);
	add_all(&nt, np, NS);
	for (int r = 0; r < ROUNDS; r++) {
		char q[64];
		char want[4096];

		random_name(q, sizeof(q), false);
		snprintf(want, sizeof(want), "%s", oracle(fp, NS, q, true));
		nonempty += want[0] != '\0';
		assert_int_equal(topic_match(&ft, q, strlen(q), hit, &h), 0);
		assert_string_equal(joined(&h), want);
		random_name(q, sizeof(q), true);
		snprintf(want, sizeof(want), "%s", oracle(np, NS, q, false));
		nonempty += want[0] != '\0';
		assert_int_equal(topic_search(&nt, q, strlen(q), hit, &h), 0);
		assert_string_equal(joined(&h), want);
	}
	assert_true(nonempty > ROUNDS);        /* most questions have answers */
	remove_all(&ft, fp, NS);
	remove_all(&nt, np, NS);
	topic_tree_free(&ft, NULL, NULL);
	topic_tree_free(&nt, NULL, NULL);
}

/* ---- memory: shapes that stress the walks and the pruning ---------------- */

static void count(struct topic_node *n, void *ctx)
{
	(void)n;
	++*(size_t *)ctx;
}

static void free_val(void *val, void *ctx)
{
	free(val);
	++*(size_t *)ctx;
}

/* 20,000 levels deep: walks and frees need no recursion. */
static void test_deep(void **state)
{
	enum { DEPTH = 20000 };
	char *name = malloc(DEPTH * 2);
	struct topic_tree t;
	struct topic_node *n;
	size_t c = 0;
	(void)state;

	for (int i = 0; i < DEPTH; i++) {
		name[2 * i] = 'x';
		name[2 * i + 1] = '/';
	}
	name[DEPTH * 2 - 1] = '\0';
	assert_int_equal(topic_tree_init(&t), 0);
	n = topic_add(&t, name, strlen(name));
	assert_non_null(n);
	n->val = &VAL;
	assert_int_equal(t.nodes, DEPTH);
	assert_int_equal(topic_match(&t, name, strlen(name), count, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(topic_search(&t, "#", 1, count, &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(topic_search(&t, "x/#", 3, count, &c), 0);
	assert_int_equal(c, 3);
	/* Freed with the tree (no val callback needed for &VAL). */
	topic_tree_free(&t, NULL, NULL);
	free(name);
}

/* 30,000 children of one node, then every other one removed, then all:
 * the children's table grows and shrinks; nothing is left. */
static void test_wide_add_remove(void **state)
{
	enum { N = 30000 };
	struct topic_tree t;
	char name[32];
	size_t c = 0;
	(void)state;

	assert_int_equal(topic_tree_init(&t), 0);
	for (int i = 0; i < N; i++) {
		struct topic_node *n;

		snprintf(name, sizeof(name), "w/%d/x", i);
		n = topic_add(&t, name, strlen(name));
		assert_non_null(n);
		assert_null(n->val);
		n->val = malloc(8);
	}
	assert_int_equal(t.nodes, 1 + 2 * N);
	assert_int_equal(topic_search(&t, "w/+/x", 5, count, &c), 0);
	assert_int_equal(c, N);
	assert_int_equal(topic_match(&t, "w/77/x", 6, count, &c), 0);
	assert_int_equal(c, N + 1);
	for (int i = 0; i < N; i += 2) {
		struct topic_node *n;

		snprintf(name, sizeof(name), "w/%d/x", i);
		n = topic_find(&t, name, strlen(name));
		assert_non_null(n);
		free(n->val);
		n->val = NULL;
		topic_prune(&t, n);
		assert_null(topic_find(&t, name, strlen(name)));
		name[strlen(name) - 2] = '\0';
		assert_null(topic_find(&t, name, strlen(name)));
	}
	assert_int_equal(t.nodes, 1 + N);
	/* An inner node keeps its children when its own val goes. */
	{
		struct topic_node *w = topic_find(&t, "w", 1);

		w->val = malloc(8);
		free(w->val);
		w->val = NULL;
		topic_prune(&t, w);
		assert_ptr_equal(topic_find(&t, "w", 1), w);
	}
	/* The rest goes with the tree, vals through the callback. */
	c = 0;
	topic_tree_free(&t, free_val, &c);
	assert_int_equal(c, N / 2);
	assert_null(t.root);
}

static void test_find_add_name(void **state)
{
	struct topic_tree t;
	struct topic_node *a, *b;
	char buf[16];
	(void)state;

	assert_int_equal(topic_tree_init(&t), 0);
	assert_null(topic_find(&t, "a/b", 3));
	a = topic_add(&t, "a/b", 3);
	b = topic_add(&t, "a/b", 3);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(t.nodes, 2);
	assert_ptr_equal(topic_find(&t, "a/b", 3), a);
	assert_ptr_equal(topic_find(&t, "a/bc", 3), a);   /* len counts, not the NUL */
	assert_null(topic_find(&t, "a/b/", 4));
	assert_int_equal(topic_name(a, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "a/b");
	assert_int_equal(topic_name(a, buf, 3), 3);         /* does not fit: "" */
	assert_string_equal(buf, "");
	b = topic_add(&t, "/", 1);
	assert_int_equal(topic_name(b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "/");
	/* A node without val prunes at once; a pruned path is gone. */
	topic_prune(&t, a);
	topic_prune(&t, b);
	assert_int_equal(t.nodes, 0);
	topic_tree_free(&t, NULL, NULL);
}

/* ---- the hash table alone -------------------------------------------------- */

struct ent {
	struct htab_link link;
	int key;
};

static bool same_key(const struct htab_link *l, const void *key)
{
	return ((const struct ent *)l)->key == *(const int *)key;
}

static size_t count_all(const struct htab *t)
{
	struct htab_link *l = NULL;
	size_t pos = 0, n = 0;

	while ((l = htab_next(t, &pos, l)))
		n++;
	return n;
}

/* Grows and shrinks a few buckets per change: every entry is found, and
 * walked, at every step of a move. */
static void test_htab(void **state)
{
	enum { N = 5000 };
	struct ent *e = calloc(N, sizeof(*e));
	struct htab t = { 0 };
	struct htab_link *all;
	size_t seen, moving = 0;
	(void)state;

	srand(99);
	for (int i = 0; i < N; i++) {
		int j = rand() % (i + 1);

		e[i].key = i;
		assert_int_equal(htab_add(&t, &e[i].link, htab_hash(&e[i].key, sizeof(int))), 0);
		assert_ptr_equal(htab_find(&t, htab_hash(&j, sizeof(j)), same_key, &j), &e[j].link);
		if (t.old) {
			moving++;
			assert_int_equal(count_all(&t), t.n);
		}
	}
	assert_true(moving > 100);                 /* moves were seen in progress */
	assert_int_equal(t.n, N);
	assert_true(t.cap >= N);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(htab_find(&t, htab_hash(&i, sizeof(i)), same_key, &i), &e[i].link);
	for (int i = 0; i < N - 10; i++) {
		int j = i + 1 + rand() % (N - i - 1);

		htab_del(&t, &e[i].link);
		assert_null(htab_find(&t, htab_hash(&i, sizeof(i)), same_key, &i));
		assert_ptr_equal(htab_find(&t, htab_hash(&j, sizeof(j)), same_key, &j), &e[j].link);
		if (t.old && i % 97 == 0)
			assert_int_equal(count_all(&t), t.n);
	}
	assert_int_equal(t.n, 10);
	assert_true(t.cap <= 128);                 /* shrank (from 8192) */
	all = htab_take_all(&t);
	for (seen = 0; all; all = all->next)
		seen++;
	assert_int_equal(seen, 10);
	assert_int_equal(t.n, 0);
	assert_null(t.b);
	assert_null(t.old);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_search_table),
		cmocka_unit_test(test_random_against_oracle),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_wide_add_remove),
		cmocka_unit_test(test_find_add_name),
		cmocka_unit_test(test_htab),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
