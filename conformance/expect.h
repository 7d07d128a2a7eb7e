/* expect.h - grading: match what happened on a connection against a
 * scenario step's acceptable outcomes (first match wins, each with its
 * grade), and check a record read through an observer against what the
 * scenario says must have been recorded.
 */
#ifndef PPMQ_CONFORM_EXPECT_H
#define PPMQ_CONFORM_EXPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "../reports/report.h"
#include "scenario.h"

/* What happened, reduced to what grading needs. */
struct expect_actual {
	enum client_outcome outcome;
	int connack_rc;          /* -1: no CONNACK */
	bool any_byte;           /* the broker wrote something (before or after TLS) */
	double elapsed_ms;
};

/* Does one expectation match? header_wait_ms resolves
 * SC_WAIT_HEADER_TIMEOUT in within_ms. */
bool expect_matches(const struct sc_expect *x, const struct expect_actual *a, int header_wait_ms);

/* Grade one step: the first matching expectation's grade, and its note
 * (may be NULL) in *note. When none matches: the grade of breaking the
 * step's clause (FAIL without one; always FAIL for a refused connect or a
 * local error) with a reason. Returns the index of the matching
 * expectation or -1. */
int expect_grade(const struct sc_step *st, const struct expect_actual *a, int header_wait_ms,
	     enum rpt_grade *grade, const char **note);

/* Worst of two grades for multi-step scenarios:
 * FAIL > UNSUPPORTED > NON-STRICT > INFO > PASS; SKIP wins over all (a
 * step that could not run). */
enum rpt_grade expect_worst(enum rpt_grade a, enum rpt_grade b);

/* "rejected (closed with no byte from the broker) within 4000 ms => PASS" */
const char *expect_text(const struct sc_expect *x, int header_wait_ms, char *buf, size_t cap);
/* "connack 0 after 3 ms", "closed after 2 ms, no byte received" ... */
const char *expect_actual_text(const struct expect_actual *a, const char *detail, char *buf, size_t cap);

/* IP text equality after parsing both (2001:DB8::1 == 2001:db8::1;
 * ::ffff:1.2.3.4 == 1.2.3.4). Non-IP text compares as strings. */
bool expect_ip_equal(const char *a, const char *b);

/* A record read through an observer. */
struct expect_record {
	bool found;
	char ip[64];
	bool has_port;
	long port;
	bool has_peer_ip, has_peer_port;
	char peer_ip[64];
	long peer_port;
	int connected;           /* -1 unknown, 0 false, 1 true */
	bool has_username;
	char username[128];
	bool username_hidden;    /* the observer shows no user name */
	/* What the observer cannot show at all (no port field, no port group
	 * in its regex): checks of these parts are skipped, not failed. */
	bool port_hidden, peer_ip_hidden, peer_port_hidden;
};

/* What the scenario's "header-src" and "socket-peer" stand for on this
 * connection. */
struct expect_addrs {
	const char *header_ip;   /* NULL when the header has none */
	long header_port;
	const char *peer_ip;     /* our socket's local address: what the broker sees */
	long peer_port;
	const char *cert_cn;     /* the CN the header's SSL TLV carries, NULL when none */
};

/* Check rec against r. Returns RPT_PASS, or RPT_FAIL with why in buf
 * ("recorded 127.0.0.7 (the socket peer), expected 192.0.2.1 (header
 * source)"). Parts the observer cannot show (rec->*_hidden) are not
 * checked: expect_record_unchecked says which. */
enum rpt_grade expect_check_record(const struct sc_record *r, const struct expect_record *rec,
			       const struct expect_addrs *addrs, bool need_connected,
			       char *why, size_t cap);

/* "port, peer port": the parts r asks for that rec's observer cannot
 * show ("" when none). */
const char *expect_record_unchecked(const struct sc_record *r, const struct expect_record *rec, char *buf,
				size_t cap);

#endif
