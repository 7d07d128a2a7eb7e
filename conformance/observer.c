/* observer.c - see observer.h. */
#include "observer.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "login.h"
#include "net.h"

/* ---- templates ---------------------------------------------------------- */

static int put_escaped(const char *val, enum obs_escape esc, char *out, size_t cap, size_t *n)
{
	const char *p;

	for (p = val; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char tmp[4];
		size_t l;

		if (esc == OBS_ESC_URL && !(isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')) {
			snprintf(tmp, sizeof(tmp), "%%%02X", c);
			l = 3;
		} else if (esc == OBS_ESC_REGEX && strchr(".[]{}()\\*+?^$|", c)) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			l = 2;
		} else {
			tmp[0] = (char)c;
			l = 1;
		}
		if (*n + l >= cap)
			return -1;
		memcpy(out + *n, tmp, l);
		*n += l;
	}
	return 0;
}

int obs_template(const char *tmpl, const struct obs_vars *v, enum obs_escape esc, char *out,
		 size_t cap)
{
	size_t n = 0;
	const char *p = tmpl;

	if (cap == 0)
		return -1;
	while (*p) {
		if (!strncmp(p, "{client_id}", 11)) {
			if (put_escaped(v->client_id ? v->client_id : "", esc, out, cap, &n) < 0)
				return -1;
			p += 11;
		} else if (!strncmp(p, "{listener}", 10)) {
			if (put_escaped(v->listener ? v->listener : "", esc, out, cap, &n) < 0)
				return -1;
			p += 10;
		} else if (!strncmp(p, "{peer_port}", 11)) {
			if (put_escaped(v->peer_port ? v->peer_port : "", esc, out, cap, &n) < 0)
				return -1;
			p += 11;
		} else {
			if (n + 1 >= cap)
				return -1;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return (int)n;
}

/* ---- JSON --------------------------------------------------------------- */

json_t *obs_json_path(json_t *root, const char *path)
{
	char part[128];
	const char *p = path;
	json_t *cur = root;

	if (!path || !*path)
		return root;
	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l >= sizeof(part))
			return NULL;
		memcpy(part, p, l);
		part[l] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, part);
		} else if (json_is_array(cur)) {
			char *end;
			long i = strtol(part, &end, 10);

			if (*end || i < 0)
				return NULL;
			cur = json_array_get(cur, (size_t)i);
		} else {
			return NULL;
		}
		p += l;
		if (*p == '.')
			p++;
	}
	return cur;
}

/* Text of a scalar JSON value (string, integer, real, bool). */
static bool json_text(json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		snprintf(buf, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, "%.0f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
	else
		return false;
	return true;
}

json_t *obs_json_select(json_t *doc, const char *array_field, const char *match_field,
			const char *client_id)
{
	json_t *arr, *found = NULL, *el;
	size_t i;

	if (!match_field)
		return doc;
	arr = obs_json_path(doc, array_field);
	if (!json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, el) {
		char buf[256];
		json_t *f = obs_json_path(el, match_field);

		if (f && json_text(f, buf, sizeof(buf)) && !strcmp(buf, client_id))
			found = el;
	}
	return found;
}

static bool port_of(json_t *v, long *out)
{
	char buf[32], *end;
	long p;

	if (!v || !json_text(v, buf, sizeof(buf)))
		return false;
	p = strtol(buf, &end, 10);
	if (!buf[0] || *end)
		return false;
	*out = p;
	return true;
}

/* The connection state in v: the text connected_value when the profile
 * gives one (TBMQ's connectionState "CONNECTED"), else a boolean. 1, 0, or
 * -1 when v says neither. */
static int connected_of(const struct profile_observer *o, json_t *v)
{
	char buf[64];

	if (o->connected_value)
		return json_text(v, buf, sizeof(buf)) ? !strcmp(buf, o->connected_value) : -1;
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

int obs_from_json(const struct profile_observer *o, const char *body, const char *client_id,
		  struct expect_record *rec, char *excerpt, size_t cap, struct perr *e)
{
	json_error_t je;
	json_t *doc, *r, *v;

	memset(rec, 0, sizeof(*rec));
	rec->connected = -1;
	rec->port_hidden = !o->port_field;
	rec->peer_ip_hidden = !o->peer_ip_field;
	rec->peer_port_hidden = !o->peer_port_field;
	rec->username_hidden = !o->username_field;
	if (excerpt && cap)
		excerpt[0] = '\0';
	doc = json_loads(body, JSON_DECODE_ANY, &je);
	if (!doc)
		return perr_set(e, "observer %s: answer is not JSON (line %d: %s)", o->role, je.line, je.text);
	r = obs_json_select(doc, o->array_field, o->match_field, client_id);
	if (r && !json_is_null(r)) {
		rec->found = true;
		if ((v = obs_json_path(r, o->ip_field)))
			json_text(v, rec->ip, sizeof(rec->ip));
		if (o->port_field)
			rec->has_port = port_of(obs_json_path(r, o->port_field), &rec->port);
		if (o->peer_ip_field && (v = obs_json_path(r, o->peer_ip_field)))
			rec->has_peer_ip = json_text(v, rec->peer_ip, sizeof(rec->peer_ip));
		if (o->peer_port_field)
			rec->has_peer_port = port_of(obs_json_path(r, o->peer_port_field), &rec->peer_port);
		if (o->connected_field && (v = obs_json_path(r, o->connected_field)))
			rec->connected = connected_of(o, v);
		if (o->username_field && (v = obs_json_path(r, o->username_field)))
			rec->has_username = json_text(v, rec->username, sizeof(rec->username));
		if (excerpt && cap) {
			char *dump = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);

			if (dump) {
				snprintf(excerpt, cap, "%s", dump);
				free(dump);
			}
		}
	}
	json_decref(doc);
	return 0;
}

/* ---- log ---------------------------------------------------------------- */

struct group_name {
	char name[32];
	int index;
};

/* Turn (?<name>...) and (?P<name>...) into plain groups, remembering each
 * name's group number, and count groups as POSIX will. */
static int strip_named(const char *in, char *out, size_t cap, struct group_name *names,
		       size_t *nnames, struct perr *e)
{
	size_t n = 0, maxn = *nnames;
	int group = 0;
	bool in_bracket = false;
	const char *p = in;

	*nnames = 0;
	while (*p) {
		if (n + 2 >= cap)
			return perr_set(e, "regex too long");
		if (*p == '\\' && p[1]) {
			out[n++] = *p++;
			out[n++] = *p++;
			continue;
		}
		if (in_bracket) {
			if (*p == '[' && p[1] == ':') {
				const char *end = strstr(p + 2, ":]");

				if (end) {
					size_t l = (size_t)(end + 2 - p);

					if (n + l >= cap)
						return perr_set(e, "regex too long");
					memcpy(out + n, p, l);
					n += l;
					p += l;
					continue;
				}
			}
			if (*p == ']')
				in_bracket = false;
			out[n++] = *p++;
			continue;
		}
		if (*p == '[') {
			in_bracket = true;
			out[n++] = *p++;
			/* "[]" and "[^]" open with a literal ']'. */
			if (*p == '^')
				out[n++] = *p++;
			if (*p == ']')
				out[n++] = *p++;
			continue;
		}
		if (*p == '(') {
			group++;
			out[n++] = *p++;
			if (p[0] == '?') {
				const char *start, *end;

				if (p[1] == 'P' && p[2] == '<')
					start = p + 3;
				else if (p[1] == '<')
					start = p + 2;
				else
					return perr_set(e, "regex: '(?' is only supported as (?<name>...) or (?P<name>...)");
				end = strchr(start, '>');
				if (!end || end == start || (size_t)(end - start) >= sizeof(names[0].name))
					return perr_set(e, "regex: bad group name");
				if (*nnames < maxn) {
					memcpy(names[*nnames].name, start, (size_t)(end - start));
					names[*nnames].name[end - start] = '\0';
					names[*nnames].index = group;
					(*nnames)++;
				}
				p = end + 1;
			}
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	return group;
}

static int resolve_group(const char *want, const char *deflt, const struct group_name *names,
			 size_t nnames, int ngroups, int *out, struct perr *e)
{
	size_t i;
	const char *w = want ? want : deflt;
	char *end;
	long v;

	*out = -1;
	for (i = 0; i < nnames; i++)
		if (!strcmp(names[i].name, w)) {
			*out = names[i].index;
			return 0;
		}
	v = strtol(w, &end, 10);
	if (*w && !*end) {
		if (v < 1 || v > ngroups)
			return perr_set(e, "regex: group %ld does not exist (%d groups)", v, ngroups);
		*out = (int)v;
		return 0;
	}
	if (want)
		return perr_set(e, "regex: no group named '%s'", want);
	return 0;
}

int obs_regex_compile(struct obs_regex *r, const char *tmpl, const struct obs_vars *v,
		      const char *ip_group, const char *port_group, struct perr *e)
{
	char filled[2048], plain[2048];
	struct group_name names[16];
	size_t nnames = 16;
	int ngroups, rc;

	memset(r, 0, sizeof(*r));
	r->ip_group = r->port_group = -1;
	if (obs_template(tmpl, v, OBS_ESC_REGEX, filled, sizeof(filled)) < 0)
		return perr_set(e, "regex too long");
	ngroups = strip_named(filled, plain, sizeof(plain), names, &nnames, e);
	if (ngroups < 0)
		return -1;
	rc = regcomp(&r->re, plain, REG_EXTENDED | REG_NEWLINE);
	if (rc != 0) {
		char msg[160];

		regerror(rc, &r->re, msg, sizeof(msg));
		return perr_set(e, "regex '%s': %s", tmpl, msg);
	}
	r->compiled = true;
	if (resolve_group(ip_group, "ip", names, nnames, ngroups, &r->ip_group, e) < 0 ||
	    resolve_group(port_group, "port", names, nnames, ngroups, &r->port_group, e) < 0) {
		obs_regex_free(r);
		return -1;
	}
	if (r->ip_group < 0) {
		obs_regex_free(r);
		return perr_set(e, "regex '%s': no ip group (name one (?<ip>...) or set ip_group)", tmpl);
	}
	return 0;
}

void obs_regex_free(struct obs_regex *r)
{
	if (r->compiled)
		regfree(&r->re);
	r->compiled = false;
}

int obs_from_log(const struct obs_regex *r, const char *text, size_t len, struct expect_record *rec,
		 char *excerpt, size_t cap)
{
	const char *p = text, *end = text + len;
	char line[4096];

	memset(rec, 0, sizeof(*rec));
	rec->connected = -1;
	if (excerpt && cap)
		excerpt[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		regmatch_t m[10];

		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = '\0';
		if (regexec(&r->re, line, 10, m, 0) == 0) {
			int g = r->ip_group;

			memset(rec, 0, sizeof(*rec));
			rec->connected = -1;
			rec->found = true;
			if (g > 0 && g < 10 && m[g].rm_so >= 0) {
				size_t gl = (size_t)(m[g].rm_eo - m[g].rm_so);

				if (gl >= sizeof(rec->ip))
					gl = sizeof(rec->ip) - 1;
				memcpy(rec->ip, line + m[g].rm_so, gl);
				rec->ip[gl] = '\0';
			}
			g = r->port_group;
			if (g > 0 && g < 10 && m[g].rm_so >= 0) {
				char num[16];
				size_t gl = (size_t)(m[g].rm_eo - m[g].rm_so);

				if (gl < sizeof(num)) {
					memcpy(num, line + m[g].rm_so, gl);
					num[gl] = '\0';
					rec->port = strtol(num, NULL, 10);
					rec->has_port = gl > 0;
				}
			}
			if (excerpt && cap)
				snprintf(excerpt, cap, "%s", line);
		}
		p = nl ? nl + 1 : end;
	}
	/* A log line shows no socket peer; a port only with a port group. */
	rec->port_hidden = r->port_group < 0;
	rec->peer_ip_hidden = rec->peer_port_hidden = true;
	rec->username_hidden = true;
	return 0;
}

static int read_file(const char *path, char **out, size_t *len, struct perr *e)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return perr_errno(e, "log observer: %s", path);
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *nb;

			if (cap > (64u << 20)) {
				fclose(f);
				free(buf);
				return perr_set(e, "log observer: %s is larger than 64 MiB", path);
			}
			cap = cap ? cap * 2 : 131072;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				fclose(f);
				free(buf);
				return perr_set(e, "out of memory");
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		login_line_free(lines[i]);
	free(lines);
}

/* The request lines of o: a bearer token, the login's token, its own
 * headers. *gen: the login token's generation (0 without login). */
static int auth_lines(const struct profile_observer *o, char ***out, size_t *n, unsigned *gen,
		      struct perr *e)
{
	char **lines = calloc(o->nheaders + 2, sizeof(*lines)), *line;

	*n = 0;
	*gen = 0;
	if (!lines)
		return perr_set(e, "out of memory");
	if (o->bearer && asprintf(&line, "Authorization: Bearer %s", o->bearer) >= 0)
		lines[(*n)++] = line;
	if (o->login) {
		if (login_header(o->login, &line, gen, e) < 0) {
			free_lines(lines, *n);
			return -1;
		}
		lines[(*n)++] = line;
	}
	for (size_t i = 0; i < o->nheaders; i++)
		if (asprintf(&line, "%s: %s", o->headers[i].key, o->headers[i].value) >= 0)
			lines[(*n)++] = line;
	*out = lines;
	return 0;
}

/* GET url as o says: its headers and authentication. */
static int observer_get(const struct profile_observer *o, const char *url, struct http_answer *a,
			unsigned *gen, struct perr *e)
{
	struct http_req q = { .url = url };
	char **lines = NULL;
	size_t n = 0;
	int rc;

	*gen = 0;
	if (o) {
		if (auth_lines(o, &lines, &n, gen, e) < 0)
			return -1;
		q.headers = (const char *const *)lines;
		q.nheaders = n;
		q.basic_user = o->basic_user;
		q.basic_pass = o->basic_pass;
		q.insecure = o->insecure;
	}
	rc = http_do(&q, a, e);
	free_lines(lines, n);
	return rc;
}

int obs_http_get(const char *url, const struct profile_observer *o, long *status, char **body,
		 struct perr *e)
{
	struct http_answer a;
	unsigned gen;

	*body = NULL;
	*status = 0;
	if (observer_get(o, url, &a, &gen, e) < 0)
		return -1;
	*status = a.status;
	*body = a.body;
	a.body = NULL;
	http_answer_free(&a);
	return 0;
}

/* GET as obs_http_get, and when the API refuses the login's token (401:
 * expired, or the target restarted), log in again once and ask again. */
static int observer_get_renewing(const struct profile_observer *o, const char *url, struct http_answer *a,
				 struct perr *e)
{
	unsigned gen;

	if (observer_get(o, url, a, &gen, e) < 0)
		return -1;
	if (a->status != 401 || !o->login)
		return 0;
	http_answer_free(a);
	if (login_renew(o->login, gen, e) < 0)
		return perr_wrap(e, "observer %s: GET %s: HTTP 401, and logging in again failed", o->role, url);
	if (observer_get(o, url, a, &gen, e) < 0)
		return -1;
	if (a->status == 401) {
		http_answer_free(a);
		return perr_set(e, "observer %s: GET %s: HTTP 401 with a token just received (does the "
			       "account of auth.login have the right to read it?)", o->role, url);
	}
	return 0;
}

/* ---- query with retries ------------------------------------------------- */

/* "{output}" is the launched target's own output. */
static const char *log_file(const struct profile_observer *o, const struct obs_vars *v)
{
	return !strcmp(o->file, "{output}") && v->output ? v->output : o->file;
}

static int rejection_once(const struct profile_observer *o, const struct obs_vars *v, regex_t *re,
			  int group, char *buf, size_t cap, struct perr *e)
{
	char *text = NULL, *p, *nl;
	size_t len = 0;
	int found = 0;

	if (read_file(log_file(o, v), &text, &len, e) < 0)
		return -1;
	for (p = text; p && *p; p = nl ? nl + 1 : NULL) {
		regmatch_t m[10];

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (regexec(re, p, 10, m, 0) != 0)
			continue;
		if (group > 0 && group < 10 && m[group].rm_so >= 0)
			snprintf(buf, cap, "%.*s", (int)(m[group].rm_eo - m[group].rm_so), p + m[group].rm_so);
		else
			snprintf(buf, cap, "%s", p);
		found = 1;
	}
	free(text);
	return found;
}

int obs_rejection(const struct profile_observer *o, const struct obs_vars *v, char *buf, size_t cap,
		  struct perr *e)
{
	char filled[2048], plain[2048];
	struct group_name names[16];
	size_t nnames = 16;
	int64_t deadline = net_now_ms() + o->retry_ms;
	int ngroups, group, rc;
	regex_t re;

	buf[0] = '\0';
	if (obs_template(o->regex, v, OBS_ESC_REGEX, filled, sizeof(filled)) < 0)
		return perr_set(e, "rejections observer: regex too long");
	ngroups = strip_named(filled, plain, sizeof(plain), names, &nnames, e);
	if (ngroups < 0)
		return -1;
	if (regcomp(&re, plain, REG_EXTENDED | REG_NEWLINE) != 0)
		return perr_set(e, "rejections observer: regex '%s' does not compile", o->regex);
	if (resolve_group(NULL, "reason", names, nnames, ngroups, &group, e) < 0) {
		regfree(&re);
		return -1;
	}
	while ((rc = rejection_once(o, v, &re, group, buf, cap, e)) == 0 && net_now_ms() < deadline)
		net_sleep_ms(25);
	regfree(&re);
	return rc;
}

static int query_once(const struct profile_observer *o, const struct obs_vars *v, struct expect_record *rec,
		      char *excerpt, size_t cap, struct perr *e)
{
	memset(rec, 0, sizeof(*rec));
	rec->connected = -1;
	if (o->type == PROFILE_OBS_HTTP) {
		char url[2048];
		struct http_answer a;
		int rc = 0;

		if (obs_template(o->url, v, OBS_ESC_URL, url, sizeof(url)) < 0)
			return perr_set(e, "observer %s: URL too long", o->role);
		if (observer_get_renewing(o, url, &a, e) < 0)
			return -1;
		if (a.status != 404 && (a.status < 200 || a.status > 299))
			rc = perr_set(e, "observer %s: GET %s: HTTP %ld", o->role, url, a.status);
		else if (a.status != 404)
			rc = obs_from_json(o, a.body, v->client_id, rec, excerpt, cap, e);
		http_answer_free(&a);
		return rc;
	}
	if (o->type == PROFILE_OBS_LOG) {
		struct obs_regex re;
		char *text = NULL;
		size_t len = 0;

		if (obs_regex_compile(&re, o->regex, v, o->ip_group, o->port_group, e) < 0)
			return -1;
		if (read_file(log_file(o, v), &text, &len, e) < 0) {
			obs_regex_free(&re);
			return -1;
		}
		obs_from_log(&re, text, len, rec, excerpt, cap);
		free(text);
		obs_regex_free(&re);
		return 0;
	}
	return perr_set(e, "no %s observer", o->role ? o->role : "");
}

int obs_query(const struct profile_observer *o, const struct obs_vars *v, struct expect_record *rec,
	      char *excerpt, size_t cap, struct perr *e)
{
	int64_t deadline = net_now_ms() + o->retry_ms;

	for (;;) {
		if (query_once(o, v, rec, excerpt, cap, e) < 0)
			return -1;
		if (rec->found || net_now_ms() >= deadline)
			return 0;
		net_sleep_ms(50);
	}
}
