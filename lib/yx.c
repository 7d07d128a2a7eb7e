/* yx.c - see yx.h. */
#include "yx.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int syntax_err(const struct yx_doc *d, const yaml_parser_t *p, struct perr *e)
{
	return perr_set(e, "%s:%lu:%lu: YAML syntax: %s%s%s", d->file,
			(unsigned long)p->problem_mark.line + 1,
			(unsigned long)p->problem_mark.column + 1,
			p->problem ? p->problem : "error",
			p->context ? " " : "", p->context ? p->context : "");
}

/* One document only: a second one would be silently ignored. */
static int only_one(const struct yx_doc *d, yaml_parser_t *p, struct perr *e)
{
	yaml_document_t next;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(p, &next))
		return syntax_err(d, p, e);
	root = yaml_document_get_root_node(&next);
	if (root)
		rc = yx_err(d, root, e, "only one YAML document is allowed");
	yaml_document_delete(&next);
	return rc;
}

static int yx_parse(struct yx_doc *d, yaml_parser_t *p, unsigned flags, struct perr *e)
{
	yaml_node_t *root;

	if (!yaml_parser_load(p, &d->doc))
		return syntax_err(d, p, e);
	d->loaded = true;
	root = yaml_document_get_root_node(&d->doc);
	if (root && only_one(d, p, e) < 0)
		return -1;
	if (!(flags & YX_EMPTY_OK) && (!root || (yx_is_scalar(root) && yx_is_null(root))))
		return perr_set(e, "%s: empty document", d->file);
	return 0;
}

static int doc_init(struct yx_doc *d, const char *name, struct yx_arena *a,
		    yaml_parser_t *p, struct perr *e)
{
	memset(d, 0, sizeof(*d));
	d->file = yx_strdup(a, name);
	if (!d->file || !yaml_parser_initialize(p))
		return perr_set(e, "out of memory");
	return 0;
}

int yx_load(struct yx_doc *d, const char *path, struct yx_arena *a, unsigned flags,
	    struct perr *e)
{
	yaml_parser_t p;
	FILE *f;
	int rc;

	if (doc_init(d, path, a, &p, e) < 0)
		return -1;
	f = fopen(path, "rb");
	if (!f) {
		rc = perr_errno(e, "%s", path);
		yaml_parser_delete(&p);
		return rc;
	}
	yaml_parser_set_input_file(&p, f);
	rc = yx_parse(d, &p, flags, e);
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

int yx_load_string(struct yx_doc *d, const char *name, const char *text,
		   struct yx_arena *a, unsigned flags, struct perr *e)
{
	yaml_parser_t p;
	int rc;

	if (doc_init(d, name, a, &p, e) < 0)
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	rc = yx_parse(d, &p, flags, e);
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
	yaml_node_t *root = d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;

	return root && yx_is_scalar(root) && yx_is_null(root) ? NULL : root;
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

yaml_node_t *yx_pair_key(struct yx_doc *d, yaml_node_t *map, size_t i)
{
	if (!yx_is_map(map) || i >= yx_count(map))
		return NULL;
	return yaml_document_get_node(&d->doc, map->data.mapping.pairs.start[i].key);
}

const char *yx_pair(struct yx_doc *d, yaml_node_t *map, size_t i, yaml_node_t **value)
{
	yaml_node_t *k = yx_pair_key(d, map, i);

	*value = NULL;
	if (!k)
		return NULL;
	*value = yaml_document_get_node(&d->doc, map->data.mapping.pairs.start[i].value);
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

const char *yx_where(const struct yx_doc *d, const yaml_node_t *n, char *buf, size_t cap)
{
	if (n)
		snprintf(buf, cap, "%s:%lu:%lu", d->file, (unsigned long)n->start_mark.line + 1,
			 (unsigned long)n->start_mark.column + 1);
	else
		snprintf(buf, cap, "%s", d->file);
	return buf;
}

int yx_err(const struct yx_doc *d, const yaml_node_t *n, struct perr *e, const char *fmt, ...)
{
	char msg[400], where[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr_set(e, "%s: %s", yx_where(d, n, where, sizeof(where)), msg);
}

/* ---- keys ----------------------------------------------------------------- */

/* Levenshtein distance, ignoring case; large for words too long to matter. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[128];

	if (lb >= 127 || la >= 127)
		return 999;
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
	size_t bestd = 999, i;

	for (i = 0; candidates[i]; i++) {
		size_t dist = edit_distance(word, candidates[i]);

		if (dist < bestd) {
			bestd = dist;
			best = candidates[i];
		}
	}
	/* A wild guess helps nobody: only near misses. */
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

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
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
		yaml_node_t *kn = yx_pair_key(d, map, i);

		if (!in_list(k, allowed)) {
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

/* ---- typed values ----------------------------------------------------------- */

int yx_scalar(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	      char **out, size_t *len, struct yx_env_use *use, struct perr *e)
{
	struct yx_env_use none;
	char *s;

	if (!use)
		use = &none;
	memset(use, 0, sizeof(*use));
	if (!yx_is_scalar(n))
		return yx_err(d, n, e, "%s: expected a single value", ctx);
	if (d->expand_env) {
		struct perr pe;

		s = yx_expand_env(a, (const char *)n->data.scalar.value, use, &pe);
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

int yx_str(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	   char **out, size_t *len, struct perr *e)
{
	return yx_scalar(d, n, a, ctx, out, len, NULL, e);
}

int yx_long(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, long min, long max,
	    const char *ctx, long *out, struct perr *e)
{
	struct yx_env_use use;
	char *s, *end, note[100];
	long v;

	if (yx_scalar(d, n, a, ctx, &s, NULL, &use, e) < 0)
		return -1;
	yx_env_note(&use, note, sizeof(note));
	errno = 0;
	v = strtol(s, &end, 0);
	if (!*s || *end || errno)
		return yx_err(d, n, e, "%s: '%s'%s is not a number", ctx, s, note);
	if (v < min || v > max)
		return yx_err(d, n, e, "%s: %ld%s is out of range (%ld..%ld)", ctx, v, note, min, max);
	*out = v;
	return 0;
}

int yx_bool(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	    bool *out, struct perr *e)
{
	struct yx_env_use use;
	char *s, note[100];

	if (yx_scalar(d, n, a, ctx, &s, NULL, &use, e) < 0)
		return -1;
	if (yx_parse_bool(s, out) < 0)
		return yx_err(d, n, e, "%s: '%s'%s is not a boolean (true/false/yes/no/1/0)", ctx, s,
			      yx_env_note(&use, note, sizeof(note)));
	return 0;
}

int yx_duration(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, unsigned long min_ms,
		unsigned long max_ms, const char *ctx, unsigned long *out, struct perr *e)
{
	struct yx_env_use use;
	struct perr pe;
	char *s, note[100];

	if (yx_scalar(d, n, a, ctx, &s, NULL, &use, e) < 0)
		return -1;
	if (yx_parse_duration_ms(s, min_ms, max_ms, out, &pe) < 0)
		return yx_err(d, n, e, "%s: %s%s", ctx, pe.msg, yx_env_note(&use, note, sizeof(note)));
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

/* ---- text ------------------------------------------------------------------- */

/* References nest in defaults at most this deep. */
#define YX_ENV_DEPTH 8

struct xp {
	char *buf;
	size_t len, cap;
	struct yx_env_use *use;
	struct perr *e;
};

static int xp_put(struct xp *x, const char *s, size_t n)
{
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 64;
		char *p;

		while (cap < x->len + n + 1)
			cap *= 2;
		p = realloc(x->buf, cap);
		if (!p)
			return perr_set(x->e, "out of memory");
		x->buf = p;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, s, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return 0;
}

static bool env_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The '}' closing the reference that starts at p ("${"), past nested
 * references and $$; NULL when there is none. */
static const char *ref_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (p[0] == '$' && (p[1] == '$' || p[1] == '{')) {
			depth += p[1] == '{';
			p++;
		} else if (*p == '}' && --depth == 0) {
			return p;
		}
	}
	return NULL;
}

static void use_note(char *dst, size_t cap, const char *name)
{
	if (!dst[0])
		snprintf(dst, cap, "%s", name);
}

static int xp_span(struct xp *x, const char *s, const char *end, int depth);

/* One reference at p; *next is what follows it. */
static int xp_ref(struct xp *x, const char *p, int depth, const char **next)
{
	const char *name = p + 2, *q = name, *close = NULL, *val;
	char var[128];
	size_t nl;

	while (env_char(*q))
		q++;
	nl = (size_t)(q - name);
	if (*q == ':')
		close = ref_end(p);
	else if (*q == '}')
		close = q;
	if (!*q || (*q == ':' && !close))
		return perr_set(x->e, "unterminated placeholder '%.40s'", p);
	if (nl == 0 || nl >= sizeof(var) || !close)
		return perr_set(x->e, "bad placeholder '%.40s': expected ${NAME} or ${NAME:default}", p);
	memcpy(var, name, nl);
	var[nl] = '\0';
	use_note(x->use->first, sizeof(x->use->first), var);
	*next = close + 1;
	val = getenv(var);
	if (val && *val) {
		use_note(x->use->set, sizeof(x->use->set), var);
		return xp_put(x, val, strlen(val));
	}
	if (*q != ':') {
		use_note(x->use->unset, sizeof(x->use->unset), var);
		return 0;
	}
	if (depth >= YX_ENV_DEPTH)
		return perr_set(x->e, "placeholders nested too deep in '%.40s'", p);
	return xp_span(x, q + 1, close, depth + 1);
}

/* Expand s..end into x. */
static int xp_span(struct xp *x, const char *s, const char *end, int depth)
{
	while (s < end) {
		const char *d = memchr(s, '$', (size_t)(end - s));

		if (!d)
			return xp_put(x, s, (size_t)(end - s));
		if (xp_put(x, s, (size_t)(d - s)) < 0)
			return -1;
		if (d + 1 < end && d[1] == '$') {
			if (xp_put(x, "$", 1) < 0)
				return -1;
			s = d + 2;
		} else if (d + 1 < end && d[1] == '{') {
			if (xp_ref(x, d, depth, &s) < 0)
				return -1;
		} else {
			if (xp_put(x, "$", 1) < 0)
				return -1;
			s = d + 1;
		}
	}
	return 0;
}

char *yx_expand_env(struct yx_arena *a, const char *s, struct yx_env_use *use, struct perr *e)
{
	struct yx_env_use none;
	struct xp x = { .use = use ? use : &none, .e = e };
	char *res = NULL;

	memset(x.use, 0, sizeof(*x.use));
	if (xp_put(&x, "", 0) == 0 && xp_span(&x, s, s + strlen(s), 0) == 0) {
		res = yx_memdup(a, x.buf, x.len);
		if (!res)
			perr_set(e, "out of memory");
	}
	free(x.buf);
	return res;
}

const char *yx_env_note(const struct yx_env_use *use, char *buf, size_t cap)
{
	if (use && use->set[0])
		snprintf(buf, cap, " (from env %s)", use->set);
	else if (use && use->unset[0])
		snprintf(buf, cap, " (${%s} is unset)", use->unset);
	else if (cap)
		buf[0] = '\0';
	return buf;
}

int yx_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "true", "yes", "1" };
	static const char *const f[] = { "false", "no", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* ms in the largest unit that divides it: "1h", "90s", "1500ms". */
static const char *ms_text(unsigned long ms, char *buf, size_t cap)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, cap, "%luh", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, cap, "%lum", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, cap, "%lus", ms / 1000);
	else
		snprintf(buf, cap, "%lums", ms);
	return buf;
}

int yx_parse_duration_ms(const char *s, unsigned long min_ms, unsigned long max_ms,
			 unsigned long *ms, struct perr *e)
{
	static const struct { const char *unit; unsigned long mul; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	};
	char lo[24], hi[24];
	unsigned long v = 0, mul = 0;
	size_t n = 0;

	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		if (v > (ULONG_MAX - 9) / 10)
			return perr_set(e, "'%s' is out of range (%s..%s)", s,
					ms_text(min_ms, lo, sizeof(lo)), ms_text(max_ms, hi, sizeof(hi)));
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0)
		return perr_set(e, "'%s' is not a duration (e.g. 3s, 500ms, 3000)", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s + n, units[i].unit) == 0)
			mul = units[i].mul;
	if (!mul)
		return perr_set(e, "'%s' is not a duration (e.g. 3s, 500ms, 3000): unknown unit '%s'",
				s, s + n);
	if (v > max_ms / mul || v * mul < min_ms)
		return perr_set(e, "'%s' is out of range (%s..%s)", s,
				ms_text(min_ms, lo, sizeof(lo)), ms_text(max_ms, hi, sizeof(hi)));
	*ms = v * mul;
	return 0;
}
