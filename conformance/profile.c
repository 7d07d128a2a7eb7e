/* profile.c - see profile.h; format in conformance/targets/README.md. */
#include "profile.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

struct pl {
	struct profile *p;
	struct yx_doc *d;
	struct perr *e;
	yaml_node_t *login_nodes[PROFILE_MAX_LOGINS]; /* where p->logins[i] was read */
};

static int pstr(struct pl *l, yaml_node_t *n, const char *what, char **out)
{
	return yx_str(l->d, n, &l->p->arena, what, out, NULL, l->e);
}

static int pint(struct pl *l, yaml_node_t *n, const char *what, long min, long max, long *out)
{
	return yx_long(l->d, n, &l->p->arena, min, max, what, out, l->e);
}

static int pbool(struct pl *l, yaml_node_t *n, const char *what, bool *out)
{
	return yx_bool(l->d, n, &l->p->arena, what, out, l->e);
}

/* A string member that must not be empty ("host: ${HOST}" with HOST
 * unset says so, naming the variable). */
static int req_str(struct pl *l, yaml_node_t *map, const char *key, char **out)
{
	yaml_node_t *v = yx_get(l->d, map, key);
	struct yx_env_use use;
	char note[96];

	if (!v)
		return yx_err(l->d, map, l->e, "profile: missing '%s'", key);
	if (yx_scalar(l->d, v, &l->p->arena, key, out, NULL, &use, l->e) < 0)
		return -1;
	if (!**out)
		return yx_err(l->d, v, l->e, "%s: empty%s", key, yx_env_note(&use, note, sizeof(note)));
	return 0;
}

/* Optional string member. */
static int opt_str(struct pl *l, yaml_node_t *map, const char *key, const char *what, char **out)
{
	yaml_node_t *v = yx_get(l->d, map, key);

	if (!v || yx_is_null(v))
		return 0;
	return pstr(l, v, what, out);
}

uint16_t profile_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* launch.free_ports, read before anything else is expanded. */
static int free_ports(struct pl *l, yaml_node_t *root)
{
	yaml_node_t *launch = yx_get(l->d, root, "launch"), *v;
	char **names;
	size_t n, i, j;
	uint16_t got[32];

	if (!yx_is_map(launch) || !(v = yx_get(l->d, launch, "free_ports")))
		return 0;
	if (yx_strlist(l->d, v, &l->p->arena, "launch.free_ports", &names, &n, l->e) < 0)
		return -1;
	if (n > 32)
		return yx_err(l->d, v, l->e, "launch.free_ports: at most 32 names");
	for (i = 0; i < n; i++) {
		const char *cur = getenv(names[i]);
		char buf[16];
		uint16_t port;
		int tries = 0;

		got[i] = 0;
		if (cur && *cur)
			continue;
		/* The kernel may hand the same port out twice once it is
		 * closed again: make sure this run's ports differ. */
		do {
			port = profile_free_port();
			for (j = 0; j < i; j++)
				if (got[j] == port)
					port = 0;
		} while (!port && ++tries < 20);
		if (!port)
			return yx_err(l->d, v, l->e, "launch.free_ports: no free port for %s", names[i]);
		got[i] = port;
		snprintf(buf, sizeof(buf), "%u", port);
		if (setenv(names[i], buf, 1) < 0)
			return perr_errno(l->e, "setenv %s", names[i]);
	}
	return 0;
}

static int parse_tls(struct pl *l, yaml_node_t *n, const char *ln, struct profile_tls *t)
{
	static const char *const keys[] = { "ca", "insecure", "sni", "cert", "key", NULL };
	yaml_node_t *v;
	char what[64];

	snprintf(what, sizeof(what), "listeners.%s.tls", ln);
	if (yx_check_keys(l->d, n, keys, what, l->e) < 0)
		return -1;
	if (opt_str(l, n, "ca", what, &t->ca) < 0 || opt_str(l, n, "sni", what, &t->sni) < 0 ||
	    opt_str(l, n, "cert", what, &t->cert) < 0 || opt_str(l, n, "key", what, &t->key) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "insecure")) && pbool(l, v, what, &t->insecure) < 0)
		return -1;
	if (t->ca && !*t->ca)
		t->ca = NULL;
	if (!t->ca && !t->insecure)
		return yx_err(l->d, n, l->e, "%s: give 'ca' or 'insecure: true'", what);
	if ((t->cert && *t->cert) != (t->key && *t->key))
		return yx_err(l->d, n, l->e, "%s: 'cert' and 'key' go together", what);
	return 0;
}

/* versions: [1, 2], [1] or [2]. */
static int parse_versions(struct pl *l, yaml_node_t *v, const char *what, unsigned *out)
{
	char **list;
	size_t cnt, i;

	if (yx_strlist(l->d, v, &l->p->arena, what, &list, &cnt, l->e) < 0)
		return -1;
	*out = 0;
	for (i = 0; i < cnt; i++) {
		if (!strcmp(list[i], "1") || !strcmp(list[i], "v1"))
			*out |= PROFILE_V1;
		else if (!strcmp(list[i], "2") || !strcmp(list[i], "v2"))
			*out |= PROFILE_V2;
		else
			return yx_err(l->d, v, l->e, "%s.versions: '%s' is not 1 or 2", what, list[i]);
	}
	if (!*out)
		return yx_err(l->d, v, l->e, "%s.versions: empty", what);
	return 0;
}

/* header_timeout_ms: milliseconds, or "none" (0): the broker has no
 * header timeout (a MAY of the spec). */
static int parse_header_timeout(struct pl *l, yaml_node_t *v, const char *what, int *out)
{
	char ctx[80];
	long num;

	if (yx_is_scalar(v) && !strcmp((const char *)v->data.scalar.value, "none")) {
		*out = 0;
		return 0;
	}
	snprintf(ctx, sizeof(ctx), "%s%sheader_timeout_ms", what, *what ? "." : "");
	if (pint(l, v, ctx, 50, 600000, &num) < 0)
		return -1;
	*out = (int)num;
	return 0;
}

static int parse_listener(struct pl *l, yaml_node_t *n, enum sc_listener k)
{
	static const char *const keys[] = { "port", "host", "proxy", "tls", "path", "subprotocol",
					    "versions", "header_timeout_ms", NULL };
	struct profile_listener *li = &l->p->l[k];
	const char *ln = sc_listener_name(k);
	char what[64];
	yaml_node_t *v;
	char *s;
	long port;

	snprintf(what, sizeof(what), "listeners.%s", ln);
	if (yx_check_keys(l->d, n, keys, what, l->e) < 0)
		return -1;
	li->mode = l->p->no_proxy_support ? SC_MODE_DISABLED : SC_MODE_ENABLED;
	if ((v = yx_get(l->d, n, "proxy"))) {
		if (pstr(l, v, what, &s) < 0)
			return -1;
		if (sc_mode_parse(s, &li->mode) < 0)
			return yx_err(l->d, v, l->e, "%s.proxy: '%s' is not enabled, disabled, optional or absent",
				      what, s);
		if (l->p->no_proxy_support && (li->mode == SC_MODE_ENABLED || li->mode == SC_MODE_OPTIONAL))
			return yx_err(l->d, v, l->e, "%s.proxy: '%s', but no_proxy_support says the broker reads "
				      "no PROXY header: its listeners are disabled (or absent)", what, s);
	}
	if (li->mode == SC_MODE_ABSENT)
		return 0;
	li->present = true;
	if (!(v = yx_get(l->d, n, "port")))
		return yx_err(l->d, n, l->e, "%s: missing 'port'", what);
	if (pint(l, v, what, 1, 65535, &port) < 0)
		return -1;
	li->port = (uint16_t)port;
	li->host = l->p->host;
	if (opt_str(l, n, "host", what, &li->host) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "tls"))) {
		if (k != SC_SSL && k != SC_WSS)
			return yx_err(l->d, v, l->e, "%s: tls is for ssl and wss listeners", what);
		if (parse_tls(l, v, ln, &li->tls) < 0)
			return -1;
	} else if (k == SC_SSL || k == SC_WSS) {
		return yx_err(l->d, n, l->e, "%s: missing 'tls' (give at least 'ca' or 'insecure: true')", what);
	}
	if ((yx_get(l->d, n, "path") || yx_get(l->d, n, "subprotocol")) && k != SC_WS && k != SC_WSS)
		return yx_err(l->d, n, l->e, "%s: path and subprotocol are for ws and wss listeners", what);
	if (opt_str(l, n, "path", what, &li->path) < 0 ||
	    opt_str(l, n, "subprotocol", what, &li->subprotocol) < 0)
		return -1;
	li->versions = PROFILE_V1 | PROFILE_V2;
	if ((v = yx_get(l->d, n, "versions")) && parse_versions(l, v, what, &li->versions) < 0)
		return -1;
	li->header_timeout_ms = -1;
	if ((v = yx_get(l->d, n, "header_timeout_ms")) &&
	    parse_header_timeout(l, v, what, &li->header_timeout_ms) < 0)
		return -1;
	if (!li->path)
		li->path = "/mqtt";
	if (!li->subprotocol)
		li->subprotocol = "mqtt";
	return 0;
}

static int parse_cred(struct pl *l, yaml_node_t *n, const char *what, struct profile_cred *c)
{
	static const char *const keys[] = { "username", "password", NULL };

	if (yx_check_keys(l->d, n, keys, what, l->e) < 0)
		return -1;
	c->given = true;
	if (opt_str(l, n, "username", what, &c->username) < 0 ||
	    opt_str(l, n, "password", what, &c->password) < 0)
		return -1;
	return 0;
}

static int parse_kv_map(struct pl *l, yaml_node_t *n, const char *what, struct profile_kv **out, size_t *count)
{
	size_t i, cnt;
	struct profile_kv *kv;

	if (yx_want_map(l->d, n, what, l->e) < 0)
		return -1;
	cnt = yx_count(n);
	kv = yx_alloc(&l->p->arena, (cnt + 1) * sizeof(*kv));
	if (!kv)
		return perr_set(l->e, "out of memory");
	for (i = 0; i < cnt; i++) {
		yaml_node_t *v;
		const char *k = yx_pair(l->d, n, i, &v);

		kv[i].key = yx_strdup(&l->p->arena, k);
		if (yx_is_null(v))
			kv[i].value = yx_strdup(&l->p->arena, "");
		else if (pstr(l, v, what, &kv[i].value) < 0)
			return -1;
	}
	*out = kv;
	*count = cnt;
	return 0;
}

/* What a login sends: json or form fields, or nothing. */
static int parse_login_body(struct pl *l, yaml_node_t *n, const char *ctx, struct profile_login *g)
{
	yaml_node_t *json = yx_get(l->d, n, "json"), *form = yx_get(l->d, n, "form");

	if (json && form)
		return yx_err(l->d, form, l->e, "%s: give 'json' or 'form', not both", ctx);
	if (!json && !form)
		return 0;
	g->body = json ? PROFILE_BODY_JSON : PROFILE_BODY_FORM;
	return parse_kv_map(l, json ? json : form, ctx, &g->fields, &g->nfields);
}

/* Where the token is and how it is sent. */
static int parse_login_token(struct pl *l, yaml_node_t *n, const char *ctx, struct profile_login *g)
{
	yaml_node_t *v;

	if (opt_str(l, n, "token_field", ctx, &g->token_field) < 0 ||
	    opt_str(l, n, "token_header", ctx, &g->token_header) < 0 ||
	    opt_str(l, n, "header", ctx, &g->header) < 0 || opt_str(l, n, "scheme", ctx, &g->scheme) < 0)
		return -1;
	if (!g->token_field == !g->token_header)
		return yx_err(l->d, n, l->e, "%s: give 'token_field' (the token's path in the JSON answer) "
			      "or 'token_header' (the answer header that holds it)", ctx);
	if (!g->header)
		g->header = "Authorization";
	v = yx_get(l->d, n, "header");
	if (!*g->header || strpbrk(g->header, ": \t\r\n"))
		return yx_err(l->d, v, l->e, "%s.header: '%s' is not a header name", ctx, g->header);
	if (!g->scheme)
		g->scheme = "Bearer";
	return 0;
}

/* auth.login, read once per YAML node (observers that alias it share it). */
static int parse_login(struct pl *l, yaml_node_t *n, const char *what, struct profile_observer *o)
{
	static const char *const keys[] = { "method", "url", "json", "form", "token_field",
					    "token_header", "header", "scheme", NULL };
	struct profile *p = l->p;
	struct profile_login *g;
	char ctx[96];
	size_t i;

	for (i = 0; i < p->nlogins; i++)
		if (l->login_nodes[i] == n) {
			o->login = p->logins[i];
			return 0;
		}
	snprintf(ctx, sizeof(ctx), "%s.auth.login", what);
	if (yx_check_keys(l->d, n, keys, ctx, l->e) < 0)
		return -1;
	if (p->nlogins == PROFILE_MAX_LOGINS)
		return yx_err(l->d, n, l->e, "%s: at most %d logins", ctx, PROFILE_MAX_LOGINS);
	if (!yx_get(l->d, n, "url"))
		return yx_err(l->d, n, l->e, "%s: missing 'url'", ctx);
	if (!(g = yx_alloc(&p->arena, sizeof(*g))))
		return perr_set(l->e, "out of memory");
	if (opt_str(l, n, "url", ctx, &g->url) < 0 || opt_str(l, n, "method", ctx, &g->method) < 0)
		return -1;
	if (!g->method)
		g->method = "POST";
	if (strcmp(g->method, "POST") && strcmp(g->method, "PUT") && strcmp(g->method, "GET"))
		return yx_err(l->d, yx_get(l->d, n, "method"), l->e, "%s.method: '%s' is not POST, PUT or GET",
			      ctx, g->method);
	if (parse_login_body(l, n, ctx, g) < 0 || parse_login_token(l, n, ctx, g) < 0)
		return -1;
	g->insecure = o->insecure;
	pthread_mutex_init(&g->mu, NULL);
	l->login_nodes[p->nlogins] = n;
	p->logins[p->nlogins++] = g;
	o->login = g;
	return 0;
}

static int parse_auth(struct pl *l, yaml_node_t *v, const char *what, struct profile_observer *o)
{
	static const char *const akeys[] = { "bearer", "basic", "login", NULL };
	yaml_node_t *b;

	if (yx_check_keys(l->d, v, akeys, "auth", l->e) < 0)
		return -1;
	if ((b = yx_get(l->d, v, "login"))) {
		if (yx_get(l->d, v, "bearer") || yx_get(l->d, v, "basic"))
			return yx_err(l->d, v, l->e, "%s.auth: give one of bearer, basic and login", what);
		return parse_login(l, b, what, o);
	}
	if (opt_str(l, v, "bearer", what, &o->bearer) < 0)
		return -1;
	if ((b = yx_get(l->d, v, "basic"))) {
		struct profile_cred c = { 0 };

		if (parse_cred(l, b, "auth.basic", &c) < 0)
			return -1;
		o->basic_user = c.username ? c.username : "";
		o->basic_pass = c.password ? c.password : "";
	}
	if (o->bearer && !*o->bearer)
		o->bearer = NULL;
	return 0;
}

/* The dotted paths of an http observer's record. */
static int parse_fields(struct pl *l, yaml_node_t *n, const char *what, struct profile_observer *o)
{
	yaml_node_t *v;

	if (!yx_get(l->d, n, "ip_field"))
		return yx_err(l->d, n, l->e, "%s: missing 'ip_field'", what);
	if (opt_str(l, n, "ip_field", what, &o->ip_field) < 0 ||
	    opt_str(l, n, "port_field", what, &o->port_field) < 0 ||
	    opt_str(l, n, "peer_ip_field", what, &o->peer_ip_field) < 0 ||
	    opt_str(l, n, "peer_port_field", what, &o->peer_port_field) < 0 ||
	    opt_str(l, n, "connected_field", what, &o->connected_field) < 0 ||
	    opt_str(l, n, "connected_value", what, &o->connected_value) < 0 ||
	    opt_str(l, n, "username_field", what, &o->username_field) < 0)
		return -1;
	if (o->connected_value && !o->connected_field)
		return yx_err(l->d, yx_get(l->d, n, "connected_value"), l->e,
			      "%s.connected_value: needs 'connected_field' (the field to compare with it)", what);
	if ((v = yx_get(l->d, n, "select"))) {
		static const char *const skeys[] = { "array_field", "match_field", NULL };

		if (yx_check_keys(l->d, v, skeys, "select", l->e) < 0)
			return -1;
		if (opt_str(l, v, "array_field", what, &o->array_field) < 0 ||
		    opt_str(l, v, "match_field", what, &o->match_field) < 0)
			return -1;
		if (!o->match_field)
			return yx_err(l->d, v, l->e, "%s.select: missing 'match_field'", what);
	}
	return 0;
}

static int parse_http_observer(struct pl *l, yaml_node_t *n, const char *what, struct profile_observer *o)
{
	static const char *const http_keys[] = {
		"type", "url", "auth", "headers", "select", "ip_field", "port_field", "peer_ip_field",
		"peer_port_field", "connected_field", "connected_value", "username_field", "retry_ms",
		"insecure", NULL };
	yaml_node_t *v;

	o->type = PROFILE_OBS_HTTP;
	if (yx_check_keys(l->d, n, http_keys, what, l->e) < 0)
		return -1;
	if (!yx_get(l->d, n, "url"))
		return yx_err(l->d, n, l->e, "%s: missing 'url'", what);
	if (opt_str(l, n, "url", what, &o->url) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "insecure")) && pbool(l, v, what, &o->insecure) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "auth")) && parse_auth(l, v, what, o) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "headers")) &&
	    parse_kv_map(l, v, "headers", &o->headers, &o->nheaders) < 0)
		return -1;
	return parse_fields(l, n, what, o);
}

static int parse_log_observer(struct pl *l, yaml_node_t *n, const char *what, const char *role,
			      struct profile_observer *o)
{
	static const char *const log_keys[] = { "type", "file", "regex", "ip_group", "port_group",
						"retry_ms", NULL };
	bool rejections = !strcmp(role, "rejections");

	o->type = PROFILE_OBS_LOG;
	if (yx_check_keys(l->d, n, log_keys, what, l->e) < 0)
		return -1;
	if (!yx_get(l->d, n, "file") || !yx_get(l->d, n, "regex"))
		return yx_err(l->d, n, l->e, "%s: a log observer needs 'file' and 'regex'", what);
	if (opt_str(l, n, "file", what, &o->file) < 0 || opt_str(l, n, "regex", what, &o->regex) < 0 ||
	    opt_str(l, n, "ip_group", what, &o->ip_group) < 0 ||
	    opt_str(l, n, "port_group", what, &o->port_group) < 0)
		return -1;
	if (!strstr(o->regex, rejections ? "{peer_port}" : "{client_id}"))
		return yx_err(l->d, yx_get(l->d, n, "regex"), l->e, "%s.regex: must contain %s", what,
			      rejections ? "{peer_port}" : "{client_id}");
	return 0;
}

static int parse_observer(struct pl *l, yaml_node_t *n, const char *role, struct profile_observer *o)
{
	char what[64];
	yaml_node_t *v;
	char *type = NULL;
	long num;

	snprintf(what, sizeof(what), "observers.%s", role);
	if (yx_want_map(l->d, n, what, l->e) < 0)
		return -1;
	o->role = role;
	o->retry_ms = 1000;
	if (!(v = yx_get(l->d, n, "type")))
		return yx_err(l->d, n, l->e, "%s: missing 'type' (http or log)", what);
	if (pstr(l, v, what, &type) < 0)
		return -1;
	if (!strcmp(type, "http")) {
		if (parse_http_observer(l, n, what, o) < 0)
			return -1;
	} else if (!strcmp(type, "log")) {
		if (parse_log_observer(l, n, what, role, o) < 0)
			return -1;
	} else {
		return yx_err(l->d, v, l->e, "%s.type: '%s' is not http or log", what, type);
	}
	if ((v = yx_get(l->d, n, "retry_ms"))) {
		if (pint(l, v, what, 0, 30000, &num) < 0)
			return -1;
		o->retry_ms = (int)num;
	}
	return 0;
}

static int parse_launch(struct pl *l, yaml_node_t *n)
{
	static const char *const keys[] = { "free_ports", "prepare", "start", "stop", "env",
					    "ready", "timeout_ms", "output", "workdir", NULL };
	struct profile_launch *la = &l->p->launch;
	yaml_node_t *v;
	long num;

	if (yx_check_keys(l->d, n, keys, "launch", l->e) < 0)
		return -1;
	la->present = true;
	la->timeout_ms = 10000;
	if (!yx_get(l->d, n, "start"))
		return yx_err(l->d, n, l->e, "launch: missing 'start'");
	if (opt_str(l, n, "prepare", "launch.prepare", &la->prepare) < 0 ||
	    opt_str(l, n, "start", "launch.start", &la->start) < 0 ||
	    opt_str(l, n, "stop", "launch.stop", &la->stop) < 0 ||
	    opt_str(l, n, "output", "launch.output", &la->output) < 0 ||
	    opt_str(l, n, "workdir", "launch.workdir", &la->workdir) < 0)
		return -1;
	if (la->stop && !*la->stop)
		la->stop = NULL;
	if (la->prepare && !*la->prepare)
		la->prepare = NULL;
	if ((v = yx_get(l->d, n, "env")) && parse_kv_map(l, v, "launch.env", &la->env, &la->nenv) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "timeout_ms"))) {
		if (pint(l, v, "launch.timeout_ms", 100, 600000, &num) < 0)
			return -1;
		la->timeout_ms = (int)num;
	}
	if ((v = yx_get(l->d, n, "ready"))) {
		static const char *const rkeys[] = { "listeners", "port", "url", "log", NULL };
		yaml_node_t *r;

		if (yx_check_keys(l->d, v, rkeys, "launch.ready", l->e) < 0)
			return -1;
		if ((r = yx_get(l->d, v, "listeners")) && pbool(l, r, "launch.ready.listeners", &la->ready_listeners) < 0)
			return -1;
		if ((r = yx_get(l->d, v, "port"))) {
			char **list;
			size_t cnt, i;

			if (yx_strlist(l->d, r, &l->p->arena, "launch.ready.port", &list, &cnt, l->e) < 0)
				return -1;
			la->ready_ports = yx_alloc(&l->p->arena, (cnt + 1) * sizeof(*la->ready_ports));
			if (!la->ready_ports)
				return perr_set(l->e, "out of memory");
			for (i = 0; i < cnt; i++) {
				char *end;
				long pv = strtol(list[i], &end, 10);

				if (!*list[i] || *end || pv < 1 || pv > 65535)
					return yx_err(l->d, r, l->e, "launch.ready.port: '%s' is not a port", list[i]);
				la->ready_ports[i] = (uint16_t)pv;
			}
			la->nready_ports = cnt;
		}
		if (opt_str(l, v, "url", "launch.ready.url", &la->ready_url) < 0 ||
		    opt_str(l, v, "log", "launch.ready.log", &la->ready_log) < 0)
			return -1;
	} else {
		la->ready_listeners = true;
	}
	return 0;
}

static int parse_configs(struct pl *l, yaml_node_t *n)
{
	static const char *const keys[] = { "settings", "values", "default", "modes", NULL };
	struct profile_configs *c = &l->p->conf;
	yaml_node_t *v;
	struct profile_kv *kv;
	size_t cnt, i;
	char *s;

	if (yx_check_keys(l->d, n, keys, "configurations", l->e) < 0)
		return -1;
	c->present = true;
	c->default_mode = SC_MODE_DISABLED;
	if (!(v = yx_get(l->d, n, "settings")))
		return yx_err(l->d, n, l->e, "configurations: missing 'settings'");
	if (parse_kv_map(l, v, "configurations.settings", &kv, &cnt) < 0)
		return -1;
	if (cnt > PROFILE_MAX_SETTINGS)
		return yx_err(l->d, v, l->e, "configurations.settings: at most %d", PROFILE_MAX_SETTINGS);
	for (i = 0; i < cnt; i++)
		c->settings[i] = kv[i];
	c->nsettings = cnt;
	if ((v = yx_get(l->d, n, "values"))) {
		if (parse_kv_map(l, v, "configurations.values", &kv, &cnt) < 0)
			return -1;
		if (cnt > PROFILE_MAX_SETTINGS)
			return yx_err(l->d, v, l->e, "configurations.values: at most %d", PROFILE_MAX_SETTINGS);
		for (i = 0; i < cnt; i++)
			c->values[i] = kv[i];
		c->nvalues = cnt;
	}
	if ((v = yx_get(l->d, n, "default"))) {
		if (pstr(l, v, "configurations.default", &s) < 0)
			return -1;
		if (sc_mode_parse(s, &c->default_mode) < 0 ||
		    (c->default_mode != SC_MODE_ENABLED && c->default_mode != SC_MODE_DISABLED))
			return yx_err(l->d, v, l->e, "configurations.default: '%s' is not enabled or disabled", s);
	}
	if ((v = yx_get(l->d, n, "modes"))) {
		if (yx_want_map(l->d, v, "configurations.modes", l->e) < 0)
			return -1;
		for (i = 0; i < yx_count(v); i++) {
			yaml_node_t *val;
			const char *k = yx_pair(l->d, v, i, &val);
			enum sc_mode m;

			if (sc_mode_parse(k, &m) < 0 || m == SC_MODE_ABSENT)
				return yx_err(l->d, val, l->e, "configurations.modes: '%s' is not enabled, disabled or optional", k);
			if (pstr(l, val, "configurations.modes", &c->modes[m]) < 0)
				return -1;
		}
	}
	return 0;
}

/* name, description, host, the binds, timeouts, what the broker declares. */
static int load_scalars(struct pl *l, yaml_node_t *root)
{
	struct profile *p = l->p;
	yaml_node_t *v;
	long num;

	if (req_str(l, root, "name", &p->name) < 0 || req_str(l, root, "host", &p->host) < 0 ||
	    opt_str(l, root, "description", "description", &p->description) < 0 ||
	    opt_str(l, root, "client_bind", "client_bind", &p->client_bind) < 0 ||
	    opt_str(l, root, "untrusted_bind", "untrusted_bind", &p->untrusted_bind) < 0)
		return -1;
	if (p->client_bind && !*p->client_bind)
		p->client_bind = NULL;
	if (p->untrusted_bind && !*p->untrusted_bind)
		p->untrusted_bind = NULL;
	if (opt_str(l, root, "no_proxy_support", "no_proxy_support", &p->no_proxy_support) < 0)
		return -1;
	if (p->no_proxy_support && !*p->no_proxy_support)
		p->no_proxy_support = NULL;
	p->timeout_ms = 3000;
	p->header_timeout_ms = 3000;
	p->mqtt = 4;
	if ((v = yx_get(l->d, root, "timeout_ms"))) {
		if (pint(l, v, "timeout_ms", 50, 60000, &num) < 0)
			return -1;
		p->timeout_ms = (int)num;
	}
	if ((v = yx_get(l->d, root, "header_timeout_ms")) &&
	    parse_header_timeout(l, v, "", &p->header_timeout_ms) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "crc32c")) && pbool(l, v, "crc32c", &p->crc32c) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "mqtt"))) {
		if (pint(l, v, "mqtt", 4, 5, &num) < 0)
			return -1;
		p->mqtt = (int)num;
	}
	p->jobs = PROFILE_DEFAULT_JOBS;
	if ((v = yx_get(l->d, root, "jobs"))) {
		if (pint(l, v, "jobs", 1, 256, &num) < 0)
			return -1;
		p->jobs = (int)num;
	}
	return 0;
}

static int load_identity(struct pl *l, yaml_node_t *v)
{
	static const char *const ikeys[] = { "from", NULL };
	char *from = NULL;

	if (yx_check_keys(l->d, v, ikeys, "identity", l->e) < 0 ||
	    opt_str(l, v, "from", "identity.from", &from) < 0)
		return -1;
	if (!from || strcmp(from, "ssl_cn"))
		return yx_err(l->d, v, l->e, "identity.from: '%s' is not ssl_cn (the one identity the catalog checks)",
			      from ? from : "");
	l->p->identity_ssl_cn = true;
	return 0;
}

/* An IPv4 address of the policy, as text; 0 or -1. */
static int policy_ipv4(struct pl *l, yaml_node_t *map, const char *key, char **out, struct in_addr *a)
{
	char what[48];

	snprintf(what, sizeof(what), "policy.%s", key);
	if (opt_str(l, map, key, what, out) < 0)
		return -1;
	if (*out && !**out)
		*out = NULL;
	if (*out && inet_pton(AF_INET, *out, a) != 1)
		return yx_err(l->d, yx_get(l->d, map, key), l->e, "%s: '%s' is not an IPv4 address", what, *out);
	return 0;
}

static bool in_cidr(const struct net_cidr *c, const struct in_addr *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_addr = *a;
	return net_cidr_match(c, &ss);
}

static int load_policy(struct pl *l, yaml_node_t *v)
{
	static const char *const pkeys[] = { "blocked_cidr", "blocked_source", "allowed_source",
					     "blocked_proxy", NULL };
	struct profile_policy *po = &l->p->policy;
	struct in_addr blocked, allowed, proxy;
	struct net_cidr c;
	struct perr pe;

	if (yx_check_keys(l->d, v, pkeys, "policy", l->e) < 0 ||
	    req_str(l, v, "blocked_cidr", &po->blocked_cidr) < 0 ||
	    policy_ipv4(l, v, "blocked_source", &po->blocked_source, &blocked) < 0 ||
	    policy_ipv4(l, v, "allowed_source", &po->allowed_source, &allowed) < 0 ||
	    policy_ipv4(l, v, "blocked_proxy", &po->blocked_proxy, &proxy) < 0)
		return -1;
	if (net_cidr_parse(po->blocked_cidr, &c, &pe) < 0 || c.family != AF_INET)
		return yx_err(l->d, yx_get(l->d, v, "blocked_cidr"), l->e,
			      "policy.blocked_cidr: '%s' is not an IPv4 network (203.0.113.128/25)", po->blocked_cidr);
	if (!po->allowed_source)
		return yx_err(l->d, v, l->e, "policy: missing 'allowed_source' (an address the target lets in)");
	if (!po->blocked_source) {
		/* The network's first host (the network itself for /31 and /32). */
		char buf[INET_ADDRSTRLEN];
		uint32_t n;

		memcpy(&n, c.addr, 4);
		n = ntohl(n) + (c.prefix < 31 ? 1u : 0u);
		blocked.s_addr = htonl(n);
		inet_ntop(AF_INET, &blocked, buf, sizeof(buf));
		po->blocked_source = yx_strdup(&l->p->arena, buf);
		if (!po->blocked_source)
			return perr_set(l->e, "out of memory");
	} else if (!in_cidr(&c, &blocked)) {
		return yx_err(l->d, yx_get(l->d, v, "blocked_source"), l->e,
			      "policy.blocked_source: %s is not in blocked_cidr %s", po->blocked_source,
			      po->blocked_cidr);
	}
	if (in_cidr(&c, &allowed))
		return yx_err(l->d, yx_get(l->d, v, "allowed_source"), l->e,
			      "policy.allowed_source: %s is in blocked_cidr %s", po->allowed_source,
			      po->blocked_cidr);
	po->present = true;
	return 0;
}

static int load_listeners(struct pl *l, yaml_node_t *root)
{
	static const char *const lkeys[] = { "tcp", "ssl", "ws", "wss", NULL };
	yaml_node_t *v = yx_get(l->d, root, "listeners");
	bool any = false;
	size_t i;

	for (i = 0; i < SC_NLISTENERS; i++)
		l->p->l[i].mode = SC_MODE_ABSENT;
	if (!v)
		return yx_err(l->d, root, l->e, "profile: missing 'listeners'");
	if (yx_check_keys(l->d, v, lkeys, "listeners", l->e) < 0)
		return -1;
	for (i = 0; i < SC_NLISTENERS; i++) {
		yaml_node_t *ln = yx_get(l->d, v, sc_listener_name((enum sc_listener)i));

		if (ln && parse_listener(l, ln, (enum sc_listener)i) < 0)
			return -1;
		any = any || l->p->l[i].present;
	}
	if (!any)
		return yx_err(l->d, v, l->e, "listeners: no listener present");
	return 0;
}

static int load_credentials(struct pl *l, yaml_node_t *v)
{
	static const char *const ckeys[] = { "valid", "invalid", "anonymous", NULL };
	struct profile *p = l->p;
	yaml_node_t *c;

	if (yx_check_keys(l->d, v, ckeys, "credentials", l->e) < 0)
		return -1;
	if ((c = yx_get(l->d, v, "valid")) && parse_cred(l, c, "credentials.valid", &p->valid) < 0)
		return -1;
	if ((c = yx_get(l->d, v, "invalid")) && parse_cred(l, c, "credentials.invalid", &p->invalid) < 0)
		return -1;
	if ((c = yx_get(l->d, v, "anonymous")) && pbool(l, c, "credentials.anonymous", &p->anonymous) < 0)
		return -1;
	return 0;
}

static int load_observers(struct pl *l, yaml_node_t *v)
{
	static const char *const okeys[] = { "sessions", "unauthorized", "rejections", NULL };
	struct profile *p = l->p;
	yaml_node_t *o;

	if (yx_check_keys(l->d, v, okeys, "observers", l->e) < 0)
		return -1;
	if ((o = yx_get(l->d, v, "sessions")) && parse_observer(l, o, "sessions", &p->sessions) < 0)
		return -1;
	if ((o = yx_get(l->d, v, "unauthorized")) &&
	    parse_observer(l, o, "unauthorized", &p->unauthorized) < 0)
		return -1;
	if ((o = yx_get(l->d, v, "rejections"))) {
		if (parse_observer(l, o, "rejections", &p->rejections) < 0)
			return -1;
		if (p->rejections.type != PROFILE_OBS_LOG)
			return yx_err(l->d, o, l->e, "observers.rejections: only a log observer can say why a connection was refused");
		if (!yx_get(l->d, o, "retry_ms"))
			p->rejections.retry_ms = 200;
	}
	return 0;
}

static int load_doc(struct pl *l)
{
	static const char *const keys[] = {
		"name", "description", "host", "client_bind", "untrusted_bind", "timeout_ms",
		"header_timeout_ms", "mqtt", "crc32c", "identity", "policy", "listeners", "credentials",
		"observers", "launch", "configurations", "jobs", "no_proxy_support", NULL };
	struct profile *p = l->p;
	yaml_node_t *root = yx_root(l->d), *v;

	if (yx_check_keys(l->d, root, keys, "profile", l->e) < 0)
		return -1;
	if (free_ports(l, root) < 0)
		return -1;
	l->d->expand_env = true;
	if (load_scalars(l, root) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "identity")) && load_identity(l, v) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "policy")) && load_policy(l, v) < 0)
		return -1;
	if (load_listeners(l, root) < 0)
		return -1;
	p->anonymous = true;
	if ((v = yx_get(l->d, root, "credentials")) && load_credentials(l, v) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "observers")) && load_observers(l, v) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "launch")) && parse_launch(l, v) < 0)
		return -1;
	if ((v = yx_get(l->d, root, "configurations"))) {
		if (parse_configs(l, v) < 0)
			return -1;
		if (!p->launch.present)
			return yx_err(l->d, v, l->e, "configurations: need 'launch' (the broker is restarted for each)");
		if (p->no_proxy_support)
			return yx_err(l->d, v, l->e, "configurations: the broker has no PROXY support "
				      "(no_proxy_support), hence no PROXY settings to restart it with");
	}
	return 0;
}

static int load(struct profile *p, const char *name, const char *text, struct perr *e)
{
	struct yx_doc d;
	struct pl l = { .p = p, .d = &d, .e = e };
	int rc;

	memset(p, 0, sizeof(*p));
	if (text)
		rc = yx_load_string(&d, name, text, &p->arena, 0, e);
	else
		rc = yx_load(&d, name, &p->arena, 0, e);
	if (rc == 0) {
		p->path = (char *)d.file;
		rc = load_doc(&l);
	}
	yx_free(&d);
	return rc;
}

int profile_load(struct profile *p, const char *path, struct perr *e)
{
	return load(p, path, NULL, e);
}

int profile_load_string(struct profile *p, const char *name, const char *yaml, struct perr *e)
{
	return load(p, name, yaml, e);
}

void profile_free(struct profile *p)
{
	for (size_t i = 0; i < p->nlogins; i++) {
		explicit_bzero(p->logins[i]->token, sizeof(p->logins[i]->token));
		pthread_mutex_destroy(&p->logins[i]->mu);
	}
	yx_arena_free(&p->arena);
	memset(p, 0, sizeof(*p));
}

/* ---- configurations ----------------------------------------------------- */

static const char *value_text(const struct profile_configs *c, const char *v)
{
	size_t i;

	for (i = 0; i < c->nvalues; i++)
		if (!strcmp(c->values[i].key, v))
			return c->values[i].value;
	return v;
}

/* -1 unset, 0 false, 1 true, -2 something else. */
static int tristate(const char *v)
{
	if (!v || !strcmp(v, "unset"))
		return -1;
	if (!strcmp(v, "true"))
		return 1;
	if (!strcmp(v, "false"))
		return 0;
	return -2;
}

int profile_config_resolve(struct profile *p, const char *configuration, struct profile_kv **env,
		      size_t *nenv, enum sc_mode modes[SC_NLISTENERS], struct perr *e)
{
	struct profile_configs *c = &p->conf;
	char buf[256], *tok, *save = NULL;
	const char *given_val[PROFILE_MAX_SETTINGS] = { 0 };
	struct profile_kv *out;
	size_t i;
	int global, li;
	bool optional = false;

	if (!c->present)
		return perr_set(e, "the profile has no 'configurations'");
	if (strlen(configuration) >= sizeof(buf))
		return perr_set(e, "configuration '%s' is too long", configuration);
	strcpy(buf, configuration);
	for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(tok, '=');
		bool found = false;

		if (!eq)
			return perr_set(e, "configuration '%s': '%s' is not name=value", configuration, tok);
		*eq = '\0';
		for (i = 0; i < c->nsettings; i++)
			if (!strcmp(c->settings[i].key, tok)) {
				given_val[i] = yx_strdup(&p->arena, eq + 1);
				found = true;
			}
		if (!found)
			/* the same words for every configuration that needs it:
			 * one reason, counted once (--check-profile, findings) */
			return perr_set(e, "needs the setting '%s', which the profile does not map (configurations.settings)",
					tok);
		if (!strcmp(tok, "mode")) {
			if (strcmp(eq + 1, "optional") && strcmp(eq + 1, "strict") && strcmp(eq + 1, "unset"))
				return perr_set(e, "configuration '%s': mode must be strict or optional", configuration);
			optional = !strcmp(eq + 1, "optional");
		} else if (tristate(eq + 1) == -2) {
			return perr_set(e, "configuration '%s': %s must be true, false or unset", configuration, tok);
		}
	}
	out = yx_alloc(&p->arena, (c->nsettings + 1) * sizeof(*out));
	if (!out)
		return perr_set(e, "out of memory");
	for (i = 0; i < c->nsettings; i++) {
		out[i].key = c->settings[i].value;
		if (!given_val[i] || !strcmp(given_val[i], "unset"))
			out[i].value = NULL;
		else
			out[i].value = (char *)value_text(c, given_val[i]);
	}
	*env = out;
	*nenv = c->nsettings;

	/* TBMQ's rule: an explicit per-listener value wins, else the global
	 * one, else the default. */
	global = -1;
	for (i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, "global"))
			global = tristate(given_val[i]);
	for (li = 0; li < SC_NLISTENERS; li++) {
		int own = -1;
		bool on;

		for (i = 0; i < c->nsettings; i++)
			if (!strcmp(c->settings[i].key, sc_listener_name((enum sc_listener)li)))
				own = tristate(given_val[i]);
		if (own >= 0)
			on = own == 1;
		else if (global >= 0)
			on = global == 1;
		else
			on = c->default_mode == SC_MODE_ENABLED;
		if (!p->l[li].present)
			modes[li] = SC_MODE_ABSENT;
		else if (!on)
			modes[li] = SC_MODE_DISABLED;
		else
			modes[li] = optional ? SC_MODE_OPTIONAL : SC_MODE_ENABLED;
	}
	return 0;
}
