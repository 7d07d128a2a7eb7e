/* login.h - observers that must log in first (profile auth.login): send
 * the credentials, keep the token the answer holds, put it on every
 * request of the observers that use it, and log in again once when the
 * API answers 401 (the token expired, or the target restarted).
 *
 * The runner logs in when the target is ready, and again after every
 * restart. A token is never written anywhere: not in messages, reports
 * or logs; it is wiped when it is replaced or the profile is freed.
 * Thread-safe: workers share one token per login.
 */
#ifndef PPMQ_CONFORM_LOGIN_H
#define PPMQ_CONFORM_LOGIN_H

#include "err.h"
#include "profile.h"

/* Log in with every login block of p; when says why, for -v ("the target
 * is ready", "the target restarted"). 0, or -1 with *e naming the first
 * that failed ("observer log-in: POST URL: HTTP 401 (Invalid username or
 * password)"). */
int login_all(struct profile *p, const char *when, struct perr *e);

/* The request header that carries l's token ("X-Authorization: Bearer
 * ..."), malloc'd into *line (wipe it with login_line_free), and the
 * token's generation in *gen. Logs in first when there is no token yet.
 * 0, or -1 with *e. */
int login_header(struct profile_login *l, char **line, unsigned *gen, struct perr *e);
void login_line_free(char *line);

/* A request with the token of generation gen was answered 401: log in
 * again, unless another request has done so since. 0, or -1 with *e. */
int login_renew(struct profile_login *l, unsigned gen, struct perr *e);

#endif
