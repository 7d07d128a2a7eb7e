/* observer.h - read what a broker recorded about one client:
 *   - http: GET a URL (libcurl), parse JSON (jansson), find the record
 *     (optionally the element of an array whose field equals the client
 *     id), read its IP / port / peer fields by dotted path;
 *   - log: scan a log file with a POSIX extended regex in which
 *     {client_id} stands for the (escaped) client id and groups may be
 *     named (?<ip>...) / (?P<ip>...).
 * The parsing halves are separate functions so tests can feed them
 * documents and log text directly.
 */
#ifndef PPMQ_CONFORM_OBSERVER_H
#define PPMQ_CONFORM_OBSERVER_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "expect.h"
#include "profile.h"

struct obs_vars {
	const char *client_id;
	const char *listener;
	const char *peer_port;   /* our source port: {peer_port} (rejections) */
	const char *output;      /* the launched target's output file: file "{output}" */
};

enum obs_escape { OBS_ESC_NONE = 0, OBS_ESC_URL, OBS_ESC_REGEX };

/* Fill {client_id} and {listener} in tmpl, escaping the values for a URL
 * or a regex. Unknown {names} are left as they are (regex intervals like
 * {1,3} stay intact). Returns the length, or -1 when out does not fit. */
int obs_template(const char *tmpl, const struct obs_vars *v, enum obs_escape esc, char *out,
		 size_t cap);

/* Dotted path ("a.b.0.c") inside a JSON value; NULL when absent. An empty
 * path or NULL is the value itself. */
json_t *obs_json_path(json_t *root, const char *path);

/* The record of client_id in doc: with match_field, the last element of
 * the array (doc itself, or at array_field) whose match_field equals the
 * client id; without, doc. NULL when absent. */
json_t *obs_json_select(json_t *doc, const char *array_field, const char *match_field,
			const char *client_id);

/* Fill *rec from a JSON body as the observer o describes it. Returns 0
 * (rec->found says whether there was a record), or -1 with *e for a body
 * that is not JSON. excerpt (may be NULL) gets the record, compact. */
int obs_from_json(const struct profile_observer *o, const char *body, const char *client_id,
		  struct expect_record *rec, char *excerpt, size_t cap, struct perr *e);

/* A compiled log regex: named groups resolved to numbers. */
struct obs_regex {
	regex_t re;
	bool compiled;
	int ip_group, port_group;  /* -1 when none */
};

/* Compile a log regex template for one client ({client_id}, {listener}
 * filled in and escaped); ip_group / port_group name a group ("ip") or
 * give its number ("1"); NULL = "ip" / "port" when such named groups
 * exist. */
int obs_regex_compile(struct obs_regex *r, const char *tmpl, const struct obs_vars *v,
		      const char *ip_group, const char *port_group, struct perr *e);
void obs_regex_free(struct obs_regex *r);

/* Scan text (lines) for the last match; fills rec and the matching line
 * into excerpt. Returns 0. */
int obs_from_log(const struct obs_regex *r, const char *text, size_t len, struct expect_record *rec,
		 char *excerpt, size_t cap);

/* Query the observer for the record of a client, retrying every 50 ms up
 * to o->retry_ms until it appears. Returns 0 (see rec->found) or -1 with
 * *e when the observer cannot be read at all (connection refused, HTTP
 * 500, unreadable log file). */
int obs_query(const struct profile_observer *o, const struct obs_vars *v, struct expect_record *rec,
	      char *excerpt, size_t cap, struct perr *e);

/* The rejections observer (a log): the last line about our connection
 * ({peer_port} in its regex), reduced to its `reason` group (the whole
 * line without one), into buf; waits up to retry_ms for it. Returns 1
 * when found, 0 when not, -1 with *e when the log cannot be read. */
int obs_rejection(const struct profile_observer *o, const struct obs_vars *v, char *buf, size_t cap,
		  struct perr *e);

/* One GET: body (malloc'd, NUL-terminated) and HTTP status. For launch's
 * readiness check too. */
int obs_http_get(const char *url, const struct profile_observer *o, long *status, char **body,
		 struct perr *e);

#endif
