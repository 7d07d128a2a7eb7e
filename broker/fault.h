/* fault.h - deliberate misbehaviours of ppmq-broker, for testing the
 * conformance tools (ppmq-conform must catch each one).
 *
 * They exist ONLY so that the test suite can prove that a wrong broker is
 * reported as wrong. Never enable them in a real deployment. Switched on
 * with --fault NAME[,NAME...] or the environment variable PPMQ_FAULT; each
 * enabled fault is logged as a warning at start-up.
 *
 * The pipeline never asks which faults are on: it calls the fault_* hooks
 * below at fixed points (a listener opens, a read ends inside the header,
 * a header is complete, the identity is decided), and the hooks act.
 */
#ifndef PPMQ_BROKER_FAULT_H
#define PPMQ_BROKER_FAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct ident;
struct sockaddr_storage;
struct ident_basis;
struct ident_stage;
struct pp_header;

enum fault {
	FAULT_RECORD_PROXY_IP = 0, /* record the socket peer instead of the header's source */
	FAULT_ACCEPT_MISSING,      /* accept connections without a header on enabled listeners */
	FAULT_REJECT_LOCAL,        /* close v2 LOCAL connections (health checks) */
	FAULT_DROP_SPLIT,          /* close when the header is not complete in the first read */
	FAULT_NO_HEADER_TIMEOUT,   /* never time out a stalled header */
	FAULT_IGNORE_CRC,          /* do not verify the v2 CRC32C TLV */
	FAULT_STRIP_DISABLED,      /* on a disabled listener, silently skip a header */
	FAULT_HEADER_INSIDE_TLS,   /* ssl/wss: read the header after the TLS handshake */
	FAULT_SPLIT_WRONG_ADDRESS, /* a header that came in pieces: record its destination */
	FAULT_CRASH_UNIQUE_ID,     /* abort() on a v2 header with a UNIQUE_ID TLV */
	FAULT_V2_ONLY,             /* refuse v1 headers, as a listener set to one version does */
	FAULT_ANY_CERT_IDENTITY,   /* proxy_cert_identity takes any SSL TLV CN, verified or not */
	FAULT_ACL_JUDGES_PROXY,    /* the ACL's address rules judge the socket peer, not the client */
	FAULT_COUNT
};

/* Stable name ("record-proxy-ip") and a one-line description. */
const char *fault_name(enum fault f);
const char *fault_desc(enum fault f);

/* Enable the faults named in a comma-separated list (spaces allowed).
 * Adds to the ones already on. Returns 0, or -1 with *e naming the
 * unknown fault. NULL or "" enables nothing. */
int fault_enable_list(const char *list, struct perr *e);

bool fault_on(enum fault f);
/* Comma-separated names of the enabled faults into buf ("" when none). */
const char *fault_enabled_str(char *buf, size_t cap);

/* ---- hooks: where the faults act ------------------------------------------ */

/* A listener opens: how its PROXY stage runs (accept-missing,
 * strip-disabled, header-inside-tls, no-header-timeout, ignore-crc,
 * v2-only). tls: an ssl or wss listener. */
void fault_adjust_stage(struct ident_stage *st, bool tls);

/* The input so far (reads slices) ends inside the header (drop-split).
 * Returns a rejection reason and sets *why, or NULL: wait for more. */
const char *fault_refuse_partial(unsigned reads, const char **why);

/* A complete, valid header, before anything is decided from it
 * (reject-local; crash-on-unique-id aborts here, logged as coming from
 * listener and id's peer). Returns a rejection reason and sets *why, or
 * NULL. */
const char *fault_refuse_header(const struct pp_header *h, const char *listener,
				const struct ident *id, const char **why);

/* The identity was decided from b, before its text is made
 * (record-proxy-ip, split-wrong-address, any-cert-identity). */
void fault_rewrite_identity(struct ident *id, const struct ident_basis *b);

/* The address the ACL judges, into *ss: the client's (acl-judges-proxy:
 * the socket peer's). */
void fault_acl_address(const struct ident *id, struct sockaddr_storage *ss);

#endif
