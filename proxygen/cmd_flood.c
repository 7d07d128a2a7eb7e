/* cmd_flood.c - `proxygen flood`: many proxied MQTT connections at a set
 * rate and concurrency, or a publish / subscribe load over them; every
 * transport on one epoll loop (flood_run.c, flood_net.c). This file holds
 * the options and their checks, the setup (target, headers, TLS context,
 * this process's share of a sharded load), the CPU readings around the
 * run and the summary; `--merge` combines summaries (flood_report.c).
 *
 * Every run is bounded: --connections (and --messages) in count,
 * --duration in time.
 */
#include "cmd_flood.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "client.h"
#include "flood.h"
#include "mqtt.h"
#include "net.h"
#include "opts.h"
#include "opts_client.h"
#include "pp.h"
#include "tls.h"

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
	OPT_SHARD,
	OPT_BROKER_PID,
	OPT_MERGE,
	OPT_TLS_RESUME,
	OPT_THREADS,
	/* publish loads: their bit in msg_opts_given is 1 << (code - OPT_MSG_FIRST) */
	OPT_MSG_FIRST,
	OPT_MESSAGES = OPT_MSG_FIRST,
	OPT_PUBLISH_RATE,
	OPT_QOS,
	OPT_PAYLOAD_SIZE,
	OPT_TOPICS,
	OPT_TOPIC_PREFIX,
	OPT_SUBSCRIBERS,
	OPT_INFLIGHT,
	OPT_PUBLISH_DELAY,
	OPT_MSG_END
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
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "broker-pid", required_argument, NULL, OPT_BROKER_PID },
	{ "merge", no_argument, NULL, OPT_MERGE },
	{ "tls-resume", no_argument, NULL, OPT_TLS_RESUME },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "messages", required_argument, NULL, OPT_MESSAGES },
	{ "publish-rate", required_argument, NULL, OPT_PUBLISH_RATE },
	{ "qos", required_argument, NULL, OPT_QOS },
	{ "payload-size", required_argument, NULL, OPT_PAYLOAD_SIZE },
	{ "topics", required_argument, NULL, OPT_TOPICS },
	{ "topic-prefix", required_argument, NULL, OPT_TOPIC_PREFIX },
	{ "subscribers", required_argument, NULL, OPT_SUBSCRIBERS },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "publish-delay", required_argument, NULL, OPT_PUBLISH_DELAY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Limits of the options: every run is bounded in count and time. */
#define MAX_CONNECTIONS  10000000u
#define MAX_CONCURRENCY  1000000u
#define MAX_RATE         1000000u
#define MAX_DURATION_S   86400u
#define MAX_HOLD_MS      3600000u
#define MAX_TIMEOUT_MS   600000u
#define MAX_SEED         ((1ull << 53) - 1) /* exact as a JSON number */
#define MAX_MESSAGES     1000000000u
#define MAX_PUBLISH_RATE 10000000u
#define MAX_PAYLOAD      (1024u * 1024u)
#define MAX_TOPICS       1000000u
#define MAX_SHARDS       100000u
#define MAX_THREADS      256u
#define MAX_PID          4194304u    /* the kernel's pid_max limit */
#define DEF_CONNECTIONS  1000
#define DEF_CONCURRENCY  100
#define DEF_DURATION_S   60
#define DEF_TIMEOUT_MS   5000
#define DEF_MESSAGES     100
#define DEF_PAYLOAD      64
#define DEF_INFLIGHT     10
#define FD_RESERVE       64          /* descriptors kept for everything but the connections */
#define CONNECT_CAP      1024

static void usage(FILE *f)
{
	fputs("Usage: proxygen flood --target HOST:PORT [OPTIONS]\n"
	      "       proxygen flood --merge [--json] FILE...\n"
	      "Open many proxied MQTT connections at a set rate and concurrency, or run a\n"
	      "publish / subscribe load over them; print connections/s, latency percentiles,\n"
	      "messages/s, errors by kind and the CPU it cost. Every transport runs on one\n"
	      "epoll loop with a PROXY header on every connection.\n"
	      "\n"
	      "Load (every run is bounded in count and time):\n"
	      "  --connections N          connections in total (default 1000)\n"
	      "  --concurrency C          connections open at once, held ones included (default\n"
	      "                           100; a publish load keeps all of them open)\n"
	      "  --rate R                 new connections per second, 0 = as fast as possible\n"
	      "                           (default 0)\n"
	      "  --duration S             stop after S seconds at most (default 60, plus --hold\n"
	      "                           or --publish-delay)\n"
	      "  --hold MS                keep each session open MS after its CONNACK, then\n"
	      "                           DISCONNECT (default 0: at once)\n"
	      "  --timeout MS             CONNACK (and SUBACK) expected within MS (default 5000);\n"
	      "                           subscribers give up MS after the last message\n"
	      "Publish load (on with --messages or --publish-rate):\n"
	      "  --subscribers S          the first S connections subscribe, the others publish\n"
	      "                           (default 0)\n"
	      "  --messages M             messages per publisher (default 100)\n"
	      "  --publish-rate R         messages per second, all publishers together; 0 = as\n"
	      "                           fast as acknowledgements and sockets allow (default 0)\n"
	      "  --qos Q                  0 | 1 | 2, of the PUBLISHes and the subscriptions\n"
	      "                           (default 0)\n"
	      "  --payload-size B         bytes per message, at least 16: the send time for the\n"
	      "                           latency, the publisher and a sequence number (default 64)\n"
	      "  --topics T               connection k uses topic PREFIX(k mod T) (default 1)\n"
	      "  --topic-prefix P         (default proxygen/flood/)\n"
	      "  --inflight W             QoS 1, 2: messages unacknowledged per publisher (default 10)\n"
	      "  --publish-delay MS       start publishing MS after the subscribers are subscribed\n"
	      "                           (default 0; for shards whose subscribers are elsewhere)\n"
	      "Connection:\n"
	      "  --target HOST:PORT       where to connect (IPv6 in brackets)\n"
	      "  --transport T            tcp | tls | ws | wss (default tcp)\n"
	      "  --ca FILE | --insecure   tls, wss: verify the server against FILE, or not at all\n"
	      "  --sni NAME               tls, wss: server name\n"
	      "  --tls-resume             tls, wss: offer the session of an earlier connection\n"
	      "                           (the last ticket the server gave), as returning\n"
	      "                           clients do; the summary counts the resumed handshakes\n"
	      "  --path PATH              ws, wss: WebSocket path (default /mqtt)\n"
	      "  --bind IP|CIDR           local source address of every connection; with a\n"
	      "                           CIDR, connection k binds host k mod n of its n (first\n"
	      "                           and IPv4 broadcast left out; at most 65536): more\n"
	      "                           connections and TIME_WAIT ports than one address has\n"
	      "Header:\n"
	      "  --src-cidr CIDR          a source address and port from CIDR in each header,\n"
	      "                           IPv4 or IPv6 (e.g. 10.0.0.0/8, 2001:db8::/32), no two\n"
	      "                           connections alike\n"
	      "  --seed N                 shuffles those sources (default: random)\n"
	      "  --no-header              send no PROXY header\n"
	      "  the destination is --dst, else the target's address\n"
	      "MQTT:\n"
	      "  --mqtt V                 3.1.1 | 5 (default 3.1.1)\n"
	      "  --client-prefix P        client ids are P0, P1, ... (default flood-)\n"
	      "  --username NAME, --password SECRET\n"
	      "  --keepalive S            CONNECT keep-alive (default 60, or longer than --hold or\n"
	      "                           --duration); PINGREQ after S/2 without sending\n"
	      "Beyond one CPU or one machine:\n"
	      "  --threads N              N event loops on their own threads, each with 1/N of\n"
	      "                           the load as if it were a shard (default 1): for a\n"
	      "                           broker that needs more than one CPU of load\n"
	      "  --shard I/N              run shard I (from 0) of N of the load the other options\n"
	      "                           describe: connections I, I+N, I+2N ... with their client\n"
	      "                           ids, roles and sources, and 1/N of --concurrency, --rate\n"
	      "                           and --publish-rate; with --src-cidr, --seed is required\n"
	      "  --merge FILE...          combine --json summaries (of shards) into one: sums, and\n"
	      "                           percentiles of the merged histograms\n"
	      "Output:\n"
	      "  --json                   the summary as one JSON object on stdout\n"
	      "  --broker-pid PID         also the CPU time of the broker (a local process) over\n"
	      "                           the run, from /proc/PID/stat\n"
	      "  -q, --quiet              no live progress line (shown only on a terminal)\n"
	      "  -h, --help               this text\n"
	      "\n", f);
	opts_hdr_help(f);
	fputs("\nExit status: 0 every connection got CONNACK 0 (and stayed open for --hold or\n"
	      "the publish load), and every message was acknowledged and arrived at every\n"
	      "subscriber of its topic; 1 otherwise (including a run cut short by --duration);\n"
	      "2 usage error.\n"
	      "\nExamples:\n"
	      "  proxygen flood --target 127.0.0.1:1883 --v2 --src-cidr 10.0.0.0/8 \\\n"
	      "      --connections 10000 --concurrency 200 --rate 2000\n"
	      "  proxygen flood --target 127.0.0.1:8883 --transport tls --ca ca.pem --v2 \\\n"
	      "      --connections 10000 --concurrency 10000 --rate 1000 --hold 10000\n"
	      "  proxygen flood --target 127.0.0.1:1883 --v1 --connections 110 --subscribers 10 \\\n"
	      "      --topics 10 --qos 1 --messages 1000 --publish-rate 20000 --json\n"
	      "  proxygen flood --shard 2/8 --seed 7 ... --json > shard-2.json\n"
	      "  proxygen flood --merge shard-*.json\n", f);
}

/* ---- options ------------------------------------------------------------------------ */

static int apply_msg(struct flood_args *a, int c, const char *arg)
{
	a->msg_opts_given |= 1u << (c - OPT_MSG_FIRST);
	switch (c) {
	case OPT_MESSAGES:
		a->publish = true;
		return opts_uint_arg(CMD, "messages", arg, 1, MAX_MESSAGES, &a->msg.messages);
	case OPT_PUBLISH_RATE:
		a->publish = true;
		return opts_uint_arg(CMD, "publish-rate", arg, 0, MAX_PUBLISH_RATE, &a->publish_rate);
	case OPT_QOS:
		return opts_int_arg(CMD, "qos", arg, 0, 2, &a->msg.qos);
	case OPT_PAYLOAD_SIZE:
		return opts_uint_arg(CMD, "payload-size", arg, FL_MIN_PAYLOAD, MAX_PAYLOAD,
				     &a->msg.payload_size);
	case OPT_TOPICS:
		return opts_uint_arg(CMD, "topics", arg, 1, MAX_TOPICS, &a->msg.topics);
	case OPT_TOPIC_PREFIX:
		a->topic_prefix = arg;
		return 0;
	case OPT_SUBSCRIBERS:
		return opts_uint_arg(CMD, "subscribers", arg, 0, MAX_CONNECTIONS, &a->subscribers);
	case OPT_INFLIGHT:
		return opts_uint_arg(CMD, "inflight", arg, 1, 65535, &a->inflight);
	case OPT_PUBLISH_DELAY:
		return opts_int_arg(CMD, "publish-delay", arg, 0, MAX_HOLD_MS, &a->publish_delay_ms);
	}
	return 0;
}

static int apply_run(struct flood_args *a, int c, const char *arg)
{
	struct perr e;
	uint64_t pid;
	int rc;

	switch (c) {
	case OPT_SHARD:
		if (fl_shard_parse(arg, MAX_SHARDS, &a->shard, &a->shards, &e) < 0)
			return opts_usage_error(CMD, "--shard '%s': %s", arg, e.msg);
		return 0;
	case OPT_BROKER_PID:
		rc = opts_uint_arg(CMD, "broker-pid", arg, 1, MAX_PID, &pid);
		a->broker_pid = (long)pid;
		return rc;
	case OPT_MERGE:
		return opts_usage_error(CMD, "--merge combines summaries: proxygen flood --merge "
					"[--json] FILE..., without other options");
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_QUIET:
		a->quiet = true;
		return 0;
	case OPT_TLS_RESUME:
		a->tls_resume = true;
		return 0;
	case OPT_THREADS:
		return opts_uint_arg(CMD, "threads", arg, 1, MAX_THREADS, &a->threads);
	}
	return apply_msg(a, c, arg);
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
		a->concurrency_given = true;
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
		if (strlen(arg) > FL_MAX_PREFIX)
			return opts_usage_error(CMD, "--client-prefix: longer than %d bytes",
						FL_MAX_PREFIX);
		a->prefix = arg;
		return 0;
	case OPT_SEED:
		a->have_seed = true;
		return opts_uint_arg(CMD, "seed", arg, 0, MAX_SEED, &a->seed);
	}
	return apply_run(a, c, arg);
}

/* The client options flood takes: no client certificate, WebSocket
 * subprotocol or client id (ids are --client-prefix and a number). */
static const struct opts_cl_spec spec = {
	.cmd = CMD,
	.opts = OPTS_CL_ALL & ~(OPTS_CL(OPT_CL_CERT) | OPTS_CL(OPT_CL_KEY) |
				OPTS_CL(OPT_CL_SUBPROTOCOL) | OPTS_CL(OPT_CL_CLIENT_ID)),
	.timeout_max = MAX_TIMEOUT_MS, .port_nonzero = true, .bind_cidr = true,
	.shortopts = ":hq", .own = own_opts, .usage = usage, .apply = apply_own,
};

/* The publish load's options against each other. */
static int check_publish(struct flood_args *a)
{
	char topic[FL_MAX_PREFIX + 24];

	if (!a->publish) {
		for (int c = OPT_MSG_FIRST; c < OPT_MSG_END; c++)
			if (a->msg_opts_given & (1u << (c - OPT_MSG_FIRST)))
				return opts_usage_error(CMD, "--%s needs a publish load (--messages "
							"or --publish-rate)", opts_opt_name(own_opts, c));
		return 0;
	}
	if (a->subscribers >= a->connections)
		return opts_usage_error(CMD, "--subscribers %" PRIu64 ": must leave at least one of "
					"the %" PRIu64 " --connections to publish", a->subscribers,
					a->connections);
	if (a->hold_ms)
		return opts_usage_error(CMD, "--hold is for connection loads: a publish load "
					"holds every connection until its last message");
	if (a->concurrency_given && a->concurrency < a->connections)
		return opts_usage_error(CMD, "--concurrency %" PRIu64 ": a publish load keeps all "
					"%" PRIu64 " --connections open at once", a->concurrency,
					a->connections);
	a->concurrency = a->connections;
	if (strlen(a->topic_prefix) > FL_MAX_PREFIX)
		return opts_usage_error(CMD, "--topic-prefix: longer than %d bytes", FL_MAX_PREFIX);
	snprintf(topic, sizeof(topic), "%s0", a->topic_prefix);
	if (!mqtt_topic_name_valid(topic, strlen(topic)))
		return opts_usage_error(CMD, "--topic-prefix '%s': not the start of a topic name "
					"(no '+' or '#', valid UTF-8)", a->topic_prefix);
	return 0;
}

static int check_shard(const struct flood_args *a)
{
	if (!a->shards)
		return 0;
	if (a->shards > a->connections)
		return opts_usage_error(CMD, "--shard %" PRIu64 "/%" PRIu64 ": more shards than the "
					"%" PRIu64 " --connections", a->shard, a->shards,
					a->connections);
	if (a->have_cidr && !a->have_seed)
		return opts_usage_error(CMD, "--shard with --src-cidr needs --seed: every shard "
					"must draw its sources from the same sequence");
	return 0;
}

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
	if (a->tls_resume && a->cl.o.transport != CLIENT_TLS && a->cl.o.transport != CLIENT_WSS)
		return opts_usage_error(CMD, "--tls-resume needs --transport tls or wss");
	if (a->threads > a->connections)
		return opts_usage_error(CMD, "--threads %" PRIu64 ": more than the %" PRIu64
					" --connections", a->threads, a->connections);
	rc = opts_client_check(&a->cl, &spec);
	if (!rc)
		rc = check_publish(a);
	if (!rc)
		rc = check_shard(a);
	if (rc)
		return rc;
	if (a->cl.o.password && !a->cl.o.username && a->cl.o.mqtt_version != MQTT_V5)
		return opts_usage_error(CMD, "--password without --username needs --mqtt 5");
	if (a->concurrency > a->connections)
		a->concurrency = a->connections;
	if (!a->duration_given)
		a->duration_s = DEF_DURATION_S + (uint64_t)(a->hold_ms + a->publish_delay_ms + 999) / 1000;
	if (a->cl.o.keepalive < 0) {
		uint64_t held = a->publish ? a->duration_s : (uint64_t)(a->hold_ms + 999) / 1000;
		uint64_t need = held + 10;

		a->cl.o.keepalive = need > 60 ? (need > 65535 ? 0 : (int)need) : 60;
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------------------- */

/* Resolve the target; with --bind, an address of the bind address's family. */
static int resolve(struct flood *f, struct perr *e)
{
	const struct flood_args *a = f->a;
	struct addrinfo hints, *res;
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
	memcpy(&f->target, res->ai_addr, res->ai_addrlen);
	f->target_len = res->ai_addrlen;
	freeaddrinfo(res);
	net_addr_str(&f->target, f->res->target, sizeof(f->res->target));
	if (strchr(a->cl.host, ':'))
		snprintf(f->ws_host, sizeof(f->ws_host), "[%s]:%u", a->cl.host, a->cl.o.port);
	else
		snprintf(f->ws_host, sizeof(f->ws_host), "%s:%u", a->cl.host, a->cl.o.port);
	return 0;
}

/* Raise the open files limit as far as allowed; enough for the concurrency? */
static int fd_limit(const struct flood *f, struct perr *e)
{
	struct rlimit rl;
	uint64_t need = f->conc_local + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return perr_set(e, "%" PRIu64 " connections open at once need %" PRIu64 " open "
				"files; the limit is %llu (ulimit -n, hard limit included)",
				f->conc_local, need, (unsigned long long)rl.rlim_cur);
	return 0;
}

/* The header of every connection, or a trial one when each has its own
 * source: options that cannot make a header fail here. */
static int setup_header(struct flood *f, struct perr *e)
{
	const struct flood_args *a = f->a;
	struct sockaddr_storage src;
	uint8_t *buf;
	int len;

	if (a->cl.no_header)
		return 0;
	buf = malloc(PP_V2_MAX_LEN + 64);
	if (!buf)
		return perr_set(e, "out of memory");
	f->version = opts_hdr_version(&a->cl.hdr);
	if (a->have_cidr) {
		fl_source(&f->plan, 0, &src);
		f->vary_hdr = true;
	} else if (a->cl.hdr.have_src) {
		src = a->cl.hdr.src;
	} else {
		(void)opts_parse_ipport(f->hdr_dst.ss_family == AF_INET6 ? PP_DEF_SRC6 : PP_DEF_SRC4,
					&src, NULL);
	}
	len = opts_hdr_build_addrs(&a->cl.hdr, &src, &f->hdr_dst, buf, PP_V2_MAX_LEN + 64, e);
	if (len < 0) {
		free(buf);
		return -1;
	}
	f->static_hdr = buf;
	f->static_hdr_len = (size_t)len;
	return 0;
}

/* The share of the load of shard i of n (this process's, or one of its
 * threads'), and who its connections are. */
static void setup_plan(struct flood *f, uint64_t i, uint64_t n)
{
	const struct flood_args *a = f->a;
	uint64_t pubs;

	f->plan.connections = a->connections;
	f->plan.subscribers = a->subscribers;
	f->plan.publish = a->publish;
	f->plan.messages = a->msg.messages;
	f->plan.topics = a->msg.topics;
	f->plan.shard = i;
	f->plan.shards = n;
	f->plan.cidr = a->have_cidr ? &a->cidr : NULL;
	f->plan.seed = a->seed;
	f->n_local = fl_share(a->connections, i, n);
	f->conc_local = fl_share(a->concurrency, i, n);
	if (f->conc_local == 0)
		f->conc_local = 1;
	f->subs_local = a->publish ? fl_share(a->subscribers, i, n) : 0;
	f->pubs_local = a->publish ? f->n_local - f->subs_local : 0;
	pubs = a->connections - a->subscribers;
	f->rate_local = (double)a->rate * (double)f->n_local / (double)a->connections;
	f->pub_rate_local = a->publish && pubs ?
			    (double)a->publish_rate * (double)f->pubs_local / (double)pubs : 0.0;
}

/* A TLS context for the connections of one loop (its own: sessions kept
 * for --tls-resume are the loop's). */
static struct tls_ctx *client_tls(const struct flood_args *a, struct perr *e)
{
	struct tls_ctx *t = tls_client_ctx_new(a->cl.o.ca_file, a->cl.o.insecure, NULL, NULL, e);

	if (t && a->tls_resume && tls_ctx_resume_sessions(t, e) < 0) {
		tls_ctx_free(t);
		return NULL;
	}
	return t;
}

static int setup(struct flood *f, const struct flood_args *a, struct perr *e)
{
	const struct client_opts *o = &a->cl.o;
	uint8_t pkt[CONNECT_CAP];
	char id[FL_MAX_PREFIX + 24];
	long n;

	f->a = a;
	setup_plan(f, a->shard, a->shards ? a->shards : 1);
	if (o->bind_addr) {
		if (!strchr(o->bind_addr, '/')) {
			if (net_addr_parse(o->bind_addr, 0, &f->bind_ss, e) < 0)
				return perr_wrap(e, "--bind");
		} else if (net_cidr_parse(o->bind_addr, &f->bind_net, e) < 0) {
			return perr_wrap(e, "--bind");
		} else {
			fl_bind_hosts(&f->bind_net, &f->bind_first, &f->bind_count);
			fl_bind_source(&f->bind_net, f->bind_first, f->bind_count, 0, &f->bind_ss);
		}
		f->bind_len = f->bind_ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							       : sizeof(struct sockaddr_in6);
	}
	if (resolve(f, e) < 0 || fd_limit(f, e) < 0)
		return -1;
	f->hdr_dst = a->cl.hdr.have_dst ? a->cl.hdr.dst : f->target;
	net_addr_unmap(&f->hdr_dst);
	if (setup_header(f, e) < 0)
		return -1;
	snprintf(id, sizeof(id), "%s%" PRIu64, a->prefix, a->connections - 1);
	n = mqtt_build_connect(pkt, sizeof(pkt), (uint8_t)o->mqtt_version, id, o->username,
			       o->password, (uint16_t)o->keepalive, true);
	if (n <= 0 || n > (long)sizeof(pkt))
		return perr_set(e, "cannot build a CONNECT from --client-prefix, --username and "
				"--password (at most %d bytes)", CONNECT_CAP);
	if (o->transport == CLIENT_TLS || o->transport == CLIENT_WSS) {
		f->tls = client_tls(a, e);
		if (!f->tls)
			return -1;
		f->sni = o->sni && *o->sni ? o->sni : o->host;
	}
	return 0;
}

/* ---- the summary -------------------------------------------------------------------- */

static void describe(const struct flood *f, struct fl_result *r)
{
	const struct flood_args *a = f->a;

	snprintf(r->transport, sizeof(r->transport), "%s", client_transport_name(a->cl.o.transport));
	snprintf(r->mqtt, sizeof(r->mqtt), "%s", a->cl.o.mqtt_version == MQTT_V5 ? "5" : "3.1.1");
	if (a->cl.no_header)
		snprintf(r->header, sizeof(r->header), "none");
	else
		snprintf(r->header, sizeof(r->header), "v%d%s%s", f->version,
			 a->cl.hdr.mutate[0] ? " mutation " : "", a->cl.hdr.mutate);
	if (a->have_cidr)
		net_cidr_str(&a->cidr, r->src_cidr, sizeof(r->src_cidr));
	r->connections = f->n_local;
	r->concurrency = f->conc_local;
	r->rate_limit = f->rate_local;
	r->hold_ms = a->hold_ms;
	r->duration_s = a->duration_s;
	r->seed = a->seed;
	r->shard = a->shard;
	r->shards = a->shards;
	r->threads = f->threads > 1 ? 1 : a->threads;
	r->load_connections = a->connections;
	r->publish = a->publish;
	if (!a->publish)
		return;
	r->msg = a->msg;
	r->publishers = f->pubs_local;
	r->subscribers = f->subs_local;
	r->publish_rate_limit = f->pub_rate_local;
}

static void on_signal(int sig)
{
	(void)sig;
	fl_got_signal = 1;
}

/* ---- --threads ---------------------------------------------------------------------- */

struct loop_thread {
	struct flood f;
	struct fl_result r;
	pthread_t tid;
	bool started;
	int rc;
};

static void *loop_main(void *arg)
{
	struct loop_thread *t = arg;

	t->rc = fl_run(&t->f);
	return NULL;
}

/* Loop k of the process's threads: shard shard + n * k of n * threads. */
static int thread_setup(const struct flood *f, struct loop_thread *t, uint64_t k,
			_Atomic uint64_t *unready, struct perr *e)
{
	const struct flood_args *a = f->a;
	uint64_t n = a->shards ? a->shards : 1;

	t->f = *f;
	setup_plan(&t->f, a->shard + n * k, n * a->threads);
	t->f.thread = k;
	t->f.threads = a->threads;
	t->f.subs_unready = unready;
	t->f.stopped_by = NULL;
	t->f.res = &t->r;
	fl_result_init(&t->r);
	memcpy(t->r.target, f->res->target, sizeof(t->r.target));
	describe(&t->f, &t->r);
	if (k > 0 && f->tls) /* loop 0 has the process's */
		t->f.tls = client_tls(a, e);
	return f->tls && !t->f.tls ? -1 : 0;
}

/* What ended the run: a signal before --duration before done. */
static const char *worst_end(const char *a, const char *b)
{
	static const char *const order[] = { "signal", "duration", "done" };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((a && strcmp(a, order[i]) == 0) || (b && strcmp(b, order[i]) == 0))
			return order[i];
	return a ? a : b;
}

/* The load on a->threads loops, their results merged into r. */
static int run_threads(struct flood *f, struct fl_result *r)
{
	uint64_t nt = f->a->threads, k;
	struct loop_thread *th = calloc(nt, sizeof(*th));
	_Atomic uint64_t unready;
	struct perr e;
	int rc = 0;

	if (!th) {
		fprintf(stderr, "proxygen flood: out of memory\n");
		return -1;
	}
	atomic_init(&unready, f->subs_local);
	for (k = 0; k < nt && rc == 0; k++)
		if (thread_setup(f, &th[k], k, &unready, &e) < 0) {
			fprintf(stderr, "proxygen flood: thread %" PRIu64 ": %s\n", k, e.msg);
			rc = -1;
		}
	for (k = 0; k < nt && rc == 0; k++) {
		th[k].started = pthread_create(&th[k].tid, NULL, loop_main, &th[k]) == 0;
		if (!th[k].started) {
			fprintf(stderr, "proxygen flood: cannot start thread %" PRIu64 "\n", k);
			fl_got_signal = 1; /* the others stop at their next turn */
			rc = -1;
		}
	}
	for (k = 0; k < nt; k++) {
		if (th[k].started && pthread_join(th[k].tid, NULL) == 0 && th[k].rc < 0)
			rc = -1;
		f->stopped_by = worst_end(f->stopped_by, th[k].f.stopped_by);
		if (k == 0)
			*r = th[0].r;
		else
			fl_result_merge(r, &th[k].r);
		if (k > 0)
			tls_ctx_free(th[k].f.tls);
	}
	r->merged = 0;
	free(th);
	return rc;
}

/* The run between two CPU readings (this process, the broker). */
static int measured_run(struct flood *f, struct fl_result *r)
{
	double u0, s0, u1, s1, b0 = 0, b1 = 0;
	struct perr e;
	int rc;

	fl_cpu_self(&u0, &s0);
	if (f->a->broker_pid && fl_cpu_pid(f->a->broker_pid, &b0, &e) < 0)
		return opts_usage_error(CMD, "--broker-pid: %s", e.msg);
	f->t_start = fl_now_us();
	f->t_end = f->t_start + (int64_t)f->a->duration_s * 1000000;
	rc = f->a->threads > 1 ? run_threads(f, r) : fl_run(f);
	fl_cpu_self(&u1, &s1);
	r->cpu_user_s = u1 - u0;
	r->cpu_system_s = s1 - s0;
	if (f->a->broker_pid) {
		if (fl_cpu_pid(f->a->broker_pid, &b1, &e) < 0)
			fprintf(stderr, "proxygen flood: --broker-pid: %s (broker CPU not reported)\n",
				e.msg);
		else {
			r->broker_pid = f->a->broker_pid;
			r->broker_cpu_s = b1 - b0;
		}
	}
	snprintf(r->stopped_by, sizeof(r->stopped_by), "%s", f->stopped_by ? f->stopped_by : "done");
	r->exit_code = rc < 0 ? PG_EXIT_FAIL : fl_result_exit(r);
	return 0;
}

static int run_flood(struct flood_args *a)
{
	struct flood f;
	struct fl_result *r = malloc(sizeof(*r));
	struct sigaction sa, old_int, old_term;
	struct perr e;
	int rc;

	memset(&f, 0, sizeof(f));
	if (!r) {
		fprintf(stderr, "proxygen flood: out of memory\n");
		return PG_EXIT_FAIL;
	}
	fl_result_init(r);
	f.res = r;
	if (setup(&f, a, &e) < 0) {
		rc = opts_usage_error(CMD, "%s", e.msg);
		goto out;
	}
	describe(&f, r);
	fl_got_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = measured_run(&f, r);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc == 0) {
		if (a->json)
			fl_print_json(r, stdout);
		else
			fl_print_text(r, stdout);
		fflush(stdout);
		rc = r->exit_code;
	}
out:
	free(f.static_hdr);
	tls_ctx_free(f.tls);
	free(r);
	return rc;
}

static bool wants_merge(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--merge") == 0)
			return true;
	}
	return false;
}

int cmd_flood(int argc, char **argv)
{
	struct flood_args a;
	int rc;

	if (wants_merge(argc, argv))
		return fl_cmd_merge(argc, argv, usage);
	memset(&a, 0, sizeof(a));
	opts_client_init(&a.cl);
	a.connections = DEF_CONNECTIONS;
	a.concurrency = DEF_CONCURRENCY;
	a.cl.o.timeout_ms = DEF_TIMEOUT_MS;
	a.cl.o.keepalive = -1;
	a.prefix = "flood-";
	a.msg.messages = DEF_MESSAGES;
	a.msg.payload_size = DEF_PAYLOAD;
	a.msg.topics = 1;
	a.inflight = DEF_INFLIGHT;
	a.threads = 1;
	a.topic_prefix = "proxygen/flood/";
	rc = opts_client_parse(argc, argv, &spec, &a.cl, &a);
	if (!rc && !a.cl.help)
		rc = check_args(&a);
	if (!rc && !a.cl.help) {
		if (!a.have_seed && getrandom(&a.seed, sizeof(a.seed), 0) != (ssize_t)sizeof(a.seed))
			a.seed = (uint64_t)fl_now_us() ^ ((uint64_t)getpid() << 32);
		a.seed &= MAX_SEED;
		rc = run_flood(&a);
	}
	opts_client_free(&a.cl);
	return rc;
}
