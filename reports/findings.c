/* findings.c - the distinct problems of a run: its failing, non-strict and
 * unsupported points grouped by what actually happened.
 *
 * Two points belong to the same finding when they have the same grade and
 * the same account of what happened once numbers, addresses and lists of
 * positions are set aside ("closed after 3 ms" and "closed after 12 ms"
 * are one thing). Listeners are not part of the key: the same behaviour on
 * tcp and ws is one finding, "tcp, ws".
 */
#include "report.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Severity order of the findings (most severe first). */
static int severity(enum rpt_grade g)
{
	switch (g) {
	case RPT_FAIL: return 0;
	case RPT_NON_STRICT: return 1;
	case RPT_UNSUPPORTED: return 2;
	default: return 3;
	}
}

static bool is_problem(enum rpt_grade g)
{
	return severity(g) < 3;
}

const char *rpt_result_what(const struct rpt_result *r)
{
	static const char vague[] = "outcome is none of the acceptable ones";
	const char *why = r->reason;

	/* "step 2: outcome is none ..." says no more than the bare sentence */
	if (why && !strncmp(why, "step ", 5)) {
		const char *colon = strstr(why, ": ");

		if (colon && !strcmp(colon + 2, vague))
			why = colon + 2;
	}
	if ((!why || !strcmp(why, vague)) && r->actual && *r->actual)
		return r->actual;
	return why ? why : (r->actual ? r->actual : "");
}

static bool numeric_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.' || c == ',';
}

/* text with every token of digits, hex, ':', '.' and ',' that holds a
 * digit turned into "N" (a '.' or ',' that ends a sentence or a clause
 * kept as punctuation). */
static char *normalise(const char *text)
{
	size_t n = strlen(text), i = 0, k = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	while (i < n) {
		size_t j = i;
		bool digit = false;

		while (j < n && numeric_char(text[j])) {
			digit |= text[j] >= '0' && text[j] <= '9';
			j++;
		}
		if (j == i) {
			out[k++] = text[i++];
			continue;
		}
		if (!digit || (i > 0 && ((text[i - 1] >= 'a' && text[i - 1] <= 'z') ||
					 (text[i - 1] >= 'A' && text[i - 1] <= 'Z')))) {
			/* a word, or digits glued to one ("TLSv1"): as is */
			memcpy(out + k, text + i, j - i);
			k += j - i;
		} else {
			/* "at 1,2,3,...)" and "at 4)" alike; "in 3." keeps its full stop */
			out[k++] = 'N';
			if ((text[j - 1] == '.' || text[j - 1] == ',') && (j == n || text[j] == ' '))
				out[k++] = text[j - 1];
		}
		i = j;
	}
	out[k] = '\0';
	return out;
}

/* ---- building ------------------------------------------------------------ */

struct group {
	enum rpt_grade grade;
	char *key;        /* normalised what */
	size_t *pts;
	size_t npts, cap;
};

static int group_add(struct group *g, size_t point)
{
	if (g->npts == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		size_t *v = realloc(g->pts, cap * sizeof(*v));

		if (!v)
			return -1;
		g->pts = v;
		g->cap = cap;
	}
	g->pts[g->npts++] = point;
	return 0;
}

/* Append printf text to a malloc'd string (*s may be NULL). -1: no memory. */
static int cat(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cat(char **s, const char *fmt, ...)
{
	size_t old = *s ? strlen(*s) : 0;
	va_list ap;
	int n;
	char *v;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(v = realloc(*s, old + (size_t)n + 1)))
		return -1;
	va_start(ap, fmt);
	vsnprintf(v + old, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*s = v;
	return 0;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Listeners of the group's points, in first-appearance order. */
static int describe_listeners(const struct rpt_run *run, const struct group *g, char **out)
{
	for (size_t i = 0; i < g->npts; i++) {
		const char *l = run->results[g->pts[i]].listener;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = same(run->results[g->pts[j]].listener, l);
		if (!seen && cat(out, "%s%s", *out ? ", " : "", l ? l : "?") < 0)
			return -1;
	}
	return 0;
}

static bool in_listeners(const struct rpt_run *run, const struct group *g, const char *l)
{
	for (size_t i = 0; i < g->npts; i++)
		if (same(run->results[g->pts[i]].listener, l))
			return true;
	return false;
}

static bool same_family(const struct rpt_result *a, const struct rpt_result *b)
{
	size_t la, lb;
	const char *fa = rpt_result_family(a, &la), *fb = rpt_result_family(b, &lb);

	return la == lb && !memcmp(fa, fb, la);
}

/* "pp2 (all 53), mal (12 of 140)": the group's points per scenario family,
 * against the points of that family that ran on the same listeners. */
static int describe_scope(const struct rpt_run *run, const struct group *g, char **out)
{
	for (size_t i = 0; i < g->npts; i++) {
		const struct rpt_result *r = &run->results[g->pts[i]];
		size_t mine = 0, ran = 0, j, len;
		const char *fam = rpt_result_family(r, &len);
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = same_family(&run->results[g->pts[j]], r);
		if (seen)
			continue;
		for (j = i; j < g->npts; j++)
			mine += same_family(&run->results[g->pts[j]], r);
		for (j = 0; j < run->nresults; j++) {
			const struct rpt_result *o = &run->results[j];

			ran += o->grade != RPT_SKIP && same_family(o, r) &&
			       in_listeners(run, g, o->listener);
		}
		if ((mine == ran ? cat(out, "%s%.*s (all %zu)", *out ? ", " : "", (int)len, fam, mine)
				 : cat(out, "%s%.*s (%zu of %zu)", *out ? ", " : "", (int)len, fam,
				       mine, ran)) < 0)
			return -1;
	}
	return 0;
}

/* "pp1/exact-match (MUST) 36, pp2/signature (MUST) 9", most points first. */
static int describe_clauses(const struct rpt_run *run, const struct group *g, char **out)
{
	size_t *count = calloc(g->npts, sizeof(*count));
	size_t i, j;

	if (!count)
		return -1;
	for (i = 0; i < g->npts; i++) {
		const struct rpt_result *r = &run->results[g->pts[i]];

		for (j = 0; j < i && !same(run->results[g->pts[j]].clause, r->clause); j++)
			;
		count[j]++; /* counted at the first point with that clause */
	}
	for (size_t shown = 0;; shown++) {
		size_t best = SIZE_MAX, rest = 0;

		for (i = 0; i < g->npts; i++)
			if (count[i] && run->results[g->pts[i]].clause &&
			    (best == SIZE_MAX || count[i] > count[best]))
				best = i;
		if (best == SIZE_MAX)
			break;
		if (shown == 3) {
			for (i = 0; i < g->npts; i++)
				rest += count[i] && run->results[g->pts[i]].clause;
			if (cat(out, " and %zu more", rest) < 0)
				break;
			break;
		}
		const struct rpt_result *r = &run->results[g->pts[best]];

		if (cat(out, "%s%s (%s) %zu", *out ? ", " : "", r->clause,
			r->level ? r->level : "?", count[best]) < 0) {
			free(count);
			return -1;
		}
		count[best] = 0;
	}
	free(count);
	return 0;
}

/* Do all the points of g list the same first acceptable outcome? */
static bool same_expected(const struct rpt_run *run, const struct group *g)
{
	const struct rpt_result *first = &run->results[g->pts[0]];

	for (size_t i = 1; i < g->npts; i++) {
		const struct rpt_result *r = &run->results[g->pts[i]];

		if (!r->nexpected || !same(r->expected[0], first->expected[0]))
			return false;
	}
	return true;
}

static int finding_from(const struct rpt_run *run, struct group *g, struct rpt_finding *f)
{
	const struct rpt_result *first = &run->results[g->pts[0]];

	memset(f, 0, sizeof(*f));
	f->grade = g->grade;
	f->what = strdup(rpt_result_what(first));
	f->expected = NULL;
	if (first->nexpected && same_expected(run, g)) {
		/* "accepted (CONNACK 0) => PASS": the outcome is what is meant */
		const char *x = first->expected[0], *arrow = strstr(x, " => PASS");

		f->expected = arrow && !arrow[8] ? strndup(x, (size_t)(arrow - x)) : strdup(x);
	}
	if (!f->what || (first->nexpected && same_expected(run, g) && !f->expected) ||
	    describe_listeners(run, g, &f->listeners) < 0 || describe_scope(run, g, &f->scope) < 0 ||
	    describe_clauses(run, g, &f->clauses) < 0)
		return -1;
	f->points = g->pts; /* the finding takes them */
	f->npoints = g->npts;
	g->pts = NULL;
	return 0;
}

static int by_severity(const void *a, const void *b)
{
	const struct rpt_finding *x = a, *y = b;

	if (severity(x->grade) != severity(y->grade))
		return severity(x->grade) - severity(y->grade);
	if (x->npoints != y->npoints)
		return x->npoints > y->npoints ? -1 : 1;
	return x->points[0] < y->points[0] ? -1 : x->points[0] > y->points[0];
}

/* The groups of the run's problem points, in first-appearance order. */
static int group_points(const struct rpt_run *run, struct group **out, size_t *n)
{
	struct group *v = calloc(run->nresults + 1, sizeof(*v));
	size_t i, k;

	*out = v;
	*n = 0;
	if (!v)
		return -1;
	for (i = 0; i < run->nresults; i++) {
		const struct rpt_result *r = &run->results[i];
		char *key;

		if (!is_problem(r->grade))
			continue;
		if (!(key = normalise(rpt_result_what(r))))
			return -1;
		for (k = 0; k < *n && (v[k].grade != r->grade || strcmp(v[k].key, key)); k++)
			;
		if (k == *n) {
			v[k].grade = r->grade;
			v[k].key = key;
			(*n)++;
		} else {
			free(key);
		}
		if (group_add(&v[k], i) < 0)
			return -1;
	}
	return 0;
}

int rpt_findings(const struct rpt_run *run, struct rpt_finding **out, size_t *n,
		 struct perr *e)
{
	struct group *g;
	struct rpt_finding *f = NULL;
	size_t ng, i;
	int rc = group_points(run, &g, &ng);

	*out = NULL;
	*n = 0;
	if (rc == 0 && ng && !(f = calloc(ng, sizeof(*f))))
		rc = -1;
	for (i = 0; rc == 0 && i < ng; i++)
		rc = finding_from(run, &g[i], &f[i]);
	for (i = 0; g && i < ng; i++) {
		free(g[i].key);
		free(g[i].pts);
	}
	free(g);
	if (rc < 0) {
		rpt_findings_free(f, ng);
		return perr_set(e, "out of memory");
	}
	if (ng)
		qsort(f, ng, sizeof(*f), by_severity);
	*out = f;
	*n = ng;
	return 0;
}

void rpt_findings_free(struct rpt_finding *f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		free(f[i].what);
		free(f[i].listeners);
		free(f[i].scope);
		free(f[i].clauses);
		free(f[i].expected);
		free(f[i].points);
	}
	free(f);
}

char *rpt_finding_line(const struct rpt_run *run, const struct rpt_finding *f)
{
	char *s = NULL;

	if (cat(&s, "%s %s: %s: %zu point%s", rpt_grade_name(f->grade), f->listeners, f->what,
		f->npoints, f->npoints == 1 ? "" : "s") < 0 ||
	    (f->scope && cat(&s, " (%s)", f->scope) < 0) ||
	    (f->expected && cat(&s, "; expected %s", f->expected) < 0) ||
	    (f->clauses && cat(&s, "; %s", f->clauses) < 0))
		goto oom;
	for (size_t i = 0, shown = 0; i < f->npoints && shown < 3; i++) {
		const char *id = run->results[f->points[i]].id;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = same(run->results[f->points[j]].id, id);
		if (!seen && cat(&s, "%s%s", shown++ ? ", " : "; e.g. ", id ? id : "?") < 0)
			goto oom;
	}
	return s;
oom:
	free(s);
	return NULL;
}
