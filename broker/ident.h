/* ident.h - who is at the other end of a connection, and how the PROXY
 * stage looks for the header that says so.
 *
 * The identity is decided once: when the PROXY stage ends, or at accept
 * on a listener without one. Until then the client is the socket peer.
 *
 *   ident_accept()   the socket peer (at accept)
 *   ident_decide()   the real client, the PROXY details, the certificate
 *                    identity (when the PROXY stage ends)
 *   ident_peer_s() ... ident_rec_info()   text of what was decided, made
 *                    when a log line or a record asks for it
 *
 * What is decided is then read, never recomputed: by the log lines, by
 * the engine (the certificate identity) and by the records.
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

/* An IP address and port in 20 bytes (a sockaddr_in6 takes 28, a
 * sockaddr_storage 128). A UNIX address keeps only its family here: its
 * text is the PROXY record's (rec_proxy src_ip / dst_ip). */
struct ident_addr {
	uint16_t family;                 /* AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC */
	uint16_t port;                   /* network byte order */
	uint8_t ip[16];                  /* 4 bytes for AF_INET */
};

/* Kept for as long as the connection lives, so kept small: addresses in
 * binary, text made when a log line or a record needs it. */
struct ident {
	struct ident_addr peer;          /* socket peer (unmapped): the proxy, or the client */
	struct ident_addr client;        /* real client: the header's source, else the peer */
	uint8_t listener;                /* enum cfg_listener_kind */
	bool client_from_header;         /* client is the header's address, not the peer */
	const char *client_unix;         /* AF_UNIX client: its text, in proxy */
	const char *cert_identity;       /* CN of a client certificate the proxy vouches for
					    (proxy->ssl_cn), or NULL */
	struct rec_proxy *proxy;         /* the PROXY details (owned: ident_free); NULL: none */
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

/* The client is ss (a header's address, unmapped); unix_text: its text
 * when ss is a UNIX address (it must live as long as id: the PROXY
 * record's). */
void ident_take_client(struct ident *id, const struct sockaddr_storage *ss,
		       const char *unix_text);

/* The socket peer, the client, as a sockaddr_storage (for cfg_trusted,
 * the ACL; a UNIX client has its family only). */
void ident_peer_addr(const struct ident *id, struct sockaddr_storage *ss);
void ident_client_addr(const struct ident *id, struct sockaddr_storage *ss);

/* Text for log lines, each in its own static buffer (valid until the
 * next call of the same function; the event loop's thread only):
 *   ident_peer_s    "127.0.0.1:40000", "[2001:db8::1]:5555"
 *   ident_client_s  the real client, same form
 *   ident_who       "CLIENT via PEER" with a header naming another client, else the peer
 *   ident_desc      "PROXY v2 PROXY TCP4", "no PROXY header" ... */
const char *ident_peer_s(const struct ident *id);
const char *ident_client_s(const struct ident *id);
const char *ident_who(const struct ident *id);
const char *ident_desc(const struct ident *id);

/* What the records keep of the identity (text made now; ci->proxy
 * points to id's; no TLS: the connection adds its own). */
void ident_rec_info(const struct ident *id, struct rec_conn_info *ci);

/* Free what the identity owns. */
void ident_free(struct ident *id);

#endif
