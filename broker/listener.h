/* listener.h - the broker's MQTT listening sockets (tcp, ssl, ws, wss):
 * bind, accept on the event loop, hand each new socket to conn_accept().
 *
 * When the process runs out of file descriptors, accept() keeps failing
 * with EMFILE while the pending connection stays in the queue, so epoll
 * would wake us forever: a spare descriptor is kept, released to accept
 * and close the pending connection, and taken again.
 */
#ifndef PPMQ_BROKER_LISTENER_H
#define PPMQ_BROKER_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "loop.h"

struct brk;
struct tls_ctx;

struct lis {
	struct brk *b;
	enum cfg_listener_kind kind;
	const struct cfg_listener *cfg;
	int fd;                   /* -1 when not open */
	uint16_t port;            /* bound port (bind_port 0: the kernel's pick) */
	struct loop_watch watch;
	struct tls_ctx *tls;      /* ssl, wss: server context */
	bool paused;              /* out of descriptors: accept again later */
	struct loop_timer resume;
};

/* Is this kind TLS-based / WebSocket-based? */
bool lis_is_tls(enum cfg_listener_kind k);
bool lis_is_ws(enum cfg_listener_kind k);

/* Load the TLS context (ssl, wss), bind and start accepting. Returns 0 or
 * -1 with *e naming the listener, address, port and why. */
int lis_open(struct lis *l, struct brk *b, enum cfg_listener_kind kind,
	     struct perr *e);

/* Stop accepting and close the socket; frees the TLS context (connections
 * hold their own reference). Safe on a listener never opened. */
void lis_close(struct lis *l);

/* "proxy on", "proxy off", "proxy optional" */
const char *lis_proxy_state(const struct cfg_listener *c);

/* Keep / release the spare descriptor used on EMFILE (main opens it
 * after raising RLIMIT_NOFILE). */
void lis_spare_fd_open(void);
void lis_spare_fd_close(void);

#endif
