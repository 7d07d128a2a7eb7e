/* ident.h - who is at the other end of a connection, and how the PROXY
 * stage looks for the header that says so.
 *
 * The identity is decided once: when the PROXY stage ends, or at accept
 * on a listener without one. Until then the client is the socket peer.
 *
 *   ident_accept()   the socket peer, and its text (at accept)
 *   ident_decide()   the real client, the PROXY details, the certificate
 *                    identity (when the PROXY stage ends)
 *   ident_settle()   the text of what was decided (log forms, records)
 *
 * What is decided is then read, never recomputed: by the log lines, by
 * the engine (the certificate identity) and by the records (id->rec).
 */
#ifndef PPMQ_BROKER_IDENT_H
#define PPMQ_BROKER_IDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "net.h"
#include "pp.h"
#include "records.h"

/* ---- how the PROXY stage runs on a listener ----------------------------- */

enum ident_header {
	IDENT_HEADER_NONE = 0,   /* no PROXY stage */
	IDENT_HEADER_REQUIRED,   /* strict: a valid header on every connection */
	IDENT_HEADER_OPTIONAL,   /* a header or none; a header only from trusted peers */
	IDENT_HEADER_IGNORED,    /* a header is read and dropped, nothing decided from it */
};

struct ident_stage {
	enum ident_header header;
	bool after_tls;              /* look for the header inside the TLS session */
	bool timeout;                /* close a connection stalled in the header */
	struct pp_parse_opts parse;
};

/* From the listener's configuration (the usual case: header before TLS,
 * with its timeout, CRC32C verified, v1 and v2). */
void ident_stage_init(struct ident_stage *st, const struct cfg_listener *lc);

/* ---- the identity -------------------------------------------------------- */

/* What the identity is decided from. */
struct ident_basis {
	const struct pp_header *h;   /* the accepted header; NULL: none */
	unsigned reads;              /* input slices the header arrived in */
	bool cert_identity;          /* security.proxy_cert_identity */
	bool trusted_peer;           /* the peer is in a non-empty trusted_proxies */
};

struct ident {
	struct sockaddr_storage peer;    /* socket peer (unmapped): the proxy, or the client */
	struct sockaddr_storage client;  /* real client: the header's source, else the peer */
	bool client_from_header;         /* client is the header's address, not the peer */
	const char *cert_identity;       /* CN of a client certificate the proxy vouches for
					    (rec.proxy->ssl_cn), or NULL */
	/* Text, for log lines. */
	char peer_s[NET_ADDR_STRLEN];    /* "127.0.0.1:40000", "[2001:db8::1]:5555" */
	char client_s[NET_ADDR_STRLEN];
	char who[2 * NET_ADDR_STRLEN + 8];   /* "CLIENT via PEER" with a header, else "PEER" */
	char proxy_desc[64];             /* "PROXY v2 PROXY TCP4", "no PROXY header" ... */
	/* What the records keep: listener, client and peer as text, the
	 * PROXY details (owned here: ident_free), TLS. */
	struct rec_conn_info rec;
};

/* A connection was accepted from peer: the identity is the peer's until
 * decided. */
void ident_accept(struct ident *id, enum cfg_listener_kind listener,
		  const struct sockaddr_storage *peer);

/* Does this header name the client (PROXY command, INET / INET6 / UNIX
 * family with a source address)? LOCAL, UNSPEC and v1 UNKNOWN do not:
 * the socket's own addresses stand. */
bool ident_header_names_client(const struct pp_header *h);

/* The CN the header's SSL TLV names for a client certificate (v2, PROXY
 * command, non-empty CN), whether or not the proxy vouches for it; NULL
 * without one. Call after ident_decide. */
const char *ident_cert_claim(const struct ident *id);

/* Decide the real client, copy the header's details and pick the
 * certificate identity. Returns 0, or -1 out of memory. */
int ident_decide(struct ident *id, const struct ident_basis *b);

/* Make the text of what was decided (once, after ident_decide; a
 * client not from the header takes the peer's text). */
void ident_settle(struct ident *id);

/* TLS parameters, once the handshake is done. */
void ident_set_tls(struct ident *id, const char *version, const char *cipher);

/* Free what the identity owns. */
void ident_free(struct ident *id);

#endif
