/* login.c - see login.h. */
#include "login.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "observer.h"

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void login_line_free(char *line)
{
	wipe_free(line);
}

/* "k=v&k2=v2", each part URL-encoded. NULL when out of memory. */
static char *form_body(const struct profile_login *l)
{
	size_t cap = 1, n = 0;
	char *out;

	for (size_t i = 0; i < l->nfields; i++)
		cap += 3 * (strlen(l->fields[i].key) + strlen(l->fields[i].value)) + 2;
	if (!(out = calloc(1, cap)))
		return NULL;
	for (size_t i = 0; i < l->nfields; i++) {
		char *k = curl_easy_escape(NULL, l->fields[i].key, 0);
		char *v = curl_easy_escape(NULL, l->fields[i].value, 0);

		if (k && v)
			n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", i ? "&" : "", k, v);
		wipe_free(v);
		curl_free(k);
		if (!k || !v) {
			wipe_free(out);
			return NULL;
		}
	}
	return out;
}

/* The JSON object of the fields, as text. NULL when out of memory. */
static char *json_body(const struct profile_login *l)
{
	json_t *o = json_object();
	char *out = NULL;

	for (size_t i = 0; o && i < l->nfields; i++)
		if (json_object_set_new(o, l->fields[i].key, json_string(l->fields[i].value)) < 0)
			goto done;
	if (o)
		out = json_dumps(o, JSON_COMPACT);
done:
	json_decref(o);
	return out;
}

/* What an answer that is not 2xx says about itself: its JSON "message" or
 * "error", never the body as such. */
static void answer_says(const struct http_answer *a, char *buf, size_t cap)
{
	json_t *doc = json_loads(a->body, JSON_DECODE_ANY, NULL), *m = NULL;

	buf[0] = '\0';
	if (json_is_object(doc) && !json_is_string(m = json_object_get(doc, "message")))
		m = json_object_get(doc, "error");
	if (json_is_string(m))
		snprintf(buf, cap, " (%.200s)", json_string_value(m));
	json_decref(doc);
}

/* The token from a 2xx answer, into l->token. */
static int take_token(struct profile_login *l, const struct http_answer *a, struct perr *e)
{
	json_t *doc = NULL, *v;
	const char *tok = a->captured;
	int rc = 0;

	if (l->token_field) {
		doc = json_loads(a->body, JSON_DECODE_ANY, NULL);
		v = doc ? obs_json_path(doc, l->token_field) : NULL;
		tok = json_is_string(v) ? json_string_value(v) : NULL;
	}
	if (!tok || !*tok)
		rc = perr_set(e, "the answer has no token %s '%s'", l->token_field ? "at" : "in header",
			      l->token_field ? l->token_field : l->token_header);
	else if (strlen(tok) >= sizeof(l->token))
		rc = perr_set(e, "the token is longer than %zu bytes", sizeof(l->token) - 1);
	else if (strpbrk(tok, "\r\n"))
		rc = perr_set(e, "the token holds a line break");
	else {
		explicit_bzero(l->token, sizeof(l->token));
		memcpy(l->token, tok, strlen(tok) + 1);
		l->gen++;
	}
	json_decref(doc);
	return rc;
}

/* Log in now; the caller holds l->mu. */
static int login_locked(struct profile_login *l, struct perr *e)
{
	const char *type = l->body == PROFILE_BODY_JSON ? "Content-Type: application/json"
						   : "Content-Type: application/x-www-form-urlencoded";
	char *body = l->body == PROFILE_BODY_JSON ? json_body(l) : l->body == PROFILE_BODY_FORM ? form_body(l) : NULL;
	struct http_req q = { .method = l->method, .url = l->url, .headers = &type,
			      .nheaders = l->body != PROFILE_BODY_NONE, .body = body, .insecure = l->insecure,
			      .capture = l->token_header };
	struct http_answer a;
	char says[240];
	int rc;

	if (l->body != PROFILE_BODY_NONE && !body)
		return perr_set(e, "observer log-in: out of memory");
	rc = http_do(&q, &a, e);
	wipe_free(body);
	if (rc < 0)
		return perr_wrap(e, "observer log-in");
	if (a.status < 200 || a.status > 299) {
		answer_says(&a, says, sizeof(says));
		rc = perr_set(e, "observer log-in: %s %s: HTTP %ld%s", l->method, l->url, a.status, says);
	} else if (take_token(l, &a, e) < 0) {
		rc = perr_wrap(e, "observer log-in: %s %s: HTTP %ld, but", l->method, l->url, a.status);
	}
	http_answer_free(&a);
	return rc;
}

int login_all(struct profile *p, const char *when, struct perr *e)
{
	for (size_t i = 0; i < p->nlogins; i++) {
		struct profile_login *l = p->logins[i];
		int rc;

		pthread_mutex_lock(&l->mu);
		rc = login_locked(l, e);
		pthread_mutex_unlock(&l->mu);
		if (rc < 0)
			return -1;
		log_info("observers: logged in at %s (%s)", l->url, when);
	}
	return 0;
}

int login_header(struct profile_login *l, char **line, unsigned *gen, struct perr *e)
{
	int rc = 0;

	*line = NULL;
	pthread_mutex_lock(&l->mu);
	if (!l->gen)
		rc = login_locked(l, e);
	if (rc == 0 && asprintf(line, "%s: %s%s%s", l->header, l->scheme, *l->scheme ? " " : "", l->token) < 0) {
		*line = NULL;
		rc = perr_set(e, "out of memory");
	}
	*gen = l->gen;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int login_renew(struct profile_login *l, unsigned gen, struct perr *e)
{
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	if (l->gen == gen) {
		log_info("observers: the token was refused (HTTP 401): logging in again at %s", l->url);
		rc = login_locked(l, e);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}
