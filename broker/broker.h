/* broker.h - what the broker's modules share: the broker itself (struct
 * brk) and its listeners (struct lis), as main.c builds them, listener.c
 * accepts on them and conn.c runs each connection's pipeline.
 *
 * Only types and a few facts about listener kinds live here: the modules
 * that use them (listener, conn, main) include this header, never each
 * other's in a circle.
 */
#ifndef PPMQ_BROKER_BROKER_H
#define PPMQ_BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ident.h"
#include "loop.h"
#include "ratelog.h"
#include "reclaim.h"

struct conn;
struct eng;
struct rec_store;
struct tls_ctx;

/* Bytes one connection may have waiting to be written before it is
 * closed as a slow consumer: the engine stops at mqtt.max_output_buffer,
 * and what it wrote last may be a whole packet. */
size_t brk_out_max(const struct cfg *cfg);

struct lis {
	struct brk *b;
	enum cfg_listener_kind kind;
	const struct cfg_listener *cfg;
	int fd;                   /* -1 when not open */
	uint16_t port;            /* bound port (bind_port 0: the kernel's pick) */
	struct loop_watch watch;
	struct tls_ctx *tls;      /* ssl, wss: server context */
	struct ident_stage stage; /* how its connections' PROXY stage runs */
	bool paused;              /* out of descriptors: accept again later */
	struct loop_timer resume;
	size_t nconns;            /* its open connections (cfg->max_connections) */
	struct ratelog rlog;      /* its lines about refused connections */
};

struct brk {
	struct loop *loop;
	const struct cfg *cfg;
	struct rec_store *rec;
	struct eng *eng;
	struct lis lis[CFG_NLISTENERS];
	struct conn *conns;        /* every open connection (doubly linked) */
	size_t nconns;
	struct loop_timer tick;    /* eng_tick, at the engine's next deadline */
	struct reclaim reclaim;    /* memory back after connections that never reached MQTT */
	struct ratelog mlog;       /* "mqtt": lines about messages dropped at a memory limit */
	struct loop_timer gauges;  /* the engine's gauges to the records, once a second */
};

/* Is this kind TLS-based / WebSocket-based? */
bool brk_kind_tls(enum cfg_listener_kind k);
bool brk_kind_ws(enum cfg_listener_kind k);

/* "proxy on", "proxy off", "proxy optional" */
const char *brk_proxy_state(const struct cfg_listener *c);

#endif
