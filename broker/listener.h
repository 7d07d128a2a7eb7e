/* listener.h - the broker's MQTT listening sockets (tcp, ssl, ws, wss):
 * bind, accept on the event loop, hand each new socket to conn_accept().
 * struct lis itself is in broker.h (conn.c reads it too).
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

#include "broker.h"
#include "config.h"
#include "err.h"

/* Load the TLS context (ssl, wss), set up how its PROXY stage runs, bind
 * and start accepting. Returns 0 or -1 with *e naming the listener,
 * address, port and why. */
int lis_open(struct lis *l, struct brk *b, enum cfg_listener_kind kind,
	     struct perr *e);

/* Stop accepting and close the socket; frees the TLS context (connections
 * hold their own reference). Safe on a listener never opened. */
void lis_close(struct lis *l);

/* Keep / release the spare descriptor used on EMFILE (main opens it
 * after raising RLIMIT_NOFILE). */
void lis_spare_fd_open(void);
void lis_spare_fd_close(void);

#endif
