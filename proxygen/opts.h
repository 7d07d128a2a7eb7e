/* opts.h - the header options shared by `proxygen header`, `send` and
 * `relay`, and the value parsers behind every proxygen option.
 *
 * A subcommand merges opts_hdr_longopts into its own getopt_long table
 * (opts_merge), hands every option it does not know itself to
 * opts_hdr_apply, and finally builds the header with opts_hdr_build (or,
 * in the relay, opts_hdr_build_addrs with each client's addresses).
 *
 * Value parsers return 0 or -1 with the perr saying what is wrong with the
 * value ("port 99999 out of range 0..65535"); callers prefix the option
 * name and the value (opts_hdr_apply already does).
 */
#ifndef PROXYGEN_OPTS_H
#define PROXYGEN_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "err.h"
#include "net.h"
#include "pp_desc.h"

/* getopt_long codes of the header options; subcommands use their own
 * codes below OPTS_CL_BASE (opts_client.h), which are below these. */
#define OPTS_HDR_BASE 0x1000

enum opts_hdr_code {
	OPT_V1 = OPTS_HDR_BASE,
	OPT_V2,
	OPT_SRC,
	OPT_DST,
	OPT_LOCAL,
	OPT_UNKNOWN,
	OPT_UNKNOWN_LONG,
	OPT_FAMILY,
	OPT_TRANSPORT,
	OPT_UNIX_SRC,
	OPT_UNIX_DST,
	OPT_TLV,
	OPT_SSL_VERIFY,
	OPT_SSL_CLIENT,
	OPT_MUTATE,
	/* --ssl-cn ...: OPT_SSL_SUB + the sub-TLV's index in pp_ssl_subs */
	OPT_SSL_SUB,
	/* --authority ...: OPT_TLV_DEF + the type's index in pp_tlv_defs */
	OPT_TLV_DEF = OPT_SSL_SUB + PP_SSL_NSUBS,
	OPT_HDR_END = OPT_TLV_DEF + 256
};

/* proxygen's default addresses: PP_DEF_* (pp.h), but for the IPv6
 * destination and the UNIX paths, its own. */
#define OPTS_DEF_DST6 "[2001:db8::100]:1883"
#define OPTS_DEF_UNIX_SRC "/run/proxygen/client.sock"
#define OPTS_DEF_UNIX_DST "/run/proxygen/server.sock"

struct opts_tlv {
	uint8_t type;
	uint8_t *val;   /* owned (malloc), NULL when len == 0 */
	size_t len;
};

/* Everything the header options said, before the header is built. */
struct opts_hdr {
	int version;              /* 0 = not given */
	bool local;               /* v2 LOCAL */
	bool unknown;             /* v1 UNKNOWN */
	bool unknown_long;        /* ... with addresses */
	int family;               /* enum pp_fam, -1 = not given */
	int transport;            /* enum pp_proto, -1 = not given */
	bool have_src, have_dst;
	struct sockaddr_storage src, dst;
	char unix_src[PP_UNIX_PATH_LEN], unix_dst[PP_UNIX_PATH_LEN];
	bool have_unix_src, have_unix_dst;

	/* Top-level TLVs in command-line order. The SSL TLV gets a slot at
	 * the first --ssl-* option and is encoded when the header is built,
	 * so that --ssl-* options may come in any order. */
	struct opts_tlv tlv[PP_MAX_TLVS];
	size_t ntlv;
	int ssl_slot;             /* index in tlv[], -1 = none */
	char *ssl_sub[PP_SSL_NSUBS]; /* by index in pp_ssl_subs (CN, VERSION ...) */
	uint32_t ssl_verify;
	int ssl_client;           /* -1 = derive (SSL, + cert bits with a CN) */

	bool crc32c;
	size_t noop;              /* 0 = none */
	char mutate[64];          /* "" = none */

	bool touched;             /* any header option given at all */
	bool addr_touched;        /* --src/--dst/--family/--unix-* given */
};

/* The header options with a fixed code (the others come from pp_desc's
 * tables: opts_hdr_append); ends with a zero entry. */
extern const struct option opts_hdr_longopts[];

void opts_hdr_init(struct opts_hdr *h);
void opts_hdr_free(struct opts_hdr *h);

/* Apply one option (code from opts_hdr_longopts, arg its value or NULL).
 * Returns 1 when applied, 0 when code is not a header option, -1 on a bad
 * value with *e = "--src '1.2.3.4:99999': port 99999 out of range 0..65535". */
int opts_hdr_apply(struct opts_hdr *h, int code, const char *arg, struct perr *e);

/* Check the options against each other (v1 with TLVs, --local with --v1,
 * --mutate with a version that does not match ...). 0 or -1. */
int opts_hdr_check(const struct opts_hdr *h, struct perr *e);

/* Build the header the options describe (or its --mutate malformation)
 * into out. Returns the length, or -1 with *e set. */
int opts_hdr_build(const struct opts_hdr *h, uint8_t *out, size_t cap, struct perr *e);

/* Same, with src/dst given by the caller instead of --src/--dst (the
 * relay: the client's address and the listening address). Addresses of
 * different families are both written as IPv6 (IPv4-mapped). */
int opts_hdr_build_addrs(const struct opts_hdr *h, const struct sockaddr_storage *src,
			 const struct sockaddr_storage *dst, uint8_t *out, size_t cap,
			 struct perr *e);

/* The address in c whose host bits are taken from rnd (4 bytes for IPv4,
 * 16 for IPv6), with port: a random header source of `flood --src-cidr`
 * and `relay --source random:CIDR`. */
void opts_cidr_addr(const struct net_cidr *c, const uint8_t *rnd, uint16_t port,
		    struct sockaddr_storage *ss);

/* Resolved version: --v1/--v2, else what --mutate/--unknown/--local imply, else 2. */
int opts_hdr_version(const struct opts_hdr *h);

/* ---- value parsers ------------------------------------------------------ */

/* "1.2.3.4:5" or "[2001:db8::1]:5" (literal addresses only). */
int opts_parse_ipport(const char *s, struct sockaddr_storage *ss, struct perr *e);
/* "host:port", "1.2.3.4:5", "[::1]:5": host copied into host[cap] without brackets. */
int opts_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port,
			struct perr *e);
/* Decimal 0..65535, no sign, no leading zeros beyond "0". */
int opts_parse_port(const char *s, uint16_t *port, struct perr *e);
/* Unsigned integer, decimal or 0x hex, at most max. */
int opts_parse_uint(const char *s, uint64_t max, uint64_t *v, struct perr *e);
/* Hex digits, optionally separated by spaces or ':' between bytes.
 * *out is malloc'd (NULL when empty); free it. */
int opts_parse_hex(const char *s, uint8_t **out, size_t *len, struct perr *e);
/* A TLV value: "hex:ABCD" or text taken as is. *out malloc'd (NULL when empty). */
int opts_parse_value(const char *s, uint8_t **out, size_t *len, struct perr *e);
/* "TYPE=VALUE": TYPE a name of pp_tlv_defs ("authority") or a number
 * 0..255 (decimal or 0xNN), VALUE as opts_parse_value. */
int opts_parse_tlv(const char *s, uint8_t *type, uint8_t **val, size_t *len,
		   struct perr *e);
/* MQTT version of a CONNECT: "3.1.1" (also "4", "311") -> 4, "5" (also
 * "5.0") -> 5. */
int opts_parse_mqtt(const char *s, int *version, struct perr *e);

/* Concatenate zero-terminated option tables a and b into out[cap]
 * (zero-terminated); an entry of b named like one of a is left out, so a
 * subcommand can give a name its own meaning (send's --transport).
 * Returns 0, or -1 when cap is too small. */
int opts_merge(struct option *out, size_t cap, const struct option *a,
	       const struct option *b);
/* Append to out[0..*n) the entries of t (zero-terminated) whose names are
 * not there yet, keeping out zero-terminated. 0, or -1 when cap is too small. */
int opts_append(struct option *out, size_t cap, size_t *n, const struct option *t);
/* The same with every header option: opts_hdr_longopts, then --ssl-cn ...
 * and --authority ... from pp_desc's tables. */
int opts_hdr_append(struct option *out, size_t cap, size_t *n);
/* A subcommand's table: its own options, then the header options.
 * 0, or -1 when cap is too small. */
int opts_longopts(struct option *out, size_t cap, const struct option *own);
/* The getopt code of header option name ("authority"), -1 when none. */
int opts_hdr_code(const char *name);

/* What opts_parse returns after --help. */
#define OPTS_DONE (-1)

/* getopt_long over longopts for subcommand cmd: -h / --help (code 'h')
 * prints usage on stdout and stops with OPTS_DONE; every other option goes
 * to apply(ctx, code, its value), which returns 0 or an exit status to
 * stop with; an unknown option, a missing value or a left-over argument is
 * a usage error. Returns 0, OPTS_DONE or the status. */
int opts_parse(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       const char *cmd, void (*usage)(FILE *f),
	       int (*apply)(void *ctx, int code, const char *arg), void *ctx);

/* Name of the option whose getopt code is code in o[] (NULL-terminated),
 * "?" when none. */
const char *opts_opt_name(const struct option *o, int code);

/* Text for one getopt error, e.g. "unknown option '--foo'" or
 * "option '--src' needs a value", from getopt_long's '?' / ':' return. */
void opts_getopt_error(int c, int optopt_val, const char *argv_elem,
		       const struct option *longopts, struct perr *e);

/* ---- command-line plumbing shared by the subcommands -------------------- */

/* Exit statuses of every subcommand. */
#define PG_EXIT_OK    0  /* success */
#define PG_EXIT_FAIL  1  /* the outcome was something other than success */
#define PG_EXIT_USAGE 2  /* bad arguments */

/* Print "proxygen CMD: MESSAGE" and a pointer to --help on stderr.
 * Returns PG_EXIT_USAGE. */
int opts_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The value arg of option --opt of subcommand cmd, an unsigned integer
 * (opts_parse_uint) from min to max, into *out. Returns 0, or the usage
 * error's status ("--opt 'arg': must be at least 1"). */
int opts_uint_arg(const char *cmd, const char *opt, const char *arg, uint64_t min,
		  uint64_t max, uint64_t *out);
/* The same into an int (max at most INT_MAX). */
int opts_int_arg(const char *cmd, const char *opt, const char *arg, uint64_t min,
		 uint64_t max, int *out);

/* The help text of the header options (for the --help of each subcommand). */
void opts_hdr_help(FILE *f);

#endif
