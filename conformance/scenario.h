/* scenario.h - the scenario catalog: YAML files in scenarios/, one family
 * per file, many scenarios per file (format: scenarios/README.md).
 *
 * A scenario says what to send on one connection (or several, in steps),
 * which outcomes are acceptable and how each is graded, and what the
 * broker must have recorded. `mutations: all` in a file expands to one
 * scenario per entry of lib/pp.h's malformation catalog, so the catalog
 * and the scenarios cannot drift apart.
 *
 * Everything a catalog points to lives in its arena: sc_catalog_free
 * releases it all.
 */
#ifndef PPMQ_CONFORM_SCENARIO_H
#define PPMQ_CONFORM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "../reports/report.h"
#include "yx.h"

/* Listener kinds, as profiles name them. */
enum sc_listener { SC_TCP = 0, SC_SSL, SC_WS, SC_WSS, SC_NLISTENERS };
#define SC_ALL_LISTENERS 0xfu
const char *sc_listener_name(enum sc_listener l);      /* "tcp" ... */
int sc_listener_parse(const char *s, enum sc_listener *l); /* "tls" = ssl */

/* PROXY modes of a listener. */
enum sc_mode { SC_MODE_ENABLED = 0, SC_MODE_DISABLED, SC_MODE_OPTIONAL, SC_MODE_ABSENT, SC_NMODES };
#define SC_ALL_MODES 0x7u /* enabled, disabled, optional */
const char *sc_mode_name(enum sc_mode m);
int sc_mode_parse(const char *s, enum sc_mode *m);

/* ---- clauses: the spec sentences scenarios check ----------------------- */

/* Requirement level of a sentence, as the document words it. The grade of
 * an outcome that breaks it follows from the level alone: MUST / MUST NOT
 * and a product's documented rule (RULE) are FAIL, SHOULD / SHOULD NOT /
 * RECOMMENDED are NON-STRICT, MAY is INFO. */
enum sc_level {
	SC_LEVEL_MUST = 0,     /* "must", "MUST", "must not", "MUST NOT" */
	SC_LEVEL_RULE,         /* a rule a broker documents (TBMQ) or its profile declares */
	SC_LEVEL_SHOULD,       /* "should", "SHOULD (NOT)", "recommended" */
	SC_LEVEL_MAY,          /* "may", an implementation choice */
	SC_NLEVELS
};
const char *sc_level_name(enum sc_level l);              /* "MUST", "RULE", "SHOULD", "MAY" */
int sc_level_parse(const char *s, enum sc_level *l);      /* also "MUST NOT", "RECOMMENDED" ... */
/* The grade of breaking a sentence of this level. */
enum rpt_grade sc_level_grade(enum sc_level l);

struct sc_clause {
	char *id;            /* stable, e.g. "pp2/local-accept" */
	char *source;        /* "proxy-protocol.txt 2.2 (LOCAL)", "TBMQ docs", "MQTT 3.1.1 [MQTT-3.1.4-5]" */
	char *quote;         /* the sentence, word for word */
	enum sc_level level;
	char *level_text;    /* as worded: "must", "MUST NOT", "recommended" ... */
	char *when;          /* a feature the sentence is conditional on ("crc32c"): it
			      * binds only targets whose profile declares it; NULL: all */
	char *file;
	int line;
};

/* ---- what to send ------------------------------------------------------- */

enum sc_payload {
	SC_PAY_HEADER = 0,  /* built from struct sc_header */
	SC_PAY_MUTATION,    /* pp_mutate(name, header or default) */
	SC_PAY_RAW,         /* exactly these bytes */
	SC_PAY_NONE,        /* no header */
	SC_PAY_AUTO,        /* what the listener's mode wants: a default v1 header when enabled, none otherwise */
};

struct sc_tlv {
	int type;            /* 0..255 */
	uint8_t *value;      /* raw value bytes */
	size_t len;
};

struct sc_header {
	int version;         /* 1 or 2 */
	int command;         /* 0 LOCAL, 1 PROXY */
	int family;          /* pp_fam */
	int transport;       /* pp_proto; -1 = the family's default */
	char *src, *dst;     /* "IP:PORT", "[v6]:PORT", "/unix/path"; NULL = default */
	bool unknown_long;   /* v1 UNKNOWN with addresses */
	struct sc_tlv *tlvs;
	size_t ntlvs;
	bool crc32c;
	size_t noop;
};

enum sc_cred { SC_CRED_VALID = 0, SC_CRED_INVALID, SC_CRED_NONE };
/* What a scenario needs of the profile beyond listeners and observers. */
#define SC_NEEDS_IDENTITY 0x1u  /* the target derives an identity from TLVs (profile identity) */
#define SC_NEEDS_POLICY   0x2u  /* the target declares an address rule (profile policy) */
enum sc_bind { SC_BIND_CLIENT = 0, SC_BIND_UNTRUSTED, SC_BIND_BLOCKED_PROXY };

/* A header address may name the profile's policy addresses: "{blocked}"
 * (policy.blocked_source) and "{allowed}" (policy.allowed_source), as in
 * "{blocked}:41000" or "[::ffff:{blocked}]:41000". Writes src with them
 * replaced into out. Returns 1 when src names one, 0 when it names none
 * (out = src), -1 when out is too small. */
int sc_expand_addr(const char *src, const char *blocked, const char *allowed, char *out, size_t cap);

#define SC_WAIT_HEADER_TIMEOUT (-1) /* wait_ms / within_ms: the profile's header timeout + 1 s */

struct sc_send {
	enum sc_payload payload;
	struct sc_header header;
	char *mutation;
	uint8_t *raw;
	size_t raw_len;
	/* fragmentation, as struct client_opts */
	size_t split;        /* chunk size; 0 = one write */
	bool split_half;     /* two halves */
	int delay_ms;
	size_t send_only;
	int stall_ms;        /* or SC_WAIT_HEADER_TIMEOUT */
	int stall_before_ms; /* silence before the header; or SC_WAIT_HEADER_TIMEOUT */
	bool close_after_header;
	bool coalesce;
	int sweep;           /* 2 or 3: the header cut at every byte boundary into that
			      * many pieces, one connection per cut (0 = no sweep) */
	enum sc_bind bind;
	/* MQTT */
	bool no_connect;
	int mqtt;            /* 0 = profile default, 4 or 5 */
	enum sc_cred cred;
	char *client_id;     /* NULL = unique per point */
	int wait_ms;         /* 0 = profile timeout; SC_WAIT_HEADER_TIMEOUT */
};

/* ---- what to expect ----------------------------------------------------- */

enum sc_outcome {
	SC_O_ACCEPTED = 0,   /* CONNACK 0 */
	SC_O_REFUSED,        /* CONNACK != 0 (codes: which) */
	SC_O_CONNACK,        /* CONNACK with one of codes */
	SC_O_REJECTED,       /* closed / reset / failed handshake with no byte from the broker */
	SC_O_CLOSED,         /* closed or reset, bytes or not */
	SC_O_TIMEOUT,        /* still open, nothing conclusive, at the end of the wait */
	SC_O_TLS_FAIL,
	SC_O_WS_FAIL,
	SC_O_PROTOCOL,       /* answered something that is not a CONNACK */
	SC_O_NOT_ACCEPTED,   /* anything but CONNACK 0 */
	SC_O_ANY,
	SC_NOUTCOMES
};
const char *sc_outcome_name(enum sc_outcome o);
int sc_outcome_parse(const char *s, enum sc_outcome *o);

#define SC_MAX_CODES 8

struct sc_expect {
	enum sc_outcome outcome;
	int codes[SC_MAX_CODES];
	size_t ncodes;
	int within_ms;       /* 0 = no bound; SC_WAIT_HEADER_TIMEOUT */
	int after_ms;        /* only when the outcome came this late or later (0 = any time);
			      * SC_WAIT_HEADER_TIMEOUT: half the profile's header timeout */
	enum rpt_grade grade;
	char *note;          /* why this grade (shown for non-PASS grades) */
	const struct sc_clause *clause; /* its own sentence, or NULL: the step's
					 * (sc_expect_clause) */
	int line;
};

enum sc_where { SC_REC_NONE = 0, SC_REC_SESSIONS, SC_REC_UNAUTHORIZED };
enum sc_addr_src { SC_ADDR_UNCHECKED = 0, SC_ADDR_HEADER_SRC, SC_ADDR_SOCKET_PEER, SC_ADDR_LITERAL };

struct sc_addr_check {
	enum sc_addr_src src;
	char *literal;       /* SC_ADDR_LITERAL: IP text or port number */
};

struct sc_record {
	enum sc_where where;
	struct sc_addr_check ip, port, peer_ip, peer_port;
	const struct sc_clause *clause; /* what a wrong record breaks (default: the step's) */
	bool none;           /* `record: none`: no address check, not even the automatic one */
	enum sc_identity { SC_ID_UNCHECKED = 0, SC_ID_CERT, SC_ID_NOT_CERT } identity;
			     /* the recorded user name is / is not the CN of the header's SSL TLV */
};

struct sc_step {
	struct sc_send send;
	struct sc_expect *expect;
	size_t nexpect;
	struct sc_record record;
	const struct sc_clause *clause; /* what this step checks (default: the scenario's) */
	int line;
};

struct scenario {
	char *id, *title, *ref, *family;
	char **tags;
	size_t ntags;
	unsigned listeners;  /* bit per sc_listener */
	unsigned modes;      /* bit per sc_mode */
	char *configuration; /* "global=true tcp=unset" or NULL */
	struct sc_step *steps;
	size_t nsteps;
	bool probe_after;    /* check the listener still serves a normal client afterwards */
	unsigned needs;      /* SC_NEEDS_* */
	char *file;
	int line;
	bool generated;      /* expanded from `mutations:` */
	char *verdict;       /* generated: the catalog's verdict name */
	const struct sc_clause *clause; /* what the scenario checks (steps may refine it) */
};

struct sc_catalog {
	struct scenario *v;
	size_t n, cap;
	size_t ngenerated;
	struct sc_clause **clauses;  /* each in the arena: pointers to them stay valid */
	size_t nclauses, clauses_cap;
	struct yx_arena arena;
};

/* Load every *.yml of dir (sorted by name) or one file, appending to cat
 * (zero it before the first call). Returns 0 or -1 with "file:line:col:
 * why" in *e. */
int sc_load_dir(struct sc_catalog *cat, const char *dir, struct perr *e);
int sc_load_file(struct sc_catalog *cat, const char *path, struct perr *e);
int sc_load_string(struct sc_catalog *cat, const char *name, const char *yaml, struct perr *e);
void sc_catalog_free(struct sc_catalog *cat);

const struct scenario *sc_find(const struct sc_catalog *cat, const char *id);
const struct sc_clause *sc_clause_find(const struct sc_catalog *cat, const char *id);
/* The clause an expectation's grade is about: its own, else the step's. */
const struct sc_clause *sc_expect_clause(const struct sc_step *st, const struct sc_expect *x);

/* The whole catalog holds together: every scenario step names a clause.
 * (Loading already checked that each grade matches its clause's level.)
 * Returns 0, or -1 with "file:line: scenario 'id' ..." in *e. */
int sc_catalog_check(const struct sc_catalog *cat, struct perr *e);

/* Does the scenario match a --only pattern? Patterns match the id or any
 * tag, as fnmatch globs, or as an id prefix ending at a '/'. */
bool sc_matches(const struct scenario *s, const char *pattern);

/* The expectation list a mutation verdict implies (for `mutations:`).
 * Fills steps[0] of s; exposed for tests. */
int sc_expand_mutation(struct sc_catalog *cat, struct scenario *s, const char *name,
		       struct perr *e);

#endif
