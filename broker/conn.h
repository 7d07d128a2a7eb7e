/* conn.h - one client connection of ppmq-broker and its pipeline:
 *
 *   accept -> [PROXY header] -> [TLS handshake] -> [HTTP upgrade + WS frames] -> MQTT engine
 *               if enabled        ssl, wss            ws, wss
 *
 * Each stage is a small state machine driven by the event loop on a
 * non-blocking socket; conn.c holds all of them, in that order. Who the
 * connection is (struct ident) is decided when the PROXY stage ends.
 */
#ifndef PPMQ_BROKER_CONN_H
#define PPMQ_BROKER_CONN_H

#include <sys/socket.h>

#include "broker.h"
#include "engine.h"

/* A listener accepted fd (non-blocking) from peer: start its pipeline.
 * Takes ownership of fd (closed on any failure). */
void conn_accept(struct brk *b, struct lis *l, int fd, const struct sockaddr_storage *peer);

/* Close every connection at once (shutdown): the engine is told, records
 * are updated, memory is freed. */
void conn_close_all(struct brk *b);

/* The engine's configuration as the broker runs it: the limits of
 * b->cfg, authentication, the recorder callbacks (sessions, unauthorized
 * clients, counters, log lines) and the timer, b->tick, armed at the
 * engine's next deadline. The clock is CLOCK_MONOTONIC. */
void conn_engine_cfg(struct brk *b, struct eng_cfg *ec);

/* b->tick's callback (loop_timer_init(&b->tick, conn_engine_tick)
 * before the engine is made): eng_tick. */
void conn_engine_tick(struct loop_timer *t);

#endif
