/* tls.c - OpenSSL contexts and the memory-BIO TLS engine, see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLS_OUT_LIMIT_DEFAULT (256 * 1024)

struct tls_ctx {
	SSL_CTX *ssl_ctx;
};

struct tls_conn {
	SSL *ssl;
	BIO *rbio, *wbio;      /* owned by ssl */
	int fd;
	bool hs_done;
	bool eof;
	size_t out_limit;
	uint64_t bytes_in;
	char *err;             /* the last failure, made when there is one */
};

/* ---- errors ---------------------------------------------------------------- */

/* Text of the OpenSSL error queue's most relevant entry (then clears it).
 * Reason strings only: "certificate verify failed", not the error:0A... form. */
static void ssl_queue_text(char *buf, size_t cap, unsigned long *first)
{
	unsigned long code, last = 0;
	buf[0] = '\0';
	while ((code = ERR_get_error()) != 0)
		if (!last)
			last = code;
	if (first)
		*first = last;
	if (last) {
		const char *r = ERR_reason_error_string(last);
		if (r)
			snprintf(buf, cap, "%s", r);
		else
			ERR_error_string_n(last, buf, cap);
	}
}

static int ctx_fail(struct perr *e, const char *what, const char *file)
{
	char why[200];
	ssl_queue_text(why, sizeof why, NULL);
	return perr_set(e, "TLS: %s '%s': %s", what, file, why[0] ? why : "failed");
}

/* The key and the certificate are two files: name both. */
static int key_mismatch(struct perr *e, const char *key_file, const char *cert_file)
{
	ERR_clear_error();
	return perr_set(e, "TLS: private key '%s' does not match certificate '%s'", key_file,
			cert_file);
}

/* A clear "No such file" before OpenSSL's less obvious words. */
static int check_readable(const char *what, const char *file, struct perr *e)
{
	if (access(file, R_OK) < 0)
		return perr_errno(e, "TLS: cannot read %s '%s'", what, file);
	return 0;
}

/* A connection's failure text, kept until it is freed (or the next one). */
static void set_err(struct tls_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct tls_conn *c, const char *fmt, ...)
{
	char buf[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(c->err);
	c->err = strdup(buf); /* NULL (out of memory): tls_error() says "" */
}

static void conn_fail(struct tls_conn *c, int sslerr, const char *during)
{
	char why[200];
	unsigned long code = 0;
	ssl_queue_text(why, sizeof why, &code);
	if (code && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			size_t n = strlen(why);
			snprintf(why + n, sizeof why - n, ": %s",
				 X509_verify_cert_error_string(vr));
		}
	}
	if (!why[0]) {
		if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN || c->eof)
			snprintf(why, sizeof why, "connection closed by peer");
		else
			snprintf(why, sizeof why, "error %d", sslerr);
	}
	set_err(c, "%s: %s", during, why);
}

const char *tls_status_name(int st)
{
	switch (st) {
	case TLS_DONE: return "done";
	case TLS_ERROR: return "error";
	case TLS_WANT_READ: return "want-read";
	case TLS_WANT_WRITE: return "want-write";
	case TLS_CLOSED: return "closed";
	default: return st > 0 ? "data" : "unknown";
	}
}

/* ---- contexts -------------------------------------------------------------- */

static SSL_CTX *ctx_base(const SSL_METHOD *m, struct perr *e)
{
	SSL_CTX *ctx = SSL_CTX_new(m);
	if (!ctx) {
		char why[200];
		ssl_queue_text(why, sizeof why, NULL);
		perr_set(e, "TLS: cannot create context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	/* An idle connection keeps no read or write buffer (some 10 KB each). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static int load_cert_key(SSL_CTX *ctx, const char *cert_file, const char *key_file,
			 struct perr *e)
{
	if (check_readable("certificate", cert_file, e) < 0 ||
	    check_readable("private key", key_file, e) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return ctx_fail(e, "cannot load certificate", cert_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			return key_mismatch(e, key_file, cert_file);
		return ctx_fail(e, "cannot load private key", key_file);
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return key_mismatch(e, key_file, cert_file);
	return 0;
}

/* Trust the certificates of ca_file (both sides verify peers with it). */
static int load_ca(SSL_CTX *ctx, const char *ca_file, struct perr *e)
{
	if (check_readable("CA file", ca_file, e) < 0)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
		return ctx_fail(e, "cannot load CA file", ca_file);
	return 0;
}

static struct tls_ctx *wrap(SSL_CTX *ssl_ctx, struct perr *e)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	if (!c) {
		SSL_CTX_free(ssl_ctx);
		perr_set(e, "TLS: out of memory");
		return NULL;
	}
	c->ssl_ctx = ssl_ctx;
	return c;
}

struct tls_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file,
				   const char *ca_file, bool require_client_cert,
				   struct perr *e)
{
	SSL_CTX *ctx;
	if (!cert_file || !*cert_file || !key_file || !*key_file) {
		perr_set(e, "TLS: a server needs a certificate and a private key");
		return NULL;
	}
	ERR_clear_error();
	ctx = ctx_base(TLS_server_method(), e);
	if (!ctx)
		return NULL;
	if (load_cert_key(ctx, cert_file, key_file, e) < 0)
		goto fail;
	/* client certificates and session resumption need an id context */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"ppmq", 4);
	if (ca_file && *ca_file) {
		STACK_OF(X509_NAME) *names;
		if (load_ca(ctx, ca_file, e) < 0)
			goto fail;
		names = SSL_load_client_CA_file(ca_file);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx,
				   SSL_VERIFY_PEER |
					   (require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
								: 0),
				   NULL);
	} else if (require_client_cert) {
		perr_set(e, "TLS: requiring client certificates needs a CA file");
		goto fail;
	}
	ERR_clear_error();
	return wrap(ctx, e);
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* --insecure: the chain is not even built. OpenSSL verifies it with
 * SSL_VERIFY_NONE too and only ignores the result, at a cost a load
 * generator notices (a quarter of a client handshake). */
static int accept_any(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

struct tls_ctx *tls_client_ctx_new(const char *ca_file, bool insecure,
				   const char *cert_file, const char *key_file,
				   struct perr *e)
{
	SSL_CTX *ctx;
	bool has_cert = cert_file && *cert_file, has_key = key_file && *key_file;
	if (has_cert != has_key) {
		perr_set(e, "TLS: a client certificate needs both a certificate and a key");
		return NULL;
	}
	ERR_clear_error();
	ctx = ctx_base(TLS_client_method(), e);
	if (!ctx)
		return NULL;
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, accept_any, NULL);
	} else {
		if (ca_file && *ca_file) {
			if (load_ca(ctx, ca_file, e) < 0)
				goto fail;
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			ctx_fail(e, "cannot load", "system CA store");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (has_cert && load_cert_key(ctx, cert_file, key_file, e) < 0)
		goto fail;
	ERR_clear_error();
	return wrap(ctx, e);
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* ---- session resumption (client) -------------------------------------------- */

/* The last session a server handed out is kept in the SSL_CTX itself
 * (ex_data), freed with it: SSL objects hold the SSL_CTX, not struct
 * tls_ctx, and may outlive the latter. */
static int resume_idx = -1;

static void free_kept_session(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			      long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	SSL_SESSION_free(ptr);
}

/* A new session (after a handshake, or each TLS 1.3 ticket): it replaces
 * the one kept. Returning 1 keeps the reference OpenSSL passed. */
static int keep_session(SSL *ssl, SSL_SESSION *s)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	SSL_SESSION *old = SSL_CTX_get_ex_data(ctx, resume_idx);

	if (SSL_CTX_set_ex_data(ctx, resume_idx, s) != 1)
		return 0;
	SSL_SESSION_free(old);
	return 1;
}

int tls_ctx_resume_sessions(struct tls_ctx *ctx, struct perr *e)
{
	if (resume_idx < 0)
		resume_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_kept_session);
	if (resume_idx < 0) {
		ERR_clear_error();
		perr_set(e, "TLS: cannot keep sessions: out of memory");
		return -1;
	}
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, keep_session);
	return 0;
}

static void offer_kept_session(SSL *ssl)
{
	SSL_SESSION *s;

	if (resume_idx < 0)
		return;
	s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), resume_idx);
	if (s && SSL_set_session(ssl, s) != 1)
		ERR_clear_error(); /* a full handshake then */
}

bool tls_resumed(const struct tls_conn *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx); /* each SSL keeps its own reference */
	free(ctx);
}

/* ---- connections ----------------------------------------------------------- */

static bool is_ip_literal(const char *s)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, bool is_server, const char *sni,
			      struct perr *e)
{
	struct tls_conn *c = calloc(1, sizeof *c);
	if (!c) {
		perr_set(e, "TLS: out of memory");
		return NULL;
	}
	ERR_clear_error();
	c->fd = fd;
	c->out_limit = TLS_OUT_LIMIT_DEFAULT;
	c->ssl = SSL_new(ctx->ssl_ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		perr_set(e, "TLS: out of memory");
		return NULL;
	}
	/* an empty read BIO means "would block", not EOF */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	if (is_server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (sni && *sni) {
			bool ip = is_ip_literal(sni);
			int ok = 1;
			if (!ip)
				ok = SSL_set_tlsext_host_name(c->ssl, sni);
			if (ok == 1 && (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER)) {
				if (ip)
					ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
									   sni);
				else
					ok = SSL_set1_host(c->ssl, sni);
			}
			if (ok != 1) {
				SSL_free(c->ssl);
				free(c);
				ERR_clear_error();
				perr_set(e, "TLS: bad server name '%s'", sni);
				return NULL;
			}
		}
		offer_kept_session(c->ssl);
	}
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl); /* frees both BIOs */
	free(c->err);
	free(c);
}

int tls_feed(struct tls_conn *c, const void *buf, size_t len, struct perr *e)
{
	const uint8_t *p = buf;
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		int n = BIO_write(c->rbio, p, chunk);
		if (n <= 0)
			return perr_set(e, "TLS: out of memory");
		p += n;
		len -= (size_t)n;
		c->bytes_in += (uint64_t)n;
	}
	return 0;
}

void tls_feed_eof(struct tls_conn *c)
{
	c->eof = true;
}

int tls_handshake_step(struct tls_conn *c)
{
	if (c->hs_done)
		return TLS_DONE;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->hs_done = true;
		return TLS_DONE;
	}
	int se = SSL_get_error(c->ssl, r);
	if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
		if (c->eof && BIO_ctrl_pending(c->rbio) == 0) {
			set_err(c, "handshake: connection closed by peer");
			return TLS_ERROR;
		}
		return TLS_WANT_READ;
	}
	conn_fail(c, se, "handshake");
	return TLS_ERROR;
}

bool tls_handshake_done(const struct tls_conn *c)
{
	return c->hs_done;
}

ssize_t tls_read(struct tls_conn *c, void *buf, size_t cap)
{
	if (!c->hs_done) {
		int st = tls_handshake_step(c);
		if (st != TLS_DONE)
			return st;
	}
	if (cap == 0)
		return TLS_WANT_READ;
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	if (r > 0)
		return r;
	int se = SSL_get_error(c->ssl, r);
	switch (se) {
	case SSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		if (c->eof && BIO_ctrl_pending(c->rbio) == 0)
			return TLS_CLOSED;
		return TLS_WANT_READ;
	default:
		conn_fail(c, se, "read");
		return TLS_ERROR;
	}
}

ssize_t tls_write(struct tls_conn *c, const void *buf, size_t len)
{
	if (!c->hs_done) {
		int st = tls_handshake_step(c);
		if (st != TLS_DONE)
			return st;
	}
	if (len == 0)
		return 0;
	if (len > INT_MAX)
		len = INT_MAX;
	if (tls_out_pending(c) > c->out_limit)
		return TLS_WANT_WRITE;
	ERR_clear_error();
	int r = SSL_write(c->ssl, buf, (int)len);
	if (r > 0)
		return r;
	int se = SSL_get_error(c->ssl, r);
	if (se == SSL_ERROR_WANT_READ)
		return TLS_WANT_READ;
	if (se == SSL_ERROR_WANT_WRITE)
		return TLS_WANT_WRITE;
	conn_fail(c, se, "write");
	return TLS_ERROR;
}

void tls_set_out_limit(struct tls_conn *c, size_t limit)
{
	c->out_limit = limit;
}

int tls_shutdown(struct tls_conn *c)
{
	ERR_clear_error();
	if (!c->hs_done)
		return -1;
	int r = SSL_shutdown(c->ssl);
	ERR_clear_error();
	return r < 0 ? -1 : 0;
}

/* ---- output ------------------------------------------------------------------ */

size_t tls_out_pending(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

const uint8_t *tls_out_peek(struct tls_conn *c, size_t *len)
{
	char *p = NULL;
	long n = BIO_get_mem_data(c->wbio, &p);
	*len = n > 0 ? (size_t)n : 0;
	return (const uint8_t *)p;
}

void tls_out_consume(struct tls_conn *c, size_t n)
{
	uint8_t scratch[4096];
	while (n > 0) {
		int r = BIO_read(c->wbio, scratch, n > sizeof scratch ? (int)sizeof scratch
								     : (int)n);
		if (r <= 0)
			break;
		n -= (size_t)r;
	}
}

size_t tls_out_take(struct tls_conn *c, void *buf, size_t cap)
{
	int r = BIO_read(c->wbio, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	return r > 0 ? (size_t)r : 0;
}

/* ---- fd helpers ---------------------------------------------------------------- */

ssize_t tls_fill(struct tls_conn *c, struct perr *e)
{
	uint8_t buf[16384];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf);
		if (n > 0) {
			if (tls_feed(c, buf, (size_t)n, e) < 0)
				return -1;
			return n;
		}
		if (n == 0) {
			tls_feed_eof(c);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -2;
		return perr_errno(e, "read");
	}
}

int tls_flush(struct tls_conn *c, struct perr *e)
{
	for (;;) {
		size_t len;
		const uint8_t *p = tls_out_peek(c, &len);
		if (len == 0)
			return 1;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			tls_out_consume(c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return perr_errno(e, "write");
	}
}

/* ---- getters --------------------------------------------------------------------- */

const char *tls_error(const struct tls_conn *c)
{
	return c->err ? c->err : "";
}

const char *tls_version(const struct tls_conn *c)
{
	return c->hs_done ? SSL_get_version(c->ssl) : "";
}

const char *tls_cipher(const struct tls_conn *c)
{
	const SSL_CIPHER *ci = c->hs_done ? SSL_get_current_cipher(c->ssl) : NULL;
	return ci ? SSL_CIPHER_get_name(ci) : "";
}

const char *tls_sni(const struct tls_conn *c)
{
	return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
}

bool tls_peer_cn(const struct tls_conn *c, char *buf, size_t cap)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	if (cap)
		buf[0] = '\0';
	if (!cert || cap == 0)
		return false;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
					  cap > INT_MAX ? INT_MAX : (int)cap);
	if (n < 0) {
		buf[0] = '\0';
		ERR_clear_error();
		return false;
	}
	return true;
}

bool tls_peer_verified(const struct tls_conn *c)
{
	return c->hs_done && SSL_get0_peer_certificate(c->ssl) &&
	       SSL_get_verify_result(c->ssl) == X509_V_OK &&
	       (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER);
}

uint64_t tls_bytes_in(const struct tls_conn *c)
{
	return c->bytes_in;
}
