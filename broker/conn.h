/* conn.h - one client connection of ppmq-broker and its pipeline:
 *
 *   accept -> [PROXY header] -> [TLS handshake] -> [HTTP upgrade + WS frames] -> MQTT engine
 *               if enabled        ssl, wss            ws, wss
 *
 * Each stage is a small state machine driven by the event loop on a
 * non-blocking socket; conn.c holds all of them, in that order.
 */
#ifndef PPMQ_BROKER_CONN_H
#define PPMQ_BROKER_CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include "broker.h"
#include "engine.h"
#include "records.h"

/* A listener accepted fd (non-blocking) from peer: start its pipeline.
 * Takes ownership of fd (closed on any failure). */
void conn_accept(struct brk *b, struct lis *l, int fd, const struct sockaddr_storage *peer);

/* Close every connection at once (shutdown): the engine is told, records
 * are updated, memory is freed. */
void conn_close_all(struct brk *b);

/* Fill the engine configuration's recorder callbacks and authentication
 * from the broker (sessions, unauthorized clients, counters, log lines). */
void conn_engine_hooks(struct brk *b, struct eng_cfg *ec);

/* "PROXY v2 PROXY TCP4", "PROXY v1 UNKNOWN", "PROXY v2 LOCAL" ... for
 * log lines. Returns buf. */
const char *conn_proxy_desc(const struct rec_proxy *p, char *buf, size_t cap);

#endif
