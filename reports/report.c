/* report.c - runs and results: construction, grades, hex helpers, report
 * files. */
#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"

static const char *const grade_names[RPT_NGRADES] = {
	"PASS", "NON-STRICT", "INFO", "FAIL", "UNSUPPORTED", "SKIP",
};

const char *rpt_grade_name(enum rpt_grade g)
{
	if ((unsigned)g >= RPT_NGRADES)
		return "?";
	return grade_names[g];
}

int rpt_grade_parse(const char *s, enum rpt_grade *g)
{
	if (!s)
		return -1;
	for (int i = 0; i < RPT_NGRADES; i++) {
		if (strcasecmp(s, grade_names[i]) == 0) {
			*g = (enum rpt_grade)i;
			return 0;
		}
	}
	if (strcasecmp(s, "NON_STRICT") == 0) {
		*g = RPT_NON_STRICT;
		return 0;
	}
	return -1;
}

bool rpt_grade_fails(enum rpt_grade g, bool strict)
{
	return g == RPT_FAIL || (strict && g == RPT_NON_STRICT);
}

size_t rpt_run_failures(const struct rpt_run *run)
{
	size_t n = 0;

	for (size_t i = 0; i < run->nresults; i++)
		if (rpt_grade_fails(run->results[i].grade, run->strict))
			n++;
	return n;
}

const char *rpt_result_family(const struct rpt_result *r, size_t *len)
{
	const char *s = r->family;

	if (s && *s) {
		*len = strlen(s);
		return s;
	}
	s = r->id ? r->id : "";
	*len = strcspn(s, "/");
	return s;
}

char *rpt_hex(const unsigned char *p, size_t n, size_t max)
{
	bool cut = max > 0 && n > max;
	size_t m = cut ? max : n;
	char *s = malloc(m * 2 + 3);

	if (!s)
		return NULL;
	hex_encode(p, m, s);
	if (cut)
		strcpy(s + 2 * m, "..");
	return s;
}

int rpt_unhex(const char *s, unsigned char **out, size_t *n, struct perr *e)
{
	size_t len = strlen(s), k = 0;
	unsigned char *b = malloc(len / 2 + 1);
	int hi = -1;

	if (!b)
		return perr_set(e, "out of memory");
	for (size_t i = 0; i < len; i++) {
		int v;

		if (isspace((unsigned char)s[i]))
			continue;
		v = hex_digit((unsigned char)s[i]);
		if (v < 0) {
			free(b);
			return perr_set(e, "not a hex digit at offset %zu", i);
		}
		if (hi < 0) {
			hi = v;
		} else {
			b[k++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(b);
		return perr_set(e, "odd number of hex digits");
	}
	*out = b;
	*n = k;
	return 0;
}

FILE *rpt_out_open(const char *path, struct perr *e)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");

	if (!f)
		perr_errno(e, "%s", path);
	return f;
}

/* The directory path would be created in must be writable: its parent (a
 * file), or its nearest existing ancestor (a directory, made as mkdir -p). */
static int parent_writable(const char *path, bool is_dir, struct perr *e)
{
	char dir[4096];
	struct stat st;
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return perr_set(e, "%.200s...: path too long", path);
	for (;;) {
		while ((slash = strrchr(dir, '/')) && slash[1] == '\0' && slash != dir)
			*slash = '\0'; /* trailing slashes */
		slash = strrchr(dir, '/');
		if (!slash) {
			snprintf(dir, sizeof(dir), ".");
		} else if (slash == dir) {
			dir[1] = '\0';
		} else {
			*slash = '\0';
		}
		if (stat(dir, &st) == 0)
			break;
		if (errno != ENOENT || !is_dir || !strcmp(dir, ".") || !strcmp(dir, "/"))
			return perr_errno(e, "%s: directory %s", path, dir);
	}
	if (!S_ISDIR(st.st_mode))
		return perr_set(e, "%s: %s is not a directory", path, dir);
	if (access(dir, W_OK) < 0)
		return perr_errno(e, "%s: cannot write in %s", path, dir);
	return 0;
}

int rpt_out_check(const char *path, bool is_dir, struct perr *e)
{
	struct stat st;

	if (!*path)
		return perr_set(e, "empty path");
	if (!strcmp(path, "-"))
		return 0;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return perr_errno(e, "%s", path);
		return parent_writable(path, is_dir, e);
	}
	if (is_dir && !S_ISDIR(st.st_mode))
		return perr_set(e, "%s: exists and is not a directory", path);
	if (!is_dir && S_ISDIR(st.st_mode))
		return perr_set(e, "%s: is a directory", path);
	if (access(path, W_OK) < 0)
		return perr_errno(e, "%s", path);
	return 0;
}

int rpt_out_close(FILE *f, const char *path, bool failed, struct perr *e)
{
	bool bad = fflush(f) != 0 || ferror(f);

	if (f != stdout && fclose(f) != 0)
		bad = true;
	if (bad || failed) {
		if (!errno)
			errno = EIO;
		return perr_errno(e, "writing %s", path);
	}
	return 0;
}

/* ---- runs ----------------------------------------------------------------- */

/* strdup that keeps NULL; *bad set on allocation failure. */
static const char *dup_str(const char *s, bool *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = true;
	return d;
}

static const char **dup_strv(const char **v, size_t n, bool *bad)
{
	const char **d;

	if (!v || n == 0)
		return NULL;
	d = calloc(n, sizeof(*d));
	if (!d) {
		*bad = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = dup_str(v[i] ? v[i] : "", bad);
	return d;
}

static const unsigned char *dup_bytes(const unsigned char *p, size_t n,
				      bool *bad)
{
	unsigned char *d;

	if (!p || n == 0)
		return NULL;
	d = malloc(n);
	if (!d) {
		*bad = true;
		return NULL;
	}
	memcpy(d, p, n);
	return d;
}

static void free_strv(const char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)v[i]);
	free((void *)v);
}

static void result_free(struct rpt_result *r)
{
	free((void *)r->id);
	free((void *)r->title);
	free((void *)r->ref);
	free((void *)r->family);
	free_strv(r->tags, r->ntags);
	free((void *)r->listener);
	free((void *)r->reason);
	free_strv(r->expected, r->nexpected);
	free((void *)r->actual);
	free((void *)r->sent);
	free((void *)r->received);
	free((void *)r->recorded);
	free((void *)r->clause);
	free((void *)r->level);
	free((void *)r->quote);
	free((void *)r->log);
}

struct rpt_run *rpt_run_new(const char *tool_version, const char *target,
			    const char *profile, struct perr *e)
{
	struct rpt_run *run = calloc(1, sizeof(*run));
	bool bad = false;

	if (!run) {
		perr_set(e, "out of memory");
		return NULL;
	}
	run->tool_version = dup_str(tool_version, &bad);
	run->target = dup_str(target, &bad);
	run->profile = dup_str(profile, &bad);
	run->started = time(NULL);
	if (bad) {
		rpt_run_free(run);
		perr_set(e, "out of memory");
		return NULL;
	}
	return run;
}

int rpt_run_add(struct rpt_run *run, const struct rpt_result *r,
		struct perr *e)
{
	struct rpt_result *d;
	bool bad = false;

	if ((unsigned)r->grade >= RPT_NGRADES)
		return perr_set(e, "result %s: invalid grade %d",
				r->id ? r->id : "?", (int)r->grade);
	if (run->nresults == run->cap_) {
		size_t cap = run->cap_ ? run->cap_ * 2 : 64;
		struct rpt_result *n = realloc(run->results, cap * sizeof(*n));

		if (!n)
			return perr_set(e, "out of memory");
		run->results = n;
		run->cap_ = cap;
	}
	d = &run->results[run->nresults];
	memset(d, 0, sizeof(*d));
	d->id = dup_str(r->id, &bad);
	d->title = dup_str(r->title, &bad);
	d->ref = dup_str(r->ref, &bad);
	d->family = dup_str(r->family, &bad);
	d->tags = dup_strv(r->tags, r->ntags, &bad);
	d->ntags = d->tags ? r->ntags : 0;
	d->listener = dup_str(r->listener, &bad);
	d->grade = r->grade;
	d->reason = dup_str(r->reason, &bad);
	d->expected = dup_strv(r->expected, r->nexpected, &bad);
	d->nexpected = d->expected ? r->nexpected : 0;
	d->actual = dup_str(r->actual, &bad);
	d->sent = dup_bytes(r->sent, r->sent_len, &bad);
	d->sent_len = d->sent ? r->sent_len : 0;
	d->received = dup_bytes(r->received, r->received_len, &bad);
	d->received_len = d->received ? r->received_len : 0;
	d->recorded = dup_str(r->recorded, &bad);
	d->clause = dup_str(r->clause, &bad);
	d->level = dup_str(r->level, &bad);
	d->quote = dup_str(r->quote, &bad);
	d->log = dup_str(r->log, &bad);
	d->duration_ms = r->duration_ms;
	if (bad) {
		result_free(d);
		return perr_set(e, "out of memory");
	}
	run->nresults++;
	run->totals[d->grade]++;
	return 0;
}

void rpt_run_free(struct rpt_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->nresults; i++)
		result_free(&run->results[i]);
	free(run->results);
	free((void *)run->tool_version);
	free((void *)run->target);
	free((void *)run->profile);
	free(run);
}
