/* topic.c - see topic.h. */
#include "topic.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NODE_OF(l) ((struct topic_node *)(void *)((char *)(l) - offsetof(struct topic_node, link)))
#define WHOLE_SUBTREE SIZE_MAX   /* frame.pos: every node below, no more levels to match */

/* ---- walk stack: a few frames inline, the heap beyond ------------------- */

struct frame {
	struct topic_node *n;
	size_t pos;                     /* where the next level starts in the name */
};

struct stack {
	struct frame *f;
	size_t n, cap;
	struct frame local[32];
};

static void stack_init(struct stack *s)
{
	s->f = s->local;
	s->n = 0;
	s->cap = sizeof(s->local) / sizeof(s->local[0]);
}

static int push(struct stack *s, struct topic_node *n, size_t pos)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap * 2;
		struct frame *nf = malloc(ncap * sizeof(*nf));

		if (!nf)
			return -1;
		memcpy(nf, s->f, s->n * sizeof(*nf));
		if (s->f != s->local)
			free(s->f);
		s->f = nf;
		s->cap = ncap;
	}
	s->f[s->n].n = n;
	s->f[s->n].pos = pos;
	s->n++;
	return 0;
}

static void stack_free(struct stack *s)
{
	if (s->f != s->local)
		free(s->f);
}

/* ---- nodes --------------------------------------------------------------- */

/* End of the level that starts at pos (the '/' after it, or len). */
static size_t level_end(const char *name, size_t len, size_t pos)
{
	const char *slash = memchr(name + pos, '/', len - pos);

	return slash ? (size_t)(slash - name) : len;
}

struct level {
	const char *p;
	size_t len;
};

static bool same_level(const struct htab_link *l, const void *key)
{
	const struct topic_node *k = NODE_OF(l);
	const struct level *lv = key;

	return k->len == lv->len && memcmp(k->level, lv->p, lv->len) == 0;
}

static struct topic_node *kid(const struct topic_node *n, const char *lvl, size_t len, size_t h)
{
	struct level key = { lvl, len };
	struct htab_link *l = htab_find(&n->kids, h, same_level, &key);

	return l ? NODE_OF(l) : NULL;
}

static struct topic_node *kid_str(const struct topic_node *n, const char *lvl, size_t len)
{
	return kid(n, lvl, len, htab_hash(lvl, len));
}

static struct topic_node *node_new(struct topic_tree *t, struct topic_node *parent,
				   const char *lvl, size_t len, size_t h)
{
	struct topic_node *n = calloc(1, sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	memcpy(n->level, lvl, len);
	n->len = len;
	n->parent = parent;
	if (parent) {
		if (htab_add(&parent->kids, &n->link, h) < 0) {
			free(n);
			return NULL;
		}
		t->nodes++;
	}
	return n;
}

static void node_free(struct topic_tree *t, struct topic_node *n)
{
	if (n->parent) {
		htab_del(&n->parent->kids, &n->link);
		t->nodes--;
	}
	htab_free(&n->kids);
	free(n);
}

int topic_tree_init(struct topic_tree *t)
{
	t->nodes = 0;
	t->root = node_new(t, NULL, "", 0, 0);
	return t->root ? 0 : -1;
}

void topic_tree_free(struct topic_tree *t, void (*free_val)(void *val, void *ctx), void *ctx)
{
	struct htab_link *todo;

	if (!t->root)
		return;
	/* A list of nodes still to free, threaded through their links: no
	 * recursion and no allocation, whatever the shape of the tree. */
	todo = &t->root->link;
	todo->next = NULL;
	while (todo) {
		struct topic_node *n = NODE_OF(todo);
		struct htab_link *kids = htab_take_all(&n->kids);

		todo = todo->next;
		if (kids) {
			struct htab_link *last = kids;

			while (last->next)
				last = last->next;
			last->next = todo;
			todo = kids;
		}
		if (n->val && free_val)
			free_val(n->val, ctx);
		free(n);
	}
	t->root = NULL;
	t->nodes = 0;
}

struct topic_node *topic_find(const struct topic_tree *t, const char *name, size_t len)
{
	struct topic_node *n = t->root;

	for (size_t pos = 0; n && pos <= len;) {
		size_t e = level_end(name, len, pos);

		n = kid_str(n, name + pos, e - pos);
		pos = e + 1;
	}
	return n;
}

struct topic_node *topic_add(struct topic_tree *t, const char *name, size_t len)
{
	struct topic_node *n = t->root;

	for (size_t pos = 0; pos <= len;) {
		size_t e = level_end(name, len, pos);
		size_t h = htab_hash(name + pos, e - pos);
		struct topic_node *k = kid(n, name + pos, e - pos, h);

		if (!k)
			k = node_new(t, n, name + pos, e - pos, h);
		if (!k) {
			topic_prune(t, n);
			return NULL;
		}
		n = k;
		pos = e + 1;
	}
	return n;
}

void topic_prune(struct topic_tree *t, struct topic_node *n)
{
	while (n && n->parent && !n->val && n->kids.n == 0) {
		struct topic_node *p = n->parent;

		node_free(t, n);
		n = p;
	}
}

/* ---- walks --------------------------------------------------------------- */

static void report(struct topic_node *n, topic_fn fn, void *ctx)
{
	if (n && n->val)
		fn(n, ctx);
}

/* One walk: the tree, what is asked, where to report, the stack. */
struct walk {
	const struct topic_tree *t;
	const char *q;
	size_t len;
	topic_fn fn;
	void *ctx;
	struct stack s;
	int rc;                         /* -1 once a push failed */
};

static void wpush(struct walk *w, struct topic_node *n, size_t pos)
{
	if (n && push(&w->s, n, pos) < 0)
		w->rc = -1;
}

static int walk_run(struct walk *w, void (*step)(struct walk *w, struct frame f))
{
	stack_init(&w->s);
	w->rc = 0;
	wpush(w, w->t->root, 0);
	while (w->s.n) {
		w->s.n--;
		step(w, w->s.f[w->s.n]);
	}
	stack_free(&w->s);
	return w->rc;
}

/* Filters in the tree, a name asked. */
static void match_step(struct walk *w, struct frame f)
{
	size_t e;

	if (f.pos > w->len) {
		/* Every level matched: the filter itself, and "#" below it
		 * ("a/#" matches "a"). */
		report(f.n, w->fn, w->ctx);
		report(kid_str(f.n, "#", 1), w->fn, w->ctx);
		return;
	}
	e = level_end(w->q, w->len, f.pos);
	if (!(w->len > 0 && w->q[0] == '$' && f.n == w->t->root)) {
		report(kid_str(f.n, "#", 1), w->fn, w->ctx);
		wpush(w, kid_str(f.n, "+", 1), e + 1);
	}
	wpush(w, kid_str(f.n, w->q + f.pos, e - f.pos), e + 1);
}

int topic_match(const struct topic_tree *t, const char *topic, size_t len, topic_fn fn, void *ctx)
{
	struct walk w = { .t = t, .q = topic, .len = len, .fn = fn, .ctx = ctx };

	return walk_run(&w, match_step);
}

/* Push every child of n (at the root, not the '$' ones when a wildcard
 * asks: it matches no $-name in the first level). */
static void push_kids(struct walk *w, struct topic_node *n, size_t pos, bool wildcard)
{
	struct htab_link *l = NULL;
	size_t i = 0;

	while ((l = htab_next(&n->kids, &i, l))) {
		struct topic_node *k = NODE_OF(l);

		if (!(wildcard && n == w->t->root && k->len > 0 && k->level[0] == '$'))
			wpush(w, k, pos);
	}
}

/* Names in the tree, a filter asked. */
static void search_step(struct walk *w, struct frame f)
{
	const char *lvl;
	size_t e;

	/* No pointer into the filter before f.pos is known to be in it:
	 * WHOLE_SUBTREE is no position, and q + pos past its end is not
	 * defined in C. */
	if (f.pos == WHOLE_SUBTREE) {
		report(f.n, w->fn, w->ctx);
		push_kids(w, f.n, WHOLE_SUBTREE, false);
		return;
	}
	if (f.pos > w->len) {
		report(f.n, w->fn, w->ctx);
		return;
	}
	lvl = w->q + f.pos;
	e = level_end(w->q, w->len, f.pos);
	if (e - f.pos == 1 && lvl[0] == '#') {
		report(f.n, w->fn, w->ctx);   /* "a/#" matches "a"; the root has no val */
		push_kids(w, f.n, WHOLE_SUBTREE, true);
	} else if (e - f.pos == 1 && lvl[0] == '+') {
		push_kids(w, f.n, e + 1, true);
	} else {
		wpush(w, kid_str(f.n, lvl, e - f.pos), e + 1);
	}
}

int topic_search(const struct topic_tree *t, const char *filter, size_t len, topic_fn fn, void *ctx)
{
	struct walk w = { .t = t, .q = filter, .len = len, .fn = fn, .ctx = ctx };

	return walk_run(&w, search_step);
}

size_t topic_name(const struct topic_node *n, char *buf, size_t cap)
{
	size_t total = 0, end;

	for (const struct topic_node *p = n; p->parent; p = p->parent)
		total += p->len + (p->parent->parent ? 1 : 0);
	if (cap)
		buf[0] = '\0';
	if (total >= cap)
		return total;
	end = total;
	buf[end] = '\0';
	for (const struct topic_node *p = n; p->parent; p = p->parent) {
		end -= p->len;
		memcpy(buf + end, p->level, p->len);
		if (p->parent->parent)
			buf[--end] = '/';
	}
	return total;
}
