/* main.c - ppmq-broker: command line, start-up, the event loop, shutdown.
 *
 * Exit status: 0 clean shutdown (SIGINT / SIGTERM), 1 runtime failure
 * (a listener or the admin API cannot bind, the event loop fails),
 * 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "admin.h"
#include "broker.h"
#include "config.h"
#include "conn.h"
#include "engine.h"
#include "fault.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "records.h"

#define PROG "ppmq-broker"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"\n"
		"A small MQTT 3.1.1 / 5.0 broker with HAProxy PROXY protocol (v1, v2)\n"
		"support on its tcp, ssl, ws and wss listeners, configured like TBMQ,\n"
		"with an admin HTTP API showing what it recorded.\n"
		"\n"
		"options:\n"
		"  -c, --config FILE     YAML configuration (default: built-in defaults\n"
		"                        and the environment)\n"
		"      --print-config    print the effective configuration, with where\n"
		"                        each value came from, and exit\n"
		"  -v, --verbose         log level debug\n"
		"      --log-level LVL   error, warn, info (default) or debug\n"
		"      --fault NAME[,NAME...]\n"
		"                        FOR TESTING CONFORMANCE TOOLS ONLY: make the broker\n"
		"                        misbehave on purpose (also env PPMQ_FAULT); see below\n"
		"      --version         print the version and exit\n"
		"  -h, --help            this help\n"
		"\n"
		"faults (each one a known real-world PROXY bug, so that ppmq-conform can\n"
		"prove it catches it; never use them in a deployment):\n");
	for (int i = 0; i < FAULT_COUNT; i++)
		fprintf(f, "  %-20s %s\n", fault_name((enum fault)i), fault_desc((enum fault)i));
	fprintf(f,
		"\n"
		"exit status: 0 clean shutdown, 1 runtime failure, 2 usage or\n"
		"configuration error.\n");
}

/* 10,000+ idle connections need as many descriptors as the system allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open files limit to %llu: %s",
				 (unsigned long long)want, strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("open files limit: %llu", (unsigned long long)rl.rlim_cur);
}

#define GAUGES_MS 1000

/* The engine's gauges, for /metrics (read on another thread). */
static void on_gauges(struct loop_timer *t)
{
	struct brk *b = LOOP_CONTAINER(t, struct brk, gauges);
	struct eng_stats st;

	eng_stats_get(b->eng, &st);
	rec_engine_gauges(b->rec, st.queued_bytes, st.offline_bytes, st.retained, st.acl_denied);
	if (loop_timer_set(b->loop, &b->gauges, GAUGES_MS) < 0)
		log_error("engine: out of memory for the gauges' timer");
}

static void announce_listener(const struct brk *b, enum cfg_listener_kind k)
{
	const struct cfg_listener *lc = &b->cfg->listener[k];
	const char *name = cfg_listener_name(k);
	const struct cfg_src *src;
	char key[64];

	snprintf(key, sizeof(key), "listener.%s.proxy_enabled", name);
	src = cfg_source(b->cfg, key);
	if (!lc->enabled) {
		log_info("%s: disabled", name);
		return;
	}
	log_info("%s: listening on %s:%u%s%s, %s%s%s (%s: %s)", name, lc->bind_address,
		 (unsigned)b->lis[k].port, lc->path ? " path " : "", lc->path ? lc->path : "",
		 brk_proxy_state(lc),
		 lc->proxy_enabled && lc->ntrusted ? ", trusted_proxies set" : "",
		 lc->proxy_enabled ? (lc->proxy_mode == CFG_PROXY_OPTIONAL ? "" : ", strict") : "",
		 key, src ? src->desc : "?");
	if (lc->proxy_enabled && cfg_trusts_any(lc))
		log_warn("%s: PROXY headers are taken from any source (listener.%s.trusted_proxies %s): "
			 "a client that reaches this port directly chooses the address recorded for it",
			 name, name, lc->ntrusted ? "holds a /0 network" : "is not set");
}

/* What the command line asks for. */
struct args {
	const char *config_path;
	bool print_config;
	int log_level;             /* -1: the configuration's */
};

/* The command line, and the faults of PPMQ_FAULT. Returns -1 to go on,
 * or the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "print-config", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "fault", required_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct perr e;
	int opt;

	memset(a, 0, sizeof(*a));
	a->log_level = -1;
	if (fault_enable_list(getenv("PPMQ_FAULT"), &e) < 0) {
		fprintf(stderr, PROG ": PPMQ_FAULT: %s\n", e.msg);
		return 2;
	}
	while ((opt = getopt_long(argc, argv, "c:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->config_path = optarg;
			break;
		case 'p':
			a->print_config = true;
			break;
		case 'v':
			a->log_level = LOG_DEBUG;
			break;
		case 'l':
			a->log_level = log_level_parse(optarg);
			if (a->log_level < 0) {
				fprintf(stderr, PROG ": --log-level: '%s' is not one of "
					"error, warn, info, debug\n", optarg);
				return 2;
			}
			break;
		case 'f':
			if (fault_enable_list(optarg, &e) < 0) {
				fprintf(stderr, PROG ": --fault: %s\n", e.msg);
				return 2;
			}
			break;
		case 'V':
			printf(PROG " %s\n", PPMQ_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Load the configuration (or print it) and set up logging. Returns -1 to
 * go on, or the exit status. */
static int configure(const struct args *a, struct cfg *cfg)
{
	struct perr e;
	char faults[256];

	if (cfg_load(a->config_path, cfg, &e) < 0) {
		fprintf(stderr, PROG ": %s\n", e.msg);
		return 2;
	}
	if (a->print_config) {
		cfg_print(cfg, stdout);
		return 0;
	}
	log_set_level(a->log_level >= 0 ? (enum log_level)a->log_level : cfg->log.level);
	if (cfg->log.file && log_open(cfg->log.file) < 0) {
		fprintf(stderr, PROG ": log.file '%s': %s\n", cfg->log.file, strerror(errno));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fault_enabled_str(faults, sizeof(faults));
	if (faults[0])
		log_warn("FAULTS ENABLED (testing only, this broker misbehaves on purpose): %s",
			 faults);
	return -1;
}

/* Open every enabled listener. Returns 0, or the exit status: a
 * certificate that cannot be loaded is a configuration error (2), a
 * socket that cannot be bound a runtime one (1). */
static int open_listeners(struct brk *b)
{
	struct perr e;

	for (int k = 0; k < CFG_NLISTENERS; k++) {
		if (!b->cfg->listener[k].enabled) {
			announce_listener(b, (enum cfg_listener_kind)k);
			continue;
		}
		if (lis_open(&b->lis[k], b, (enum cfg_listener_kind)k, &e) < 0) {
			log_error("%s", e.msg);
			if (brk_kind_tls((enum cfg_listener_kind)k) && !b->lis[k].tls)
				return 2;
			return 1;
		}
		announce_listener(b, (enum cfg_listener_kind)k);
	}
	return 0;
}

/* Everything the broker runs on: the loop, the records, the engine, the
 * listeners, the admin API. Returns 0, or the exit status after logging
 * why; stop() undoes what was done either way. */
static int start(struct brk *b, const struct cfg *cfg, struct adm_server **adm)
{
	struct eng_cfg ec;
	struct perr e;
	int status;

	/* Before any thread exists: the loop blocks SIGINT/SIGTERM, and the
	 * admin thread inherits the mask. */
	b->cfg = cfg;
	b->loop = loop_new(&e);
	if (!b->loop) {
		log_error("%s", e.msg);
		return 1;
	}
	raise_nofile();
	lis_spare_fd_open();
	reclaim_init(&b->reclaim, b->loop);

	b->rec = rec_store_new(cfg->sessions.max_kept, cfg->sessions.unauthorized_max);
	if (!b->rec) {
		log_error("records: out of memory");
		return 1;
	}
	conn_engine_cfg(b, &ec);
	b->eng = eng_new(&ec, &e);
	if (!b->eng) {
		log_error("engine: %s", e.msg);
		return 1;
	}
	ratelog_init(&b->mlog, b->loop, "mqtt", cfg->log.refused_per_second);
	if (loop_timer_set(b->loop, &b->gauges, GAUGES_MS) < 0) {
		log_error("engine: out of memory for the gauges' timer");
		return 1;
	}
	status = open_listeners(b);
	if (status != 0)
		return status;
	if (cfg->admin.enabled) {
		if (adm_start(cfg, b->rec, adm, &e) < 0) {
			log_error("%s", e.msg);
			return 1;
		}
		log_info("admin: listening on http://%s:%u/ (%s)", cfg->admin.bind_address,
			 (unsigned)adm_port(*adm),
			 cfg->admin.token ? "bearer token required" : "no authentication");
	}
	return 0;
}

/* "ready: tcp=0.0.0.0:1883 ... admin=127.0.0.1:8083": scripts wait for it. */
static void announce_ready(const struct brk *b, const struct adm_server *adm)
{
	const struct cfg *cfg = b->cfg;
	char ready[512];
	size_t used;

	used = (size_t)snprintf(ready, sizeof(ready), "ready:");
	for (int k = 0; k < CFG_NLISTENERS && used < sizeof(ready); k++)
		if (b->lis[k].fd >= 0)
			used += (size_t)snprintf(ready + used, sizeof(ready) - used, " %s=%s:%u",
						 cfg_listener_name((enum cfg_listener_kind)k),
						 cfg->listener[k].bind_address,
						 (unsigned)b->lis[k].port);
	if (adm && used < sizeof(ready))
		snprintf(ready + used, sizeof(ready) - used, " admin=%s:%u",
			 cfg->admin.bind_address, (unsigned)adm_port(adm));
	log_info("%s", ready);
}

/* Undo start(), whatever part of it was done. */
static void stop(struct brk *b, struct adm_server *adm)
{
	adm_stop(adm);
	for (int k = 0; k < CFG_NLISTENERS; k++)
		lis_close(&b->lis[k]);
	if (b->loop) {
		conn_close_all(b);
		loop_timer_cancel(b->loop, &b->tick);
		loop_timer_cancel(b->loop, &b->gauges);
		ratelog_stop(&b->mlog);
		reclaim_stop(&b->reclaim);
	}
	eng_free(b->eng);
	rec_store_free(b->rec);
	lis_spare_fd_close();
	loop_free(b->loop);
}

int main(int argc, char **argv)
{
	struct args a;
	struct cfg cfg;
	struct brk b;
	struct adm_server *adm = NULL;
	struct perr e;
	int status, sig;

	memset(&cfg, 0, sizeof(cfg));
	memset(&b, 0, sizeof(b));
	for (int k = 0; k < CFG_NLISTENERS; k++)
		b.lis[k].fd = -1;
	loop_timer_init(&b.tick, conn_engine_tick);
	loop_timer_init(&b.gauges, on_gauges);
	log_init(PROG, LOG_INFO);
	status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	status = configure(&a, &cfg);
	if (status >= 0) {
		cfg_free(&cfg);
		return status;
	}

	status = start(&b, &cfg, &adm);
	if (status == 0) {
		announce_ready(&b, adm);
		sig = loop_run(b.loop, &e);
		if (sig < 0) {
			log_error("event loop: %s", e.msg);
			status = 1;
		} else {
			log_info("shutting down (%s), %zu connections open",
				 sig == SIGINT ? "SIGINT" : "SIGTERM", b.nconns);
		}
	}
	stop(&b, adm);
	cfg_free(&cfg);
	if (status == 0)
		log_info("stopped");
	log_close();
	return status;
}
