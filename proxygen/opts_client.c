/* opts_client.c - see opts_client.h. */
#include "opts_client.h"

#include <stdio.h>
#include <string.h>

#include "net.h"

static const struct option client_longopts[] = {
	{ "target", required_argument, NULL, OPT_CL_TARGET },
	{ "transport", required_argument, NULL, OPT_CL_TRANSPORT },
	{ "ca", required_argument, NULL, OPT_CL_CA },
	{ "insecure", no_argument, NULL, OPT_CL_INSECURE },
	{ "sni", required_argument, NULL, OPT_CL_SNI },
	{ "cert", required_argument, NULL, OPT_CL_CERT },
	{ "key", required_argument, NULL, OPT_CL_KEY },
	{ "path", required_argument, NULL, OPT_CL_PATH },
	{ "subprotocol", required_argument, NULL, OPT_CL_SUBPROTOCOL },
	{ "bind", required_argument, NULL, OPT_CL_BIND },
	{ "timeout", required_argument, NULL, OPT_CL_TIMEOUT },
	{ "no-header", no_argument, NULL, OPT_CL_NO_HEADER },
	{ "mqtt", required_argument, NULL, OPT_CL_MQTT },
	{ "client-id", required_argument, NULL, OPT_CL_CLIENT_ID },
	{ "username", required_argument, NULL, OPT_CL_USERNAME },
	{ "password", required_argument, NULL, OPT_CL_PASSWORD },
	{ "keepalive", required_argument, NULL, OPT_CL_KEEPALIVE },
	{ NULL, 0, NULL, 0 }
};

/* Options that need a TLS transport, and a WebSocket one. */
#define TLS_OPTS (OPTS_CL(OPT_CL_CA) | OPTS_CL(OPT_CL_INSECURE) | OPTS_CL(OPT_CL_SNI) | \
		  OPTS_CL(OPT_CL_CERT) | OPTS_CL(OPT_CL_KEY))
#define WS_OPTS  (OPTS_CL(OPT_CL_PATH) | OPTS_CL(OPT_CL_SUBPROTOCOL))

void opts_client_init(struct opts_client *c)
{
	memset(c, 0, sizeof(*c));
	client_opts_init(&c->o);
	opts_hdr_init(&c->hdr);
}

void opts_client_free(struct opts_client *c)
{
	opts_hdr_free(&c->hdr);
}

int opts_client_longopts(struct option *out, size_t cap, const struct option *own,
			 const struct opts_cl_spec *s)
{
	struct option mine[OPT_CL_END - OPTS_CL_BASE + 1];
	size_t n = 0, k = 0;

	if (cap == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	for (const struct option *o = client_longopts; o->name; o++)
		if (s->opts & OPTS_CL(o->val))
			mine[k++] = *o;
	memset(&mine[k], 0, sizeof(mine[k]));
	if (opts_append(out, cap, &n, own) < 0 || opts_append(out, cap, &n, mine) < 0)
		return -1;
	return opts_hdr_append(out, cap, &n);
}

static int apply_target(struct opts_client *c, const struct opts_cl_spec *s, const char *arg)
{
	struct perr e;

	if (opts_parse_hostport(arg, c->host, sizeof(c->host), &c->o.port, &e) < 0)
		return opts_usage_error(s->cmd, "--target '%s': %s", arg, e.msg);
	if (s->port_nonzero && c->o.port == 0)
		return opts_usage_error(s->cmd, "--target '%s': port 0", arg);
	c->o.host = c->host;
	c->have_target = true;
	return 0;
}

/* The options whose value is kept as it is: where it goes in struct client_opts. */
static const char **text_field(struct opts_client *c, int code)
{
	switch (code) {
	case OPT_CL_CA: return &c->o.ca_file;
	case OPT_CL_SNI: return &c->o.sni;
	case OPT_CL_CERT: return &c->o.cert_file;
	case OPT_CL_KEY: return &c->o.key_file;
	case OPT_CL_SUBPROTOCOL: return &c->o.ws_subprotocol;
	case OPT_CL_CLIENT_ID: return &c->o.client_id;
	case OPT_CL_USERNAME: return &c->o.username;
	case OPT_CL_PASSWORD: return &c->o.password;
	default: return NULL;
	}
}

static int apply_one(struct opts_client *c, const struct opts_cl_spec *s, int code,
		     const char *arg)
{
	const char **field = text_field(c, code);
	struct sockaddr_storage ss;
	struct perr e;

	if (field) {
		*field = arg;
		return 0;
	}
	switch (code) {
	case OPT_CL_TARGET:
		return apply_target(c, s, arg);
	case OPT_CL_TRANSPORT:
		if (client_transport_parse(arg, &c->o.transport) < 0)
			return opts_usage_error(s->cmd, "--transport '%s': expected tcp, tls, ws or "
						"wss (the header's transport field is --proto)", arg);
		return 0;
	case OPT_CL_INSECURE:
		c->o.insecure = true;
		return 0;
	case OPT_CL_PATH:
		if (arg[0] != '/')
			return opts_usage_error(s->cmd, "--path '%s': must start with '/'", arg);
		c->o.ws_path = arg;
		return 0;
	case OPT_CL_BIND:
		if (s->bind_cidr && strchr(arg, '/')) {
			struct net_cidr net;

			if (net_cidr_parse(arg, &net, &e) < 0)
				return opts_usage_error(s->cmd, "--bind: %s", e.msg);
		} else if (net_addr_parse(arg, 0, &ss, &e) < 0) {
			return opts_usage_error(s->cmd, "--bind '%s': not an IPv4 or IPv6 address%s",
						arg, s->bind_cidr ? " or CIDR" : "");
		}
		c->o.bind_addr = arg;
		return 0;
	case OPT_CL_TIMEOUT:
		return opts_int_arg(s->cmd, "timeout", arg, 1, s->timeout_max, &c->o.timeout_ms);
	case OPT_CL_NO_HEADER:
		c->no_header = true;
		return 0;
	case OPT_CL_MQTT:
		if (opts_parse_mqtt(arg, &c->o.mqtt_version, &e) < 0)
			return opts_usage_error(s->cmd, "--mqtt '%s': %s", arg, e.msg);
		return 0;
	case OPT_CL_KEEPALIVE:
		return opts_int_arg(s->cmd, "keepalive", arg, 0, 65535, &c->o.keepalive);
	}
	if (opts_hdr_apply(&c->hdr, code, arg, &e) <= 0)
		return opts_usage_error(s->cmd, "%s", e.msg);
	return 0;
}

int opts_client_apply(struct opts_client *c, const struct opts_cl_spec *s, int code,
		      const char *arg)
{
	if (code >= OPTS_CL_BASE && code < OPT_CL_END) {
		if (!(s->opts & OPTS_CL(code)))
			return opts_usage_error(s->cmd, "option '--%s' is not one of %s's",
						opts_opt_name(client_longopts, code), s->cmd);
		c->given |= OPTS_CL(code);
	} else if (code < OPTS_HDR_BASE || code >= OPT_HDR_END) {
		return opts_usage_error(s->cmd, "unknown option code %d", code);
	}
	return apply_one(c, s, code, arg);
}

struct parse_ctx {
	const struct opts_cl_spec *s;
	struct opts_client *c;
	void *args;
};

static int parse_one(void *ctx, int code, const char *arg)
{
	struct parse_ctx *p = ctx;

	if (code >= OPTS_CL_BASE)
		return opts_client_apply(p->c, p->s, code, arg);
	return p->s->apply(p->args, code, arg);
}

int opts_client_parse(int argc, char **argv, const struct opts_cl_spec *s,
		      struct opts_client *c, void *args)
{
	struct option longopts[96];
	struct parse_ctx p = { s, c, args };
	int rc;

	if (opts_client_longopts(longopts, 96, s->own, s) < 0)
		return opts_usage_error(s->cmd, "internal error: option table too small");
	rc = opts_parse(argc, argv, s->shortopts, longopts, s->cmd, s->usage, parse_one, &p);
	c->help = rc == OPTS_DONE;
	return c->help ? PG_EXIT_OK : rc;
}

/* "--ca, --insecure and --sni": the options of set, in table order. */
static size_t opt_list(unsigned set, char *buf, size_t cap)
{
	size_t n = 0, total = 0;

	for (const struct option *o = client_longopts; o->name; o++)
		total += (set & OPTS_CL(o->val)) != 0;
	buf[0] = '\0';
	for (const struct option *o = client_longopts; o->name; o++) {
		size_t len = strlen(buf);

		if (!(set & OPTS_CL(o->val)))
			continue;
		n++;
		snprintf(buf + len, cap - len, "%s--%s", n == 1 ? "" : n == total ? " and " : ", ",
			 o->name);
	}
	return total;
}

/* "--X needs --transport T" when an option of set is given without it. */
static int need_transport(const struct opts_client *c, const struct opts_cl_spec *s,
			  unsigned set, const char *transports)
{
	char names[128];
	size_t n = opt_list(set & s->opts, names, sizeof(names));

	if (!(c->given & set))
		return 0;
	return opts_usage_error(s->cmd, "%s need%s --transport %s", names, n == 1 ? "s" : "",
				transports);
}

int opts_client_check(const struct opts_client *c, const struct opts_cl_spec *s)
{
	const struct client_opts *o = &c->o;
	bool tls = o->transport == CLIENT_TLS || o->transport == CLIENT_WSS;
	bool ws = o->transport == CLIENT_WS || o->transport == CLIENT_WSS;
	struct perr e;

	if (!c->no_header && opts_hdr_check(&c->hdr, &e) < 0)
		return opts_usage_error(s->cmd, "%s", e.msg);
	if (o->ca_file && o->insecure)
		return opts_usage_error(s->cmd, "--ca and --insecure exclude each other");
	if (!tls && need_transport(c, s, TLS_OPTS, "tls or wss"))
		return PG_EXIT_USAGE;
	if (!o->cert_file != !o->key_file)
		return opts_usage_error(s->cmd, "--cert and --key go together");
	if (!ws && need_transport(c, s, WS_OPTS, "ws or wss"))
		return PG_EXIT_USAGE;
	return 0;
}
