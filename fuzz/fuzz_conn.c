/* fuzz_conn.c - libFuzzer harness for the broker's connection pipeline:
 * broker/conn.c (PROXY stage, WebSocket upgrade and frames, hand-over to
 * the MQTT engine) with the real engine, identity, records and event loop
 * behind it, linked with the broker's modules by `make fuzz`.
 *
 * Nothing listens: each connection is one end of a socketpair given to
 * conn_accept() with a made-up peer address; the harness holds the other
 * end as the client. The broker's loop is driven a turn at a time
 * (loop_run_once) until it has nothing left to do, and its clock and the
 * engine's move forward when the input lets time pass (header and
 * upgrade timeouts, drains, keep-alive, will delay, session expiry).
 *
 * Input:
 *   byte 0  the broker: bit 0 the listener (tcp, ws); bits 1-2 PROXY
 *           (disabled, strict, optional, strict with
 *           security.proxy_cert_identity); bit 3 trusted_proxies (every
 *           source, 0.0.0.0/0 and ::/0, or 10.0.0.0/8 and 2001:db8::/32;
 *           always the latter with proxy_cert_identity); bit 4 users required (u, password p)
 *           and small limits (packets of 512 bytes, 2 filters per
 *           SUBSCRIBE, 3 subscriptions per client, 2 retained messages
 *           of 1 KB in all), instead of anonymous clients and the
 *           defaults;
 *           bits 5-6 the socket peer (10.1.2.3, 192.0.2.9, 2001:db8::9,
 *           ::ffff:10.1.2.3); bit 7 a slow consumer: the broker's socket
 *           buffer is at its smallest and the client reads nothing until
 *           the end (partial writes, output waiting, drains timing out)
 *   byte 1  the client: bits 0-3 how its bytes are cut into writes (all
 *           at once, or pieces of 1 to 256 bytes, the loop turning after
 *           each); bit 4 a second connection sends the same bytes (same
 *           client id: a takeover) while the first is open; bit 5 both
 *           half-close at the end; bit 6 then 20 s pass; bit 7 12 s pass
 *           between the two connections
 *   rest    what the client sends
 *
 * Checked, aborting on any violation (leaks are the sanitizer's):
 *   - no byte is written before a complete, valid PROXY header where one
 *     is needed (strict mode, or input that starts like a header on an
 *     optional listener), and none when that header comes from a peer
 *     outside trusted_proxies;
 *   - what is written is well-formed: on ws an HTTP response (a refusal:
 *     its body and nothing else), then (after a 101 only) unmasked
 *     binary, ping, pong or close frames that a client's decoder accepts;
 *     the MQTT bytes (tcp, or the frames' payloads) are whole packets a
 *     server may send, CONNACK first, each decoding at the level the
 *     CONNACK shows, none after a refusal or a DISCONNECT;
 *   - every session recorded names the client the header's source where
 *     the listener took a header that names one, else the socket peer;
 *     the peer is the socket's, the PROXY version the header's;
 *   - at the end no connection is left: not in the broker's list, not in
 *     the engine (clients, connected), not in the open-connection gauge;
 *     every session recorded is disconnected.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "conn.h"
#include "engine.h"
#include "harness.h"
#include "log.h"
#include "loop.h"
#include "mqtt.h"
#include "net.h"
#include "pp.h"
#include "records.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVARIANTS  32
#define OUT_MAX    (1u << 20)

/* ---- the broker's configuration, one per variant, loaded once ----------- */

static struct loop *the_loop;
static struct cfg cfgs[NVARIANTS];
static bool loaded[NVARIANTS];

/* Does variant v list its proxies (10.0.0.0/8, 2001:db8::/32) rather
 * than trust every source? Bit 3, and always with proxy_cert_identity. */
static bool variant_lists_proxies(unsigned v)
{
	return (v & 8) || ((v >> 1) & 3) == 3;
}

static void cfg_text(unsigned v, char *buf, size_t cap)
{
	static const char *const proxy[] = {
		"proxy_enabled: false", "proxy_enabled: true\n  proxy_mode: strict",
		"proxy_enabled: true\n  proxy_mode: optional",
		"proxy_enabled: true\n  proxy_mode: strict",
	};
	unsigned p = (v >> 1) & 3;
	bool trusted = variant_lists_proxies(v), users = v & 16;

	snprintf(buf, cap,
		 "listener:\n  %s\n  trusted_proxies: [%s]\n"
		 "  tcp: {enabled: true}\n  ws: {enabled: true}\n"
		 "admin: {enabled: false}\n"
		 "security:\n  allow_anonymous: %s\n  users: [%s]\n  proxy_cert_identity: %s\n"
		 "mqtt: {max_packet_size: %s}\n",
		 proxy[p], trusted ? "10.0.0.0/8, \"2001:db8::/32\"" : "0.0.0.0/0, \"::/0\"",
		 users ? "false" : "true", users ? "{username: u, password: p}" : "",
		 p == 3 ? "true" : "false",
		 users ? "512, max_filters_per_subscribe: 2, max_subscriptions_per_client: 3, "
			 "max_retained_messages: 2, max_retained_bytes: 1024" : "1048576");
}

static const struct cfg *variant_cfg(unsigned v)
{
	char text[1024], path[64];
	struct perr e;
	int fd;

	if (loaded[v])
		return &cfgs[v];
	cfg_text(v, text, sizeof(text));
	fd = memfd_create("fuzz-conn-cfg", 0);
	check(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (cfg_load(path, &cfgs[v], &e) < 0) {
		fprintf(stderr, "fuzz_conn: configuration %u: %s\n%s", v, e.msg, text);
		abort();
	}
	close(fd);
	loaded[v] = true;
	return &cfgs[v];
}

static void init_once(void)
{
	struct perr e;
	sigset_t set;

	if (the_loop)
		return;
	log_init("fuzz_conn", LOG_DEBUG);
	/* Every log line is formatted (that code runs too), none is kept. */
	check(log_open("/dev/null") == 0);
	the_loop = loop_new(&e);
	check(the_loop != NULL);
	/* The loop blocked SIGINT and SIGTERM for its signalfd: the fuzzer
	 * handles them itself. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- one run: a broker, one listener, up to two clients ------------------ */

struct client {
	int fd;                 /* our end; -1 once closed */
	uint8_t *out;           /* what the broker wrote */
	size_t len;
};

struct fz {
	struct brk b;
	struct lis *l;
	struct sockaddr_storage peer;
	bool peer_trusted;
	bool slow;              /* the client reads nothing until the end */
	struct client cl[2];
	const uint8_t *in;      /* what each client sends */
	size_t inlen;
	size_t chunk;           /* 0: all at once */
};

static bool drain(struct client *c)
{
	uint8_t buf[16384];
	bool got = false;

	while (c->fd >= 0) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			break;
		got = true;
		/* Far more than a small input can cause is not kept. */
		if (c->len + (size_t)n <= OUT_MAX)
			fz_append(&c->out, &c->len, buf, (size_t)n);
	}
	return got;
}

/* Turn the loop until nothing happens (bounded). */
static void pump(struct fz *z)
{
	for (int i = 0; i < 64; i++) {
		struct perr e;
		int sig = 0, n = loop_run_once(z->b.loop, 0, &sig, &e);
		bool got;

		check(n >= 0);
		got = !z->slow && drain(&z->cl[0]);
		got = (!z->slow && drain(&z->cl[1])) || got;
		if (n == 0 && !got)
			return;
	}
}

/* The loop's clock (the engine's too), seconds later: the broker's
 * timers fire as they fall due, the engine's through b.tick. */
static void let_time_pass(struct fz *z, int seconds)
{
	for (int s = 0; s < seconds; s++) {
		loop_clock_advance(z->b.loop, 1000);
		pump(z);
	}
}

static int64_t loop_clock(void *ctx)
{
	return loop_now(ctx);
}

static void client_open(struct fz *z, struct client *c)
{
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	c->fd = sv[0];
	if (z->slow) {
		int small = 1; /* the kernel's minimum: a few KB */

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	}
	conn_accept(&z->b, z->l, sv[1], &z->peer);
	pump(z);
}

static void client_send(struct fz *z, struct client *c)
{
	size_t off = 0;
	int stuck = 0;

	while (c->fd >= 0 && off < z->inlen && stuck < 4) {
		size_t n = z->chunk && z->chunk < z->inlen - off ? z->chunk : z->inlen - off;
		ssize_t w = send(c->fd, z->in + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			break; /* the broker closed */
		stuck = w > 0 ? 0 : stuck + 1;
		if (w > 0)
			off += (size_t)w;
		pump(z);
	}
}

/* ---- what the broker wrote ------------------------------------------------ */

/* Where the listener wants a header: no byte before a valid one, and none
 * for a header from a peer outside trusted_proxies. */
static void check_proxy_gate(const struct fz *z, const struct client *c)
{
	const struct ident_stage *st = &z->l->stage;
	struct pp_header h;
	struct pp_error err;

	if (c->len == 0 || st->header == IDENT_HEADER_NONE)
		return;
	if (pp_detect(z->in, z->inlen) == PP_DETECT_NONE) {
		check(st->header != IDENT_HEADER_REQUIRED);
		return;
	}
	check(z->peer_trusted);
	check(pp_parse(z->in, z->inlen, &st->parse, &h, &err) > 0);
}

/* Whole packets a client may receive (harness.h); cut: the last one may
 * be cut short (a slow consumer's drain timed out). */
static void check_mqtt(const uint8_t *m, size_t len, bool cut)
{
	struct fz_rx rx = { 0, false };
	size_t off = 0;

	while (off < len) {
		struct mqtt_pkt p;
		long n = mqtt_frame(m + off, len - off, 0);

		if (n == MQTT_NEED_MORE && cut)
			return;
		check(n > 0);
		fz_rx_packet(&rx, m + off, (size_t)n, &p);
		off += (size_t)n;
	}
}

/* The Content-Length of an HTTP response's head (0 when absent). */
static size_t content_length(const uint8_t *head, size_t len)
{
	char text[1024];
	const char *p;

	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	memcpy(text, head, len);
	text[len] = '\0';
	p = strcasestr(text, "\r\nContent-Length:");
	return p ? strtoul(p + 17, NULL, 10) : 0;
}

/* An HTTP response (a refusal: its body and nothing after); after a 101,
 * frames a client accepts, whose binary payloads are the MQTT bytes. cut:
 * the end may be missing (a slow consumer's drain timed out). */
static void check_ws(struct client *c, bool cut)
{
	const uint8_t *end;
	struct ws_decoder d;
	uint8_t *m = NULL;
	size_t off, mlen = 0;

	if (c->len == 0)
		return;
	end = memmem(c->out, c->len, "\r\n\r\n", 4);
	check(end != NULL || cut);
	if (!end)
		return;
	check(c->len >= 13 && memcmp(c->out, "HTTP/1.1 ", 9) == 0);
	off = (size_t)(end + 4 - c->out);
	if (memcmp(c->out, "HTTP/1.1 101 ", 13) != 0) {
		check(cut ? c->len <= off + content_length(c->out, off)
			  : c->len == off + content_length(c->out, off));
		return;
	}
	ws_decoder_init(&d, WS_ROLE_CLIENT);
	d.binary_only = true;
	while (off < c->len) {
		struct ws_event ev;

		off += ws_decode(&d, c->out + off, c->len - off, &ev);
		check(ev.type != WS_EV_ERROR);
		if (ev.type == WS_EV_NONE)
			break;
		if (ev.type == WS_EV_DATA)
			fz_append(&m, &mlen, ev.data, ev.len);
	}
	check(off == c->len || cut);
	check_mqtt(m, mlen, cut);
	free(m);
}

/* ---- the broker ------------------------------------------------------------ */

static void broker_start(struct fz *z, unsigned b0)
{
	static const char *const peers[4] = {
		"10.1.2.3:40000", "192.0.2.9:40001", "[2001:db8::9]:40002", "[::ffff:10.1.2.3]:40003",
	};
	const struct cfg *cfg = variant_cfg(b0 % NVARIANTS);
	enum cfg_listener_kind k = (b0 & 1) ? CFG_WS : CFG_TCP;
	unsigned p = (b0 >> 5) & 3;
	struct eng_cfg ec;
	struct perr e;

	z->b.loop = the_loop;
	z->b.cfg = cfg;
	for (int i = 0; i < CFG_NLISTENERS; i++)
		z->b.lis[i].fd = -1;
	z->b.rec = rec_store_new(cfg->sessions.max_kept, cfg->sessions.unauthorized_max);
	reclaim_init(&z->b.reclaim, z->b.loop);
	ratelog_init(&z->b.mlog, z->b.loop, "mqtt", cfg->log.refused_per_second);
	conn_engine_cfg(&z->b, &ec);
	ec.clock_ms = loop_clock;
	ec.clock_ctx = z->b.loop;
	loop_timer_init(&z->b.tick, conn_engine_tick);
	z->b.eng = eng_new(&ec, &e);
	check(z->b.rec != NULL && z->b.eng != NULL);
	z->l = &z->b.lis[k];
	ratelog_init(&z->l->rlog, z->b.loop, cfg_listener_name(k), cfg->log.refused_per_second);
	z->l->b = &z->b;
	z->l->kind = k;
	z->l->cfg = &cfg->listener[k];
	ident_stage_init(&z->l->stage, z->l->cfg);
	check(pp_sockaddr_parse(peers[p], &z->peer) == 0);
	/* 192.0.2.9 is outside 10.0.0.0/8 and 2001:db8::/32 */
	z->peer_trusted = p != 1 || !variant_lists_proxies(b0 % NVARIANTS);
	z->slow = b0 & 128;
}

/* ---- who the records say the client is ------------------------------------ */

struct who {
	char client_ip[REC_IP_STRLEN], peer_ip[REC_IP_STRLEN];
	uint16_t client_port, peer_port;
	int version;            /* of the header honoured; 0: none */
};

/* The socket peer, unless the listener takes a header, the input starts
 * with a valid one, and it names the client (PROXY command, an INET,
 * INET6 or UNIX source): then the header's source. IPv4-mapped IPv6
 * addresses are shown as IPv4, the peer's as the header's. */
static void expected_who(const struct fz *z, struct who *w)
{
	struct sockaddr_storage peer = z->peer;
	struct pp_header h;
	struct pp_error err;

	net_addr_unmap(&peer);
	rec_addr_text(&peer, w->peer_ip, &w->peer_port);
	memcpy(w->client_ip, w->peer_ip, sizeof(w->client_ip));
	w->client_port = w->peer_port;
	w->version = 0;
	if (z->l->stage.header == IDENT_HEADER_NONE ||
	    pp_parse(z->in, z->inlen, &z->l->stage.parse, &h, &err) <= 0)
		return;
	w->version = h.version;
	if (h.command == PP_CMD_PROXY && h.src.ss_family != AF_UNSPEC &&
	    (h.family == PP_FAM_INET || h.family == PP_FAM_INET6 || h.family == PP_FAM_UNIX)) {
		peer = h.src;
		net_addr_unmap(&peer);
		rec_addr_text(&peer, w->client_ip, &w->client_port);
	}
}

static int check_session(const struct rec_session *r, void *ctx)
{
	const struct who *w = ctx;

	check(strcmp(r->peer_ip, w->peer_ip) == 0 && r->peer_port == w->peer_port);
	check(strcmp(r->client_ip, w->client_ip) == 0 && r->client_port == w->client_port);
	check(w->version ? r->proxy && r->proxy->version == w->version : !r->proxy);
	check(!r->connected);
	return 0;
}

/* Everything closed and freed; nothing may be left behind, and every
 * session recorded names the client as expected_who says. */
static void broker_stop(struct fz *z)
{
	struct rec_counters rc;
	struct eng_stats st;
	struct who w;

	for (int i = 0; i < 2; i++)
		if (z->cl[i].fd >= 0) {
			close(z->cl[i].fd);
			z->cl[i].fd = -1;
		}
	pump(z);
	conn_close_all(&z->b);
	check(z->b.nconns == 0 && z->b.conns == NULL);
	eng_stats_get(z->b.eng, &st);
	check(st.clients == 0 && st.connected == 0);
	rec_counters_get(z->b.rec, &rc);
	check(rc.conn_current[z->l->kind] == 0);
	expected_who(z, &w);
	rec_session_foreach(z->b.rec, check_session, &w);
	eng_free(z->b.eng);
	/* The loop outlives this broker. */
	loop_timer_cancel(z->b.loop, &z->b.tick);
	ratelog_stop(&z->l->rlog);
	ratelog_stop(&z->b.mlog);
	reclaim_stop(&z->b.reclaim);
	rec_store_free(z->b.rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[16] = { 0, 1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 32, 64, 100, 128, 256 };
	struct fz z;
	int nc = 1;

	if (size < 2)
		return 0;
	init_once();
	memset(&z, 0, sizeof(z));
	z.cl[0].fd = z.cl[1].fd = -1;
	broker_start(&z, data[0]);
	z.chunk = chunks[data[1] & 15];
	z.in = data + 2;
	z.inlen = size - 2;

	client_open(&z, &z.cl[0]);
	client_send(&z, &z.cl[0]);
	if (data[1] & 0x10) {
		if (data[1] & 0x80)
			let_time_pass(&z, 12);
		client_open(&z, &z.cl[1]);
		client_send(&z, &z.cl[1]);
		nc = 2;
	}
	if (data[1] & 0x20) {
		for (int i = 0; i < nc; i++)
			shutdown(z.cl[i].fd, SHUT_WR);
		pump(&z);
	}
	if (data[1] & 0x40)
		let_time_pass(&z, 20);
	/* A slow consumer reads at last: what still waits goes out. */
	z.slow = false;
	pump(&z);
	broker_stop(&z);

	for (int i = 0; i < nc; i++) {
		check_proxy_gate(&z, &z.cl[i]);
		if (z.l->kind == CFG_WS)
			check_ws(&z.cl[i], data[0] & 128);
		else
			check_mqtt(z.cl[i].out, z.cl[i].len, data[0] & 128);
		free(z.cl[i].out);
	}
	return 0;
}
