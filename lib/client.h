/* client.h - one proxied MQTT client connection, the way a load balancer
 * and a client would make it together:
 *
 *   TCP connect -> PROXY header (optionally split, delayed, cut short)
 *     -> TLS handshake (tls, wss) -> HTTP upgrade (ws, wss) -> MQTT CONNECT
 *     -> the outcome (CONNACK code, closed, timeout, TLS failure ...)
 *
 * The header always goes before TLS and before the WebSocket upgrade.
 * Used by `proxygen send`, `proxygen flood` and ppmq-conform.
 */
#ifndef PPMQ_CLIENT_H
#define PPMQ_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "err.h"

enum client_transport { CLIENT_TCP = 0, CLIENT_TLS, CLIENT_WS, CLIENT_WSS };

const char *client_transport_name(enum client_transport t);        /* "tcp" ... */
int client_transport_parse(const char *s, enum client_transport *t); /* 0 or -1; "ssl" = "tls" */

enum client_outcome {
	CLIENT_CONNACK = 0,   /* a CONNACK came back: see connack_rc */
	CLIENT_CLOSED,        /* the peer closed (FIN) before answering */
	CLIENT_RESET,         /* the peer reset the connection */
	CLIENT_TIMEOUT,       /* nothing conclusive within timeout_ms */
	CLIENT_REFUSED,       /* TCP connect failed */
	CLIENT_TLS_FAIL,      /* TLS handshake failed */
	CLIENT_WS_FAIL,       /* HTTP upgrade refused or malformed */
	CLIENT_PROTOCOL,      /* the peer answered something that is not a CONNACK */
	CLIENT_SENT,          /* nothing to wait for (no CONNECT asked) and still open */
	CLIENT_ERROR,         /* local error (bad option, out of memory) */
};

const char *client_outcome_name(enum client_outcome o);   /* "connack", "closed", ... */

struct client_opts {
	enum client_transport transport;
	const char *host;          /* name or address */
	uint16_t port;
	const char *bind_addr;     /* local source address (e.g. 127.0.0.7), or NULL */

	/* TLS (tls, wss) */
	const char *ca_file;       /* verify the server against it ... */
	bool insecure;             /* ... or do not verify at all */
	const char *sni;           /* server name; default: host when it is a name */
	const char *cert_file, *key_file; /* client certificate */

	/* WebSocket (ws, wss) */
	const char *ws_path;       /* default "/mqtt" */
	const char *ws_subprotocol;/* default "mqtt" */

	/* PROXY header: sent first, exactly these bytes (NULL = no header). */
	const uint8_t *header;
	size_t header_len;
	int pre_delay_ms;          /* silence between connect and the first header byte */
	size_t split;              /* write the header in chunks of this size (0 = one write) */
	const size_t *cuts;        /* or: write it in pieces ending at these offsets, in */
	size_t ncuts;              /* increasing order (the last piece runs to the end) */
	int delay_ms;              /* pause between chunks */
	size_t send_only;          /* send only the first N bytes of the header (0 = all) */
	int stall_ms;              /* pause after the header (or its first send_only bytes) */
	bool close_after_header;   /* close right after the header part: "close mid-header" */
	bool coalesce;             /* header and the next bytes in one write: the CONNECT
				    * (tcp), the ClientHello (tls, wss) or the upgrade
				    * request (ws); ignored with split, stall_ms or a
				    * partial header */

	/* MQTT */
	bool no_connect;           /* send no CONNECT: outcome is what the peer did */
	int mqtt_version;          /* 4 (3.1.1, default) or 5 */
	const char *client_id;
	const char *username;
	const char *password;
	int keepalive;             /* seconds, default 60 */

	int timeout_ms;            /* for each step; default 5000 */
};

void client_opts_init(struct client_opts *o);

struct client_result {
	enum client_outcome outcome;
	int connack_rc;            /* CONNACK return / reason code, -1 if none */
	bool session_present;
	char detail[256];          /* human-readable, e.g. "TLS: certificate verify failed" */
	uint8_t rx[256];           /* first bytes the peer sent back (after TLS/WS) */
	size_t rx_len;
	bool any_byte_received;    /* did the peer write anything at all (before or after TLS) */
	double elapsed_ms;         /* from connect to outcome */
	struct sockaddr_storage local; /* our socket address, what the broker sees as peer */
	char tls_version[32];
	char tls_cipher[64];
	int mqtt_version;          /* the CONNECT's level (4 or 5): how to read connack_rc */
};

struct client_conn;

/* Run the exchange up to the outcome. On CLIENT_CONNACK the connection stays
 * open (a session to observe) and *conn is set; otherwise *conn is NULL.
 * Returns 0 when the exchange ran (whatever the outcome: the peer's doing
 * is data, in res), -1 on a local error (options, memory, a socket of
 * ours): *e says why (e may be NULL), and res->outcome is CLIENT_ERROR
 * with the same text in res->detail. */
int client_run(const struct client_opts *o, struct client_result *res, struct client_conn **conn,
	       struct perr *e);

/* Is the connection still open (peer has not closed)? */
bool client_alive(struct client_conn *c);
/* Send DISCONNECT (when graceful) and close; frees c. NULL is fine. */
void client_close(struct client_conn *c, bool graceful);

/* Outcome as a short sentence. */
void client_result_print(const struct client_result *res, FILE *f);
/* The same sentence into buf (no newline); returns buf. */
const char *client_result_str(const struct client_result *res, char *buf, size_t cap);

#endif
