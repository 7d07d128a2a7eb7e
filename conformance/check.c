/* check.c - ppmq-conform --check-profile: what a run against a profile
 * will do, and what in the profile cannot work, before anything runs.
 *
 * Nothing is sent to the target: addresses are checked by binding them
 * (client_bind) or resolving them (listener hosts), files by reading them.
 */
#include "check.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"

struct ck {
	FILE *f;
	size_t problems;
};

static void problem(struct ck *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct ck *k, const char *fmt, ...)
{
	va_list ap;

	fputs("    PROBLEM: ", k->f);
	va_start(ap, fmt);
	vfprintf(k->f, fmt, ap);
	va_end(ap);
	putc('\n', k->f);
	k->problems++;
}

/* A source address the runner binds its connections to. */
static void check_bind(struct ck *k, const char *key, const char *addr)
{
	struct sockaddr_storage ss;
	struct perr e;
	int fd;

	if (!addr)
		return;
	fprintf(k->f, "  %s: %s", key, addr);
	if (net_addr_parse(addr, 0, &ss, &e) < 0) {
		fputs("\n", k->f);
		problem(k, "%s: not an IP address: %s", key, e.msg);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss,
			   ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6)) < 0) {
		fputs("\n", k->f);
		problem(k, "%s: %s cannot be bound here: %s (on Linux every 127.0.0.0/8 address "
			"is local; another address must be on an interface)", key, addr, strerror(errno));
	} else {
		fputs(" (binds)\n", k->f);
	}
	if (fd >= 0)
		close(fd);
}

static void check_file(struct ck *k, const char *what, const char *path)
{
	if (path && access(path, R_OK) < 0)
		problem(k, "%s '%s': %s", what, path, strerror(errno));
}

static void check_host(struct ck *k, const char *where, const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);

	if (rc != 0)
		problem(k, "%s: host '%s' does not resolve: %s", where, host, gai_strerror(rc));
	if (ai)
		freeaddrinfo(ai);
}

static const char *versions_text(unsigned v)
{
	if ((v & PROFILE_V1) && (v & PROFILE_V2))
		return "v1 and v2";
	return v & PROFILE_V1 ? "v1 only" : v & PROFILE_V2 ? "v2 only" : "none";
}

static void listeners(struct ck *k, const struct profile *p)
{
	fputs("listeners:\n", k->f);
	for (int l = 0; l < SC_NLISTENERS; l++) {
		const struct profile_listener *li = &p->l[l];
		char where[32];

		if (!li->present) {
			fprintf(k->f, "  %-4s absent\n", sc_listener_name(l));
			continue;
		}
		fprintf(k->f, "  %-4s %s:%u  PROXY %s, %s", sc_listener_name(l), li->host, li->port,
			sc_mode_name(li->mode), versions_text(li->versions));
		if (l == SC_WS || l == SC_WSS)
			fprintf(k->f, ", path %s, subprotocol %s", li->path ? li->path : "/mqtt",
				li->subprotocol ? li->subprotocol : "mqtt");
		if (l == SC_SSL || l == SC_WSS)
			fprintf(k->f, ", TLS %s%s%s", li->tls.insecure ? "not verified" : "verified",
				li->tls.ca ? " with " : "", li->tls.ca ? li->tls.ca : "");
		if (li->header_timeout_ms > 0)
			fprintf(k->f, ", its own header timeout %d ms", li->header_timeout_ms);
		else if (li->header_timeout_ms == 0)
			fputs(", no header timeout of its own", k->f);
		putc('\n', k->f);
		snprintf(where, sizeof(where), "listeners.%s", sc_listener_name(l));
		check_host(k, where, li->host);
		/* a launch may make them (the certificates of ppmq-broker's) */
		if (!p->launch.present) {
			check_file(k, "CA file", li->tls.ca);
			check_file(k, "client certificate", li->tls.cert);
			check_file(k, "client key", li->tls.key);
		}
	}
}

/* "IP (clientIp), port (clientPort), no peer port" */
static void shows(FILE *f, const char *what, const char *field, bool *first)
{
	fprintf(f, "%s%s%s%s%s", *first ? "" : ", ", field ? "" : "no ", what,
		field ? " from " : "", field ? field : "");
	*first = false;
}

/* Does a log regex name a group (?<name>...) or (?P<name>...)? */
static bool names_group(const char *regex, const char *name)
{
	char a[48], b[48];

	snprintf(a, sizeof(a), "(?<%s>", name);
	snprintf(b, sizeof(b), "(?P<%s>", name);
	return strstr(regex, a) || strstr(regex, b);
}

static bool is_http_url(const char *url)
{
	return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
}

/* How an http observer authenticates: never a secret, only where they go. */
static void auth(struct ck *k, const char *role, const struct profile_observer *o)
{
	const struct profile_login *g = o->login;

	if (o->bearer)
		fputs("               auth: a bearer token (not shown)\n", k->f);
	if (o->basic_user)
		fputs("               auth: HTTP basic (user and password not shown)\n", k->f);
	if (!g)
		return;
	fprintf(k->f, "               log-in: %s %s", g->method, g->url);
	if (g->body != PROFILE_BODY_NONE)
		fprintf(k->f, ", %s fields", g->body == PROFILE_BODY_JSON ? "JSON" : "form");
	for (size_t i = 0; i < g->nfields; i++)
		fprintf(k->f, "%s%s", i ? ", " : " ", g->fields[i].key);
	fprintf(k->f, "%s\n               token: from the answer's %s '%s', sent as '%s: %s%s<token>'; "
		"again after every restart and once on HTTP 401\n",
		g->nfields ? " (values not shown)" : "", g->token_field ? "field" : "header",
		g->token_field ? g->token_field : g->token_header, g->header, g->scheme,
		*g->scheme ? " " : "");
	if (!is_http_url(g->url))
		problem(k, "observers.%s.auth.login.url: '%s' is not an http:// or https:// URL", role, g->url);
}

static void observer(struct ck *k, const char *role, const struct profile_observer *o)
{
	bool first = true;
	char conn[200];

	if (o->type == PROFILE_OBS_NONE) {
		fprintf(k->f, "  %-12s none: the points that need it SKIP\n", role);
		return;
	}
	if (o->type == PROFILE_OBS_HTTP) {
		fprintf(k->f, "  %-12s http %s\n               shows: ", role, o->url);
		shows(k->f, "IP", o->ip_field, &first);
		shows(k->f, "port", o->port_field, &first);
		shows(k->f, "peer IP", o->peer_ip_field, &first);
		shows(k->f, "peer port", o->peer_port_field, &first);
		if (o->connected_field && o->connected_value)
			snprintf(conn, sizeof(conn), "%s, connected when it is '%s'", o->connected_field,
				 o->connected_value);
		else if (o->connected_field)
			snprintf(conn, sizeof(conn), "%s, a boolean", o->connected_field);
		shows(k->f, "connection state", o->connected_field ? conn : NULL, &first);
		shows(k->f, "user name", o->username_field, &first);
	} else {
		fprintf(k->f, "  %-12s log %s\n               shows: ", role,
			o->file && !strcmp(o->file, "{output}") ? "(the launched broker's output)" : o->file);
		shows(k->f, "IP", "a group of the regex", &first);
		shows(k->f, "port", o->port_group || names_group(o->regex, "port") ? "a group of the regex" : NULL,
		      &first);
	}
	putc('\n', k->f);
	if (o->type == PROFILE_OBS_HTTP)
		auth(k, role, o);
	if (o->type == PROFILE_OBS_HTTP && !is_http_url(o->url))
		problem(k, "observers.%s.url: '%s' is not an http:// or https:// URL", role, o->url);
	/* a log the broker creates when it starts may not exist yet */
	if (o->type == PROFILE_OBS_LOG && o->file && strcmp(o->file, "{output}") &&
	    access(o->file, R_OK) < 0 && errno != ENOENT)
		problem(k, "observers.%s.file '%s': %s", role, o->file, strerror(errno));
}

/* The program a launch command runs first (after "exec", quoted or not),
 * when it is a path: it must be there and executable. */
static void check_program(struct ck *k, const char *key, const char *cmd)
{
	const char *start = cmd + strspn(cmd, " \t");
	char prog[512];
	size_t n;

	if (!strncmp(start, "exec ", 5))
		start += 5 + strspn(start + 5, " \t");
	if (*start == '"' || *start == '\'') {
		const char *end = strchr(start + 1, *start);

		n = end ? (size_t)(end - start - 1) : 0;
		start++;
	} else {
		n = strcspn(start, " \t;");
	}
	if (n && n < sizeof(prog) && memchr(start, '/', n) && !memchr(start, '$', n)) {
		memcpy(prog, start, n);
		prog[n] = '\0';
		if (access(prog, X_OK) < 0)
			problem(k, "%s: '%s': %s", key, prog, strerror(errno));
	}
}

static void launch(struct ck *k, const struct profile *p)
{
	const struct profile_launch *la = &p->launch;

	if (!la->present) {
		fprintf(k->f, "launch: none (the broker must already run; nothing is restarted, so "
			      "scenarios that need another configuration SKIP)\n");
		return;
	}
	if (la->prepare) {
		fprintf(k->f, "launch, once before the first start: %s\n", la->prepare);
		check_program(k, "launch.prepare", la->prepare);
	}
	fprintf(k->f, "launch: %s\n", la->start);
	if (la->workdir) {
		struct stat st;

		if (stat(la->workdir, &st) < 0 || !S_ISDIR(st.st_mode))
			problem(k, "launch.workdir '%s' is not a directory", la->workdir);
	}
	check_program(k, "launch.start", la->start);
}

static bool same_conf(const struct runner_planned *a, const struct runner_planned *b)
{
	return !a->skip && !b->skip &&
	       ((!a->configuration && !b->configuration) ||
		(a->configuration && b->configuration && !strcmp(a->configuration, b->configuration)));
}

static bool same_skip(const struct runner_planned *a, const struct runner_planned *b)
{
	return a->skip && b->skip && !strcmp(a->skip, b->skip);
}

/* How many points of v are like v[i], or 0 when one before i already is
 * (each kind counted once, at its first point). */
static size_t first_count(const struct runner_planned *v, size_t n, size_t i,
			  bool (*like)(const struct runner_planned *, const struct runner_planned *))
{
	size_t j, count = 0;

	for (j = 0; j < i; j++)
		if (like(&v[j], &v[i]))
			return 0;
	for (j = i; j < n; j++)
		count += like(&v[j], &v[i]);
	return count;
}

/* The points, how many run as the target is and after restarts in other
 * configurations, and why the others will SKIP (each reason once). */
static int plan(struct ck *k, const struct runner_config *c, struct perr *e)
{
	struct runner_planned *v;
	size_t n, i, run = 0, base = 0, confs = 0, count, unsup = 0;

	if (runner_plan(c, &v, &n, e) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		run += !v[i].skip;
		unsup += v[i].unsupported;
		base += !v[i].skip && !v[i].configuration;
		confs += v[i].configuration && first_count(v, n, i, same_conf);
	}
	fprintf(k->f, "plan: %zu points, %zu run, %zu SKIP", n, run, n - run - unsup);
	if (unsup)
		fprintf(k->f, ", %zu UNSUPPORTED (not run)", unsup);
	putc('\n', k->f);
	fprintf(k->f, "  run  %5zu  as the target is\n", base);
	if (confs)
		fprintf(k->f, "  run  %5zu  after %zu restart%s in other configurations:", run - base,
			confs, confs == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		if (v[i].configuration && (count = first_count(v, n, i, same_conf)))
			fprintf(k->f, " [%s] %zu", *v[i].configuration ? v[i].configuration
								: "defaults", count);
	if (confs)
		putc('\n', k->f);
	for (i = 0; i < n; i++)
		if (v[i].skip && (count = first_count(v, n, i, same_skip)))
			fprintf(k->f, "  %s %5zu  %s (e.g. %s [%s])\n", v[i].unsupported ? "UNSUPPORTED" : "SKIP",
				count, v[i].skip, v[i].s->id, sc_listener_name(v[i].l));
	runner_plan_free(v, n);
	return 0;
}

int check_profile(FILE *f, const struct runner_config *c, size_t *problems, struct perr *e)
{
	const struct profile *p = c->profile;
	struct ck k = { .f = f };

	fprintf(f, "target %s (%s)\n", p->name, p->path ? p->path : "?");
	if (p->description)
		fprintf(f, "  %s\n", p->description);
	fprintf(f, "  host %s, timeouts: step %d ms, header ", p->host ? p->host : "(per listener)",
		p->timeout_ms);
	if (p->header_timeout_ms > 0)
		fprintf(f, "%d ms\n", p->header_timeout_ms);
	else
		fputs("none declared\n", f);
	check_bind(&k, "client_bind", p->client_bind);
	check_bind(&k, "untrusted_bind", p->untrusted_bind);
	check_bind(&k, "policy.blocked_proxy", p->policy.blocked_proxy);
	if (p->policy.present)
		fprintf(f, "  policy: refuses %s (headers will carry %s), lets %s in\n", p->policy.blocked_cidr,
			p->policy.blocked_source, p->policy.allowed_source);
	fprintf(f, "  points run at once: %d%s\n", c->jobs > 0 ? c->jobs : p->jobs,
		c->jobs > 0 ? " (-j)" : "");
	if (p->no_proxy_support)
		fprintf(f, "  declares: no PROXY support: %s\n", p->no_proxy_support);
	fprintf(f, "  declares: MQTT %d%s%s%s\n", p->mqtt, p->crc32c ? ", CRC32C verified" : "",
		p->identity_ssl_cn ? ", identity from the SSL TLV's CN" : "",
		p->valid.given ? ", valid credentials" : "");
	listeners(&k, p);
	fputs("observers:\n", f);
	observer(&k, "sessions", &p->sessions);
	observer(&k, "unauthorized", &p->unauthorized);
	observer(&k, "rejections", &p->rejections);
	launch(&k, p);
	if (plan(&k, c, e) < 0)
		return -1;
	if (k.problems)
		fprintf(f, "%zu problem%s: the run would fail or skip because of the profile\n",
			k.problems, k.problems == 1 ? "" : "s");
	else
		fputs("no problem found in the profile\n", f);
	*problems = k.problems;
	return 0;
}
