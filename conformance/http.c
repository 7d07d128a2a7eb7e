/* http.c - see http.h. */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_ANSWER (16u << 20)

struct sink {
	char *p;
	size_t n;
	const char *capture;
	size_t capture_len;
	char *captured;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t l = size * nmemb;
	char *np;

	if (s->n + l > HTTP_MAX_ANSWER)
		return 0; /* refuse absurd answers */
	np = realloc(s->p, s->n + l + 1);
	if (!np)
		return 0;
	memcpy(np + s->n, data, l);
	s->p = np;
	s->n += l;
	s->p[s->n] = '\0';
	return l;
}

/* One header line of the answer: keep the value of the one asked for. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t l = size * nmemb, vl;
	const char *v;

	if (!s->capture || l <= s->capture_len || data[s->capture_len] != ':' ||
	    strncasecmp(data, s->capture, s->capture_len))
		return l;
	v = data + s->capture_len + 1;
	vl = l - s->capture_len - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (s->captured) {
		explicit_bzero(s->captured, strlen(s->captured));
		free(s->captured);
	}
	s->captured = strndup(v, vl);
	return s->captured ? l : 0;
}

static struct curl_slist *request_headers(const struct http_req *q)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");

	for (size_t i = 0; h && i < q->nheaders; i++) {
		struct curl_slist *n = curl_slist_append(h, q->headers[i]);

		if (!n) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = n;
	}
	return h;
}

static void set_options(CURL *c, const struct http_req *q, struct sink *s, struct curl_slist *h)
{
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (q->method && strcmp(q->method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
	}
	if (q->basic_user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, q->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, q->basic_pass ? q->basic_pass : "");
	}
	if (q->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

int http_do(const struct http_req *q, struct http_answer *a, struct perr *e)
{
	const char *method = q->method ? q->method : "GET";
	struct sink s = { .capture = q->capture, .capture_len = q->capture ? strlen(q->capture) : 0 };
	struct curl_slist *h;
	CURLcode rc;
	CURL *c;

	memset(a, 0, sizeof(*a));
	c = curl_easy_init();
	h = c ? request_headers(q) : NULL;
	if (!c || !h) {
		if (c)
			curl_easy_cleanup(c);
		return perr_set(e, "%s %s: cannot start the request", method, q->url);
	}
	set_options(c, q, &s, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	a->body = s.p;
	a->len = s.n;
	a->captured = s.captured;
	if (rc != CURLE_OK) {
		http_answer_free(a);
		return perr_set(e, "%s %s: %s", method, q->url, curl_easy_strerror(rc));
	}
	if (!a->body && !(a->body = strdup(""))) {
		http_answer_free(a);
		return perr_set(e, "out of memory");
	}
	return 0;
}

/* The answer may hold a token: wiped before it is freed. */
void http_answer_free(struct http_answer *a)
{
	if (a->body)
		explicit_bzero(a->body, a->len);
	if (a->captured)
		explicit_bzero(a->captured, strlen(a->captured));
	free(a->body);
	free(a->captured);
	memset(a, 0, sizeof(*a));
}
