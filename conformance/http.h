/* http.h - one HTTP request through libcurl, the way ppmq-conform makes
 * them: an observer's GET of a record, its log-in (a POST of credentials
 * whose answer holds a token, in the body or in a header), a launch's
 * readiness check. No redirects, bounded answers (16 MiB), http and https
 * only, timeouts of 2 s to connect and 5 s in all.
 *
 * Nothing here prints or logs: headers may carry secrets (tokens,
 * passwords); messages name the method and URL only.
 */
#ifndef PPMQ_CONFORM_HTTP_H
#define PPMQ_CONFORM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct http_req {
	const char *method;           /* NULL: GET */
	const char *url;
	const char *const *headers;   /* "Name: value" lines */
	size_t nheaders;
	const char *body;             /* NULL: none */
	const char *basic_user;       /* HTTP basic authentication, or NULL */
	const char *basic_pass;
	bool insecure;                /* https: do not verify the server */
	const char *capture;          /* name of an answer header to keep, or NULL */
};

struct http_answer {
	long status;
	char *body;                   /* NUL-terminated; "" when the answer had none */
	size_t len;
	char *captured;               /* the value of req->capture (the last one), or NULL */
};

/* Make the request. 0 with *a filled (any HTTP status), or -1 with *e
 * when no answer came ("POST http://...: Couldn't connect to server"). */
int http_do(const struct http_req *q, struct http_answer *a, struct perr *e);
void http_answer_free(struct http_answer *a);

#endif
