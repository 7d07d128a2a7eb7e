/* cmd_flood.c - `proxygen flood`: many proxied MQTT connections at a set
 * rate and concurrency.
 *
 * tcp: one thread, non-blocking sockets on epoll (edge-triggered), so that
 * one process drives thousands of connections. Each connection writes its
 * PROXY header and the CONNECT in one write, waits for the CONNACK, then
 * holds the session (--hold) or sends DISCONNECT and closes.
 * Connections waiting for a CONNACK sit in a FIFO ordered by start time
 * and held ones in a FIFO ordered by CONNACK time: both deadlines are a
 * fixed delay after those times, so each list's head is its next deadline.
 *
 * tls, ws, wss: worker threads, one connection at a time each, through
 * lib/client (cl_run); the concurrency is the number of threads.
 *
 * Every run is bounded: --connections in count, --duration in time.
 */
#include "cmd_flood.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "mqtt.h"
#include "net.h"
#include "opts.h"
#include "opts_client.h"

#define CMD "flood"

enum {
	OPT_HELP = 'h',
	OPT_QUIET = 'q',
	OPT_CONNECTIONS = 0x100,
	OPT_CONCURRENCY,
	OPT_RATE,
	OPT_DURATION,
	OPT_SRC_CIDR,
	OPT_HOLD,
	OPT_CLIENT_PREFIX,
	OPT_SEED,
	OPT_JSON,
};

static const struct option own_opts[] = {
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "src-cidr", required_argument, NULL, OPT_SRC_CIDR },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "client-prefix", required_argument, NULL, OPT_CLIENT_PREFIX },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Limits of the options: every run is bounded in count and time. */
#define MAX_CONNECTIONS  10000000u
#define MAX_CONCURRENCY  1000000u
#define MAX_THREADS      1000u       /* tls / ws / wss: one thread per connection open */
#define MAX_RATE         1000000u
#define MAX_DURATION_S   86400u
#define MAX_HOLD_MS      3600000u
#define MAX_TIMEOUT_MS   600000u
#define MAX_PREFIX       200
#define MAX_SEED         ((1ull << 53) - 1) /* exact as a JSON number */
#define DEF_CONNECTIONS  1000
#define DEF_CONCURRENCY  100
#define DEF_DURATION_S   60
#define DEF_TIMEOUT_MS   5000
#define FD_RESERVE       64          /* descriptors kept for everything but the connections */
#define HDR_CAP          (PP_V2_MAX_LEN + 64)
#define CONNECT_CAP      1024
#define IN_CAP           512         /* CONNACKs are a few bytes; 5.0 properties stay far below */
#define LAUNCH_BATCH     256         /* new connections per loop turn, so events are not starved */
#define PROGRESS_US      200000

/* ---- outcome kinds ---------------------------------------------------------------- */

enum fl_kind {
	FK_OK = 0,       /* CONNACK 0 */
	FK_REFUSED,      /* TCP connect refused / unreachable */
	FK_CLOSED,       /* FIN before a CONNACK */
	FK_RESET,        /* RST before a CONNACK */
	FK_TIMEOUT,      /* no CONNACK within --timeout */
	FK_CONNACK,      /* CONNACK with a code other than 0 */
	FK_PROTOCOL,     /* something else than a CONNACK came back */
	FK_TLS,          /* TLS handshake failed */
	FK_WS,           /* WebSocket upgrade refused */
	FK_LOCAL,        /* our side: no descriptor, no local port ... */
	FK_UNFINISHED,   /* still waiting when --duration (or a signal) ended the run */
	FK_COUNT
};

static const char *const kind_names[FK_COUNT] = {
	"ok", "refused", "closed", "reset", "timeout", "connack!=0", "protocol",
	"tls", "ws", "local", "unfinished",
};
static const char *const kind_keys[FK_COUNT] = {
	"ok", "refused", "closed", "reset", "timeout", "connack_nonzero", "protocol",
	"tls", "ws", "local", "unfinished",
};

/* ---- arguments -------------------------------------------------------------------- */

struct flood_args {
	struct opts_client cl;   /* cl.o.keepalive -1: derived from --hold */

	uint64_t connections, concurrency, rate;
	uint64_t duration_s;
	bool duration_given;

	bool have_cidr;
	struct net_cidr cidr;

	int hold_ms;
	const char *prefix;
	uint64_t seed;
	bool have_seed;
	bool json, quiet;
};

static void usage(FILE *f)
{
	fputs("Usage: proxygen flood --target HOST:PORT [OPTIONS]\n"
	      "Open many proxied MQTT connections at a set rate and concurrency; print\n"
	      "connections/s, CONNACK latency percentiles and errors by kind.\n"
	      "\n"
	      "Load (every run is bounded in count and time):\n"
	      "  --connections N          connections in total (default 1000)\n"
	      "  --concurrency C          connections open at once, held ones included (default 100)\n"
	      "  --rate R                 new connections per second, 0 = as fast as possible\n"
	      "                           (default 0)\n"
	      "  --duration S             stop after S seconds at most (default 60, plus --hold)\n"
	      "  --hold MS                keep each session open MS after its CONNACK, then\n"
	      "                           DISCONNECT (default 0: at once)\n"
	      "  --timeout MS             CONNACK expected within MS of the connect (default 5000)\n"
	      "Connection:\n"
	      "  --target HOST:PORT       where to connect (IPv6 in brackets)\n"
	      "  --transport T            tcp | tls | ws | wss (default tcp; tcp runs on one\n"
	      "                           epoll loop, the others on one thread per open connection,\n"
	      "                           at most 1000)\n"
	      "  --ca FILE | --insecure   tls, wss: verify the server against FILE, or not at all\n"
	      "  --sni NAME               tls, wss: server name\n"
	      "  --path PATH              ws, wss: WebSocket path (default /mqtt)\n"
	      "  --bind IP                local source address of every connection\n"
	      "Header:\n"
	      "  --src-cidr CIDR          a random source address (and port) from CIDR in each\n"
	      "                           header, IPv4 or IPv6 (e.g. 10.0.0.0/8, 2001:db8::/32)\n"
	      "  --seed N                 seed of those random sources (default: random)\n"
	      "  --no-header              send no PROXY header\n"
	      "  the destination is --dst, else the target's address\n"
	      "MQTT:\n"
	      "  --mqtt V                 3.1.1 | 5 (default 3.1.1)\n"
	      "  --client-prefix P        client ids are P0, P1, ... (default flood-)\n"
	      "  --username NAME, --password SECRET\n"
	      "  --keepalive S            CONNECT keep-alive (default 60, or longer than --hold)\n"
	      "Output:\n"
	      "  --json                   the summary as one JSON object on stdout\n"
	      "  -q, --quiet              no live progress line (shown only on a terminal)\n"
	      "  -h, --help               this text\n"
	      "\n", f);
	opts_hdr_help(f);
	fputs("\nExit status: 0 every connection got CONNACK 0 (and stayed open for --hold),\n"
	      "1 otherwise (including a run cut short by --duration), 2 usage error.\n"
	      "\nExamples:\n"
	      "  proxygen flood --target 127.0.0.1:1883 --v2 --src-cidr 10.0.0.0/8 \\\n"
	      "      --connections 10000 --concurrency 200 --rate 2000\n"
	      "  proxygen flood --target 127.0.0.1:1883 --no-header --connections 10000 \\\n"
	      "      --concurrency 10000 --hold 30000 --json\n", f);
}

/* One of flood's own options (opts_client_parse takes the others). */
static int apply_own(void *ctx, int c, const char *arg)
{
	struct flood_args *a = ctx;
	struct perr e;

	switch (c) {
	case OPT_CONNECTIONS:
		return opts_uint_arg(CMD, "connections", arg, 1, MAX_CONNECTIONS, &a->connections);
	case OPT_CONCURRENCY:
		return opts_uint_arg(CMD, "concurrency", arg, 1, MAX_CONCURRENCY, &a->concurrency);
	case OPT_RATE:
		return opts_uint_arg(CMD, "rate", arg, 0, MAX_RATE, &a->rate);
	case OPT_DURATION:
		a->duration_given = true;
		return opts_uint_arg(CMD, "duration", arg, 1, MAX_DURATION_S, &a->duration_s);
	case OPT_SRC_CIDR:
		if (net_cidr_parse(arg, &a->cidr, &e) < 0)
			return opts_usage_error(CMD, "--src-cidr: %s", e.msg);
		a->have_cidr = true;
		return 0;
	case OPT_HOLD:
		return opts_int_arg(CMD, "hold", arg, 0, MAX_HOLD_MS, &a->hold_ms);
	case OPT_CLIENT_PREFIX:
		if (strlen(arg) > MAX_PREFIX)
			return opts_usage_error(CMD, "--client-prefix: longer than %d bytes", MAX_PREFIX);
		a->prefix = arg;
		return 0;
	case OPT_SEED:
		a->have_seed = true;
		return opts_uint_arg(CMD, "seed", arg, 0, MAX_SEED, &a->seed);
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_QUIET:
		a->quiet = true;
		return 0;
	}
	return 0;
}

/* The client options flood takes: no client certificate, WebSocket
 * subprotocol or client id (ids are --client-prefix and a number). */
static const struct opts_cl_spec spec = {
	.cmd = CMD,
	.opts = OPTS_CL_ALL & ~(OPTS_CL(OPT_CL_CERT) | OPTS_CL(OPT_CL_KEY) |
				OPTS_CL(OPT_CL_SUBPROTOCOL) | OPTS_CL(OPT_CL_CLIENT_ID)),
	.timeout_max = MAX_TIMEOUT_MS, .port_nonzero = true,
	.shortopts = ":hq", .own = own_opts, .usage = usage, .apply = apply_own,
};

static int check_args(struct flood_args *a)
{
	bool hdr_opts = a->cl.hdr.touched || a->cl.hdr.mutate[0];
	int rc;

	if (!a->cl.have_target)
		return opts_usage_error(CMD, "--target HOST:PORT is required");
	if (a->cl.no_header && (hdr_opts || a->have_cidr))
		return opts_usage_error(CMD, "--no-header excludes the header options and "
					"--src-cidr");
	if (a->have_cidr && a->cl.hdr.have_src)
		return opts_usage_error(CMD, "--src-cidr and --src exclude each other");
	rc = opts_client_check(&a->cl, &spec);
	if (rc)
		return rc;
	if (a->cl.o.transport != CL_TCP && a->concurrency > MAX_THREADS)
		return opts_usage_error(CMD, "--concurrency %" PRIu64 ": at most %u with --transport "
					"%s (one thread each; tcp has no such limit)",
					a->concurrency, MAX_THREADS, cl_transport_name(a->cl.o.transport));
	if (a->cl.o.password && !a->cl.o.username && a->cl.o.mqtt_version != MQTT_V5)
		return opts_usage_error(CMD, "--password without --username needs --mqtt 5");
	if (a->concurrency > a->connections)
		a->concurrency = a->connections;
	if (!a->duration_given)
		a->duration_s = DEF_DURATION_S + (uint64_t)(a->hold_ms + 999) / 1000;
	if (a->cl.o.keepalive < 0) {
		int need = (a->hold_ms + 999) / 1000 + 10;

		a->cl.o.keepalive = need > 60 ? (need > 65535 ? 0 : need) : 60;
	}
	return 0;
}

/* ---- shared state ----------------------------------------------------------------- */

struct flood {
	const struct flood_args *a;
	struct sockaddr_storage target;   /* resolved */
	socklen_t target_len;
	struct sockaddr_storage bind_ss;
	socklen_t bind_len;
	struct sockaddr_storage hdr_dst;  /* destination written in headers */
	char target_str[NET_ADDR_STRLEN];
	uint8_t *static_hdr;              /* the header, when it is the same every time */
	size_t static_hdr_len;
	bool vary_hdr;                    /* built per connection (random sources) */
	int version;                      /* PROXY version, 0 = none */
	uint8_t disconnect[8];
	size_t disconnect_len;

	pthread_mutex_t mu;               /* guards everything below (threads) */
	uint64_t next;                    /* next connection number to start */
	uint64_t attempted, open;
	uint64_t count[FK_COUNT];
	uint64_t dropped;                 /* CONNACK 0, then closed by the peer during --hold */
	uint64_t connacks;                /* of any code */
	uint32_t *lat_us;                 /* CONNACK latencies, connect to CONNACK */
	size_t nlat;
	char first_err[FK_COUNT][160];
	char first_drop[160];
	int64_t t_start, t_last_connack, t_end;

	size_t workers_done;

	atomic_int stop;
	const char *stopped_by;           /* "done", "duration", "signal" */
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* splitmix64: small, fast, good enough for addresses and ports. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A random address inside c (host bits random) and a port 1024..65535. */
static void random_src(const struct net_cidr *c, uint64_t *rng, struct sockaddr_storage *ss)
{
	uint8_t rnd[16];
	size_t n = c->family == AF_INET ? 4 : 16;
	uint64_t r = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			r = rng_next(rng);
		rnd[i] = (uint8_t)r;
		r >>= 8;
	}
	opts_cidr_addr(c, rnd, (uint16_t)(1024 + rng_next(rng) % 64512), ss);
}

/* The header of one connection into out[HDR_CAP]; its length, 0 for none,
 * -1 with *e set. */
static int make_header(struct flood *f, uint64_t *rng, uint8_t *out, struct perr *e)
{
	const struct flood_args *a = f->a;
	struct sockaddr_storage src;

	if (a->cl.no_header)
		return 0;
	if (!f->vary_hdr) {
		memcpy(out, f->static_hdr, f->static_hdr_len);
		return (int)f->static_hdr_len;
	}
	random_src(&a->cidr, rng, &src);
	return opts_hdr_build_addrs(&a->cl.hdr, &src, &f->hdr_dst, out, HDR_CAP, e);
}

static long make_connect(const struct flood *f, uint64_t idx, uint8_t *out, size_t cap)
{
	const struct flood_args *a = f->a;
	char id[MAX_PREFIX + 32];

	snprintf(id, sizeof(id), "%s%" PRIu64, a->prefix, idx);
	return mqtt_build_connect(out, cap, (uint8_t)a->cl.o.mqtt_version, id, a->cl.o.username,
				  a->cl.o.password, (uint16_t)a->cl.o.keepalive, true);
}

/* ---- recording (under f->mu) ------------------------------------------------------ */

static void note_first(char *slot, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void note_first(char *slot, const char *fmt, va_list ap)
{
	if (!slot[0])
		vsnprintf(slot, 160, fmt, ap);
}

static void record_fail(struct flood *f, enum fl_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void record_fail(struct flood *f, enum fl_kind k, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->mu);
	f->count[k]++;
	va_start(ap, fmt);
	note_first(f->first_err[k], fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&f->mu);
}

static void record_connack(struct flood *f, int64_t latency_us, int64_t t)
{
	pthread_mutex_lock(&f->mu);
	f->connacks++;
	if (f->nlat < f->a->connections)
		f->lat_us[f->nlat++] = latency_us < 0 ? 0 :
			latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
	if (t > f->t_last_connack)
		f->t_last_connack = t;
	pthread_mutex_unlock(&f->mu);
}

static void record_ok(struct flood *f)
{
	pthread_mutex_lock(&f->mu);
	f->count[FK_OK]++;
	pthread_mutex_unlock(&f->mu);
}

static void record_drop(struct flood *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void record_drop(struct flood *f, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->mu);
	f->dropped++;
	va_start(ap, fmt);
	note_first(f->first_drop, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&f->mu);
}

static void open_delta(struct flood *f, int d)
{
	pthread_mutex_lock(&f->mu);
	if (d > 0)
		f->attempted++;
	f->open = (uint64_t)((int64_t)f->open + d);
	pthread_mutex_unlock(&f->mu);
}

/* Kind of a socket error before the CONNACK. */
static enum fl_kind errno_kind(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTUNREACH:
		return FK_REFUSED;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return FK_RESET;
	case ETIMEDOUT:
		return FK_TIMEOUT;
	default:
		return FK_LOCAL;
	}
}

/* ---- tcp: the epoll client -------------------------------------------------------- */

enum fl_state { S_FREE = 0, S_CONNECTING, S_SENDING, S_WAITING, S_HOLDING };

struct fl_conn {
	int fd;
	enum fl_state state;
	uint8_t *out;            /* header + CONNECT */
	size_t out_len, out_off;
	size_t in_len;
	int64_t t0, deadline;    /* us */
	struct fl_conn *prev, *next;
	uint8_t in[IN_CAP];
};

struct fl_list {
	struct fl_conn *head, *tail;
};

static void list_push(struct fl_list *l, struct fl_conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void list_remove(struct fl_list *l, struct fl_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

struct fl_loop {
	struct flood *f;
	int ep;
	struct fl_conn *slots;
	struct fl_conn *free_list;    /* linked through next */
	struct fl_list waiting;       /* connecting, sending, waiting for the CONNACK */
	struct fl_list holding;
	uint8_t *hdr;                 /* HDR_CAP scratch */
	uint64_t rng;
};

static struct fl_list *list_of(struct fl_loop *L, struct fl_conn *c)
{
	return c->state == S_HOLDING ? &L->holding : &L->waiting;
}

/* Close c and give its slot back. graceful: DISCONNECT first. */
static void release(struct fl_loop *L, struct fl_conn *c, bool graceful)
{
	if (graceful && c->fd >= 0)
		(void)send(c->fd, L->f->disconnect, L->f->disconnect_len,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	list_remove(list_of(L, c), c);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = S_FREE;
	c->next = L->free_list;
	L->free_list = c;
	open_delta(L->f, -1);
}

static void fail(struct fl_loop *L, struct fl_conn *c, enum fl_kind k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct fl_loop *L, struct fl_conn *c, enum fl_kind k, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->state == S_HOLDING)
		record_drop(L->f, "%s", msg);
	else
		record_fail(L->f, k, "%s", msg);
	release(L, c, false);
}

static void fail_errno(struct fl_loop *L, struct fl_conn *c, int err, const char *during)
{
	fail(L, c, errno_kind(err), "%s: %s", during, strerror(err));
}

static void launch(struct fl_loop *L, uint64_t idx)
{
	struct flood *f = L->f;
	const struct flood_args *a = f->a;
	struct fl_conn *c = L->free_list;
	uint8_t connect_pkt[CONNECT_CAP];
	struct epoll_event ev;
	struct perr e;
	long clen;
	int hlen;

	L->free_list = c->next;
	memset(c, 0, offsetof(struct fl_conn, in));
	c->fd = -1;
	c->state = S_CONNECTING;
	c->t0 = now_us();
	c->deadline = c->t0 + (int64_t)a->cl.o.timeout_ms * 1000;
	list_push(&L->waiting, c);
	open_delta(f, +1);

	hlen = make_header(f, &L->rng, L->hdr, &e);
	clen = make_connect(f, idx, connect_pkt, sizeof(connect_pkt));
	if (hlen < 0 || clen <= 0 || clen > (long)sizeof(connect_pkt)) {
		fail(L, c, FK_LOCAL, "%s", hlen < 0 ? e.msg : "cannot build the CONNECT");
		return;
	}
	c->out_len = (size_t)hlen + (size_t)clen;
	c->out = malloc(c->out_len);
	if (!c->out) {
		fail(L, c, FK_LOCAL, "out of memory");
		return;
	}
	memcpy(c->out, L->hdr, (size_t)hlen);
	memcpy(c->out + hlen, connect_pkt, (size_t)clen);

	c->fd = socket(f->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(L, c, FK_LOCAL, "socket: %s", strerror(errno));
		return;
	}
	if (f->bind_len) {
		int one = 1;

		/* Let connect() pick the port per destination: bind() alone would
		 * reserve it for every destination and run out sooner. */
		(void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (const struct sockaddr *)&f->bind_ss, f->bind_len) < 0) {
			fail(L, c, FK_LOCAL, "bind %s: %s", a->cl.o.bind_addr, strerror(errno));
			return;
		}
	}
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		fail(L, c, FK_LOCAL, "epoll_ctl: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&f->target, f->target_len) == 0) {
		c->state = S_SENDING; /* loopback may connect at once; EPOLLOUT follows anyway */
	} else if (errno != EINPROGRESS) {
		fail_errno(L, c, errno, "connect");
		return;
	}
}

/* Write what is left of the header + CONNECT. 0 done or blocked, -1 c is gone. */
static int do_write(struct fl_loop *L, struct fl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			fail_errno(L, c, errno, "write");
			return -1;
		}
		c->out_off += (size_t)n;
	}
	c->state = S_WAITING;
	free(c->out);
	c->out = NULL;
	return 0;
}

static void on_connack(struct fl_loop *L, struct fl_conn *c, uint8_t rc)
{
	struct flood *f = L->f;
	int64_t t = now_us();

	record_connack(f, t - c->t0, t);
	if (rc != 0) {
		fail(L, c, FK_CONNACK, "CONNACK 0x%02x (%s)", rc,
		     mqtt_connack_name((uint8_t)f->a->cl.o.mqtt_version, rc));
		return;
	}
	record_ok(f);
	if (f->a->hold_ms <= 0) {
		release(L, c, true);
		return;
	}
	list_remove(&L->waiting, c);
	c->state = S_HOLDING;
	c->deadline = t + (int64_t)f->a->hold_ms * 1000;
	list_push(&L->holding, c);
}

/* Read until the socket is drained (edge-triggered). */
static void do_read(struct fl_loop *L, struct fl_conn *c)
{
	for (;;) {
		uint8_t junk[1024];
		uint8_t *dst = c->state == S_HOLDING ? junk : c->in + c->in_len;
		size_t cap = c->state == S_HOLDING ? sizeof(junk) : IN_CAP - c->in_len;
		ssize_t n;

		if (cap == 0) {
			fail(L, c, FK_PROTOCOL, "answer longer than %d bytes without a CONNACK",
			     IN_CAP);
			return;
		}
		n = recv(c->fd, dst, cap, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			fail_errno(L, c, errno, c->state == S_HOLDING ? "during --hold" : "read");
			return;
		}
		if (n == 0) {
			fail(L, c, FK_CLOSED, "%s", c->state == S_HOLDING ?
			     "closed by the peer during --hold" : "closed by the peer before a CONNACK");
			return;
		}
		if (c->state == S_HOLDING)
			continue;
		c->in_len += (size_t)n;

		bool sp;
		uint8_t rc;
		long r = mqtt_parse_connack(c->in, c->in_len, (uint8_t)L->f->a->cl.o.mqtt_version,
					    &sp, &rc);

		if (r < 0) {
			fail(L, c, FK_PROTOCOL, "not a CONNACK: first byte 0x%02x (%s)", c->in[0],
			     mqtt_type_name(c->in[0] >> 4));
			return;
		}
		if (r > 0) {
			on_connack(L, c, rc);
			if (c->state != S_HOLDING)
				return;
		}
	}
}

static void on_event(struct fl_loop *L, struct fl_conn *c, uint32_t ev)
{
	if (c->state == S_FREE)
		return; /* released earlier in this batch */
	if (c->state == S_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fail_errno(L, c, err, "connect");
			return;
		}
		c->state = S_SENDING;
	}
	if (c->state == S_SENDING && do_write(L, c) < 0)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		do_read(L, c);
}

/* Time-outs and ends of --hold: the heads of the two FIFOs. */
static void expire(struct fl_loop *L, int64_t now)
{
	while (L->waiting.head && L->waiting.head->deadline <= now)
		fail(L, L->waiting.head, FK_TIMEOUT, "no CONNACK within %d ms",
		     L->f->a->cl.o.timeout_ms);
	while (L->holding.head && L->holding.head->deadline <= now)
		release(L, L->holding.head, true);
}

/* ---- progress --------------------------------------------------------------------- */

struct progress {
	bool on;
	int64_t next, last_t;
	uint64_t last_connacks;
};

static void progress_tick(struct flood *f, struct progress *p, int64_t now, bool force)
{
	uint64_t att, open, ok, failed = 0, connacks;
	double rate;

	if (!p->on || (!force && now < p->next))
		return;
	pthread_mutex_lock(&f->mu);
	att = f->attempted;
	open = f->open;
	ok = f->count[FK_OK];
	for (int k = 1; k < FK_COUNT; k++)
		failed += f->count[k];
	failed += f->dropped;
	connacks = f->connacks;
	pthread_mutex_unlock(&f->mu);
	rate = now > p->last_t ? (double)(connacks - p->last_connacks) * 1e6 /
				 (double)(now - p->last_t) : 0.0;
	fprintf(stderr, "\r\033[Kflood %s: started %" PRIu64 "/%" PRIu64 "  ok %" PRIu64
		"  failed %" PRIu64 "  open %" PRIu64 "  %.0f conn/s  %.1f s",
		f->target_str, att, f->a->connections, ok, failed, open, rate,
		(double)(now - f->t_start) / 1e6);
	fflush(stderr);
	p->last_t = now;
	p->last_connacks = connacks;
	p->next = now + PROGRESS_US;
}

static void progress_end(const struct progress *p)
{
	if (p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* ---- tcp run ---------------------------------------------------------------------- */

static int run_tcp(struct flood *f, struct progress *prog)
{
	const struct flood_args *a = f->a;
	struct fl_loop L;
	struct epoll_event evs[512];
	uint64_t launched = 0;
	int rc = 0;

	memset(&L, 0, sizeof(L));
	L.f = f;
	L.rng = a->seed;
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	L.slots = calloc(a->concurrency, sizeof(*L.slots));
	L.hdr = malloc(HDR_CAP);
	if (L.ep < 0 || !L.slots || !L.hdr) {
		fprintf(stderr, "proxygen flood: %s\n",
			L.ep < 0 ? strerror(errno) : "out of memory");
		rc = -1;
		goto out;
	}
	for (uint64_t i = a->concurrency; i-- > 0;) {
		L.slots[i].fd = -1;
		L.slots[i].next = L.free_list;
		L.free_list = &L.slots[i];
	}

	for (;;) {
		int64_t now = now_us();

		if (got_signal) {
			f->stopped_by = "signal";
			break;
		}
		if (now >= f->t_end) {
			f->stopped_by = "duration";
			break;
		}
		expire(&L, now);
		for (int b = 0; b < LAUNCH_BATCH && launched < a->connections && L.free_list; b++) {
			if (a->rate) {
				int64_t due = f->t_start + (int64_t)((double)launched * 1e6 /
								     (double)a->rate);
				if (due > now)
					break;
			}
			launch(&L, launched++);
		}
		if (launched >= a->connections && !L.waiting.head && !L.holding.head) {
			f->stopped_by = "done";
			break;
		}

		int64_t next = f->t_end;

		if (launched < a->connections && L.free_list) {
			int64_t due = a->rate ? f->t_start + (int64_t)((double)launched * 1e6 /
								       (double)a->rate) : now;
			if (due < next)
				next = due;
		}
		if (L.waiting.head && L.waiting.head->deadline < next)
			next = L.waiting.head->deadline;
		if (L.holding.head && L.holding.head->deadline < next)
			next = L.holding.head->deadline;
		if (prog->on && prog->next < next)
			next = prog->next;
		now = now_us();
		int wait_ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
		int n = epoll_wait(L.ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_ms);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "proxygen flood: epoll_wait: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		for (int i = 0; i < n; i++)
			on_event(&L, evs[i].data.ptr, evs[i].events);
		progress_tick(f, prog, now_us(), false);
	}

	/* Cut short: what still waits is unfinished, held sessions end normally. */
	while (L.waiting.head)
		fail(&L, L.waiting.head, FK_UNFINISHED, "still waiting when the run was %s",
		     f->stopped_by && strcmp(f->stopped_by, "signal") == 0 ?
		     "interrupted" : "ended by --duration");
	while (L.holding.head)
		release(&L, L.holding.head, true);
out:
	if (L.ep >= 0)
		close(L.ep);
	free(L.slots);
	free(L.hdr);
	return rc;
}

/* ---- tls / ws / wss: worker threads ----------------------------------------------- */

static enum fl_kind outcome_kind(const struct cl_result *r)
{
	switch (r->outcome) {
	case CL_CONNACK:
		return r->connack_rc == 0 ? FK_OK : FK_CONNACK;
	case CL_CLOSED:
		return FK_CLOSED;
	case CL_RESET:
		return FK_RESET;
	case CL_TIMEOUT:
		return FK_TIMEOUT;
	case CL_REFUSED:
		return FK_REFUSED;
	case CL_TLS_FAIL:
		return FK_TLS;
	case CL_WS_FAIL:
		return FK_WS;
	case CL_PROTOCOL:
		return FK_PROTOCOL;
	default:
		return FK_LOCAL;
	}
}

/* Sleep until t (us), waking for a stop; false when stopped. */
static bool sleep_until(struct flood *f, int64_t t)
{
	for (;;) {
		int64_t now = now_us();

		if (atomic_load(&f->stop))
			return false;
		if (now >= t)
			return true;
		int64_t d = t - now;

		net_sleep_ms((int)(d > 100000 ? 100 : (d + 999) / 1000));
	}
}

static void run_one_threaded(struct flood *f, uint64_t idx, uint64_t *rng, uint8_t *hdr)
{
	const struct flood_args *a = f->a;
	struct cl_opts o;
	struct cl_result res;
	struct cl_conn *conn = NULL;
	struct perr e;
	char id[MAX_PREFIX + 32];
	int hlen;

	open_delta(f, +1);
	hlen = make_header(f, rng, hdr, &e);
	if (hlen < 0) {
		record_fail(f, FK_LOCAL, "%s", e.msg);
		open_delta(f, -1);
		return;
	}
	snprintf(id, sizeof(id), "%s%" PRIu64, a->prefix, idx);
	o = a->cl.o;
	o.header = hlen ? hdr : NULL;
	o.header_len = (size_t)hlen;
	o.client_id = id;

	cl_run(&o, &res, &conn);
	enum fl_kind k = outcome_kind(&res);

	if (res.outcome == CL_CONNACK)
		record_connack(f, (int64_t)(res.elapsed_ms * 1000.0), now_us());
	if (k == FK_OK) {
		record_ok(f);
		int64_t end = now_us() + (int64_t)a->hold_ms * 1000;

		while (a->hold_ms > 0 && now_us() < end && !atomic_load(&f->stop)) {
			if (!cl_alive(conn)) {
				record_drop(f, "closed by the peer during --hold");
				break;
			}
			int64_t left = end - now_us();

			net_sleep_ms(left > 50000 ? 50 : (int)(left > 0 ? (left + 999) / 1000 : 0));
		}
	} else {
		char buf[300];

		record_fail(f, k, "%s", cl_result_str(&res, buf, sizeof(buf)));
	}
	cl_close(conn, k == FK_OK);
	open_delta(f, -1);
}

struct fl_worker {
	struct flood *f;
	uint64_t rng;
};

static void *worker(void *arg)
{
	struct fl_worker *w = arg;
	struct flood *f = w->f;
	const struct flood_args *a = f->a;
	uint8_t *hdr = malloc(HDR_CAP);

	if (!hdr) {
		record_fail(f, FK_LOCAL, "out of memory");
		return NULL;
	}
	for (;;) {
		uint64_t idx;

		pthread_mutex_lock(&f->mu);
		if (atomic_load(&f->stop) || f->next >= a->connections) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		idx = f->next++;
		pthread_mutex_unlock(&f->mu);
		if (a->rate && !sleep_until(f, f->t_start + (int64_t)((double)idx * 1e6 /
								      (double)a->rate)))
			break;
		run_one_threaded(f, idx, &w->rng, hdr);
	}
	free(hdr);
	pthread_mutex_lock(&f->mu);
	f->workers_done++;
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int run_threads(struct flood *f, struct progress *prog)
{
	const struct flood_args *a = f->a;
	size_t n = (size_t)a->concurrency, started = 0;
	pthread_t *th = calloc(n, sizeof(*th));
	struct fl_worker *w = calloc(n, sizeof(*w));
	pthread_attr_t attr;
	uint64_t seed = a->seed;
	int rc = 0;

	if (!th || !w) {
		fprintf(stderr, "proxygen flood: out of memory\n");
		free(th);
		free(w);
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (size_t i = 0; i < n; i++) {
		w[i].f = f;
		w[i].rng = rng_next(&seed);
		if (pthread_create(&th[i], &attr, worker, &w[i]) != 0)
			break;
		started++;
	}
	pthread_attr_destroy(&attr);
	if (started == 0) {
		fprintf(stderr, "proxygen flood: cannot start worker threads\n");
		rc = -1;
	}
	for (;;) {
		size_t done;

		pthread_mutex_lock(&f->mu);
		done = f->workers_done;
		pthread_mutex_unlock(&f->mu);
		if (done >= started)
			break;
		if (!atomic_load(&f->stop)) {
			if (got_signal)
				f->stopped_by = "signal";
			else if (now_us() >= f->t_end)
				f->stopped_by = "duration";
			if (f->stopped_by)
				atomic_store(&f->stop, 1);
		}
		progress_tick(f, prog, now_us(), false);
		net_sleep_ms(20);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (!f->stopped_by)
		f->stopped_by = "done";
	free(th);
	free(w);
	return rc;
}

/* ---- setup ------------------------------------------------------------------------ */

/* Resolve the target; with --bind, an address of the bind address's family. */
static int resolve(struct flood *f, struct perr *e)
{
	const struct flood_args *a = f->a;
	struct addrinfo hints, *res, *ai;
	char port[8];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = f->bind_len ? f->bind_ss.ss_family : AF_UNSPEC;
	snprintf(port, sizeof(port), "%u", a->cl.o.port);
	r = getaddrinfo(a->cl.host, port, &hints, &res);
	if (r != 0)
		return perr_set(e, "--target: cannot resolve '%s'%s: %s", a->cl.host,
				f->bind_len ? " in the family of --bind" : "", gai_strerror(r));
	ai = res;
	memcpy(&f->target, ai->ai_addr, ai->ai_addrlen);
	f->target_len = ai->ai_addrlen;
	freeaddrinfo(res);
	net_addr_str(&f->target, f->target_str, sizeof(f->target_str));
	return 0;
}

/* Raise the open files limit as far as allowed; enough for the concurrency? */
static int fd_limit(const struct flood_args *a, struct perr *e)
{
	struct rlimit rl;
	uint64_t need = a->concurrency + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return perr_set(e, "--concurrency %" PRIu64 " needs %" PRIu64 " open files; the "
				"limit is %llu (ulimit -n)", a->concurrency, need,
				(unsigned long long)rl.rlim_cur);
	return 0;
}

static int setup(struct flood *f, const struct flood_args *a, struct perr *e)
{
	long n;

	f->a = a;
	pthread_mutex_init(&f->mu, NULL);
	if (a->cl.o.bind_addr) {
		if (net_addr_parse(a->cl.o.bind_addr, 0, &f->bind_ss, e) < 0)
			return -1;
		f->bind_len = f->bind_ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							       : sizeof(struct sockaddr_in6);
	}
	if (resolve(f, e) < 0)
		return -1;
	if (fd_limit(a, e) < 0)
		return -1;
	f->hdr_dst = a->cl.hdr.have_dst ? a->cl.hdr.dst : f->target;
	net_addr_unmap(&f->hdr_dst);

	if (!a->cl.no_header) {
		uint8_t *buf = malloc(HDR_CAP);
		uint64_t rng = a->seed;
		struct sockaddr_storage src;
		int len;

		if (!buf)
			return perr_set(e, "out of memory");
		f->version = opts_hdr_version(&a->cl.hdr);
		if (a->have_cidr) {
			/* one trial build: options that cannot make a header fail here */
			random_src(&a->cidr, &rng, &src);
			len = opts_hdr_build_addrs(&a->cl.hdr, &src, &f->hdr_dst, buf, HDR_CAP, e);
			f->vary_hdr = true;
		} else {
			if (a->cl.hdr.have_src)
				src = a->cl.hdr.src;
			else
				(void)opts_parse_ipport(f->hdr_dst.ss_family == AF_INET6 ?
							PP_DEF_SRC6 : PP_DEF_SRC4, &src, NULL);
			len = opts_hdr_build_addrs(&a->cl.hdr, &src, &f->hdr_dst, buf, HDR_CAP, e);
		}
		if (len < 0) {
			free(buf);
			return -1;
		}
		f->static_hdr = buf;
		f->static_hdr_len = (size_t)len;
	}
	{
		uint8_t pkt[CONNECT_CAP];

		n = make_connect(f, a->connections - 1, pkt, sizeof(pkt));
		if (n <= 0 || n > (long)sizeof(pkt))
			return perr_set(e, "cannot build a CONNECT from --client-prefix, "
					"--username and --password");
	}
	n = mqtt_build_disconnect(f->disconnect, sizeof(f->disconnect),
				  (uint8_t)a->cl.o.mqtt_version, 0);
	if (n <= 0 || n > (long)sizeof(f->disconnect))
		return perr_set(e, "cannot build a DISCONNECT");
	f->disconnect_len = (size_t)n;
	f->lat_us = calloc((size_t)a->connections, sizeof(*f->lat_us));
	if (!f->lat_us)
		return perr_set(e, "out of memory for %" PRIu64 " latencies", a->connections);
	return 0;
}

/* ---- summary ---------------------------------------------------------------------- */

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of the sorted latencies, in ms. */
static double pct_ms(const uint32_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0.0;
	k = (size_t)ceil(p / 100.0 * (double)n);
	if (k == 0)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

struct summary {
	uint64_t failed;
	double elapsed_s, active_s, rate;
	double p50, p90, p99, max, mean;
	int exit_code;
	char header[128];
};

static void summarize(struct flood *f, struct summary *s)
{
	const struct flood_args *a = f->a;
	double sum = 0;
	int64_t t_done = now_us();

	memset(s, 0, sizeof(*s));
	for (int k = 1; k < FK_COUNT; k++)
		s->failed += f->count[k];
	s->elapsed_s = (double)(t_done - f->t_start) / 1e6;
	s->active_s = f->connacks ? (double)(f->t_last_connack - f->t_start) / 1e6 : 0.0;
	s->rate = s->active_s > 0 ? (double)f->connacks / s->active_s : 0.0;
	qsort(f->lat_us, f->nlat, sizeof(*f->lat_us), cmp_u32);
	for (size_t i = 0; i < f->nlat; i++)
		sum += f->lat_us[i];
	s->mean = f->nlat ? sum / (double)f->nlat / 1000.0 : 0.0;
	s->p50 = pct_ms(f->lat_us, f->nlat, 50);
	s->p90 = pct_ms(f->lat_us, f->nlat, 90);
	s->p99 = pct_ms(f->lat_us, f->nlat, 99);
	s->max = f->nlat ? f->lat_us[f->nlat - 1] / 1000.0 : 0.0;
	s->exit_code = f->count[FK_OK] == a->connections && f->dropped == 0 ? PG_EXIT_OK
									     : PG_EXIT_FAIL;
	if (a->cl.no_header)
		snprintf(s->header, sizeof(s->header), "none");
	else
		snprintf(s->header, sizeof(s->header), "v%d%s%s", f->version,
			 a->cl.hdr.mutate[0] ? " mutation " : "", a->cl.hdr.mutate);
}

static void print_text(const struct flood *f, const struct summary *s)
{
	const struct flood_args *a = f->a;
	char cidr[96] = "";

	if (a->have_cidr) {
		char c[64];

		snprintf(cidr, sizeof(cidr), "%s (seed %" PRIu64 ")",
			 net_cidr_str(&a->cidr, c, sizeof(c)), a->seed);
	}
	printf("target:          %s (%s), MQTT %s, header %s%s%s\n", f->target_str,
	       cl_transport_name(a->cl.o.transport), a->cl.o.mqtt_version == MQTT_V5 ? "5" : "3.1.1",
	       s->header, a->have_cidr ? ", sources " : "", cidr);
	printf("connections:     %" PRIu64 " attempted, %" PRIu64 " succeeded (CONNACK 0), %"
	       PRIu64 " failed, of %" PRIu64 " asked\n", f->attempted, f->count[FK_OK],
	       s->failed, a->connections);
	if (a->hold_ms > 0)
		printf("held:            %d ms each, %" PRIu64 " dropped by the peer\n",
		       a->hold_ms, f->dropped);
	printf("rate:            %.1f connections/s (%" PRIu64 " CONNACKs in %.3f s)\n",
	       s->rate, f->connacks, s->active_s);
	printf("elapsed:         %.3f s (%s)\n", s->elapsed_s,
	       strcmp(f->stopped_by, "done") == 0 ? "all done" :
	       strcmp(f->stopped_by, "signal") == 0 ? "interrupted" : "cut short by --duration");
	printf("connack latency: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms "
	       "(connect to CONNACK)\n", s->p50, s->p90, s->p99, s->max);
	printf("errors:         ");
	for (int k = 1; k < FK_COUNT; k++) {
		if ((k == FK_TLS || k == FK_WS) && a->cl.o.transport == CL_TCP)
			continue;
		printf(" %s %" PRIu64 "%s", kind_names[k], f->count[k],
		       k + 1 < FK_COUNT ? "," : "");
	}
	printf("\n");
	for (int k = 1; k < FK_COUNT; k++)
		if (f->count[k])
			printf("  first %s: %s\n", kind_names[k], f->first_err[k]);
	if (f->dropped)
		printf("  first dropped: %s\n", f->first_drop);
}

#define JSET(o, k, v) json_object_set_new((o), (k), (v))

static void print_json(const struct flood *f, const struct summary *s)
{
	const struct flood_args *a = f->a;
	json_t *o = json_object(), *lat = json_object(), *errs = json_object();
	json_t *first = json_object();
	char cidr[64];

	JSET(o, "target", json_string(f->target_str));
	JSET(o, "transport", json_string(cl_transport_name(a->cl.o.transport)));
	JSET(o, "header", json_string(s->header));
	if (a->have_cidr)
		JSET(o, "src_cidr", json_string(net_cidr_str(&a->cidr, cidr, sizeof(cidr))));
	else
		JSET(o, "src_cidr", json_null());
	JSET(o, "mqtt", json_string(a->cl.o.mqtt_version == MQTT_V5 ? "5" : "3.1.1"));
	JSET(o, "connections", json_integer((json_int_t)a->connections));
	JSET(o, "concurrency", json_integer((json_int_t)a->concurrency));
	JSET(o, "rate_limit", json_integer((json_int_t)a->rate));
	JSET(o, "hold_ms", json_integer(a->hold_ms));
	JSET(o, "duration_s", json_integer((json_int_t)a->duration_s));
	JSET(o, "seed", json_integer((json_int_t)a->seed));
	JSET(o, "attempted", json_integer((json_int_t)f->attempted));
	JSET(o, "succeeded", json_integer((json_int_t)f->count[FK_OK]));
	JSET(o, "failed", json_integer((json_int_t)s->failed));
	JSET(o, "dropped", json_integer((json_int_t)f->dropped));
	JSET(o, "connacks", json_integer((json_int_t)f->connacks));
	JSET(o, "elapsed_s", json_real(s->elapsed_s));
	JSET(o, "connack_span_s", json_real(s->active_s));
	JSET(o, "connections_per_s", json_real(s->rate));
	JSET(lat, "p50", json_real(s->p50));
	JSET(lat, "p90", json_real(s->p90));
	JSET(lat, "p99", json_real(s->p99));
	JSET(lat, "max", json_real(s->max));
	JSET(lat, "mean", json_real(s->mean));
	JSET(o, "connack_latency_ms", lat);
	for (int k = 1; k < FK_COUNT; k++) {
		JSET(errs, kind_keys[k], json_integer((json_int_t)f->count[k]));
		if (f->count[k])
			JSET(first, kind_keys[k], json_string(f->first_err[k]));
	}
	if (f->dropped)
		JSET(first, "dropped", json_string(f->first_drop));
	JSET(o, "errors", errs);
	JSET(o, "first_errors", first);
	JSET(o, "stopped_by", json_string(f->stopped_by));
	JSET(o, "exit", json_integer(s->exit_code));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	fputc('\n', stdout);
	json_decref(o);
}

/* ---- entry ------------------------------------------------------------------------ */

int cmd_flood(int argc, char **argv)
{
	struct flood_args a;
	struct flood *f;
	struct progress prog;
	struct summary s;
	struct sigaction sa, old_int, old_term;
	struct perr e;
	int rc, run_rc;

	memset(&a, 0, sizeof(a));
	opts_client_init(&a.cl);
	a.connections = DEF_CONNECTIONS;
	a.concurrency = DEF_CONCURRENCY;
	a.cl.o.timeout_ms = DEF_TIMEOUT_MS;
	a.cl.o.keepalive = -1;
	a.prefix = "flood-";
	f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, "proxygen flood: out of memory\n");
		opts_client_free(&a.cl);
		return PG_EXIT_FAIL;
	}
	rc = opts_client_parse(argc, argv, &spec, &a.cl, &a);
	if (rc || a.cl.help)
		goto out;
	rc = check_args(&a);
	if (rc)
		goto out;
	if (!a.have_seed && getrandom(&a.seed, sizeof(a.seed), 0) != (ssize_t)sizeof(a.seed))
		a.seed = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32);
	a.seed &= MAX_SEED;
	if (setup(f, &a, &e) < 0) {
		rc = opts_usage_error(CMD, "%s", e.msg);
		goto out;
	}

	got_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	memset(&prog, 0, sizeof(prog));
	prog.on = !a.quiet && isatty(STDERR_FILENO);
	f->t_start = now_us();
	f->t_end = f->t_start + (int64_t)a.duration_s * 1000000;
	prog.last_t = f->t_start;
	prog.next = f->t_start + PROGRESS_US;
	run_rc = a.cl.o.transport == CL_TCP ? run_tcp(f, &prog) : run_threads(f, &prog);
	progress_end(&prog);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (!f->stopped_by)
		f->stopped_by = "done";

	summarize(f, &s);
	if (a.json)
		print_json(f, &s);
	else
		print_text(f, &s);
	fflush(stdout);
	rc = run_rc < 0 ? PG_EXIT_FAIL : s.exit_code;
out:
	free(f->static_hdr);
	free(f->lat_us);
	free(f);
	opts_client_free(&a.cl);
	return rc;
}
