/* test_tls.c - TLS contexts and the memory-BIO engine (lib/tls), with a
 * throwaway PKI from scripts/gen-certs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"
#include "tls.h"

static char dir[256];
static char ca[300], scert[300], skey[300], ccert[300], ckey[300];

static int setup(void **state)
{
	(void)state;
	const char *script = "scripts/gen-certs";
	char cmd[700];
	if (access(script, X_OK) < 0)
		script = "../../scripts/gen-certs";
	snprintf(dir, sizeof dir, "%s/ppmq-test-tls.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof cmd, "%s '%s'", script, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "# %s failed\n", cmd);
		return -1;
	}
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(scert, sizeof scert, "%s/server.pem", dir);
	snprintf(skey, sizeof skey, "%s/server.key", dir);
	snprintf(ccert, sizeof ccert, "%s/client.pem", dir);
	snprintf(ckey, sizeof ckey, "%s/client.key", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Move every pending byte from one engine to the other. */
static size_t transfer(struct tls_conn *from, struct tls_conn *to)
{
	uint8_t buf[4096];
	size_t n, total = 0;
	while ((n = tls_out_take(from, buf, sizeof buf)) > 0) {
		assert_int_equal(tls_feed(to, buf, n, NULL), 0);
		total += n;
	}
	return total;
}

/* Run both handshakes in memory until both finish or one fails; step
 * limits how many bytes go across at a time (0 = all). */
static void handshake_pair(struct tls_conn *cli, struct tls_conn *srv, int *cst, int *sst)
{
	*cst = *sst = TLS_WANT_READ;
	for (int round = 0; round < 50; round++) {
		if (*cst == TLS_WANT_READ)
			*cst = tls_handshake_step(cli);
		transfer(cli, srv);
		if (*sst == TLS_WANT_READ)
			*sst = tls_handshake_step(srv);
		transfer(srv, cli);
		if ((*cst == TLS_DONE || *cst == TLS_ERROR) &&
		    (*sst == TLS_DONE || *sst == TLS_ERROR))
			return;
		if (*cst == TLS_ERROR || *sst == TLS_ERROR) {
			/* let the alert reach the other side once more */
			if (*cst == TLS_WANT_READ)
				*cst = tls_handshake_step(cli);
			if (*sst == TLS_WANT_READ)
				*sst = tls_handshake_step(srv);
			return;
		}
	}
	fail_msg("handshake did not finish");
}

/* ---- contexts -------------------------------------------------------------- */

static void test_ctx_errors(void **state)
{
	(void)state;
	struct perr e;
	char bad[400];
	snprintf(bad, sizeof bad, "%s/missing.pem", dir);
	assert_null(tls_server_ctx_new(bad, skey, NULL, false, &e));
	assert_non_null(strstr(e.msg, bad));
	assert_non_null(strstr(e.msg, "No such file"));

	assert_null(tls_server_ctx_new(scert, ckey, NULL, false, &e));
	{
		/* both files named, each as what it is */
		char want[900];

		snprintf(want, sizeof want, "TLS: private key '%s' does not match certificate '%s'",
			 ckey, scert);
		assert_string_equal(e.msg, want);
	}

	/* a file that is not PEM */
	char junk[400];
	snprintf(junk, sizeof junk, "%s/junk.pem", dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
	assert_null(tls_server_ctx_new(junk, skey, NULL, false, &e));
	assert_non_null(strstr(e.msg, "cannot load certificate"));
	assert_null(tls_client_ctx_new(junk, false, NULL, NULL, &e));
	assert_non_null(strstr(e.msg, "CA file"));

	assert_null(tls_server_ctx_new(NULL, NULL, NULL, false, &e));
	assert_null(tls_server_ctx_new(scert, skey, NULL, true, &e)); /* needs a CA */
	assert_null(tls_client_ctx_new(ca, false, ccert, NULL, &e));
	assert_non_null(strstr(e.msg, "both"));
	assert_null(tls_client_ctx_new(bad, false, NULL, NULL, &e));
	assert_non_null(strstr(e.msg, "No such file"));
	/* no error queue left behind for the next caller */
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- memory pairs -------------------------------------------------------------- */

static void test_handshake_and_data_in_memory(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	assert_non_null(sctx);
	struct tls_ctx *cctx = tls_client_ctx_new(ca, false, NULL, NULL, &e);
	assert_non_null(cctx);
	struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
	struct tls_conn *cli = tls_conn_new(cctx, -1, false, "localhost", &e);
	assert_non_null(srv);
	assert_non_null(cli);
	/* the contexts may go: connections keep their own reference */
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);

	assert_string_equal(tls_version(srv), "");
	int cst, sst;
	handshake_pair(cli, srv, &cst, &sst);
	assert_int_equal(cst, TLS_DONE);
	assert_int_equal(sst, TLS_DONE);
	assert_true(tls_handshake_done(srv));
	assert_string_equal(tls_version(srv), "TLSv1.3");
	assert_string_equal(tls_version(cli), "TLSv1.3");
	assert_true(strlen(tls_cipher(srv)) > 0);
	assert_string_equal(tls_cipher(srv), tls_cipher(cli));
	assert_string_equal(tls_sni(srv), "localhost");
	assert_true(tls_peer_verified(cli));
	char cn[64];
	assert_true(tls_peer_cn(cli, cn, sizeof cn));
	assert_string_equal(cn, "localhost");
	assert_false(tls_peer_cn(srv, cn, sizeof cn)); /* no client certificate */

	/* data both ways, larger than a TLS record */
	static uint8_t big[40000], got[40000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31);
	assert_int_equal(tls_write(cli, big, sizeof big), (ssize_t)sizeof big);
	transfer(cli, srv);
	size_t have = 0;
	while (have < sizeof big) {
		ssize_t n = tls_read(srv, got + have, sizeof got - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(big, got, sizeof big);
	assert_int_equal(tls_read(srv, got, sizeof got), TLS_WANT_READ);
	assert_int_equal(tls_write(srv, "pong", 4), 4);
	transfer(srv, cli);
	assert_int_equal(tls_read(cli, got, sizeof got), 4);
	assert_memory_equal(got, "pong", 4);

	/* back-pressure: over the output limit, writes wait */
	tls_set_out_limit(srv, 100);
	assert_int_equal(tls_write(srv, big, 1000), 1000);
	assert_int_equal(tls_write(srv, big, 1000), TLS_WANT_WRITE);
	size_t plen;
	const uint8_t *p = tls_out_peek(srv, &plen);
	assert_non_null(p);
	assert_int_equal(plen, tls_out_pending(srv));
	/* peek/consume in two pieces delivers the same bytes */
	uint8_t copy[2000];
	assert_true(plen < sizeof copy);
	memcpy(copy, p, plen);
	tls_out_consume(srv, 10);
	assert_int_equal(tls_out_pending(srv), plen - 10);
	p = tls_out_peek(srv, &plen);
	assert_memory_equal(p, copy + 10, plen);
	assert_int_equal(tls_feed(cli, copy, 10, NULL), 0);
	transfer(srv, cli);
	assert_int_equal(tls_read(cli, got, sizeof got), 1000);
	assert_memory_equal(got, big, 1000);

	/* close_notify: the reader sees TLS_CLOSED */
	assert_int_equal(tls_shutdown(cli), 0);
	transfer(cli, srv);
	assert_int_equal(tls_read(srv, got, sizeof got), TLS_CLOSED);
	tls_conn_free(srv);
	tls_conn_free(cli);
}

static void test_handshake_byte_by_byte(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	struct tls_ctx *cctx = tls_client_ctx_new(NULL, true, NULL, NULL, &e);
	assert_non_null(sctx);
	assert_non_null(cctx);
	struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
	struct tls_conn *cli = tls_conn_new(cctx, -1, false, NULL, &e);
	int cst = TLS_WANT_READ, sst = TLS_WANT_READ;
	uint8_t b;
	for (int guard = 0; guard < 100000 && !(cst == TLS_DONE && sst == TLS_DONE); guard++) {
		if (cst != TLS_DONE)
			cst = tls_handshake_step(cli);
		if (tls_out_take(cli, &b, 1) == 1)
			assert_int_equal(tls_feed(srv, &b, 1, NULL), 0);
		if (sst != TLS_DONE)
			sst = tls_handshake_step(srv);
		if (tls_out_take(srv, &b, 1) == 1)
			assert_int_equal(tls_feed(cli, &b, 1, NULL), 0);
		assert_int_not_equal(cst, TLS_ERROR);
		assert_int_not_equal(sst, TLS_ERROR);
	}
	assert_int_equal(cst, TLS_DONE);
	assert_int_equal(sst, TLS_DONE);
	assert_false(tls_peer_verified(cli)); /* insecure: nothing verified */
	tls_conn_free(srv);
	tls_conn_free(cli);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

struct verify_case {
	const char *ca;       /* NULL = system store */
	const char *sni;
	bool ok;
	const char *err_part; /* in the client's error */
};

static void test_client_verification(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	assert_non_null(sctx);
	const struct verify_case cases[] = {
		{ ca, "localhost", true, NULL },
		{ ca, "127.0.0.1", true, NULL },   /* IP SAN */
		{ ca, "::1", true, NULL },
		{ ca, "wrong.example", false, "certificate verify failed: hostname mismatch" },
		{ ca, "127.0.0.2", false, "IP address mismatch" },
		{ NULL, "localhost", false, "certificate verify failed" }, /* not in system store */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tls_ctx *cctx = tls_client_ctx_new(cases[i].ca, false, NULL, NULL, &e);
		assert_non_null(cctx);
		struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
		struct tls_conn *cli = tls_conn_new(cctx, -1, false, cases[i].sni, &e);
		int cst, sst;
		handshake_pair(cli, srv, &cst, &sst);
		if (cases[i].ok) {
			if (cst != TLS_DONE || sst != TLS_DONE)
				fail_msg("case %zu: %s / %s", i, tls_error(cli), tls_error(srv));
		} else {
			if (cst != TLS_ERROR || !strstr(tls_error(cli), cases[i].err_part))
				fail_msg("case %zu: status %d error '%s'", i, cst, tls_error(cli));
			/* the server learns it from the alert */
			assert_int_equal(sst, TLS_ERROR);
			assert_true(strlen(tls_error(srv)) > 0);
		}
		tls_conn_free(srv);
		tls_conn_free(cli);
		tls_ctx_free(cctx);
	}
	tls_ctx_free(sctx);
}

/* insecure: neither the CA nor the name is checked, and nothing is verified. */
static void test_client_insecure(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	struct tls_ctx *cctx = tls_client_ctx_new(NULL, true, NULL, NULL, &e);
	const char *names[] = { "wrong.example", "127.0.0.2", NULL };
	assert_non_null(sctx);
	assert_non_null(cctx);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
		struct tls_conn *cli = tls_conn_new(cctx, -1, false, names[i], &e);
		int cst, sst;
		handshake_pair(cli, srv, &cst, &sst);
		if (cst != TLS_DONE || sst != TLS_DONE)
			fail_msg("name %s: %s / %s", names[i] ? names[i] : "none", tls_error(cli),
				 tls_error(srv));
		assert_false(tls_peer_verified(cli));
		tls_conn_free(srv);
		tls_conn_free(cli);
	}
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void test_client_certificates(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, ca, true, &e);
	assert_non_null(sctx);
	struct tls_ctx *with = tls_client_ctx_new(ca, false, ccert, ckey, &e);
	struct tls_ctx *without = tls_client_ctx_new(ca, false, NULL, NULL, &e);
	assert_non_null(with);
	assert_non_null(without);

	struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
	struct tls_conn *cli = tls_conn_new(with, -1, false, "localhost", &e);
	int cst, sst;
	handshake_pair(cli, srv, &cst, &sst);
	assert_int_equal(cst, TLS_DONE);
	assert_int_equal(sst, TLS_DONE);
	char cn[64];
	assert_true(tls_peer_cn(srv, cn, sizeof cn));
	assert_string_equal(cn, "ppmq-client");
	assert_true(tls_peer_verified(srv));
	/* TLS 1.3: the client may finish before the server has checked its
	 * certificate; exchange once more for the server's verdict */
	tls_conn_free(srv);
	tls_conn_free(cli);

	srv = tls_conn_new(sctx, -1, true, NULL, &e);
	cli = tls_conn_new(without, -1, false, "localhost", &e);
	handshake_pair(cli, srv, &cst, &sst);
	assert_int_equal(sst, TLS_ERROR);
	assert_non_null(strstr(tls_error(srv), "certificate"));
	/* with TLS 1.3 the client learns it on its next read */
	if (cst == TLS_DONE) {
		uint8_t b[16];
		assert_int_equal(tls_read(cli, b, sizeof b), TLS_ERROR);
		assert_non_null(strstr(tls_error(cli), "alert"));
	}
	tls_conn_free(srv);
	tls_conn_free(cli);
	tls_ctx_free(sctx);
	tls_ctx_free(with);
	tls_ctx_free(without);
}

static void test_garbage_and_eof(void **state)
{
	(void)state;
	struct perr e;
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	assert_non_null(sctx);

	/* plain HTTP / MQTT on a TLS listener */
	struct tls_conn *srv = tls_conn_new(sctx, -1, true, NULL, &e);
	const char *http = "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(tls_feed(srv, http, strlen(http), NULL), 0);
	assert_int_equal(tls_handshake_step(srv), TLS_ERROR);
	assert_non_null(strstr(tls_error(srv), "handshake: "));
	assert_true(strlen(tls_error(srv)) > strlen("handshake: "));
	tls_conn_free(srv);

	/* a PROXY header left in front of the ClientHello is an error too */
	srv = tls_conn_new(sctx, -1, true, NULL, &e);
	assert_int_equal(tls_feed(srv, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, NULL), 0);
	assert_int_equal(tls_handshake_step(srv), TLS_ERROR);
	tls_conn_free(srv);

	/* EOF in the middle of the handshake */
	srv = tls_conn_new(sctx, -1, true, NULL, &e);
	assert_int_equal(tls_feed(srv, "\x16\x03\x01", 3, NULL), 0);
	assert_int_equal(tls_handshake_step(srv), TLS_WANT_READ);
	tls_feed_eof(srv);
	assert_int_equal(tls_handshake_step(srv), TLS_ERROR);
	assert_non_null(strstr(tls_error(srv), "closed"));
	assert_int_equal(tls_bytes_in(srv), 3);
	tls_conn_free(srv);
	tls_ctx_free(sctx);
	assert_string_equal(tls_status_name(TLS_WANT_WRITE), "want-write");
}

/* ---- a socket, as the broker uses it ------------------------------------------- */

struct peer_arg {
	int fd;
	char reply[64];
	char err[256];
};

/* Plain OpenSSL client, blocking on its end of the socketpair. */
static void *openssl_client(void *argp)
{
	struct peer_arg *a = argp;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, ca, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, a->fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set1_host(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_error_string_n(ERR_get_error(), a->err, sizeof a->err);
	} else {
		SSL_write(ssl, "hello over tls", 14);
		int n = SSL_read(ssl, a->reply, sizeof a->reply - 1);
		if (n > 0)
			a->reply[n] = '\0';
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static void test_socketpair_fd_helpers(void **state)
{
	(void)state;
	struct perr e;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(net_set_nonblock(sv[0], true, &e), 0);
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	assert_non_null(sctx);
	struct tls_conn *srv = tls_conn_new(sctx, sv[0], true, NULL, &e);
	assert_non_null(srv);

	struct peer_arg arg = { .fd = sv[1] };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, openssl_client, &arg), 0);

	/* the broker's loop: fill on POLLIN, step, flush, until done */
	int st = TLS_WANT_READ;
	char buf[64];
	size_t got = 0;
	int64_t deadline = net_now_ms() + 5000;
	bool replied = false, closed = false;
	while (!closed && net_now_ms() < deadline) {
		assert_int_equal(net_wait(sv[0], POLLIN, deadline, &e), 1);
		ssize_t n = tls_fill(srv, &e);
		assert_true(n >= 0 || n == -2);
		if (st != TLS_DONE)
			st = tls_handshake_step(srv);
		assert_int_not_equal(st, TLS_ERROR);
		if (st == TLS_DONE) {
			ssize_t r;
			while ((r = tls_read(srv, buf + got, sizeof buf - 1 - got)) > 0)
				got += (size_t)r;
			if (r == TLS_CLOSED)
				closed = true;
			if (got == 14 && !replied) {
				assert_int_equal(tls_write(srv, "ok", 2), 2);
				replied = true;
			}
		}
		assert_true(tls_flush(srv, &e) >= 0);
		if (n == 0)
			closed = true;
	}
	pthread_join(th, NULL);
	assert_string_equal(arg.err, "");
	buf[got] = '\0';
	assert_string_equal(buf, "hello over tls");
	assert_string_equal(arg.reply, "ok");
	assert_true(closed);
	assert_string_equal(tls_version(srv), "TLSv1.3");
	assert_true(strlen(tls_cipher(srv)) > 0);
	tls_conn_free(srv);
	tls_ctx_free(sctx);
	close(sv[0]);
	close(sv[1]);
}

/* The PROXY stage read the header and, in the same read, the start of the
 * ClientHello: those bytes are fed first and the handshake completes. */
static void test_leftover_bytes_after_proxy_header(void **state)
{
	(void)state;
	struct perr e;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct tls_ctx *sctx = tls_server_ctx_new(scert, skey, NULL, false, &e);
	struct tls_ctx *cctx = tls_client_ctx_new(ca, false, NULL, NULL, &e);
	struct tls_conn *srv = tls_conn_new(sctx, sv[0], true, NULL, &e);
	struct tls_conn *cli = tls_conn_new(cctx, sv[1], false, "localhost", &e);
	assert_non_null(srv);
	assert_non_null(cli);

	/* client: header and ClientHello in one write */
	const char *hdr = "PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n";
	uint8_t seg[4096];
	size_t hl = strlen(hdr);
	memcpy(seg, hdr, hl);
	assert_int_equal(tls_handshake_step(cli), TLS_WANT_READ);
	size_t ch = tls_out_take(cli, seg + hl, sizeof seg - hl);
	assert_true(ch > 0);
	assert_int_equal(write(sv[1], seg, hl + ch), (ssize_t)(hl + ch));

	/* broker: one read gets both; the PROXY stage keeps the header only */
	uint8_t in[4096];
	ssize_t n = read(sv[0], in, sizeof in);
	assert_int_equal(n, (ssize_t)(hl + ch));
	uint8_t *crlf = memmem(in, (size_t)n, "\r\n", 2);
	assert_non_null(crlf);
	size_t used = (size_t)(crlf + 2 - in);
	assert_int_equal(used, hl);
	assert_int_equal(tls_feed(srv, in + used, (size_t)n - used, &e), 0);

	int sst = tls_handshake_step(srv), cst = TLS_WANT_READ;
	for (int i = 0; i < 10 && !(sst == TLS_DONE && cst == TLS_DONE); i++) {
		assert_int_equal(tls_flush(srv, &e), 1);
		if (cst != TLS_DONE) {
			if (net_wait(sv[1], POLLIN, net_now_ms() + 10, &e) == 1)
				assert_true(tls_fill(cli, &e) > 0);
			cst = tls_handshake_step(cli);
		}
		assert_int_equal(tls_flush(cli, &e), 1);
		if (sst != TLS_DONE) {
			if (net_wait(sv[0], POLLIN, net_now_ms() + 10, &e) == 1)
				assert_true(tls_fill(srv, &e) > 0);
			sst = tls_handshake_step(srv);
		}
		assert_int_not_equal(sst, TLS_ERROR);
		assert_int_not_equal(cst, TLS_ERROR);
	}
	assert_int_equal(sst, TLS_DONE);
	assert_int_equal(cst, TLS_DONE);
	assert_int_equal(tls_bytes_in(srv), (uint64_t)tls_bytes_in(srv)); /* counted */
	assert_true(tls_bytes_in(srv) >= ch);

	/* the fd helpers report EOF */
	assert_int_equal(net_set_nonblock(sv[0], true, &e), 0);
	assert_int_equal(tls_fill(srv, &e) == -2 || tls_fill(srv, &e) > 0, 1);
	close(sv[1]);
	ssize_t r;
	while ((r = tls_fill(srv, &e)) > 0)
		;
	assert_int_equal(r, 0);
	uint8_t b[8];
	assert_int_equal(tls_read(srv, b, sizeof b), TLS_CLOSED);
	tls_conn_free(srv);
	tls_conn_free(cli);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_handshake_and_data_in_memory),
		cmocka_unit_test(test_handshake_byte_by_byte),
		cmocka_unit_test(test_client_verification),
		cmocka_unit_test(test_client_insecure),
		cmocka_unit_test(test_client_certificates),
		cmocka_unit_test(test_garbage_and_eof),
		cmocka_unit_test(test_socketpair_fd_helpers),
		cmocka_unit_test(test_leftover_bytes_after_proxy_header),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
