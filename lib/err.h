/* err.h - how ppmq reports errors: two tiers, one rule for each.
 *
 * 1. Codecs say what is wrong with the bytes they were given. The PROXY
 *    codec (pp: enum pp_reason in a struct pp_error), the MQTT codec
 *    (mqtt: a reason code, which the broker sends back, and a static
 *    `const char **why`), the WebSocket codec (ws: an HTTP status or a
 *    close code, and a reason in the request / decoder) and the TLS engine
 *    (tls: a tls_status, the last failure in tls_error()) return their own
 *    verdict, because the verdict is data for their caller: a conformance
 *    grade, a CONNACK code, a close frame. They allocate nothing for it,
 *    do no I/O to report it and never take a struct perr for it.
 *
 * 2. Everything else (sockets, files, configuration, profiles, scenarios,
 *    processes, reports, the client's local failures) returns 0 on success
 *    and -1 on failure (or a pointer and NULL), after writing what went
 *    wrong (what, where, why) into a struct perr given by its caller:
 *
 *     if (cfg_load(path, &cfg, &e) < 0) {
 *             fprintf(stderr, "ppmq-broker: %s\n", e.msg);
 *             return 2;
 *     }
 *
 * Callers that add context wrap the message with perr_wrap(). A caller of
 * a codec that must fail in tier 2 turns the verdict into a perr with the
 * codec's reason text (e.g. "PROXY header rejected: " pp_reason_text()).
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
