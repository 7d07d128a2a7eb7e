/* acl.c - the access rules of security.acl_file (acl.h). */
#include "acl.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"
#include "net.h"

struct rule {
	bool allow;
	enum acl_op op;
	char *filter;            /* publish / subscribe; NULL for connect */
	size_t flen;
	char *user, *client;     /* fnmatch patterns; NULL: any */
	bool anonymous;          /* only clients without a user name */
	bool has_cidr;
	struct net_cidr cidr;
	char *text;              /* "file:line: the rule", for log lines */
};

struct acl {
	struct rule *v;
	size_t n;
	bool default_allow;
	const char *default_text;
};

/* ---- filters, level by level ------------------------------------------------ */

struct lv {
	const char *p, *end;
	bool done;
};

static bool lv_next(struct lv *it, const char **s, size_t *n)
{
	const char *q;

	if (it->done)
		return false;
	q = memchr(it->p, '/', (size_t)(it->end - it->p));
	*s = it->p;
	if (!q) {
		*n = (size_t)(it->end - it->p);
		it->done = true;
	} else {
		*n = (size_t)(q - it->p);
		it->p = q + 1;
	}
	return true;
}

static bool is_wild(const char *s, size_t n, char w)
{
	return n == 1 && s[0] == w;
}

/* A literal first level starting with '$' is out of reach of a first
 * level wildcard [MQTT-4.7.2-1]. */
static bool dollar(bool first, const char *s, size_t n)
{
	return first && n > 0 && s[0] == '$';
}

bool acl_filter_covers(const char *r, size_t rlen, const char *f, size_t flen)
{
	struct lv R = { r, r + rlen, false }, F = { f, f + flen, false };
	const char *rs = NULL, *fs = NULL;
	size_t rn = 0, fn = 0;

	for (bool first = true;; first = false) {
		bool hr = lv_next(&R, &rs, &rn), hf = lv_next(&F, &fs, &fn);

		if (hr && is_wild(rs, rn, '#'))
			return !(hf && dollar(first, fs, fn));
		if (!hr || !hf)
			return !hr && !hf;
		if (is_wild(fs, fn, '#'))
			return false;
		if (is_wild(rs, rn, '+')) {
			if (dollar(first, fs, fn))
				return false;
			continue;
		}
		if (is_wild(fs, fn, '+') || rn != fn || memcmp(rs, fs, rn) != 0)
			return false;
	}
}

bool acl_filter_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
	struct lv A = { a, a + alen, false }, B = { b, b + blen, false };
	const char *as = NULL, *bs = NULL;
	size_t an = 0, bn = 0;

	for (bool first = true;; first = false) {
		bool ha = lv_next(&A, &as, &an), hb = lv_next(&B, &bs, &bn);

		if (ha && is_wild(as, an, '#'))
			return !(hb && dollar(first, bs, bn));
		if (hb && is_wild(bs, bn, '#'))
			return !(ha && dollar(first, as, an));
		if (!ha || !hb)
			return !ha && !hb;
		if (is_wild(as, an, '+') && is_wild(bs, bn, '+'))
			continue;
		if (is_wild(as, an, '+')) {
			if (dollar(first, bs, bn))
				return false;
			continue;
		}
		if (is_wild(bs, bn, '+')) {
			if (dollar(first, as, an))
				return false;
			continue;
		}
		if (an != bn || memcmp(as, bs, an) != 0)
			return false;
	}
}

/* ---- matching ------------------------------------------------------------------ */

static bool rule_matches(const struct rule *r, const struct acl_who *who, enum acl_op op,
			 const char *topic, size_t len)
{
	if (r->op != op)
		return false;
	if (r->anonymous && who->user)
		return false;
	if (r->user && (!who->user || fnmatch(r->user, who->user, 0) != 0))
		return false;
	if (r->client && (!who->client_id || fnmatch(r->client, who->client_id, 0) != 0))
		return false;
	if (r->has_cidr && (!who->addr || !net_cidr_match(&r->cidr, who->addr)))
		return false;
	if (op == ACL_PUBLISH)
		return acl_filter_covers(r->filter, r->flen, topic, len);
	if (op == ACL_SUBSCRIBE)
		return r->allow ? acl_filter_covers(r->filter, r->flen, topic, len)
				: acl_filter_overlap(r->filter, r->flen, topic, len);
	return true;
}

bool acl_allows(const struct acl *a, const struct acl_who *who, enum acl_op op,
		const char *topic, size_t len, const char **rule)
{
	if (!a) {
		if (rule)
			*rule = "no ACL";
		return true;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (rule_matches(&a->v[i], who, op, topic, len)) {
			if (rule)
				*rule = a->v[i].text;
			return a->v[i].allow;
		}
	}
	if (rule)
		*rule = a->default_text;
	return a->default_allow;
}

size_t acl_count(const struct acl *a)
{
	return a ? a->n : 0;
}

/* ---- parsing --------------------------------------------------------------------- */

struct tok {
	const char *p;
	size_t n;
	int col;
};

#define MAX_TOKS 12

/* Split a line on blanks. Returns the count, or -1 when there are too many. */
static int tokens(const char *line, size_t len, struct tok *t)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t s;

		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == len)
			break;
		if (n == MAX_TOKS)
			return -1;
		s = i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		t[n].p = line + s;
		t[n].n = i - s;
		t[n].col = (int)s + 1;
		n++;
	}
	return n;
}

static bool tok_is(const struct tok *t, const char *w)
{
	return t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

static char *tok_dup(const struct tok *t)
{
	char *s = malloc(t->n + 1);

	if (s) {
		memcpy(s, t->p, t->n);
		s[t->n] = '\0';
	}
	return s;
}

static void rule_free(struct rule *r)
{
	free(r->filter);
	free(r->user);
	free(r->client);
	free(r->text);
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		rule_free(&a->v[i]);
	free(a->v);
	free(a);
}

struct pctx {
	const char *name;
	int line;
	struct perr *e;
};

/* "name:line:col: 'word<why>" (why closes the quote). */
static int perr_at(const struct pctx *x, const struct tok *t, const char *why)
{
	return perr_set(x->e, "%s:%d:%d: '%.*s%s", x->name, x->line, t->col, (int)t->n, t->p, why);
}

/* One condition (tokens t[0], t[1]); 0 or -1. */
static int parse_cond(const struct pctx *x, struct rule *r, const struct tok *t, int left)
{
	if (tok_is(&t[0], "anonymous")) {
		if (r->anonymous || r->user)
			return perr_at(x, &t[0], "' conflicts with another user condition of the rule");
		r->anonymous = true;
		return 1;
	}
	if (!tok_is(&t[0], "user") && !tok_is(&t[0], "client") && !tok_is(&t[0], "from"))
		return perr_at(x, &t[0], "' is not a condition (user NAME, client ID, from CIDR, anonymous)");
	if (left < 2)
		return perr_at(x, &t[0], "' needs a value");
	if (tok_is(&t[0], "from")) {
		char buf[64];
		struct perr pe;

		if (r->has_cidr)
			return perr_at(x, &t[0], "' is given twice in the rule");
		snprintf(buf, sizeof(buf), "%.*s", (int)t[1].n, t[1].p);
		if (t[1].n >= sizeof(buf) || net_cidr_parse(buf, &r->cidr, &pe) < 0)
			return perr_at(x, &t[1], "' is not an address or CIDR (192.0.2.0/24, 2001:db8::/32)");
		r->has_cidr = true;
		return 2;
	}
	{
		char **dst = tok_is(&t[0], "user") ? &r->user : &r->client;

		if (*dst || (dst == &r->user && r->anonymous))
			return perr_at(x, &t[0], "' is given twice in the rule");
		*dst = tok_dup(&t[1]);
		if (!*dst)
			return perr_set(x->e, "out of memory");
	}
	return 2;
}

/* One rule line (already split); 0 or -1. */
static int parse_rule(const struct pctx *x, struct acl *a, const char *line, size_t len,
		      const struct tok *t, int n)
{
	struct rule r;
	int i = 2;

	memset(&r, 0, sizeof(r));
	r.allow = tok_is(&t[0], "allow");
	if (n < 2)
		return perr_at(x, &t[0], "' needs an operation (connect, publish, subscribe)");
	if (tok_is(&t[1], "connect"))
		r.op = ACL_CONNECT;
	else if (tok_is(&t[1], "publish"))
		r.op = ACL_PUBLISH;
	else if (tok_is(&t[1], "subscribe"))
		r.op = ACL_SUBSCRIBE;
	else
		return perr_at(x, &t[1], "' is not an operation (connect, publish, subscribe)");
	if (r.op != ACL_CONNECT) {
		if (n < 3)
			return perr_at(x, &t[1], "' needs a topic filter");
		if (!mqtt_topic_filter_valid(t[2].p, t[2].n))
			return perr_at(x, &t[2], "' is not an MQTT topic filter");
		r.filter = tok_dup(&t[2]);
		r.flen = t[2].n;
		if (!r.filter)
			return perr_set(x->e, "out of memory");
		i = 3;
	}
	while (i < n) {
		int used = parse_cond(x, &r, &t[i], n - i);

		if (used < 0) {
			rule_free(&r);
			return -1;
		}
		i += used;
	}
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (asprintf(&r.text, "%s:%d: %.*s", x->name, x->line, (int)len, line) < 0) {
		r.text = NULL;
		rule_free(&r);
		return perr_set(x->e, "out of memory");
	}
	{
		struct rule *nv = realloc(a->v, (a->n + 1) * sizeof(*nv));

		if (!nv) {
			rule_free(&r);
			return perr_set(x->e, "out of memory");
		}
		a->v = nv;
		a->v[a->n++] = r;
	}
	return 0;
}

static int parse_line(struct pctx *x, struct acl *a, const char *line, size_t len, bool *seen_default)
{
	struct tok t[MAX_TOKS];
	size_t lead = strspn(line, " \t");
	int n;

	if (lead < len && line[lead] == '#')
		return 0;       /* a comment */
	n = tokens(line, len, t);
	if (n < 0)
		return perr_set(x->e, "%s:%d:1: too many words for a rule (at most %d)", x->name, x->line,
				MAX_TOKS);
	if (n == 0)
		return 0;
	if (tok_is(&t[0], "default")) {
		if (n != 2 || (!tok_is(&t[1], "allow") && !tok_is(&t[1], "deny")))
			return perr_at(x, n > 1 ? &t[1] : &t[0], "': default takes allow or deny, alone");
		if (*seen_default)
			return perr_at(x, &t[0], "' is given twice in the file");
		*seen_default = true;
		a->default_allow = tok_is(&t[1], "allow");
		a->default_text = a->default_allow ? "default allow" : "default deny";
		return 0;
	}
	if (!tok_is(&t[0], "allow") && !tok_is(&t[0], "deny"))
		return perr_at(x, &t[0], "' is not allow, deny or default");
	return parse_rule(x, a, line, len, t, n);
}

struct acl *acl_parse(const char *name, const char *text, struct perr *e)
{
	struct acl *a = calloc(1, sizeof(*a));
	struct pctx x = { name, 0, e };
	bool seen_default = false;

	if (!a) {
		perr_set(e, "out of memory");
		return NULL;
	}
	a->default_allow = true;
	a->default_text = "default allow";
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		x.line++;
		if (parse_line(&x, a, p, len, &seen_default) < 0)
			goto fail;
		p += len + (nl != NULL);
	}
	return a;
fail:
	acl_free(a);
	return NULL;
}

struct acl *acl_load(const char *path, struct perr *e)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	struct acl *a;

	if (!f) {
		perr_set(e, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *nb;

			if (cap > (16u << 20)) {
				perr_set(e, "%s: larger than 16 MiB", path);
				goto fail;
			}
			nb = realloc(buf, cap + 65536);
			if (!nb) {
				perr_set(e, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		perr_set(e, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	if (strlen(buf) != n) {
		int line = 1;

		for (const char *p = buf; *p; p++)
			line += *p == '\n';
		free(buf);
		perr_set(e, "%s:%d: a NUL byte in the line", path, line);
		return NULL;
	}
	a = acl_parse(path, buf, e);
	free(buf);
	return a;
fail:
	fclose(f);
	free(buf);
	return NULL;
}
