/* opts_client.h - the client options `proxygen send` and `proxygen flood`
 * share: where and how to connect (--target, --transport, TLS, WebSocket,
 * --bind, --timeout), the MQTT CONNECT (--mqtt, --client-id, --username,
 * --password, --keepalive) and the header (--no-header and every header
 * option of opts.h). One table parses them into a struct client_opts that is
 * ready for client_run but for the header bytes; each subcommand says which of
 * them it takes (struct opts_cl_spec) and keeps its own usage text.
 *
 * Like the rest of proxygen's option code, errors are printed as usage
 * errors ("proxygen send: --target 'x': missing ':PORT'") and the
 * functions return the exit status, 0 when all is well.
 */
#ifndef PROXYGEN_OPTS_CLIENT_H
#define PROXYGEN_OPTS_CLIENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"
#include "opts.h"

/* getopt_long codes: subcommands use their own below OPTS_CL_BASE. */
#define OPTS_CL_BASE 0x800

enum opts_cl_code {
	OPT_CL_TARGET = OPTS_CL_BASE,
	OPT_CL_TRANSPORT,
	OPT_CL_CA,
	OPT_CL_INSECURE,
	OPT_CL_SNI,
	OPT_CL_CERT,
	OPT_CL_KEY,
	OPT_CL_PATH,
	OPT_CL_SUBPROTOCOL,
	OPT_CL_BIND,
	OPT_CL_TIMEOUT,
	OPT_CL_NO_HEADER,
	OPT_CL_MQTT,
	OPT_CL_CLIENT_ID,
	OPT_CL_USERNAME,
	OPT_CL_PASSWORD,
	OPT_CL_KEEPALIVE,
	OPT_CL_END
};

/* The bit of one client option in a set of them. */
#define OPTS_CL(code) (1u << ((code) - OPTS_CL_BASE))
#define OPTS_CL_ALL   (OPTS_CL(OPT_CL_END) - 1u)

/* A subcommand with client options: which ones it takes, and its own. */
struct opts_cl_spec {
	const char *cmd;          /* "send": messages start "proxygen send: " */
	unsigned opts;            /* OPTS_CL() of each client option it takes */
	uint64_t timeout_max;     /* --timeout MS, 1..timeout_max */
	bool port_nonzero;        /* --target refuses port 0 */
	bool bind_cidr;           /* --bind takes a CIDR as well as an address */
	const char *shortopts;    /* for getopt_long, "h" (help) among them */
	const struct option *own; /* its own options, zero-terminated */
	void (*usage)(FILE *f);
	/* One of its own options: 0 or an exit status (opts_parse). */
	int (*apply)(void *args, int code, const char *arg);
};

struct opts_client {
	struct client_opts o;         /* what the options said; o.host points to host */
	char host[256];
	bool have_target;
	unsigned given;           /* OPTS_CL() of each option given */
	bool no_header;           /* --no-header */
	bool help;                /* --help printed: nothing more to do */
	struct opts_hdr hdr;      /* the header options */
};

void opts_client_init(struct opts_client *c);
void opts_client_free(struct opts_client *c);

/* The subcommand's getopt table: own (zero-terminated), then the client
 * options of s, then the header options. 0, or -1 when cap is too small. */
int opts_client_longopts(struct option *out, size_t cap, const struct option *own,
			 const struct opts_cl_spec *s);

/* Apply getopt code (a client or a header option) with its value arg.
 * Returns 0, or the usage error's status after printing it. */
int opts_client_apply(struct opts_client *c, const struct opts_cl_spec *s, int code,
		      const char *arg);

/* Parse the subcommand's argv: its own options go to s->apply(args, ...),
 * the client and header ones into *c. Returns 0 (with c->help set after
 * --help) or the exit status of a usage error. */
int opts_client_parse(int argc, char **argv, const struct opts_cl_spec *s,
		      struct opts_client *c, void *args);

/* Options that only make sense together, after the subcommand's own
 * choice of header: the header options (unless --no-header), then the TLS
 * and WebSocket options against --transport. 0, or the usage status. */
int opts_client_check(const struct opts_client *c, const struct opts_cl_spec *s);

#endif
