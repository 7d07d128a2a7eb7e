/* flood.h - the parts of `proxygen flood` and what they share:
 *
 *   cmd_flood.c     options, their checks, setup (target, headers, TLS
 *                   context), the run and its summary; --merge
 *   flood_plan.c    who connection k of the whole load is: its shard, its
 *                   role (subscriber, publisher or connection only), its
 *                   topic, its header source. Pure functions.
 *   flood_net.c     one connection on the epoll loop, every transport:
 *                   TCP connect -> PROXY header -> TLS handshake (tls,
 *                   wss) -> WebSocket upgrade (ws, wss) -> MQTT bytes
 *   flood_run.c     the loop: launching at --rate, MQTT packets
 *                   (CONNACK, SUBACK, PUBLISH and its acknowledgements),
 *                   the publishing schedule, timeouts, the end of the run
 *   flood_report.c  the summary (struct fl_result) as text and JSON, CPU
 *                   readings, and summaries read back and merged
 *
 * A run is one event loop, or with --threads N, N loops on their own
 * threads, each with its share of the load as if it were a shard (its
 * own struct flood, connections, TLS context and result, merged at the
 * end); the only thing they share while running is the count of the
 * process's subscribers not yet subscribed (publishing waits for all).
 */
#ifndef PROXYGEN_FLOOD_H
#define PROXYGEN_FLOOD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "err.h"
#include "hist.h"
#include "net.h"
#include "opts_client.h"
#include "ws.h"

#define FL_MAX_PREFIX   200
#define FL_MIN_PAYLOAD  16          /* send time (8 bytes), publisher, sequence */
#define FL_FIRST_LEN    160         /* room for the first error of each kind */

/* ---- outcomes ------------------------------------------------------------------------ */

enum fl_kind {
	FK_OK = 0,       /* CONNACK 0 (and, for a subscriber, its SUBACK) */
	FK_REFUSED,      /* TCP connect refused / unreachable */
	FK_CLOSED,       /* FIN before a CONNACK */
	FK_RESET,        /* RST before a CONNACK */
	FK_TIMEOUT,      /* no CONNACK (or SUBACK) within --timeout */
	FK_CONNACK,      /* CONNACK with a code other than 0 */
	FK_SUBACK,       /* the subscription was refused */
	FK_PROTOCOL,     /* something else than what was due came back */
	FK_TLS,          /* TLS handshake failed */
	FK_WS,           /* WebSocket upgrade refused */
	FK_LOCAL,        /* our side: no descriptor, no local port ... */
	FK_UNFINISHED,   /* still waiting when --duration (or a signal) ended the run */
	FK_COUNT
};

extern const char *const fl_kind_names[FK_COUNT];  /* "connack!=0" */
extern const char *const fl_kind_keys[FK_COUNT];   /* "connack_nonzero" (JSON) */

/* ---- options ------------------------------------------------------------------------- */

/* What every message of a publish load is (the options, and the summary). */
struct fl_msg_spec {
	int qos;
	uint64_t payload_size;
	uint64_t topics;
	uint64_t messages;       /* per publisher */
};

struct flood_args {
	struct opts_client cl;   /* cl.o.keepalive -1: derived from --hold / --duration */

	uint64_t connections, concurrency, rate;
	bool concurrency_given;
	uint64_t duration_s;
	bool duration_given;

	bool have_cidr;
	struct net_cidr cidr;

	int hold_ms;
	const char *prefix;
	uint64_t seed;
	bool have_seed;
	bool json, quiet;

	/* publish loads */
	bool publish;            /* --messages or --publish-rate given */
	struct fl_msg_spec msg;
	uint64_t publish_rate;   /* messages/s, all publishers together; 0 = unpaced */
	uint64_t subscribers, inflight;
	int publish_delay_ms;
	const char *topic_prefix;
	unsigned msg_opts_given; /* which of the options above were given (checks) */

	uint64_t shard, shards;  /* --shard I/N; shards 0: not given */
	long broker_pid;         /* --broker-pid, 0: none */
	bool tls_resume;         /* --tls-resume */
	uint64_t threads;        /* --threads: event loops in this process */
};

/* ---- the plan: what connection k of the whole load is ---------------------------------- */

enum fl_role { FR_PLAIN, FR_SUB, FR_PUB };

struct fl_plan {
	uint64_t connections;        /* of the whole load */
	uint64_t subscribers;        /* connections 0 .. subscribers-1 subscribe */
	bool publish;                /* the others publish (else: connection only) */
	uint64_t messages;           /* per publisher */
	uint64_t topics;             /* connection k's topic is k mod topics */
	uint64_t shard, shards;      /* this process takes k = shard, shard + shards, ... */
	const struct net_cidr *cidr; /* header sources, NULL: a fixed one */
	uint64_t seed;
};

/* How many of total items shard i of n takes (i, i + n, i + 2n ...). */
uint64_t fl_share(uint64_t total, uint64_t i, uint64_t n);
/* The connection number, in the whole load, of this shard's local-th. */
uint64_t fl_global(const struct fl_plan *p, uint64_t local);
enum fl_role fl_role(const struct fl_plan *p, uint64_t k);
uint64_t fl_topic(const struct fl_plan *p, uint64_t k);
/* Messages subscriber k receives when every publisher publishes all of its. */
uint64_t fl_sub_target(const struct fl_plan *p, uint64_t k);
/* The header source of connection k: a bijection of k onto the
 * addresses of the CIDR times the ports 1024..65535 (for k below their
 * product), shuffled by the seed; addresses first, so that no address
 * repeats while k is below the number of addresses. */
void fl_source(const struct fl_plan *p, uint64_t k, struct sockaddr_storage *ss);
/* --bind CIDR: the host addresses connections bind to in turn, *first
 * and *count of c's (at most FL_BIND_MAX), leaving out the network's first
 * address and, for IPv4, its broadcast address (unless c has at most two). */
#define FL_BIND_MAX 65536u
void fl_bind_hosts(const struct net_cidr *c, uint32_t *first, uint32_t *count);
/* The local source address of connection k: host first + k mod count of c. */
void fl_bind_source(const struct net_cidr *c, uint32_t first, uint32_t count, uint64_t k,
		    struct sockaddr_storage *ss);
/* "I/N": shard I of N, 0 <= I < N <= max. 0, or -1 with *e set. */
int fl_shard_parse(const char *s, uint64_t max, uint64_t *i, uint64_t *n, struct perr *e);

/* ---- the summary ----------------------------------------------------------------------- */

struct fl_result {
	/* the run */
	char target[NET_ADDR_STRLEN], transport[8], header[128], src_cidr[64], mqtt[8];
	uint64_t connections, concurrency, duration_s, seed;
	double rate_limit;
	int64_t hold_ms;
	uint64_t shard, shards;          /* shards 0: a whole load, not a shard */
	uint64_t threads;                /* event loops that ran it (summed by --merge) */
	uint64_t load_connections;       /* of the whole load (sharded) */
	uint64_t merged;                 /* summaries merged into this one, 0: one run */
	char missing[256];               /* merged: shards not among them, "" = none */

	/* connections */
	uint64_t attempted, count[FK_COUNT], dropped, connacks;
	double elapsed_s, connack_span_s, connections_per_s;
	struct hist connack_us;          /* connect to CONNACK */
	uint64_t tls_handshakes, tls_resumed; /* completed, and of them resumed (tls, wss) */

	/* messages */
	bool publish;
	struct fl_msg_spec msg;
	uint64_t publishers, subscribers;
	double publish_rate_limit;
	uint64_t published, acknowledged, expected, received, missing_msgs, extra_msgs;
	double publish_span_s, published_per_s, received_per_s;
	struct hist latency_us;          /* publish to arrival, send time in the payload */

	/* cost */
	double cpu_user_s, cpu_system_s;
	long broker_pid;                 /* 0: not measured */
	double broker_cpu_s;

	char stopped_by[16];             /* done, duration, signal */
	int exit_code;
	char first_err[FK_COUNT][FL_FIRST_LEN], first_drop[FL_FIRST_LEN];
};

void fl_result_init(struct fl_result *r);
/* The exit status a result stands for (PG_EXIT_OK or PG_EXIT_FAIL). */
int fl_result_exit(const struct fl_result *r);
void fl_print_text(const struct fl_result *r, FILE *out);
void fl_print_json(const struct fl_result *r, FILE *out);
/* Read a summary written by fl_print_json. 0, or -1 with *e set. */
int fl_result_read(const char *path, struct fl_result *r, struct perr *e);
/* Add b to a (a is what was merged so far, a->merged of them). */
void fl_result_merge(struct fl_result *a, const struct fl_result *b);

/* CPU time (user, system) of this process, and of process pid from
 * /proc/PID/stat (0, or -1 with *e set). */
void fl_cpu_self(double *user_s, double *system_s);
int fl_cpu_pid(long pid, double *total_s, struct perr *e);

/* `proxygen flood --merge FILE...` (argv as given to flood; usage prints
 * flood's --help). Returns the exit status. */
int fl_cmd_merge(int argc, char **argv, void (*usage)(FILE *f));

/* ---- a run ------------------------------------------------------------------------------ */

struct tls_ctx;

struct flood {
	const struct flood_args *a;
	struct fl_plan plan;

	/* this process's share of the load */
	uint64_t n_local, conc_local, subs_local, pubs_local;
	double rate_local, pub_rate_local;

	/* where, and the bytes every connection starts with */
	struct sockaddr_storage target, bind_ss, hdr_dst;
	socklen_t target_len, bind_len;
	struct net_cidr bind_net;        /* --bind CIDR: connection k binds host */
	uint32_t bind_first, bind_count; /* bind_first + k mod bind_count of it */
	uint8_t *static_hdr;             /* the header, when it is the same every time */
	size_t static_hdr_len;
	bool vary_hdr;                   /* built per connection (sources from --src-cidr) */
	int version;                     /* PROXY version, 0 = none */
	struct tls_ctx *tls;             /* tls, wss */
	const char *sni;
	char ws_host[300];               /* Host: of the upgrade request */

	int64_t t_start, t_end;          /* us, CLOCK_MONOTONIC */
	struct fl_result *res;
	const char *stopped_by;

	/* --threads: this loop's number, and the subscribers of every loop of
	 * the process not yet subscribed nor failed (NULL with one loop) */
	uint64_t thread, threads;
	_Atomic uint64_t *subs_unready;
};

/* Set by the SIGINT / SIGTERM handler: the run ends at the next turn. */
extern volatile sig_atomic_t fl_got_signal;

/* CLOCK_MONOTONIC and CLOCK_REALTIME in microseconds. */
int64_t fl_now_us(void);
int64_t fl_wall_us(void);

/* Run the load; counts go to f->res. 0, or -1 when the loop itself
 * failed (said on stderr). */
int fl_run(struct flood *f);

#endif
