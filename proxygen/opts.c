/* opts.c - see opts.h. */
#include "opts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "hex.h"
#include "mqtt.h"

const struct option opts_hdr_longopts[] = {
	{ "v1", no_argument, NULL, OPT_V1 },
	{ "v2", no_argument, NULL, OPT_V2 },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "dst", required_argument, NULL, OPT_DST },
	{ "local", no_argument, NULL, OPT_LOCAL },
	{ "unknown", no_argument, NULL, OPT_UNKNOWN },
	{ "unknown-long", no_argument, NULL, OPT_UNKNOWN_LONG },
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "proto", required_argument, NULL, OPT_TRANSPORT },
	{ "unix-src", required_argument, NULL, OPT_UNIX_SRC },
	{ "unix-dst", required_argument, NULL, OPT_UNIX_DST },
	{ "tlv", required_argument, NULL, OPT_TLV },
	{ "ssl-verify", required_argument, NULL, OPT_SSL_VERIFY },
	{ "ssl-client", required_argument, NULL, OPT_SSL_CLIENT },
	{ "mutate", required_argument, NULL, OPT_MUTATE },
	{ NULL, 0, NULL, 0 }
};

/* Largest TLV value: the 16-bit length field. */
#define TLV_VALUE_MAX 65535u

const char *opts_opt_name(const struct option *o, int code)
{
	for (; o->name; o++)
		if (o->val == code)
			return o->name;
	return "?";
}

/* ---- value parsers ------------------------------------------------------ */

int opts_parse_port(const char *s, uint16_t *port, struct perr *e)
{
	unsigned long v = 0;
	size_t n;

	if (!s || !*s)
		return perr_set(e, "missing port");
	n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return perr_set(e, "port '%s' is not a decimal number", s);
	if (n > 5)
		return perr_set(e, "port %s out of range 0..65535", s);
	v = strtoul(s, NULL, 10);
	if (v > 65535)
		return perr_set(e, "port %lu out of range 0..65535", v);
	*port = (uint16_t)v;
	return 0;
}

/* Split "host:port" / "[v6]:port" into host text and port text. */
static int split_hostport(const char *s, char *host, size_t cap, const char **port_s,
			  bool *bracketed, struct perr *e)
{
	const char *colon;
	size_t hl;

	*bracketed = false;
	if (!s || !*s)
		return perr_set(e, "empty address");
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb)
			return perr_set(e, "missing ']' after the IPv6 address");
		if (rb[1] != ':')
			return perr_set(e, "missing ':PORT' after ']'");
		hl = (size_t)(rb - s - 1);
		if (hl == 0)
			return perr_set(e, "empty address between '[' and ']'");
		if (hl >= cap)
			return perr_set(e, "address too long");
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		*port_s = rb + 2;
		*bracketed = true;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon)
		return perr_set(e, "missing ':PORT'");
	if (memchr(s, ':', (size_t)(colon - s)))
		return perr_set(e, "IPv6 addresses go in brackets: [2001:db8::1]:PORT");
	hl = (size_t)(colon - s);
	if (hl == 0)
		return perr_set(e, "missing address before ':'");
	if (hl >= cap)
		return perr_set(e, "address too long");
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port_s = colon + 1;
	return 0;
}

int opts_parse_ipport(const char *s, struct sockaddr_storage *ss, struct perr *e)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	bool br;
	uint16_t port;

	if (split_hostport(s, host, sizeof(host), &port_s, &br, e) < 0)
		return -1;
	if (opts_parse_port(port_s, &port, e) < 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (br) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return perr_set(e, "'%s' is not an IPv6 address", host);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return perr_set(e, "'%s' is not an IPv4 address", host);
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
	}
	return 0;
}

int opts_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port,
			struct perr *e)
{
	const char *port_s;
	bool br;

	if (split_hostport(s, host, cap, &port_s, &br, e) < 0)
		return -1;
	if (br) {
		struct in6_addr a;

		if (inet_pton(AF_INET6, host, &a) != 1)
			return perr_set(e, "'%s' is not an IPv6 address", host);
	} else {
		for (const char *p = host; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				return perr_set(e, "'%s' is not a host name or address", host);
	}
	return opts_parse_port(port_s, port, e);
}

int opts_parse_uint(const char *s, uint64_t max, uint64_t *v, struct perr *e)
{
	unsigned long long x;
	char *end;
	int base = 10;
	const char *digits = s;

	if (!s || !*s)
		return perr_set(e, "missing number");
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = s + 2;
	}
	if (!*digits)
		return perr_set(e, "'%s' is not a number", s);
	for (const char *p = digits; *p; p++)
		if (base == 16 ? !isxdigit((unsigned char)*p) : !isdigit((unsigned char)*p))
			return perr_set(e, base == 16 ? "'%s' is not a hexadecimal number"
						      : "'%s' is not a number (decimal, or hexadecimal after 0x)",
					s);
	errno = 0;
	x = strtoull(digits, &end, base);
	if (errno == ERANGE || x > max)
		return perr_set(e, "%s out of range 0..%" PRIu64, s, max);
	*v = (uint64_t)x;
	return 0;
}

int opts_parse_hex(const char *s, uint8_t **out, size_t *len, struct perr *e)
{
	size_t n = strlen(s), nd = 0;
	uint8_t *buf;
	int hi = -1;

	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++) {
		if (hex_digit((unsigned char)s[i]) >= 0)
			nd++;
		else if (s[i] != ' ' && s[i] != ':' && s[i] != '\t' && s[i] != '\n')
			return perr_set(e, "'%c' at offset %zu is not a hex digit",
					isprint((unsigned char)s[i]) ? s[i] : '?', i);
	}
	if (nd % 2)
		return perr_set(e, "odd number of hex digits (%zu)", nd);
	if (nd == 0)
		return 0;
	buf = malloc(nd / 2);
	if (!buf)
		return perr_set(e, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int v = hex_digit((unsigned char)s[i]);

		if (v < 0) {
			if (hi >= 0) {
				free(buf);
				return perr_set(e, "separator inside a byte at offset %zu", i);
			}
			continue;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[(*len)++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	*out = buf;
	return 0;
}

int opts_parse_value(const char *s, uint8_t **out, size_t *len, struct perr *e)
{
	size_t n;

	*out = NULL;
	*len = 0;
	if (strncmp(s, "hex:", 4) == 0) {
		if (opts_parse_hex(s + 4, out, len, e) < 0)
			return -1;
	} else {
		n = strlen(s);
		if (n) {
			*out = malloc(n);
			if (!*out)
				return perr_set(e, "out of memory");
			memcpy(*out, s, n);
			*len = n;
		}
	}
	if (*len > TLV_VALUE_MAX) {
		free(*out);
		*out = NULL;
		return perr_set(e, "value too long (%zu bytes, max %u)", *len, TLV_VALUE_MAX);
	}
	return 0;
}

int opts_parse_tlv(const char *s, uint8_t *type, uint8_t **val, size_t *len,
		   struct perr *e)
{
	const char *eq = strchr(s, '=');
	char ts[32];
	uint64_t t;
	size_t tl;

	if (!eq)
		return perr_set(e, "expected TYPE=VALUE");
	tl = (size_t)(eq - s);
	if (tl == 0)
		return perr_set(e, "missing TYPE before '='");
	if (tl >= sizeof(ts))
		return perr_set(e, "TYPE too long");
	memcpy(ts, s, tl);
	ts[tl] = '\0';
	if (pp_tlv_type_parse(ts, type) < 0) {
		/* A word is no name; anything else, a wrong number. */
		if (isalpha((unsigned char)ts[0]) || opts_parse_uint(ts, 255, &t, e) == 0)
			perr_set(e, "'%s' is not a TLV name or a number 0..255", ts);
		return perr_wrap(e, "TYPE");
	}
	if (opts_parse_value(eq + 1, val, len, e) < 0)
		return perr_wrap(e, "VALUE");
	return 0;
}

int opts_parse_mqtt(const char *s, int *version, struct perr *e)
{
	if (strcmp(s, "3.1.1") == 0 || strcmp(s, "4") == 0 || strcmp(s, "311") == 0)
		*version = MQTT_V311;
	else if (strcmp(s, "5") == 0 || strcmp(s, "5.0") == 0)
		*version = MQTT_V5;
	else
		return perr_set(e, "expected 3.1.1 or 5");
	return 0;
}

static bool has_name(const struct option *o, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(o[i].name, name) == 0)
			return true;
	return false;
}

/* Append one entry unless its name is there already. */
static int append_one(struct option *out, size_t cap, size_t *n, const struct option *o)
{
	if (has_name(out, *n, o->name))
		return 0;
	if (*n + 1 >= cap)
		return -1;
	out[(*n)++] = *o;
	memset(&out[*n], 0, sizeof(out[*n]));
	return 0;
}

int opts_append(struct option *out, size_t cap, size_t *n, const struct option *t)
{
	for (const struct option *o = t; o && o->name; o++)
		if (append_one(out, cap, n, o) < 0)
			return -1;
	return 0;
}

int opts_merge(struct option *out, size_t cap, const struct option *a,
	       const struct option *b)
{
	size_t n = 0;

	if (cap == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	return opts_append(out, cap, &n, a) < 0 ? -1 : opts_append(out, cap, &n, b);
}

int opts_hdr_append(struct option *out, size_t cap, size_t *n)
{
	size_t ndefs;
	const struct pp_tlv_def *d = pp_tlv_defs(&ndefs);

	if (opts_append(out, cap, n, opts_hdr_longopts) < 0)
		return -1;
	for (size_t i = 0; i < PP_SSL_NSUBS; i++) {
		struct option o = { pp_ssl_subs[i].option, required_argument, NULL,
				    OPT_SSL_SUB + (int)i };

		if (append_one(out, cap, n, &o) < 0)
			return -1;
	}
	for (size_t i = 0; i < ndefs; i++) {
		struct option o = { d[i].option, d[i].arg ? required_argument : no_argument, NULL,
				    OPT_TLV_DEF + (int)i };

		if (d[i].option && append_one(out, cap, n, &o) < 0)
			return -1;
	}
	return 0;
}

int opts_longopts(struct option *out, size_t cap, const struct option *own)
{
	size_t n = 0;

	if (cap == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	return opts_append(out, cap, &n, own) < 0 ? -1 : opts_hdr_append(out, cap, &n);
}

/* The name of header option code, "?" when none. */
static const char *hdr_opt_name(int code)
{
	size_t ndefs;
	const struct pp_tlv_def *d = pp_tlv_defs(&ndefs);

	if (code >= OPT_SSL_SUB && code < OPT_SSL_SUB + PP_SSL_NSUBS)
		return pp_ssl_subs[code - OPT_SSL_SUB].option;
	if (code >= OPT_TLV_DEF && (size_t)(code - OPT_TLV_DEF) < ndefs)
		return d[code - OPT_TLV_DEF].option;
	return opts_opt_name(opts_hdr_longopts, code);
}

int opts_hdr_code(const char *name)
{
	struct option all[128];
	size_t n = 0;

	memset(all, 0, sizeof(all[0]));
	if (opts_hdr_append(all, 128, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			return all[i].val;
	return -1;
}

void opts_getopt_error(int c, int optopt_val, const char *argv_elem,
		       const struct option *longopts, struct perr *e)
{
	const char *el = argv_elem ? argv_elem : "";

	if (strncmp(el, "--", 2) == 0) {
		const char *name = el + 2;
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);

		for (const struct option *o = longopts; o && o->name; o++) {
			if (strlen(o->name) != nl || strncmp(o->name, name, nl) != 0)
				continue;
			if (c == ':' || o->has_arg == required_argument)
				perr_set(e, "option '--%s' needs a value", o->name);
			else if (eq && o->has_arg == no_argument)
				perr_set(e, "option '--%s' takes no value", o->name);
			else
				perr_set(e, "bad use of option '--%s'", o->name);
			return;
		}
		if (c == ':')
			perr_set(e, "option '%.*s' needs a value", (int)(nl + 2), el);
		else
			perr_set(e, "unknown or ambiguous option '%.*s'", (int)(nl + 2), el);
		return;
	}
	if (c == ':')
		perr_set(e, "option '-%c' needs a value", optopt_val > 0 ? optopt_val : '?');
	else if (optopt_val > 0 && isprint(optopt_val))
		perr_set(e, "unknown option '-%c'", optopt_val);
	else
		perr_set(e, "unknown option '%s'", el);
}

int opts_parse(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       const char *cmd, void (*usage)(FILE *f),
	       int (*apply)(void *ctx, int code, const char *arg), void *ctx)
{
	struct perr e;
	int c, rc;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			opts_getopt_error(c, optopt, argv[optind - 1], longopts, &e);
			return opts_usage_error(cmd, "%s", e.msg);
		}
		if (c == 'h') {
			usage(stdout);
			return OPTS_DONE;
		}
		rc = apply(ctx, c, optarg);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return opts_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- header options ----------------------------------------------------- */

void opts_hdr_init(struct opts_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->family = -1;
	h->transport = -1;
	h->ssl_slot = -1;
	h->ssl_client = -1;
}

void opts_hdr_free(struct opts_hdr *h)
{
	for (size_t i = 0; i < h->ntlv; i++)
		free(h->tlv[i].val);
	for (size_t i = 0; i < PP_SSL_NSUBS; i++)
		free(h->ssl_sub[i]);
	opts_hdr_init(h);
}

/* Append a TLV; takes ownership of val (freed on failure too). */
static int add_tlv(struct opts_hdr *h, uint8_t type, uint8_t *val, size_t len,
		   struct perr *e)
{
	if (h->ntlv >= PP_MAX_TLVS) {
		free(val);
		return perr_set(e, "too many TLVs (max %d)", PP_MAX_TLVS);
	}
	h->tlv[h->ntlv].type = type;
	h->tlv[h->ntlv].val = val;
	h->tlv[h->ntlv].len = len;
	h->ntlv++;
	return 0;
}

/* Append a TLV whose value is a copy of p[n]. */
static int add_copy(struct opts_hdr *h, uint8_t type, const void *p, size_t n, struct perr *e)
{
	uint8_t *v = NULL;

	if (n > TLV_VALUE_MAX)
		return perr_set(e, "value too long (%zu bytes, max %u)", n, TLV_VALUE_MAX);
	if (n) {
		v = malloc(n);
		if (!v)
			return perr_set(e, "out of memory");
		memcpy(v, p, n);
	}
	return add_tlv(h, type, v, n, e);
}

static int set_ssl_str(struct opts_hdr *h, char **field, const char *s, struct perr *e)
{
	char *c;

	if (strlen(s) > TLV_VALUE_MAX)
		return perr_set(e, "value too long");
	if (h->ssl_slot < 0) {
		if (add_tlv(h, PP2_TYPE_SSL, NULL, 0, e) < 0)
			return -1;
		h->ssl_slot = (int)h->ntlv - 1;
	}
	if (!field)
		return 0;
	c = strdup(s);
	if (!c)
		return perr_set(e, "out of memory");
	free(*field);
	*field = c;
	return 0;
}

static int set_unix_path(char *dst, const char *s, struct perr *e)
{
	size_t n = strlen(s);

	if (n == 0)
		return perr_set(e, "empty path");
	if (n >= PP_UNIX_PATH_LEN)
		return perr_set(e, "path too long (%zu bytes, max %d)", n, PP_UNIX_PATH_LEN - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

/* An option of pp_tlv_defs: its value written as the table says. */
static int apply_tlv_def(struct opts_hdr *h, const struct pp_tlv_def *d, const char *arg,
			 struct perr *e)
{
	uint8_t buf[16], *v;
	uint64_t u;
	size_t n = strlen(arg);

	switch (d->val) {
	case PP_VAL_AWS_VPCE:
		if (n == 0)
			return perr_set(e, "empty endpoint id");
		if (n + 1 > TLV_VALUE_MAX)
			return perr_set(e, "value too long (%zu bytes, max %u)", n, TLV_VALUE_MAX - 1);
		v = malloc(n + 1);
		if (!v)
			return perr_set(e, "out of memory");
		return add_tlv(h, d->type, v, (size_t)pp_tlv_aws_vpce(arg, v, n + 1), e);
	case PP_VAL_AZURE_LINKID:
		if (opts_parse_uint(arg, UINT32_MAX, &u, e) < 0)
			return -1;
		return add_copy(h, d->type, buf, (size_t)pp_tlv_azure_linkid((uint32_t)u, buf, sizeof(buf)), e);
	case PP_VAL_GCP_PSC:
		if (opts_parse_uint(arg, UINT64_MAX, &u, e) < 0)
			return -1;
		return add_copy(h, d->type, buf, (size_t)pp_tlv_gcp_psc(u, buf, sizeof(buf)), e);
	case PP_VAL_ZEROS:
		/* An explicit NOOP TLV in command-line order; N = 0 is a valid,
		 * empty NOOP. */
		if (opts_parse_uint(arg, TLV_VALUE_MAX, &u, e) < 0)
			return -1;
		v = u ? calloc(1, (size_t)u) : NULL;
		if (u && !v)
			return perr_set(e, "out of memory");
		h->noop += (size_t)u;
		return add_tlv(h, d->type, v, (size_t)u, e);
	case PP_VAL_CRC32C:
		h->crc32c = true;
		return 0;
	case PP_VAL_SSL:
		return set_ssl_str(h, NULL, "", e);
	default:
		return add_copy(h, d->type, arg, n, e);
	}
}

static int set_version(struct opts_hdr *h, int want, struct perr *e)
{
	if (h->version && h->version != want)
		return perr_set(e, "--v1 and --v2 given together");
	h->version = want;
	return 0;
}

static int set_addr(struct opts_hdr *h, struct sockaddr_storage *ss, bool *have,
		    const char *arg, struct perr *e)
{
	*have = true;
	h->addr_touched = true;
	return opts_parse_ipport(arg, ss, e);
}

static int set_unix(struct opts_hdr *h, char *path, bool *have, const char *arg,
		    struct perr *e)
{
	*have = true;
	h->addr_touched = true;
	return set_unix_path(path, arg, e);
}

static int set_family(struct opts_hdr *h, const char *arg, struct perr *e)
{
	enum pp_fam f;

	h->addr_touched = true;
	if (pp_fam_parse(arg, &f) < 0)
		return perr_set(e, "expected inet, inet6, unix or unspec");
	h->family = (int)f;
	return 0;
}

static int set_transport(struct opts_hdr *h, const char *arg, struct perr *e)
{
	enum pp_proto p;

	if (pp_proto_parse(arg, &p) < 0)
		return perr_set(e, "expected stream, dgram or unspec");
	h->transport = (int)p;
	return 0;
}

static int set_tlv(struct opts_hdr *h, const char *arg, struct perr *e)
{
	uint8_t type, *v;
	size_t n;

	if (opts_parse_tlv(arg, &type, &v, &n, e) < 0)
		return -1;
	return add_tlv(h, type, v, n, e);
}

static int set_mutate(struct opts_hdr *h, const char *arg, struct perr *e)
{
	if (!pp_mutation_find(arg))
		return perr_set(e, "unknown malformation (see 'proxygen mutations')");
	if (strlen(arg) >= sizeof(h->mutate))
		return perr_set(e, "name too long");
	strcpy(h->mutate, arg);
	return 0;
}

static int apply_one(struct opts_hdr *h, int code, const char *arg, struct perr *e)
{
	size_t ndefs;
	const struct pp_tlv_def *defs = pp_tlv_defs(&ndefs);
	uint64_t u;

	switch (code) {
	case OPT_V1:
	case OPT_V2:
		return set_version(h, code == OPT_V1 ? 1 : 2, e);
	case OPT_SRC:
		return set_addr(h, &h->src, &h->have_src, arg, e);
	case OPT_DST:
		return set_addr(h, &h->dst, &h->have_dst, arg, e);
	case OPT_LOCAL:
		h->local = true;
		return 0;
	case OPT_UNKNOWN_LONG:
		h->unknown_long = true;
		/* fall through */
	case OPT_UNKNOWN:
		h->unknown = true;
		return 0;
	case OPT_FAMILY:
		return set_family(h, arg, e);
	case OPT_TRANSPORT:
		return set_transport(h, arg, e);
	case OPT_UNIX_SRC:
		return set_unix(h, h->unix_src, &h->have_unix_src, arg, e);
	case OPT_UNIX_DST:
		return set_unix(h, h->unix_dst, &h->have_unix_dst, arg, e);
	case OPT_TLV:
		return set_tlv(h, arg, e);
	case OPT_SSL_VERIFY:
		if (opts_parse_uint(arg, UINT32_MAX, &u, e) < 0)
			return -1;
		h->ssl_verify = (uint32_t)u;
		return set_ssl_str(h, NULL, "", e);
	case OPT_SSL_CLIENT:
		if (opts_parse_uint(arg, 255, &u, e) < 0)
			return -1;
		h->ssl_client = (int)u;
		return set_ssl_str(h, NULL, "", e);
	case OPT_MUTATE:
		return set_mutate(h, arg, e);
	}
	if (code >= OPT_SSL_SUB && code < OPT_SSL_SUB + PP_SSL_NSUBS)
		return set_ssl_str(h, &h->ssl_sub[code - OPT_SSL_SUB], arg, e);
	if (code >= OPT_TLV_DEF && (size_t)(code - OPT_TLV_DEF) < ndefs)
		return apply_tlv_def(h, &defs[code - OPT_TLV_DEF], arg, e);
	return 1; /* not ours */
}

int opts_hdr_apply(struct opts_hdr *h, int code, const char *arg, struct perr *e)
{
	int rc;

	if (code < OPTS_HDR_BASE || code >= OPT_HDR_END)
		return 0;
	rc = apply_one(h, code, arg ? arg : "", e);
	if (rc < 0) {
		if (arg)
			return perr_wrap(e, "--%s '%s'", hdr_opt_name(code), arg);
		return perr_wrap(e, "--%s", hdr_opt_name(code));
	}
	if (code != OPT_MUTATE)
		h->touched = true;
	return 1;
}

int opts_hdr_version(const struct opts_hdr *h)
{
	const struct pp_mutation *m;

	if (h->version)
		return h->version;
	if (h->mutate[0] && (m = pp_mutation_find(h->mutate)) != NULL)
		return m->version;
	if (h->unknown)
		return 1;
	return 2;
}

static bool tlv_options_given(const struct opts_hdr *h)
{
	return h->ntlv > 0 || h->crc32c;
}

int opts_hdr_check(const struct opts_hdr *h, struct perr *e)
{
	int v = opts_hdr_version(h);

	if (h->mutate[0]) {
		const struct pp_mutation *m = pp_mutation_find(h->mutate);

		if (!m)
			return perr_set(e, "--mutate '%s': unknown malformation", h->mutate);
		if (h->version && h->version != m->version)
			return perr_set(e, "--mutate '%s' damages a v%d header, not v%d",
					h->mutate, m->version, h->version);
		if (h->crc32c)
			return perr_set(e, "--crc32c cannot be combined with --mutate");
	}
	if (v == 1) {
		if (h->local)
			return perr_set(e, "--local is a v2 command (v1 has --unknown)");
		if (tlv_options_given(h))
			return perr_set(e, "TLV options (--tlv, --authority, --alpn, --ssl-*, "
					"--crc32c, --noop ...) need v2");
		if (h->family == PP_FAM_UNIX || h->have_unix_src || h->have_unix_dst)
			return perr_set(e, "v1 has no UNIX family");
		if (h->transport == PP_PROTO_DGRAM)
			return perr_set(e, "v1 has no DGRAM transport");
	} else {
		if (h->unknown)
			return perr_set(e, "--unknown is a v1 form (v2 has --local and "
					"--family unspec)");
	}
	if (h->have_unix_src || h->have_unix_dst) {
		if (h->family >= 0 && h->family != PP_FAM_UNIX)
			return perr_set(e, "--unix-src/--unix-dst need --family unix");
	}
	if (h->family == PP_FAM_UNIX && (h->have_src || h->have_dst))
		return perr_set(e, "--src/--dst are IP addresses; with --family unix use "
				"--unix-src/--unix-dst");
	if ((h->have_unix_src || h->have_unix_dst) && (h->have_src || h->have_dst))
		return perr_set(e, "--unix-src/--unix-dst cannot be combined with --src/--dst");
	if (h->have_src && h->have_dst && h->src.ss_family != h->dst.ss_family &&
	    h->family != PP_FAM_INET6)
		return perr_set(e, "--src and --dst are of different families "
				"(add --family inet6 to send both as IPv6)");
	if (h->family == PP_FAM_INET &&
	    ((h->have_src && h->src.ss_family == AF_INET6) ||
	     (h->have_dst && h->dst.ss_family == AF_INET6)))
		return perr_set(e, "--family inet with an IPv6 address");
	return 0;
}

/* ---- building ----------------------------------------------------------- */

/* proxygen's default addresses (opts.h). */
static const struct pp_defaults defaults = {
	.src = { NULL, PP_DEF_SRC4, PP_DEF_SRC6, "unix:" OPTS_DEF_UNIX_SRC },
	.dst = { NULL, PP_DEF_DST4, OPTS_DEF_DST6, "unix:" OPTS_DEF_UNIX_DST },
};

static const struct sockaddr_storage *unix_addr(const char *path, struct sockaddr_storage *ss)
{
	struct sockaddr_un *un = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
	return ss;
}

static bool is_v6(const struct sockaddr_storage *ss)
{
	return ss && ss->ss_family == AF_INET6;
}

/* The family the options ask for: --family, else what the others imply;
 * IP addresses of either family are written as IPv6. */
static enum pp_fam hdr_family(const struct opts_hdr *o, int v, const struct sockaddr_storage *s,
			      const struct sockaddr_storage *d)
{
	if (o->family < 0) {
		if (o->have_unix_src || o->have_unix_dst)
			return PP_FAM_UNIX;
		if (v == 1 && o->unknown && !o->unknown_long)
			return PP_FAM_UNSPEC;
		if (o->local && !o->addr_touched)
			return PP_FAM_UNSPEC;
	}
	/* v1 UNKNOWN with addresses: addresses of any family. */
	if (o->family < 0 || (o->family == PP_FAM_UNSPEC && v == 1 && o->unknown_long))
		return is_v6(s) || is_v6(d) ? PP_FAM_INET6 : PP_FAM_INET;
	return (enum pp_fam)o->family;
}

/* The SSL TLV value the --ssl-* options describe, into out[TLV_VALUE_MAX]. */
static int ssl_value(const struct opts_hdr *o, uint8_t *out)
{
	struct pp_ssl x;
	bool cn = false;

	memset(&x, 0, sizeof(x));
	x.present = true;
	for (size_t i = 0; i < PP_SSL_NSUBS; i++) {
		if (!o->ssl_sub[i])
			continue;
		pp_ssl_field(&x, i)->ptr = (const uint8_t *)o->ssl_sub[i];
		pp_ssl_field(&x, i)->len = strlen(o->ssl_sub[i]);
		cn = cn || pp_ssl_subs[i].type == PP2_SUBTYPE_SSL_CN;
	}
	x.client = o->ssl_client >= 0 ? (uint8_t)o->ssl_client
		 : (uint8_t)(PP2_CLIENT_SSL | (cn ? PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS : 0));
	x.verify = o->ssl_verify;
	return pp_ssl_encode(&x, out, TLV_VALUE_MAX);
}

/* The TLVs in command-line order; the SSL one is encoded into ssl, so
 * that --ssl-* options may come in any order. */
static int hdr_tlvs(const struct opts_hdr *o, struct pp_desc *d, uint8_t *ssl, struct perr *e)
{
	for (size_t i = 0; i < o->ntlv; i++) {
		const void *val = o->tlv[i].val;
		size_t len = o->tlv[i].len;

		if ((int)i == o->ssl_slot) {
			int n = ssl_value(o, ssl);

			if (n < 0)
				return perr_set(e, "SSL TLV too long");
			val = ssl;
			len = (size_t)n;
		}
		if (pp_desc_add_tlv(d, o->tlv[i].type, val, len) < 0)
			return perr_set(e, "too many TLVs (max %d)", PP_MAX_TLVS);
	}
	return 0;
}

/* The description the options give, with src/dst from the caller (NULL:
 * --src/--dst, else the defaults); UNIX addresses are kept in un[2], the
 * SSL TLV in ssl[TLV_VALUE_MAX]. */
static int hdr_desc(const struct opts_hdr *o, const struct sockaddr_storage *src,
		    const struct sockaddr_storage *dst, struct pp_desc *d,
		    struct sockaddr_storage *un, uint8_t *ssl, struct perr *e)
{
	int v = opts_hdr_version(o);

	pp_desc_init(d, v);
	d->command = o->local ? PP_CMD_LOCAL : PP_CMD_PROXY;
	d->transport = o->transport;
	d->defaults = &defaults;
	d->unknown_long = o->unknown_long;
	d->crc32c = o->crc32c;
	d->src = src ? src : o->have_src ? &o->src : NULL;
	d->dst = dst ? dst : o->have_dst ? &o->dst : NULL;
	d->family = hdr_family(o, v, d->src, d->dst);
	if (d->family == PP_FAM_UNIX) {
		d->src = o->have_unix_src ? unix_addr(o->unix_src, &un[0]) : NULL;
		d->dst = o->have_unix_dst ? unix_addr(o->unix_dst, &un[1]) : NULL;
	} else if (d->family == PP_FAM_UNSPEC) {
		d->src = d->dst = NULL;
	}
	return hdr_tlvs(o, d, ssl, e);
}

/* The header the options describe, into h and bo; h may point into
 * ssl[TLV_VALUE_MAX]. */
static int hdr_header(const struct opts_hdr *o, const struct sockaddr_storage *src,
		      const struct sockaddr_storage *dst, struct pp_header *h,
		      struct pp_build_opts *bo, uint8_t *ssl, struct perr *e)
{
	struct sockaddr_storage un[2];
	struct pp_desc *d = malloc(sizeof(*d));
	struct pp_error pe;
	int rc = -1;

	if (!d)
		return perr_set(e, "out of memory");
	if (hdr_desc(o, src, dst, d, un, ssl, e) < 0)
		goto out;
	if (pp_desc_header(d, h, bo, &pe) < 0) {
		perr_set(e, "%s", pe.msg);
		goto out;
	}
	if (d->version == 1 && o->unknown) {
		/* --unknown writes UNKNOWN, whatever the addresses. */
		h->family = PP_FAM_UNSPEC;
		h->transport = o->transport >= 0 ? (enum pp_proto)o->transport : PP_PROTO_UNSPEC;
	}
	rc = 0;
out:
	free(d);
	return rc;
}

static int build(const struct opts_hdr *o, const struct sockaddr_storage *src,
		 const struct sockaddr_storage *dst, uint8_t *out, size_t cap, struct perr *e)
{
	struct pp_header *h;
	struct pp_build_opts bo;
	struct pp_error pe;
	uint8_t *ssl;
	int n = -1;

	if (opts_hdr_check(o, e) < 0)
		return -1;
	h = malloc(sizeof(*h));
	ssl = malloc(TLV_VALUE_MAX);
	if (!h || !ssl) {
		free(h);
		free(ssl);
		return perr_set(e, "out of memory");
	}
	memset(&pe, 0, sizeof(pe));
	if (hdr_header(o, src, dst, h, &bo, ssl, e) < 0)
		goto out;
	if (o->mutate[0]) {
		/* Without other header options, the catalog's own default base. */
		n = pp_mutate(o->mutate, (o->touched || src || dst) ? h : NULL, out, cap, &pe);
		if (n < 0)
			perr_set(e, "--mutate '%s': %s", o->mutate,
				 pe.msg[0] ? pe.msg : "cannot build this malformation");
	} else {
		n = pp_build(h, &bo, out, cap, &pe);
		if (n < 0)
			perr_set(e, "cannot build the header: %s",
				 pe.msg[0] ? pe.msg : "invalid options");
	}
out:
	free(h);
	free(ssl);
	return n;
}

int opts_hdr_build(const struct opts_hdr *h, uint8_t *out, size_t cap, struct perr *e)
{
	return build(h, NULL, NULL, out, cap, e);
}

int opts_hdr_build_addrs(const struct opts_hdr *h, const struct sockaddr_storage *src,
			 const struct sockaddr_storage *dst, uint8_t *out, size_t cap,
			 struct perr *e)
{
	struct sockaddr_storage s = *src, d = *dst;

	/* Mixed families (an IPv6 client of an IPv4 listener, a random IPv6
	 * source ...): both as IPv6, the IPv4 one IPv4-mapped. */
	if (s.ss_family != d.ss_family) {
		pp_addr_map_v6(&s);
		pp_addr_map_v6(&d);
	}
	return build(h, &s, &d, out, cap, e);
}

void opts_cidr_addr(const struct net_cidr *c, const uint8_t *rnd, uint16_t port,
		    struct sockaddr_storage *ss)
{
	uint8_t a[16];
	size_t n = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < n; i++) {
		unsigned bits = c->prefix > i * 8 ? c->prefix - (unsigned)(i * 8) : 0;
		uint8_t keep = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);

		a[i] = (uint8_t)((c->addr[i] & keep) | (rnd[i] & (uint8_t)~keep));
	}
	memset(ss, 0, sizeof(*ss));
	if (c->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		s6->sin6_port = htons(port);
	}
}

/* ---- command-line plumbing ---------------------------------------------- */

int opts_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "proxygen%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'proxygen%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	return PG_EXIT_USAGE;
}

int opts_uint_arg(const char *cmd, const char *opt, const char *arg, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	struct perr e;
	uint64_t v;

	if (opts_parse_uint(arg, max, &v, &e) < 0)
		return opts_usage_error(cmd, "--%s '%s': %s", opt, arg, e.msg);
	if (v < min)
		return opts_usage_error(cmd, "--%s '%s': must be at least %" PRIu64, opt, arg, min);
	*out = v;
	return 0;
}

int opts_int_arg(const char *cmd, const char *opt, const char *arg, uint64_t min,
		 uint64_t max, int *out)
{
	uint64_t v;
	int rc = opts_uint_arg(cmd, opt, arg, min, max, &v);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

/* The help lines of the SSL options, from pp_ssl_subs. */
static void ssl_help(FILE *f)
{
	const char *sep = "  ";
	size_t cn = 0;

	for (size_t i = 0; i < PP_SSL_NSUBS; i++)
		if (pp_ssl_subs[i].type == PP2_SUBTYPE_SSL_CN)
			cn = i;
	fprintf(f, "  --%s %-*s PP2_TYPE_SSL (0x%02X) with a CN sub-TLV; also\n",
		pp_ssl_subs[cn].option, 21 - (int)strlen(pp_ssl_subs[cn].option),
		pp_ssl_subs[cn].arg, PP2_TYPE_SSL);
	for (size_t i = 0; i < PP_SSL_NSUBS; i++) {
		if (i == cn)
			continue;
		fprintf(f, "%s--%s %s", sep, pp_ssl_subs[i].option, pp_ssl_subs[i].arg);
		sep = ", ";
	}
	fputs(",\n  --ssl-verify N (default 0), --ssl-client BITS (default 0x01, 0x07 with a CN)\n", f);
}

/* One line per option of pp_tlv_defs, in the table's order. */
static void tlv_help(FILE *f)
{
	size_t n;
	const struct pp_tlv_def *d = pp_tlv_defs(&n);
	char opt[64];

	for (size_t i = 0; i < n; i++) {
		if (d[i].val == PP_VAL_SSL) {
			ssl_help(f);
			continue;
		}
		if (!d[i].option)
			continue;
		snprintf(opt, sizeof(opt), "%s%s%s", d[i].option, d[i].arg ? " " : "",
			 d[i].arg ? d[i].arg : "");
		fprintf(f, "  --%-22s %s\n", opt, d[i].help);
	}
}

void opts_hdr_help(FILE *f)
{
	fputs(
"Header options:\n"
"  --v1 | --v2              protocol version (default v2)\n"
"  --src IP:PORT            source address (default " PP_DEF_SRC4 ")\n"
"  --dst IP:PORT            destination address (default " PP_DEF_DST4 ")\n"
"                           IPv6 in brackets: [2001:db8::1]:40000\n"
"  --local                  v2 LOCAL command (no addresses unless given)\n"
"  --unknown                v1 UNKNOWN; --unknown-long adds the addresses\n"
"  --family F               inet | inet6 | unix | unspec (default: from the addresses;\n"
"                           inet6 writes IPv4 addresses as ::ffff:a.b.c.d)\n"
"  --proto T                v2 transport: stream | dgram | unspec (default stream;\n"
"                           also --transport T, except in send)\n"
"  --unix-src PATH, --unix-dst PATH   UNIX addresses (family unix)\n"
"TLVs (v2), written in command-line order:\n"
"  --tlv TYPE=VALUE         any TLV; TYPE decimal, 0xNN or a name (alpn, ssl, aws ...),\n"
"                           VALUE text or hex:ABCD, written as it is\n", f);
	tlv_help(f);
	fputs(
"Malformations:\n"
"  --mutate NAME            damage the header as the named malformation does\n"
"                           (list: proxygen mutations)\n", f);
}
