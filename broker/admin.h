/* admin.h - the broker's admin HTTP API (libmicrohttpd, own thread; JSON
 * by jansson). Read-only views of the records plus one DELETE:
 *
 *   GET    /api/v1/sessions                 array of session objects
 *   GET    /api/v1/sessions/{clientId}      one object (URL-decoded id), or 404
 *   GET    /api/v1/unauthorized-clients     array, oldest first
 *   DELETE /api/v1/unauthorized-clients     clears it (204)
 *   GET    /api/v1/listeners                effective config of each listener
 *   GET    /metrics                         Prometheus text format 0.0.4
 *   GET    /healthz                         "ok"
 *
 * Errors are JSON {"error": "...", "status": N}: 401 without the bearer
 * token (when admin.token is set; /healthz needs none), 404 for unknown
 * paths and unknown client ids, 405 (with Allow) for other methods.
 * Field names (camelCase) are documented in docs/ppmq-broker.1.
 */
#ifndef PPMQ_BROKER_ADMIN_H
#define PPMQ_BROKER_ADMIN_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "records.h"

struct adm_server;

/* Start serving on cfg->admin.bind_address:cfg->admin.bind_port (port 0:
 * the kernel picks one, see adm_port). cfg and rec must outlive the
 * server. Returns 0 and *out, or -1 with *e set (e.g. address in use). */
int adm_start(const struct cfg *cfg, struct rec_store *rec,
	      struct adm_server **out, struct perr *e);

/* The port actually bound. */
uint16_t adm_port(const struct adm_server *a);

/* Stop the thread, close the socket, free. NULL-safe. */
void adm_stop(struct adm_server *a);

#endif
