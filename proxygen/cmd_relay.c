/* cmd_relay.c - `proxygen relay`: what HAProxy's `send-proxy` does, for
 * any client. Accept a client, connect to the target, write a PROXY header
 * (source = the client, destination = the address it connected to), then
 * copy bytes both ways until both sides have closed.
 *
 * One process, one poll(2) loop, non-blocking sockets. Half-close is
 * forwarded: EOF from one side becomes shutdown(SHUT_WR) towards the other
 * once everything read before it has been written; a reset is forwarded as
 * a reset (SO_LINGER 0). The connect to the target is blocking (bounded by
 * --timeout): connections are set up one after another, which is fine for
 * a test tool.
 */
#include "cmd_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dump.h"
#include "log.h"
#include "net.h"
#include "opts.h"

enum {
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_LISTEN = 0x100,
	OPT_TARGET,
	OPT_SOURCE,
	OPT_MAX_CONNS,
	OPT_ONCE,
	OPT_TIMEOUT,
};

static const struct option own_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

#define RELAY_BUF (64 * 1024)
#define HDR_CAP   (PP_V2_MAX_LEN + 1024)

enum source_mode { SRC_CLIENT, SRC_FIXED, SRC_RANDOM };

struct relay_cfg {
	struct sockaddr_storage listen;
	char target_host[256];
	uint16_t target_port;
	enum source_mode src_mode;
	struct sockaddr_storage src_fixed;
	struct net_cidr src_cidr;
	size_t max_conns;
	bool once;
	int timeout_ms;
	bool verbose;
	struct opts_hdr hdr;
};

/* One direction of a pair: bytes read from one socket, not yet written
 * to the other. */
struct relay_dir {
	uint8_t *buf;
	size_t off, len;
	bool eof;       /* the reading side sent FIN */
	bool shut;      /* FIN forwarded (shutdown SHUT_WR on the writing side) */
	uint64_t total;
};

struct relay_pair {
	int cfd, tfd;
	uint8_t *hdr;        /* header still to write to the target first */
	size_t hdr_len, hdr_off;
	struct relay_dir up;   /* client -> target */
	struct relay_dir down; /* target -> client */
	char client[NET_ADDR_STRLEN];
	bool failed;         /* reset or I/O error: tear down now */
};

static volatile sig_atomic_t relay_stop;

static void on_signal(int sig)
{
	(void)sig;
	relay_stop = 1;
}

static void usage(FILE *f)
{
	fputs("Usage: proxygen relay --listen IP:PORT --target HOST:PORT [OPTIONS]\n"
	      "Accept clients; for each, connect to the target, write a PROXY header\n"
	      "(source: the client's address; destination: the address the client\n"
	      "connected to), then relay bytes both ways until both sides close.\n"
	      "\n"
	      "  --listen IP:PORT         where to accept clients (port 0: any free port;\n"
	      "                           the log line 'listening on' gives it)\n"
	      "  --target HOST:PORT       where to connect for each client\n"
	      "  --source S               client (default) | fixed:IP:PORT | random:CIDR\n"
	      "                           the header's source address\n"
	      "  --max-conns N            at most N relayed connections at a time\n"
	      "                           (default 1024; more clients wait in the backlog)\n"
	      "  --once                   exit after the first connection has ended\n"
	      "  --timeout MS             limit of each connect to the target (default 5000)\n"
	      "  -v, --verbose            also log the end of each connection\n"
	      "  -h, --help               this text\n"
	      "\n", f);
	opts_hdr_help(f);
	fputs("  (in relay, the addresses come from each connection and --source:\n"
	      "  --src, --dst, --family and --unix-* do not apply)\n", f);
	fputs("\nExamples:\n"
	      "  proxygen relay --listen 127.0.0.1:1884 --target 127.0.0.1:1883 --v1\n"
	      "  proxygen relay --listen 127.0.0.1:1884 --target broker:1883 --source random:203.0.113.0/24\n"
	      "  mosquitto_pub -h 127.0.0.1 -p 1884 -t t -m hello\n", f);
}

static int parse_source(const char *arg, struct relay_cfg *cfg, struct perr *e)
{
	if (strcmp(arg, "client") == 0) {
		cfg->src_mode = SRC_CLIENT;
		return 0;
	}
	if (strncmp(arg, "fixed:", 6) == 0) {
		cfg->src_mode = SRC_FIXED;
		return opts_parse_ipport(arg + 6, &cfg->src_fixed, e);
	}
	if (strncmp(arg, "random:", 7) == 0) {
		cfg->src_mode = SRC_RANDOM;
		return net_cidr_parse(arg + 7, &cfg->src_cidr, e);
	}
	return perr_set(e, "expected client, fixed:IP:PORT or random:CIDR");
}

static int parse_args(int argc, char **argv, struct relay_cfg *cfg, bool *done)
{
	struct option longopts[96];
	bool have_listen = false, have_target = false;
	struct perr e;
	uint64_t v;
	int c, rc;

	if (opts_longopts(longopts, 96, own_opts) < 0)
		return opts_usage_error("relay", "internal error: option table too small");
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			*done = true;
			return PG_EXIT_OK;
		case OPT_VERBOSE:
			cfg->verbose = true;
			break;
		case OPT_LISTEN:
			if (opts_parse_ipport(optarg, &cfg->listen, &e) < 0)
				return opts_usage_error("relay", "--listen '%s': %s", optarg, e.msg);
			have_listen = true;
			break;
		case OPT_TARGET:
			if (opts_parse_hostport(optarg, cfg->target_host, sizeof(cfg->target_host),
						&cfg->target_port, &e) < 0)
				return opts_usage_error("relay", "--target '%s': %s", optarg, e.msg);
			have_target = true;
			break;
		case OPT_SOURCE:
			if (parse_source(optarg, cfg, &e) < 0)
				return opts_usage_error("relay", "--source '%s': %s", optarg, e.msg);
			break;
		case OPT_MAX_CONNS:
			rc = opts_uint_arg("relay", "max-conns", optarg, 1, 65536, &v);
			if (rc)
				return rc;
			cfg->max_conns = (size_t)v;
			break;
		case OPT_ONCE:
			cfg->once = true;
			break;
		case OPT_TIMEOUT:
			rc = opts_int_arg("relay", "timeout", optarg, 1, 86400000, &cfg->timeout_ms);
			if (rc)
				return rc;
			break;
		case OPT_SRC:
		case OPT_DST:
		case OPT_FAMILY:
		case OPT_UNIX_SRC:
		case OPT_UNIX_DST:
			return opts_usage_error("relay", "--%s: the relay takes the addresses from "
						"each connection (see --source)", opts_opt_name(longopts, c));
		case '?':
		case ':':
			opts_getopt_error(c, optopt, argv[optind - 1], longopts, &e);
			return opts_usage_error("relay", "%s", e.msg);
		default:
			if (opts_hdr_apply(&cfg->hdr, c, optarg, &e) <= 0)
				return opts_usage_error("relay", "%s", e.msg);
		}
	}
	if (optind < argc)
		return opts_usage_error("relay", "unexpected argument '%s'", argv[optind]);
	if (!have_listen)
		return opts_usage_error("relay", "--listen IP:PORT is required");
	if (!have_target)
		return opts_usage_error("relay", "--target HOST:PORT is required");
	if (opts_hdr_check(&cfg->hdr, &e) < 0)
		return opts_usage_error("relay", "%s", e.msg);
	return 0;
}

/* A random address inside the CIDR and a random port 1024..65535. */
static void random_source(const struct net_cidr *c, struct sockaddr_storage *ss)
{
	uint8_t rnd[18];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	opts_cidr_addr(c, rnd, (uint16_t)(1024 + ((rnd[16] << 8 | rnd[17]) % (65536 - 1024))), ss);
}

static void pair_free(struct relay_pair *p)
{
	if (!p)
		return;
	if (p->cfd >= 0)
		close(p->cfd);
	if (p->tfd >= 0)
		close(p->tfd);
	free(p->hdr);
	free(p->up.buf);
	free(p->down.buf);
	free(p);
}

/* Abortive close: the peer sees a reset, as the other side did. */
static void set_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Accept one client and set up its pair; NULL when nothing to accept or
 * the setup failed (logged). *fatal_once is set when, with --once, the
 * first connection failed. */
static struct relay_pair *pair_open(struct relay_cfg *cfg, int lfd, bool *accepted,
				    bool *setup_failed)
{
	struct sockaddr_storage peer, local, src;
	socklen_t sl = sizeof(peer);
	struct relay_pair *p;
	struct perr e;
	char hdrtxt[2 * 256 + 8];
	char tgt[300];
	int cfd, n;

	*accepted = false;
	*setup_failed = false;
	cfd = accept4(lfd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("accept: %s", strerror(errno));
			net_sleep_ms(100); /* level-triggered: do not spin on a full table */
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			   errno != ECONNABORTED) {
			log_warn("accept: %s", strerror(errno));
		}
		return NULL;
	}
	*accepted = true;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->up.buf = malloc(RELAY_BUF)) || !(p->down.buf = malloc(RELAY_BUF)) ||
	    !(p->hdr = malloc(HDR_CAP))) {
		log_error("out of memory");
		if (p) {
			p->cfd = cfd;
			p->tfd = -1;
		} else {
			close(cfd);
		}
		pair_free(p);
		*setup_failed = true;
		return NULL;
	}
	p->cfd = cfd;
	p->tfd = -1;
	net_addr_unmap(&peer);
	net_addr_str(&peer, p->client, sizeof(p->client));
	snprintf(tgt, sizeof(tgt), "%s%s%s:%u", strchr(cfg->target_host, ':') ? "[" : "",
		 cfg->target_host, strchr(cfg->target_host, ':') ? "]" : "",
		 (unsigned)cfg->target_port);

	if (net_local_addr(cfd, &local, &e) < 0)
		goto fail;
	net_addr_unmap(&local);
	if (cfg->src_mode == SRC_FIXED)
		src = cfg->src_fixed;
	else if (cfg->src_mode == SRC_RANDOM)
		random_source(&cfg->src_cidr, &src);
	else
		src = peer;
	n = opts_hdr_build_addrs(&cfg->hdr, &src, &local, p->hdr, HDR_CAP, &e);
	if (n < 0)
		goto fail;
	p->hdr_len = (size_t)n;

	p->tfd = net_connect(cfg->target_host, cfg->target_port, NULL, cfg->timeout_ms,
			     NULL, &e);
	if (p->tfd < 0)
		goto fail;
	if (net_set_nonblock(p->tfd, true, &e) < 0)
		goto fail;
	log_info("%s -> %s: header %s", p->client, tgt,
		 dump_printable(p->hdr, p->hdr_len, hdrtxt, sizeof(hdrtxt)));
	return p;
fail:
	log_warn("%s -> %s: %s", p->client, tgt, e.msg);
	pair_free(p);
	*setup_failed = true;
	return NULL;
}

static size_t dir_space(const struct relay_dir *d)
{
	return RELAY_BUF - d->off - d->len;
}

/* Read what is available from fd into d. */
static void dir_read(struct relay_pair *p, int fd, struct relay_dir *d)
{
	ssize_t n;

	if (d->eof)
		return;
	if (d->off && !d->len)
		d->off = 0;
	if (dir_space(d) == 0 && d->off) {
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
	if (dir_space(d) == 0)
		return;
	n = recv(fd, d->buf + d->off + d->len, dir_space(d), 0);
	if (n > 0) {
		d->len += (size_t)n;
		d->total += (uint64_t)n;
	} else if (n == 0) {
		d->eof = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		p->failed = true;
	}
}

/* Write pending bytes of d (after the header, for the upstream) to fd. */
static void dir_write(struct relay_pair *p, int fd, struct relay_dir *d, bool upstream)
{
	ssize_t n;

	if (upstream && p->hdr_off < p->hdr_len) {
		n = send(fd, p->hdr + p->hdr_off, p->hdr_len - p->hdr_off, MSG_NOSIGNAL);
		if (n > 0)
			p->hdr_off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			p->failed = true;
		if (p->hdr_off < p->hdr_len)
			return;
	}
	if (d->len) {
		n = send(fd, d->buf + d->off, d->len, MSG_NOSIGNAL);
		if (n > 0) {
			d->off += (size_t)n;
			d->len -= (size_t)n;
			if (!d->len)
				d->off = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			p->failed = true;
		}
	}
}

static bool dir_pending(const struct relay_pair *p, const struct relay_dir *d, bool upstream)
{
	return d->len > 0 || (upstream && p->hdr_off < p->hdr_len);
}

/* Forward a FIN once everything before it has gone out. */
static void dir_forward_eof(struct relay_pair *p, struct relay_dir *d, int wfd, bool upstream)
{
	if (d->eof && !d->shut && !dir_pending(p, d, upstream)) {
		if (shutdown(wfd, SHUT_WR) < 0 && errno != ENOTCONN)
			p->failed = true;
		d->shut = true;
	}
}

static short want(const struct relay_pair *p, bool client)
{
	short ev = 0;

	if (client) {
		if (!p->up.eof)
			ev |= POLLIN;
		if (dir_pending(p, &p->down, false))
			ev |= POLLOUT;
	} else {
		if (!p->down.eof)
			ev |= POLLIN;
		if (dir_pending(p, &p->up, true))
			ev |= POLLOUT;
	}
	return ev;
}

static void pair_step(struct relay_pair *p, short crev, short trev)
{
	if (crev & (POLLIN | POLLHUP | POLLERR))
		dir_read(p, p->cfd, &p->up);
	if (trev & (POLLIN | POLLHUP | POLLERR))
		dir_read(p, p->tfd, &p->down);
	if (!p->failed && (trev & POLLOUT))
		dir_write(p, p->tfd, &p->up, true);
	if (!p->failed && (crev & POLLOUT))
		dir_write(p, p->cfd, &p->down, false);
	if (!p->failed)
		dir_forward_eof(p, &p->up, p->tfd, true);
	if (!p->failed)
		dir_forward_eof(p, &p->down, p->cfd, false);
}

static bool pair_done(const struct relay_pair *p)
{
	return p->failed || (p->up.shut && p->down.shut);
}

static void pair_close(struct relay_pair *p, bool verbose)
{
	if (p->failed) {
		set_rst(p->cfd);
		set_rst(p->tfd);
	}
	if (verbose || p->failed)
		log_msg(p->failed ? LOG_WARN : LOG_INFO, "%s: %s (%" PRIu64 " bytes up, %" PRIu64
			" bytes down)", p->client, p->failed ? "reset" : "closed", p->up.total,
			p->down.total);
	pair_free(p);
}

static int relay_loop(struct relay_cfg *cfg, int lfd)
{
	struct relay_pair **pairs;
	struct pollfd *pfd;
	size_t npairs = 0;
	bool accepting = true;
	int rc = PG_EXIT_OK;

	pairs = calloc(cfg->max_conns, sizeof(*pairs));
	pfd = calloc(2 * cfg->max_conns + 1, sizeof(*pfd));
	if (!pairs || !pfd) {
		free(pairs);
		free(pfd);
		log_error("out of memory");
		return PG_EXIT_FAIL;
	}
	while (!relay_stop) {
		size_t n = 0;
		int r;

		if (!accepting && npairs == 0)
			break; /* --once: the connection has ended */
		pfd[n].fd = accepting && npairs < cfg->max_conns ? lfd : -1;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
		for (size_t i = 0; i < npairs; i++) {
			short ce = want(pairs[i], true), te = want(pairs[i], false);

			/* No interest: leave the fd out, so that a pending POLLHUP
			 * does not make poll return at once, again and again. */
			pfd[n].fd = ce ? pairs[i]->cfd : -1;
			pfd[n].events = ce;
			pfd[n++].revents = 0;
			pfd[n].fd = te ? pairs[i]->tfd : -1;
			pfd[n].events = te;
			pfd[n++].revents = 0;
		}
		r = poll(pfd, n, 1000);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			rc = PG_EXIT_FAIL;
			break;
		}
		for (size_t i = 0; i < npairs; i++)
			pair_step(pairs[i], pfd[1 + 2 * i].revents, pfd[2 + 2 * i].revents);
		for (size_t i = 0; i < npairs;) {
			if (pair_done(pairs[i])) {
				pair_close(pairs[i], cfg->verbose);
				pairs[i] = pairs[--npairs];
			} else {
				i++;
			}
		}
		if (pfd[0].revents & POLLIN) {
			bool accepted, failed;
			struct relay_pair *p = pair_open(cfg, lfd, &accepted, &failed);

			if (p)
				pairs[npairs++] = p;
			if (accepted && cfg->once) {
				accepting = false;
				if (failed)
					rc = PG_EXIT_FAIL;
			}
		}
	}
	for (size_t i = 0; i < npairs; i++)
		pair_close(pairs[i], cfg->verbose);
	free(pairs);
	free(pfd);
	return rc;
}

int cmd_relay(int argc, char **argv)
{
	struct relay_cfg cfg;
	struct sigaction sa;
	struct perr e;
	char ip[NET_IP_STRLEN], addr[NET_ADDR_STRLEN];
	struct sockaddr_storage bound;
	bool done = false;
	int lfd, rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_conns = 1024;
	cfg.timeout_ms = 5000;
	opts_hdr_init(&cfg.hdr);
	log_init("proxygen", LOG_INFO);
	rc = parse_args(argc, argv, &cfg, &done);
	if (rc || done)
		goto out;
	if (cfg.verbose)
		log_set_level(LOG_DEBUG);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	net_ip_str(&cfg.listen, ip, sizeof(ip));
	lfd = net_listen(ip, net_addr_port(&cfg.listen), 0, &e);
	if (lfd < 0) {
		log_error("%s", e.msg);
		rc = PG_EXIT_FAIL;
		goto out;
	}
	if (net_local_addr(lfd, &bound, &e) < 0)
		bound = cfg.listen;
	log_info("listening on %s, relaying to %s:%u", net_addr_str(&bound, addr, sizeof(addr)),
		 cfg.target_host, (unsigned)cfg.target_port);
	rc = relay_loop(&cfg, lfd);
	close(lfd);
out:
	opts_hdr_free(&cfg.hdr);
	return rc;
}
