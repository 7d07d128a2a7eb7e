/* tls.h - OpenSSL 3 contexts and a non-blocking TLS engine on memory BIOs.
 *
 * Design: a tls_conn never touches a socket by itself. Its SSL object sits
 * on two memory BIOs:
 *
 *      socket bytes --tls_feed()--> [rbio] -> SSL -> [wbio] --tls_out_*()--> socket
 *
 * The caller reads raw bytes from the socket and feeds them; after EVERY
 * call into this module (handshake step, read, write, shutdown, even one
 * that failed: it may hold an alert) it drains the encrypted output and
 * writes it to the socket. Why memory BIOs:
 *
 *   - the PROXY stage runs before TLS and reads from the socket itself; the
 *     segment holding the end of the PROXY header may also hold the start
 *     of the ClientHello. Those bytes are simply fed first (tls_feed), and
 *     nothing is lost or read twice;
 *   - the broker's epoll loop owns every read and write, so readiness,
 *     back-pressure and timeouts stay in one place;
 *   - the same engine serves the client side (lib/client.c), which can
 *     then count every raw byte the peer sent, before or after TLS.
 *
 * For callers that do want plain fd I/O there are two helpers, tls_fill()
 * (one read(2) from the fd into the engine) and tls_flush() (write pending
 * output to the fd), both non-blocking-friendly.
 *
 * Non-blocking server loop, one connection:
 *
 *     c = tls_conn_new(ctx, fd, true, NULL, &e);
 *     tls_feed(c, leftover, nleft, &e);        // bytes after the PROXY header
 *     on POLLIN:  tls_fill(c, &e);             // or read() + tls_feed()
 *                 st = tls_handshake_step(c);  // until TLS_DONE
 *                 ... then n = tls_read(c, buf, cap) until TLS_WANT_READ
 *     always:     tls_flush(c, &e);            // 1 = all written, 0 = wait POLLOUT
 *
 * Errors: functions returning int use lib/err.h (0 / -1 + perr) unless
 * they return a tls_status; the engine keeps a human-readable reason for
 * its last failure in tls_error() (e.g. "certificate verify failed:
 * unable to get local issuer certificate", "wrong version number").
 */
#ifndef PPMQ_TLS_H
#define PPMQ_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct tls_ctx;
struct tls_conn;

/* ---- contexts ------------------------------------------------------------ */

/* Server context: certificate chain (PEM, leaf first) and private key.
 * ca_file (PEM, may be NULL): client certificates are requested and
 * verified against it; with require_client_cert a client without one
 * fails the handshake, without it the certificate is optional.
 * TLS 1.2 minimum. Returns NULL with *e set ("TLS: cannot load certificate
 * '/x/cert.pem': No such file or directory"). */
struct tls_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file,
				   const char *ca_file, bool require_client_cert,
				   struct perr *e);

/* Client context: verify the server against ca_file (PEM), or against the
 * system store when ca_file is NULL, or not at all with insecure.
 * cert_file/key_file: optional client certificate (both or none).
 * TLS 1.2 minimum. Returns NULL with *e set. */
struct tls_ctx *tls_client_ctx_new(const char *ca_file, bool insecure,
				   const char *cert_file, const char *key_file,
				   struct perr *e);

/* Client side: resume sessions, as a returning client does. Every
 * session the server hands out (a TLS 1.3 ticket, a TLS 1.2 ticket or
 * session id) replaces the context's last one, and each new connection
 * offers the last one: a resumed handshake has no certificate to decode
 * and verify on either side. Whether the server takes it is up to the
 * server (tls_resumed). 0, or -1 with *e set. */
int tls_ctx_resume_sessions(struct tls_ctx *ctx, struct perr *e);

/* Contexts are reference counted: every tls_conn holds one reference, so
 * the owner may free its context while connections still use it. */
void tls_ctx_free(struct tls_ctx *ctx);

/* ---- connections --------------------------------------------------------- */

/* Status of an engine call. Byte counts are > 0; these are <= 0. */
enum tls_status {
	TLS_DONE = 0,        /* handshake complete (tls_handshake_step) */
	TLS_ERROR = -1,      /* fatal: see tls_error(); flush output (alert), then close */
	TLS_WANT_READ = -2,  /* needs more bytes from the peer: feed them and call again */
	TLS_WANT_WRITE = -3, /* pending output is above the limit: flush it, call again */
	TLS_CLOSED = -4,     /* the peer closed the TLS session (close_notify, or EOF
			      * signalled with tls_feed_eof) */
};
const char *tls_status_name(int st); /* "done", "error", "want-read" ... */

/* New engine for one connection. fd is used only by tls_fill/tls_flush
 * (pass -1 when the caller does its own socket I/O).
 * Server side: sni is ignored (the client's is available from tls_sni()).
 * Client side: sni is sent as SNI when it is a host name (not when it is
 * an IP literal), and, when the context verifies, it is the name or IP
 * the server certificate must match. NULL = no SNI and no name check.
 * Returns NULL with *e set. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, bool is_server,
			      const char *sni, struct perr *e);
void tls_conn_free(struct tls_conn *c);

/* Give the engine bytes read from the socket (copied; any length).
 * Returns 0, or -1 with *e set (out of memory). */
int tls_feed(struct tls_conn *c, const void *buf, size_t len, struct perr *e);

/* The socket reached EOF: once the fed bytes are used up, reads return
 * TLS_CLOSED (or TLS_ERROR during the handshake) instead of WANT_READ. */
void tls_feed_eof(struct tls_conn *c);

/* Drive the handshake. Returns TLS_DONE, TLS_WANT_READ or TLS_ERROR.
 * Flush output after every call: it carries the handshake messages. */
int tls_handshake_step(struct tls_conn *c);
bool tls_handshake_done(const struct tls_conn *c);

/* Decrypted application data into buf. Returns the count (> 0),
 * TLS_WANT_READ (feed more), TLS_CLOSED or TLS_ERROR. Runs the handshake
 * first if it is not done yet (then may return TLS_WANT_READ). */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t cap);

/* Encrypt len bytes. Returns len (all of it is queued as output),
 * TLS_WANT_WRITE when pending output is over the limit (nothing queued:
 * flush and retry), TLS_WANT_READ (handshake not finished), TLS_ERROR. */
ssize_t tls_write(struct tls_conn *c, const void *buf, size_t len);

/* Limit on pending output before tls_write says TLS_WANT_WRITE
 * (default 256 KiB). Slow readers then stall instead of growing memory. */
void tls_set_out_limit(struct tls_conn *c, size_t limit);

/* Queue a close_notify alert (flush afterwards). Returns 0 or -1. */
int tls_shutdown(struct tls_conn *c);

/* ---- encrypted output ---------------------------------------------------- */

/* Bytes waiting to be written to the socket. */
size_t tls_out_pending(const struct tls_conn *c);
/* Zero-copy: pointer to the pending bytes (*len of them), valid until the
 * next call into the engine; then tls_out_consume() what was written. */
const uint8_t *tls_out_peek(struct tls_conn *c, size_t *len);
void tls_out_consume(struct tls_conn *c, size_t n);
/* Copying: move up to cap pending bytes into buf; returns the count. */
size_t tls_out_take(struct tls_conn *c, void *buf, size_t cap);

/* ---- fd helpers (fd given to tls_conn_new) ------------------------------- */

/* One read(2) from the fd into the engine.
 * Returns the count (> 0), 0 on EOF (tls_feed_eof is applied), -2 when the
 * fd would block (EAGAIN), -1 on error with *e set (errno kept). */
ssize_t tls_fill(struct tls_conn *c, struct perr *e);

/* Write pending output to the fd (MSG_NOSIGNAL). Returns 1 when nothing is
 * left, 0 when some is left (fd would block: wait for POLLOUT), -1 on error
 * with *e set (errno kept). */
int tls_flush(struct tls_conn *c, struct perr *e);

/* ---- what was negotiated ------------------------------------------------- */

const char *tls_error(const struct tls_conn *c);  /* "" when none */
const char *tls_version(const struct tls_conn *c); /* "TLSv1.3", "" before done */
const char *tls_cipher(const struct tls_conn *c);  /* "TLS_AES_256_GCM_SHA384", "" */
/* Server side: the SNI the client sent, NULL when none. */
const char *tls_sni(const struct tls_conn *c);
/* Common name of the peer certificate into buf; false when there is no
 * peer certificate or no CN. */
bool tls_peer_cn(const struct tls_conn *c, char *buf, size_t cap);
/* Was a peer certificate presented and verified? */
bool tls_peer_verified(const struct tls_conn *c);
/* The handshake resumed an earlier session (tls_ctx_resume_sessions). */
bool tls_resumed(const struct tls_conn *c);
/* Raw bytes the engine was fed in total (counts bytes before TLS_DONE). */
uint64_t tls_bytes_in(const struct tls_conn *c);

#endif
