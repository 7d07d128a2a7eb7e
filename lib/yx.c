/* yx.c - see yx.h. */
#include "yx.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena -------------------------------------------------------------- */

struct yx_block {
	struct yx_block *next;
	size_t used, cap;
	max_align_t data[];
};

#define YX_BLOCK 16384

void *yx_alloc(struct yx_arena *a, size_t n)
{
	struct yx_block *b = a->head;
	size_t need = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	unsigned char *p;

	if (need == 0)
		need = sizeof(max_align_t);
	if (!b || b->cap - b->used < need) {
		size_t cap = need > YX_BLOCK ? need : YX_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	p = (unsigned char *)b->data + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

char *yx_memdup(struct yx_arena *a, const void *p, size_t n)
{
	char *s = yx_alloc(a, n + 1);

	if (s && n)
		memcpy(s, p, n);
	return s;
}

char *yx_strdup(struct yx_arena *a, const char *s)
{
	return s ? yx_memdup(a, s, strlen(s)) : NULL;
}

void yx_arena_free(struct yx_arena *a)
{
	struct yx_block *b = a->head;

	while (b) {
		struct yx_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
}

/* ---- documents ---------------------------------------------------------- */

static int yx_parse(struct yx_doc *d, yaml_parser_t *p, struct perr *e)
{
	yaml_node_t *root;

	if (!yaml_parser_load(p, &d->doc)) {
		perr_set(e, "%s:%lu:%lu: YAML syntax: %s%s%s", d->file,
			 (unsigned long)p->problem_mark.line + 1,
			 (unsigned long)p->problem_mark.column + 1,
			 p->problem ? p->problem : "error",
			 p->context ? " " : "", p->context ? p->context : "");
		return -1;
	}
	d->loaded = true;
	root = yaml_document_get_root_node(&d->doc);
	if (!root)
		return perr_set(e, "%s: empty document", d->file);
	return 0;
}

int yx_load(struct yx_doc *d, const char *path, struct yx_arena *a, struct perr *e)
{
	yaml_parser_t p;
	FILE *f;
	int rc;

	memset(&d->doc, 0, sizeof(d->doc));
	d->loaded = false;
	d->expand_env = false;
	d->file = yx_strdup(a, path);
	if (!d->file)
		return perr_set(e, "out of memory");
	f = fopen(path, "rb");
	if (!f)
		return perr_errno(e, "%s", path);
	if (!yaml_parser_initialize(&p)) {
		fclose(f);
		return perr_set(e, "out of memory");
	}
	yaml_parser_set_input_file(&p, f);
	rc = yx_parse(d, &p, e);
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

int yx_load_string(struct yx_doc *d, const char *name, const char *text,
		   struct yx_arena *a, struct perr *e)
{
	yaml_parser_t p;
	int rc;

	memset(&d->doc, 0, sizeof(d->doc));
	d->loaded = false;
	d->expand_env = false;
	d->file = yx_strdup(a, name);
	if (!d->file)
		return perr_set(e, "out of memory");
	if (!yaml_parser_initialize(&p))
		return perr_set(e, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	rc = yx_parse(d, &p, e);
	yaml_parser_delete(&p);
	return rc;
}

void yx_free(struct yx_doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = false;
}

yaml_node_t *yx_root(struct yx_doc *d)
{
	return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

bool yx_is_map(const yaml_node_t *n) { return n && n->type == YAML_MAPPING_NODE; }
bool yx_is_seq(const yaml_node_t *n) { return n && n->type == YAML_SEQUENCE_NODE; }
bool yx_is_scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }

bool yx_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

size_t yx_count(const yaml_node_t *n)
{
	if (yx_is_seq(n))
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (yx_is_map(n))
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

yaml_node_t *yx_item(struct yx_doc *d, yaml_node_t *seq, size_t i)
{
	if (!yx_is_seq(seq) || i >= yx_count(seq))
		return NULL;
	return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

const char *yx_pair(struct yx_doc *d, yaml_node_t *map, size_t i, yaml_node_t **value)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	*value = NULL;
	if (!yx_is_map(map) || i >= yx_count(map))
		return NULL;
	p = map->data.mapping.pairs.start + i;
	k = yaml_document_get_node(&d->doc, p->key);
	*value = yaml_document_get_node(&d->doc, p->value);
	if (!yx_is_scalar(k))
		return "";
	return (const char *)k->data.scalar.value;
}

yaml_node_t *yx_get(struct yx_doc *d, yaml_node_t *map, const char *key)
{
	size_t i, n = yx_count(map);

	if (!yx_is_map(map))
		return NULL;
	/* Last one wins, as in most YAML readers; duplicates are refused by
	 * yx_check_keys. */
	for (i = n; i-- > 0;) {
		yaml_node_t *v;
		const char *k = yx_pair(d, map, i, &v);

		if (k && !strcmp(k, key))
			return v;
	}
	return NULL;
}

int yx_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

int yx_err(struct yx_doc *d, const yaml_node_t *n, struct perr *e, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return perr_set(e, "%s:%lu:%lu: %s", d->file,
				(unsigned long)n->start_mark.line + 1,
				(unsigned long)n->start_mark.column + 1, msg);
	return perr_set(e, "%s: %s", d->file, msg);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64];

	if (lb >= 63 || la >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (tolower((unsigned char)a[i - 1]) !=
					      tolower((unsigned char)b[j - 1]));

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *yx_closest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t bestd = 99, i;

	for (i = 0; candidates[i]; i++) {
		size_t dist = edit_distance(word, candidates[i]);

		if (dist < bestd) {
			bestd = dist;
			best = candidates[i];
		}
	}
	if (!best || bestd > 2 + strlen(word) / 4)
		return NULL;
	return best;
}

int yx_want_map(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e)
{
	if (!yx_is_map(n))
		return yx_err(d, n, e, "%s: expected a mapping (key: value)", ctx);
	return 0;
}

int yx_want_seq(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e)
{
	if (!yx_is_seq(n))
		return yx_err(d, n, e, "%s: expected a list", ctx);
	return 0;
}

int yx_check_keys(struct yx_doc *d, yaml_node_t *map, const char *const *allowed,
		  const char *ctx, struct perr *e)
{
	size_t i, j, n = yx_count(map);

	if (yx_want_map(d, map, ctx, e) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		yaml_node_t *v;
		const char *k = yx_pair(d, map, i, &v);
		yaml_node_t *kn = yaml_document_get_node(&d->doc,
							 map->data.mapping.pairs.start[i].key);
		bool ok = false;

		for (j = 0; allowed[j]; j++)
			if (!strcmp(k, allowed[j]))
				ok = true;
		if (!ok) {
			const char *near = yx_closest(k, allowed);

			if (near)
				return yx_err(d, kn, e, "%s: unknown key '%s' (did you mean '%s'?)",
					      ctx, k, near);
			return yx_err(d, kn, e, "%s: unknown key '%s'", ctx, k);
		}
		for (j = 0; j < i; j++) {
			yaml_node_t *v2;

			if (!strcmp(k, yx_pair(d, map, j, &v2)))
				return yx_err(d, kn, e, "%s: key '%s' given twice", ctx, k);
		}
	}
	return 0;
}

int yx_str(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	   char **out, size_t *len, struct perr *e)
{
	char *s;

	if (!yx_is_scalar(n))
		return yx_err(d, n, e, "%s: expected a single value", ctx);
	if (d->expand_env) {
		struct perr pe;

		s = yx_expand_env(a, (const char *)n->data.scalar.value, &pe);
		if (!s)
			return yx_err(d, n, e, "%s: %s", ctx, pe.msg);
		if (len)
			*len = strlen(s);
	} else {
		s = yx_memdup(a, n->data.scalar.value, n->data.scalar.length);
		if (!s)
			return perr_set(e, "out of memory");
		if (len)
			*len = n->data.scalar.length;
	}
	*out = s;
	return 0;
}

int yx_long(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, long min, long max,
	    const char *ctx, long *out, struct perr *e)
{
	char *s, *end;
	long v;

	if (yx_str(d, n, a, ctx, &s, NULL, e) < 0)
		return -1;
	errno = 0;
	v = strtol(s, &end, 0);
	if (!*s || *end || errno)
		return yx_err(d, n, e, "%s: '%s' is not a number", ctx, s);
	if (v < min || v > max)
		return yx_err(d, n, e, "%s: %ld is out of range (%ld..%ld)", ctx, v, min, max);
	*out = v;
	return 0;
}

int yx_bool(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	    bool *out, struct perr *e)
{
	char *s;

	if (yx_str(d, n, a, ctx, &s, NULL, e) < 0)
		return -1;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") ||
	    !strcmp(s, "1"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
		 !strcmp(s, "0"))
		*out = false;
	else
		return yx_err(d, n, e, "%s: '%s' is not true or false", ctx, s);
	return 0;
}

int yx_strlist(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	       char ***out, size_t *count, struct perr *e)
{
	char **v;
	size_t i, k = 0, cap;

	if (yx_is_seq(n)) {
		cap = yx_count(n);
		v = yx_alloc(a, (cap + 1) * sizeof(*v));
		if (!v)
			return perr_set(e, "out of memory");
		for (i = 0; i < cap; i++)
			if (yx_str(d, yx_item(d, n, i), a, ctx, &v[k++], NULL, e) < 0)
				return -1;
	} else {
		char *s, *tok, *save = NULL;

		if (yx_str(d, n, a, ctx, &s, NULL, e) < 0)
			return -1;
		cap = strlen(s) / 2 + 1;
		v = yx_alloc(a, (cap + 1) * sizeof(*v));
		if (!v)
			return perr_set(e, "out of memory");
		for (tok = strtok_r(s, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
			v[k++] = tok;
	}
	*out = v;
	*count = k;
	return 0;
}

/* ---- environment -------------------------------------------------------- */

char *yx_expand_env(struct yx_arena *a, const char *s, struct perr *e)
{
	size_t cap = strlen(s) + 1, n = 0;
	char *buf = malloc(cap), *res;
	const char *p = s;

	if (!buf) {
		perr_set(e, "out of memory");
		return NULL;
	}
#define PUT(str, l) do { \
		size_t l_ = (l); \
		if (n + l_ + 1 > cap) { \
			char *nb; \
			cap = (n + l_ + 1) * 2; \
			nb = realloc(buf, cap); \
			if (!nb) { free(buf); perr_set(e, "out of memory"); return NULL; } \
			buf = nb; \
		} \
		memcpy(buf + n, (str), l_); \
		n += l_; \
	} while (0)
	while (*p) {
		if (p[0] == '$' && p[1] == '$') {
			PUT("$", 1);
			p += 2;
		} else if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			const char *colon;
			char name[128];
			size_t nl;
			const char *val;

			if (!end) {
				free(buf);
				perr_set(e, "unterminated '${' in '%s'", s);
				return NULL;
			}
			colon = memchr(p + 2, ':', (size_t)(end - p - 2));
			nl = (size_t)((colon ? colon : end) - (p + 2));
			if (nl == 0 || nl >= sizeof(name)) {
				free(buf);
				perr_set(e, "bad variable name in '%s'", s);
				return NULL;
			}
			memcpy(name, p + 2, nl);
			name[nl] = '\0';
			val = getenv(name);
			if ((!val || !*val) && colon)
				PUT(colon + 1, (size_t)(end - colon - 1));
			else if (val)
				PUT(val, strlen(val));
			p = end + 1;
		} else {
			PUT(p, 1);
			p++;
		}
	}
#undef PUT
	buf[n] = '\0';
	res = yx_memdup(a, buf, n);
	free(buf);
	if (!res)
		perr_set(e, "out of memory");
	return res;
}
