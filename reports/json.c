/* json.c - a whole run as JSON (jansson), and back.
 *
 * {
 *   "format": "ppmq-conform-report", "format_version": 1,
 *   "tool_version": "0.1.0", "target": "tbmq", "profile": "...",
 *   "started": "2025-01-31T12:00:00Z", "duration_ms": 1234, "strict": false,
 *   "totals": { "PASS": 3, "NON-STRICT": 0, ... },
 *   "results": [ { "id", "title", "ref", "family", "tags": [..],
 *                  "listener", "grade", "reason", "expected": [..],
 *                  "actual", "sent": "hex", "received": "hex",
 *                  "recorded", "duration_ms" }, ... ]
 * }
 *
 * An absent string is null. Text that is not valid UTF-8 is written with
 * U+FFFD in its place (JSON must be UTF-8), so the first write may differ
 * from the run in memory; from then on write -> read -> write is exact.
 * "totals" is informational: reading recounts the results.
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "escape.h"

#define FORMAT_NAME    "ppmq-conform-report"
#define FORMAT_VERSION 1

/* ---- writing -------------------------------------------------------------- */

/* Set key to s (cleaned UTF-8) or null. Returns 0 or -1 (no memory). */
static int set_str(json_t *o, const char *key, const char *s)
{
	bool oom;
	char *clean;
	json_t *v;

	if (!s)
		return json_object_set_new(o, key, json_null());
	clean = esc_utf8_clean(s, &oom);
	if (!clean)
		return -1;
	v = json_string(clean);
	free(clean);
	if (!v)
		return -1;
	return json_object_set_new(o, key, v);
}

static int set_strv(json_t *o, const char *key, const char **v, size_t n)
{
	json_t *a = json_array();

	if (!a)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool oom;
		char *clean = esc_utf8_clean(v[i] ? v[i] : "", &oom);
		json_t *s = clean ? json_string(clean) : NULL;

		free(clean);
		if (!s || json_array_append_new(a, s) < 0) {
			json_decref(a);
			return -1;
		}
	}
	return json_object_set_new(o, key, a);
}

static int set_hex(json_t *o, const char *key, const unsigned char *p,
		   size_t n)
{
	char *hex = rpt_hex(p, n, 0);
	json_t *v;

	if (!hex)
		return -1;
	v = json_string(hex);
	free(hex);
	if (!v)
		return -1;
	return json_object_set_new(o, key, v);
}

static json_t *result_json(const struct rpt_result *r)
{
	json_t *o = json_object();
	int bad = 0;

	if (!o)
		return NULL;
	bad |= set_str(o, "id", r->id);
	bad |= set_str(o, "title", r->title);
	bad |= set_str(o, "ref", r->ref);
	bad |= set_str(o, "family", r->family);
	bad |= set_strv(o, "tags", r->tags, r->ntags);
	bad |= set_str(o, "listener", r->listener);
	bad |= set_str(o, "grade", rpt_grade_name(r->grade));
	bad |= set_str(o, "reason", r->reason);
	bad |= set_strv(o, "expected", r->expected, r->nexpected);
	bad |= set_str(o, "actual", r->actual);
	bad |= set_hex(o, "sent", r->sent, r->sent_len);
	bad |= set_hex(o, "received", r->received, r->received_len);
	bad |= set_str(o, "recorded", r->recorded);
	bad |= set_str(o, "clause", r->clause);
	bad |= set_str(o, "level", r->level);
	bad |= set_str(o, "quote", r->quote);
	bad |= set_str(o, "log", r->log);
	bad |= json_object_set_new(o, "duration_ms",
				   json_integer(r->duration_ms));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *run_json(const struct rpt_run *run)
{
	json_t *o = json_object(), *totals = json_object(), *results = json_array();
	char ts[32] = "1970-01-01T00:00:00Z";
	struct tm tm;
	int bad = !o || !totals || !results;

	if (bad)
		goto fail;
	if (gmtime_r(&run->started, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	bad |= set_str(o, "format", FORMAT_NAME);
	bad |= json_object_set_new(o, "format_version",
				   json_integer(FORMAT_VERSION));
	bad |= set_str(o, "tool_version", run->tool_version);
	bad |= set_str(o, "target", run->target);
	bad |= set_str(o, "profile", run->profile);
	bad |= set_str(o, "started", ts);
	bad |= json_object_set_new(o, "duration_ms",
				   json_integer(run->duration_ms));
	bad |= json_object_set_new(o, "strict", json_boolean(run->strict));
	for (int g = 0; g < RPT_NGRADES; g++)
		bad |= json_object_set_new(totals, rpt_grade_name(g),
					   json_integer((json_int_t)run->totals[g]));
	for (size_t i = 0; i < run->nresults && !bad; i++)
		bad |= json_array_append_new(results,
					     result_json(&run->results[i]));
	bad |= json_object_set_new(o, "totals", totals);
	totals = NULL;
	bad |= json_object_set_new(o, "results", results);
	results = NULL;
	if (!bad)
		return o;
fail:
	json_decref(o);
	json_decref(totals);
	json_decref(results);
	return NULL;
}

int rpt_write_json(const char *path, const struct rpt_run *run,
		   struct perr *e)
{
	json_t *doc = run_json(run);
	FILE *f;
	bool bad;

	if (!doc)
		return perr_set(e, "%s: out of memory", path);
	f = rpt_out_open(path, e);
	if (!f) {
		json_decref(doc);
		return -1;
	}
	errno = 0;
	bad = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0;
	json_decref(doc);
	bad |= fputc('\n', f) == EOF;
	return rpt_out_close(f, path, bad, e);
}

/* ---- reading -------------------------------------------------------------- */

/* Optional string member: absent or null -> NULL. Points into o. */
static int get_str(json_t *o, const char *key, const char **out,
		   const char *where, struct perr *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return perr_set(e, "%s.%s: not a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int get_int(json_t *o, const char *key, long long *out,
		   const char *where, struct perr *e)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return perr_set(e, "%s.%s: not an integer", where, key);
	*out = json_integer_value(v);
	return 0;
}

/* Array of strings -> malloc'd vector of pointers into o. */
static int get_strv(json_t *o, const char *key, const char ***out,
		    size_t *n, const char *where, struct perr *e)
{
	json_t *a = json_object_get(o, key);
	const char **v;

	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return perr_set(e, "%s.%s: not an array", where, key);
	if (json_array_size(a) == 0)
		return 0;
	v = calloc(json_array_size(a), sizeof(*v));
	if (!v)
		return perr_set(e, "out of memory");
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *s = json_array_get(a, i);

		if (!json_is_string(s)) {
			free(v);
			return perr_set(e, "%s.%s[%zu]: not a string", where,
					key, i);
		}
		v[i] = json_string_value(s);
	}
	*out = v;
	*n = json_array_size(a);
	return 0;
}

static int get_hex(json_t *o, const char *key, unsigned char **out,
		   size_t *n, const char *where, struct perr *e)
{
	const char *s;

	*out = NULL;
	*n = 0;
	if (get_str(o, key, &s, where, e) < 0)
		return -1;
	if (!s || !*s)
		return 0;
	if (rpt_unhex(s, out, n, e) < 0)
		return perr_wrap(e, "%s.%s", where, key);
	return 0;
}

static int read_result(struct rpt_run *run, json_t *o, size_t idx,
		       struct perr *e)
{
	struct rpt_result r;
	const char *grade = NULL;
	unsigned char *sent = NULL, *received = NULL;
	char where[48];
	int rc = -1;

	memset(&r, 0, sizeof(r));
	snprintf(where, sizeof(where), "results[%zu]", idx);
	if (!json_is_object(o))
		return perr_set(e, "%s: not an object", where);
	if (get_str(o, "id", &r.id, where, e) < 0 ||
	    get_str(o, "title", &r.title, where, e) < 0 ||
	    get_str(o, "ref", &r.ref, where, e) < 0 ||
	    get_str(o, "family", &r.family, where, e) < 0 ||
	    get_strv(o, "tags", &r.tags, &r.ntags, where, e) < 0 ||
	    get_str(o, "listener", &r.listener, where, e) < 0 ||
	    get_str(o, "grade", &grade, where, e) < 0 ||
	    get_str(o, "reason", &r.reason, where, e) < 0 ||
	    get_strv(o, "expected", &r.expected, &r.nexpected, where, e) < 0 ||
	    get_str(o, "actual", &r.actual, where, e) < 0 ||
	    get_hex(o, "sent", &sent, &r.sent_len, where, e) < 0 ||
	    get_hex(o, "received", &received, &r.received_len, where, e) < 0 ||
	    get_str(o, "recorded", &r.recorded, where, e) < 0 ||
	    get_str(o, "clause", &r.clause, where, e) < 0 ||
	    get_str(o, "level", &r.level, where, e) < 0 ||
	    get_str(o, "quote", &r.quote, where, e) < 0 ||
	    get_str(o, "log", &r.log, where, e) < 0 ||
	    get_int(o, "duration_ms", &r.duration_ms, where, e) < 0)
		goto out;
	if (rpt_grade_parse(grade, &r.grade) < 0) {
		perr_set(e, "%s.grade: %s%s%s", where, grade ? "unknown grade \"" : "missing",
			 grade ? grade : "", grade ? "\"" : "");
		goto out;
	}
	r.sent = sent;
	r.received = received;
	rc = rpt_run_add(run, &r, e);
out:
	free((void *)r.tags);
	free((void *)r.expected);
	free(sent);
	free(received);
	return rc;
}

static int parse_started(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -1;
	*out = timegm(&tm);
	return 0;
}

static int read_run(json_t *doc, struct rpt_run **out, struct perr *e)
{
	const char *fmt, *tool, *target, *profile, *started;
	json_t *results, *strict;
	long long ms, version;
	struct rpt_run *run;

	if (!json_is_object(doc))
		return perr_set(e, "not a JSON object");
	if (get_str(doc, "format", &fmt, "report", e) < 0 ||
	    get_int(doc, "format_version", &version, "report", e) < 0 ||
	    get_str(doc, "tool_version", &tool, "report", e) < 0 ||
	    get_str(doc, "target", &target, "report", e) < 0 ||
	    get_str(doc, "profile", &profile, "report", e) < 0 ||
	    get_str(doc, "started", &started, "report", e) < 0 ||
	    get_int(doc, "duration_ms", &ms, "report", e) < 0)
		return -1;
	if (!fmt || strcmp(fmt, FORMAT_NAME) != 0)
		return perr_set(e, "not a ppmq-conform report (\"format\" is not \"%s\")",
				FORMAT_NAME);
	if (version != FORMAT_VERSION)
		return perr_set(e, "report format version %lld, this program reads %d",
				version, FORMAT_VERSION);
	strict = json_object_get(doc, "strict");
	if (strict && !json_is_boolean(strict) && !json_is_null(strict))
		return perr_set(e, "report.strict: not a boolean");
	results = json_object_get(doc, "results");
	if (results && !json_is_array(results))
		return perr_set(e, "report.results: not an array");

	run = rpt_run_new(tool, target, profile, e);
	if (!run)
		return -1;
	run->started = 0;
	if (started && parse_started(started, &run->started) < 0) {
		rpt_run_free(run);
		return perr_set(e, "report.started: not an ISO 8601 UTC time");
	}
	run->duration_ms = ms;
	run->strict = strict && json_is_true(strict);
	for (size_t i = 0; results && i < json_array_size(results); i++) {
		if (read_result(run, json_array_get(results, i), i, e) < 0) {
			rpt_run_free(run);
			return -1;
		}
	}
	*out = run;
	return 0;
}

int rpt_read_json(const char *path, struct rpt_run **out, struct perr *e)
{
	json_error_t jerr;
	json_t *doc;
	FILE *f;
	int rc;

	*out = NULL;
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f)
		return perr_errno(e, "cannot read %s", path);
	doc = json_loadf(f, 0, &jerr);
	if (f != stdin)
		fclose(f);
	if (!doc && jerr.line > 0)
		return perr_set(e, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	if (!doc)
		return perr_set(e, "%s: %s", path, jerr.text);
	rc = read_run(doc, out, e);
	json_decref(doc);
	if (rc < 0)
		return perr_wrap(e, "%s", path);
	return 0;
}
