/* err.h - the one error idiom of ppmq.
 *
 * A function that can fail returns 0 on success and -1 on failure, after
 * writing what went wrong (what, where, why) into a struct perr given by
 * its caller:
 *
 *     if (cfg_load(path, &cfg, &e) < 0) {
 *             fprintf(stderr, "ppmq-broker: %s\n", e.msg);
 *             return 2;
 *     }
 *
 * Callers that add context wrap the message with perr_wrap().
 */
#ifndef PPMQ_ERR_H
#define PPMQ_ERR_H

#include <stddef.h>

struct perr {
	char msg[512];
};

/* Set the message (printf format); always returns -1. e may be NULL. */
int perr_set(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix the existing message: "<prefix>: <old message>"; returns -1. */
int perr_wrap(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* perr_set with ": strerror(errno)" appended; returns -1. */
int perr_errno(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
