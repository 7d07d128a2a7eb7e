/* runner.c - see runner.h. */
#include "runner.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "expect.h"
#include "launch.h"
#include "login.h"
#include "log.h"
#include "net.h"
#include "observer.h"
#include "pp_desc.h"

#define RUNNER_MAX_STEPS_TEXT 4096

/* One scenario on one listener. */
struct point {
	const struct scenario *s;
	enum sc_listener l;
	enum sc_mode mode;       /* effective mode where it runs */
	int group;               /* -1: decided without running (SKIP) */
	size_t index;            /* position in the catalog order */
	bool done;

	/* result */
	enum rpt_grade grade;
	char *reason;
	char **expected;
	size_t nexpected;
	char *actual;
	unsigned char *sent;
	size_t sent_len;
	unsigned char *received;
	size_t received_len;
	char *recorded;
	long long duration_ms;
	const struct sc_clause *clause; /* the sentence behind a grade that is not PASS */
	char *log;               /* the target's own lines about this point */
};

struct group {
	const char *configuration;  /* NULL: base */
	char *canon;                /* canonical form of it (malloc'd) */
	struct profile_kv *env;
	size_t nenv;
	enum sc_mode modes[SC_NLISTENERS];
};

struct runner {
	const struct runner_config *c;
	struct profile *p;
	struct rpt_run *run;
	struct point *pt;
	size_t npt;
	struct group *groups;
	size_t ngroups;

	/* per group execution */
	size_t *queue;
	size_t nqueue, next;
	pthread_mutex_t mu;
	size_t next_print;
	unsigned conn_counter;
	unsigned salt;
	int timeout_ms;
	int header_wait[SC_NLISTENERS]; /* runner_listener_header_wait of each listener */
	struct perr err;
	bool failed_add;

	/* liveness: the target is checked after every point */
	struct launch_target *target;  /* launch mode: the running target, else NULL */
	const struct group *group; /* the configuration it runs in */
	bool down;                 /* a check failed: points in flight are suspects */
	size_t down_at;            /* the point whose check found it down first */
	char down_why[256];
	size_t *suspects;          /* points that ran while it went down */
	size_t nsuspects;
	int restarts;
};

/* A target that keeps crashing is restarted this many times, then given up. */
#define RUNNER_MAX_RESTARTS 25

/* ---- small helpers ------------------------------------------------------ */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void runner_client_id(const char *scenario_id, enum sc_listener l, unsigned n, char *buf, size_t cap)
{
	snprintf(buf, cap, "ppmq-%06x-%s-%x", fnv1a(scenario_id) & 0xffffffu, sc_listener_name(l),
		 n & 0xfffffu);
}

/* The broker's own timeout and a second for its timer to fire; a broker
 * without one (header_timeout_ms: none) is watched for the spec's "at
 * least 3 seconds" and one more. */
static int header_wait_of(int timeout_ms)
{
	return (timeout_ms > 0 ? timeout_ms : 3000) + 1000;
}

int runner_header_wait(const struct profile *p)
{
	return header_wait_of(p->header_timeout_ms);
}

int runner_listener_header_wait(const struct profile *p, enum sc_listener l)
{
	int own = p->l[l].header_timeout_ms;

	return header_wait_of(own >= 0 ? own : p->header_timeout_ms);
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool mode_in(unsigned modes, enum sc_mode m)
{
	return m < SC_NMODES && (modes & (1u << m));
}

static const char *modes_text(unsigned modes, char *buf, size_t cap)
{
	size_t n = 0;
	int m;

	buf[0] = '\0';
	for (m = 0; m < SC_MODE_ABSENT; m++)
		if (modes & (1u << m))
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "/" : "",
					      sc_mode_name((enum sc_mode)m));
	return buf;
}

const char *runner_skip_reason(const struct profile *p, const struct scenario *s, enum sc_listener l,
			   enum sc_mode mode, char *buf, size_t cap)
{
	size_t i;

	if (!(s->listeners & (1u << l))) {
		snprintf(buf, cap, "scenario does not apply to %s listeners", sc_listener_name(l));
		return buf;
	}
	if (!p->l[l].present || mode == SC_MODE_ABSENT) {
		snprintf(buf, cap, "listener %s absent from the profile", sc_listener_name(l));
		return buf;
	}
	if ((s->needs & SC_NEEDS_POLICY) && !p->policy.present) {
		snprintf(buf, cap, "the profile declares no address rule (policy.blocked_cidr)");
		return buf;
	}
	if ((s->needs & SC_NEEDS_IDENTITY) && !p->identity_ssl_cn) {
		snprintf(buf, cap, "the profile declares no identity taken from the header (identity.from)");
		return buf;
	}
	if (!mode_in(s->modes, mode)) {
		char m[64];

		snprintf(buf, cap, "listener %s is PROXY-%s; scenario is for %s listeners",
			 sc_listener_name(l), sc_mode_name(mode), modes_text(s->modes, m, sizeof(m)));
		return buf;
	}
	for (i = 0; i < s->nsteps; i++) {
		const struct sc_step *st = &s->steps[i];

		if (st->send.bind == SC_BIND_UNTRUSTED && !p->untrusted_bind) {
			snprintf(buf, cap, "profile has no untrusted_bind address");
			return buf;
		}
		if (st->send.bind == SC_BIND_BLOCKED_PROXY && !p->policy.blocked_proxy) {
			snprintf(buf, cap, "the profile declares no proxy address inside a refused network (policy.blocked_proxy)");
			return buf;
		}
		if (st->send.cred == SC_CRED_INVALID && !p->invalid.given) {
			snprintf(buf, cap, "profile has no invalid credentials");
			return buf;
		}
		if (st->send.cred == SC_CRED_VALID && !p->valid.given && !p->anonymous) {
			snprintf(buf, cap, "profile has no valid credentials and no anonymous access");
			return buf;
		}
		if (st->record.where == SC_REC_SESSIONS && p->sessions.type == PROFILE_OBS_NONE) {
			snprintf(buf, cap, "profile has no sessions observer: the record cannot be checked");
			return buf;
		}
		if (st->record.where == SC_REC_UNAUTHORIZED && p->unauthorized.type == PROFILE_OBS_NONE) {
			snprintf(buf, cap, "profile has no unauthorized observer: the record cannot be checked");
			return buf;
		}
		/* A port or peer the observer cannot show is left unchecked
		 * (and said so); the IP is checked all the same. */
	}
	return NULL;
}

/* ---- groups ------------------------------------------------------------- */

static int cmp_tok(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "tcp=unset global=true" and "global=true" start the same broker: one
 * canonical text (sorted, without "unset") so it is started once. */
static char *canonical_conf(const char *conf)
{
	char *copy = strdup(conf), *tok, *save = NULL, *toks[64], *out;
	size_t n = 0, i, len = 1;

	if (!copy)
		return NULL;
	for (tok = strtok_r(copy, " \t,", &save); tok && n < 64; tok = strtok_r(NULL, " \t,", &save)) {
		const char *eq = strchr(tok, '=');

		if (eq && !strcmp(eq + 1, "unset"))
			continue;
		toks[n++] = tok;
		len += strlen(tok) + 1;
	}
	qsort(toks, n, sizeof(*toks), cmp_tok);
	out = malloc(len);
	if (out) {
		out[0] = '\0';
		for (i = 0; i < n; i++) {
			if (i)
				strcat(out, " ");
			strcat(out, toks[i]);
		}
	}
	free(copy);
	return out;
}

static int group_find_or_add(struct runner *r, const char *configuration, struct perr *e)
{
	size_t i;
	struct group *g;
	char *canon = NULL;

	if (configuration) {
		canon = canonical_conf(configuration);
		if (!canon)
			return perr_set(e, "out of memory");
	}
	for (i = 0; i < r->ngroups; i++) {
		const char *c = r->groups[i].canon;

		if ((!c && !canon) || (c && canon && !strcmp(c, canon))) {
			free(canon);
			return (int)i;
		}
	}
	g = realloc(r->groups, (r->ngroups + 1) * sizeof(*g));
	if (!g) {
		free(canon);
		return perr_set(e, "out of memory");
	}
	r->groups = g;
	g = &r->groups[r->ngroups];
	memset(g, 0, sizeof(*g));
	g->configuration = configuration;
	g->canon = canon;
	if (configuration) {
		if (profile_config_resolve(r->p, configuration, &g->env, &g->nenv, g->modes, e) < 0) {
			free(canon);
			g->canon = NULL;
			return -1;
		}
	} else {
		for (i = 0; i < SC_NLISTENERS; i++)
			g->modes[i] = r->p->l[i].present ? r->p->l[i].mode : SC_MODE_ABSENT;
	}
	return (int)r->ngroups++;
}

static void set_skip(struct point *pt, const char *reason)
{
	pt->group = -1;
	pt->grade = RPT_SKIP;
	pt->reason = xstrdup(reason);
	pt->done = true;
}

/* A point that needs PROXY support on a target that declares it has
 * none: UNSUPPORTED with the target's reason, not run. True when so. */
static bool unsupported(const struct profile *p, const struct scenario *s, struct point *pt)
{
	char why[600];

	if (!p->no_proxy_support || (!s->configuration && !mode_in(s->modes, SC_MODE_ENABLED) &&
				     !mode_in(s->modes, SC_MODE_OPTIONAL)))
		return false;
	snprintf(why, sizeof(why), "no PROXY support: %s", p->no_proxy_support);
	set_skip(pt, why);
	pt->grade = RPT_UNSUPPORTED;
	return true;
}

/* Decide where each point runs, or why it does not. */
static int plan_point(struct runner *r, struct point *pt, struct perr *e)
{
	const struct profile *p = r->p;
	const struct scenario *s = pt->s;
	char buf[256];
	const char *why;
	int g;

	/* What the profile or the scenario rules out whatever the
	 * configuration, said first. */
	if (!(s->listeners & (1u << pt->l)) || !p->l[pt->l].present) {
		set_skip(pt, runner_skip_reason(p, s, pt->l, SC_MODE_ABSENT, buf, sizeof(buf)));
		return 0;
	}
	if (s->configuration) {
		if (unsupported(p, s, pt))
			return 0;
		if (!p->launch.present || !p->conf.present) {
			set_skip(pt, "needs a restart in another configuration: the profile has no launch/configurations");
			return 0;
		}
		g = group_find_or_add(r, s->configuration, e);
		if (g < 0) {
			/* The profile cannot express it (a setting it does not
			 * map): this target cannot be put in that state. */
			set_skip(pt, e->msg);
			return 0;
		}
		pt->mode = r->groups[g].modes[pt->l];
		why = runner_skip_reason(p, s, pt->l, pt->mode, buf, sizeof(buf));
		if (why)
			set_skip(pt, why);
		else
			pt->group = g;
		return 0;
	}
	pt->mode = p->l[pt->l].present ? p->l[pt->l].mode : SC_MODE_ABSENT;
	why = runner_skip_reason(p, s, pt->l, pt->mode, buf, sizeof(buf));
	if (!why) {
		pt->group = group_find_or_add(r, NULL, e);
		return pt->group < 0 ? -1 : 0;
	}
	/* Not runnable as the target is: maybe a mode configuration helps. */
	if (p->l[pt->l].present && (s->listeners & (1u << pt->l)) && !mode_in(s->modes, pt->mode) &&
	    p->launch.present && p->conf.present) {
		static const enum sc_mode order[] = { SC_MODE_ENABLED, SC_MODE_OPTIONAL, SC_MODE_DISABLED };
		size_t i;

		for (i = 0; i < 3; i++) {
			const char *conf = p->conf.modes[order[i]];
			char buf2[256];

			if (!conf || !mode_in(s->modes, order[i]))
				continue;
			g = group_find_or_add(r, conf, e);
			if (g < 0)
				return perr_wrap(e, "%s: configurations.modes.%s", p->path,
						 sc_mode_name(order[i]));
			if (runner_skip_reason(p, s, pt->l, r->groups[g].modes[pt->l], buf2, sizeof(buf2)))
				continue;
			pt->group = g;
			pt->mode = r->groups[g].modes[pt->l];
			return 0;
		}
	}
	if (!mode_in(s->modes, pt->mode) && unsupported(p, s, pt))
		return 0;
	set_skip(pt, why);
	return 0;
}

/* ---- one connection ----------------------------------------------------- */

struct step_out {
	struct expect_actual act;
	struct client_result res;
	enum rpt_grade grade;
	const struct sc_clause *clause; /* the sentence behind a grade that is not PASS */
	char reason[1024];
	char recorded[1024];
	char notes[256];         /* what was not checked, and why (shown with the outcome) */
	char unchecked[160];     /* the parts of a record the observer cannot show */
	char hsrc[80];           /* the header's source "IP:PORT", as logs show it ("" none) */
	char summary[512];       /* instead of the outcome of one connection (a sweep) */
	const struct sc_expect *expect; /* the expectations that applied */
	size_t nexpect;
	unsigned char sent[8192];
	size_t sent_len;
	struct client_conn *conn;
	char client_id[64];
};

/* What a header we send means for the record, read back with our own
 * parser: the address the broker must record and the sentence that says
 * so. A header our parser refuses (a malformation, or beyond its own
 * limits) has no such meaning: no record is expected from it. */
enum rec_kind { RK_NONE = 0, RK_SOURCE, RK_PEER };

struct hdr_view {
	int version;             /* 1, 2; 0 when no header (or not one) */
	enum rec_kind rec;
	char ip[64];             /* RK_SOURCE: the header's source, IPv4-mapped unmapped */
	long port;
	const char *clause_id;   /* the sentence behind the automatic address check */
	char cn[128];            /* the SSL TLV's CN ("" when none) */
};

static void view_header(const unsigned char *b, size_t n, struct hdr_view *v)
{
	struct pp_header h;
	struct pp_parse_opts o;
	struct sockaddr_storage src;

	memset(v, 0, sizeof(*v));
	switch (pp_detect(b, n)) {
	case PP_DETECT_V1: v->version = 1; break;
	case PP_DETECT_V2: v->version = 2; break;
	default: return;
	}
	pp_parse_opts_init(&o);
	o.max_len = PP_V2_MAX_LEN;
	if (pp_parse(b, n, &o, &h, NULL) <= 0)
		return;
	if (h.ssl.present && h.ssl.cn.ptr)
		snprintf(v->cn, sizeof(v->cn), "%.*s", (int)h.ssl.cn.len, (const char *)h.ssl.cn.ptr);
	if (h.command == PP_CMD_LOCAL) {
		v->rec = RK_PEER;
		v->clause_id = "pp2/local-accept";
	} else if (h.transport != PP_PROTO_STREAM && h.family != PP_FAM_UNSPEC) {
		/* DGRAM, or an UNSPEC transport: a receiver may fall back to the
		 * UNSPEC mode and use the real endpoints, or use the block. */
		return;
	} else if (h.family == PP_FAM_INET || h.family == PP_FAM_INET6) {
		src = h.src;
		net_addr_unmap(&src);
		net_ip_str(&src, v->ip, sizeof(v->ip));
		v->port = pp_addr_port(&h.src);
		v->rec = RK_SOURCE;
		v->clause_id = h.version == 2 ? "pp2/proxy-use-block" : "tbmq/real-ip-port";
	} else if (h.family == PP_FAM_UNSPEC) {
		v->rec = RK_PEER;
		v->clause_id = h.version == 1 ? "pp1/unknown-accept" : "pp2/unspec-ignore";
	}
	/* UNIX: no IP address to compare with. */
}

/* The description of a scenario's header; its addresses parsed into
 * src and dst. Returns 0, or -1 with why. */
static int header_desc(const struct profile *p, const struct sc_header *sh, struct pp_desc *d,
		       struct sockaddr_storage *src, struct sockaddr_storage *dst, char *why, size_t wcap)
{
	char a[128];

	pp_desc_init(d, sh->version);
	d->command = (enum pp_cmd)sh->command;
	d->family = (enum pp_fam)sh->family;
	d->transport = sh->transport;
	if ((sh->src && (sc_expand_addr(sh->src, p->policy.blocked_source ? p->policy.blocked_source : "",
					p->policy.allowed_source ? p->policy.allowed_source : "",
					a, sizeof(a)) < 0 || pp_sockaddr_parse(a, src) < 0)) ||
	    (sh->dst && pp_sockaddr_parse(sh->dst, dst) < 0)) {
		snprintf(why, wcap, "header addresses %s -> %s", sh->src ? sh->src : "-",
			 sh->dst ? sh->dst : "-");
		return -1;
	}
	d->src = sh->src ? src : NULL;
	d->dst = sh->dst ? dst : NULL;
	d->unknown_long = sh->unknown_long;
	for (size_t i = 0; i < sh->ntlvs; i++)
		if (pp_desc_add_tlv(d, (uint8_t)sh->tlvs[i].type, sh->tlvs[i].value, sh->tlvs[i].len) < 0) {
			snprintf(why, wcap, "too many TLVs");
			return -1;
		}
	d->crc32c = sh->crc32c;
	d->noop = sh->noop;
	return 0;
}

/* SC_PAY_AUTO's header: a distinct source per point, so records cannot
 * be confused, to the default destination; in a version the listener
 * takes. */
static void auto_desc(const struct runner *r, const struct point *pt, struct pp_desc *d,
		      struct sockaddr_storage *src)
{
	char a[64];

	snprintf(a, sizeof(a), "192.0.2.%u:%u", (unsigned)(pt->index % 250) + 1,
		 40000u + (unsigned)(pt->index % 20000));
	pp_desc_init(d, PROFILE_TAKES(&r->p->l[pt->l], 1) ? 1 : 2);
	if (pp_sockaddr_parse(a, src) == 0)
		d->src = src;
}

/* Header bytes for a step on this point. Returns the length (0: no
 * header), -1 on error with why. */
static int build_header(const struct runner *r, const struct point *pt, const struct sc_step *st,
			unsigned char *out, size_t cap, char *why, size_t wcap)
{
	const struct sc_send *s = &st->send;
	struct pp_desc d;
	struct pp_error pe;
	struct sockaddr_storage src, dst;
	int n;

	switch (s->payload) {
	case SC_PAY_NONE:
		return 0;
	case SC_PAY_RAW:
		if (s->raw_len > cap) {
			snprintf(why, wcap, "raw bytes too long");
			return -1;
		}
		memcpy(out, s->raw, s->raw_len);
		return (int)s->raw_len;
	case SC_PAY_MUTATION:
		n = pp_mutate(s->mutation, NULL, out, cap, &pe);
		if (n < 0)
			snprintf(why, wcap, "mutation %s: %s", s->mutation, pe.msg);
		return n;
	case SC_PAY_AUTO:
		if (pt->mode != SC_MODE_ENABLED)
			return 0;
		auto_desc(r, pt, &d, &src);
		break;
	case SC_PAY_HEADER:
		if (header_desc(r->p, &s->header, &d, &src, &dst, why, wcap) < 0)
			return -1;
		break;
	}
	n = pp_desc_build(&d, out, cap, &pe);
	if (n < 0)
		snprintf(why, wcap, "build: %s", pe.msg);
	return n;
}

static enum client_transport transport_of(enum sc_listener l)
{
	switch (l) {
	case SC_SSL: return CLIENT_TLS;
	case SC_WS: return CLIENT_WS;
	case SC_WSS: return CLIENT_WSS;
	default: return CLIENT_TCP;
	}
}

static void fill_opts(struct runner *r, const struct point *pt, const struct sc_step *st, struct client_opts *o,
		      const unsigned char *hdr, size_t hlen, const char *client_id, int wait)
{
	const struct profile *p = r->p;
	const struct profile_listener *li = &p->l[pt->l];
	const struct sc_send *s = &st->send;

	client_opts_init(o);
	o->transport = transport_of(pt->l);
	o->host = li->host;
	o->port = li->port;
	o->bind_addr = s->bind == SC_BIND_UNTRUSTED ? p->untrusted_bind
		: s->bind == SC_BIND_BLOCKED_PROXY ? p->policy.blocked_proxy : p->client_bind;
	o->ca_file = li->tls.ca;
	o->insecure = li->tls.insecure;
	o->sni = li->tls.sni;
	o->cert_file = li->tls.cert;
	o->key_file = li->tls.key;
	o->ws_path = li->path;
	o->ws_subprotocol = li->subprotocol;
	o->header = hlen ? hdr : NULL;
	o->header_len = hlen;
	o->split = s->split_half ? (hlen + 1) / 2 : s->split;
	o->delay_ms = s->delay_ms;
	o->send_only = s->send_only;
	o->stall_ms = s->stall_ms == SC_WAIT_HEADER_TIMEOUT ? r->header_wait[pt->l] : s->stall_ms;
	o->close_after_header = s->close_after_header;
	o->pre_delay_ms = s->stall_before_ms == SC_WAIT_HEADER_TIMEOUT ? r->header_wait[pt->l]
		: s->stall_before_ms;
	o->coalesce = s->coalesce;
	o->no_connect = s->no_connect;
	o->mqtt_version = s->mqtt ? s->mqtt : p->mqtt;
	o->client_id = s->client_id ? s->client_id : client_id;
	o->keepalive = 30;
	o->timeout_ms = wait;
	switch (s->cred) {
	case SC_CRED_VALID:
		o->username = p->valid.given ? p->valid.username : NULL;
		o->password = p->valid.given ? p->valid.password : NULL;
		break;
	case SC_CRED_INVALID:
		o->username = p->invalid.username;
		o->password = p->invalid.password;
		break;
	case SC_CRED_NONE:
		break;
	}
}

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

/* "step N: " (after "; " when buf has text already) before the text of
 * step i, when the scenario has several steps. */
static void append_step(char *buf, size_t cap, size_t nsteps, size_t i)
{
	if (nsteps > 1)
		append(buf, cap, "%sstep %zu: ", buf[0] ? "; " : "", i + 1);
}

/* The grade of breaking clause c (FAIL without one). */
static enum rpt_grade broken(const struct sc_clause *c)
{
	return c ? sc_level_grade(c->level) : RPT_FAIL;
}

/* so's grade becomes g, for clause c, when g is worse. */
static void raise_grade(struct step_out *so, enum rpt_grade g, const struct sc_clause *c)
{
	if (g != RPT_PASS && (so->grade == RPT_PASS || expect_worst(so->grade, g) != so->grade)) {
		so->grade = expect_worst(so->grade, g);
		so->clause = c;
	}
}

/* raise_grade, and why says what happened. */
static void worsen(struct step_out *so, enum rpt_grade g, const struct sc_clause *c, const char *why)
{
	if (g == RPT_PASS)
		return;
	raise_grade(so, g, c);
	append(so->reason, sizeof(so->reason), "%s%s", so->reason[0] ? "; " : "", why);
}

/* The step checks this record: the one it names, or, wherever a header
 * was accepted, the address that header says (automatic). NULL when
 * nothing is to be checked. */
static const struct sc_record *record_to_check(const struct runner *r, enum sc_mode mode,
					       const struct sc_step *st, const struct hdr_view *hv,
					       const struct step_out *so, struct sc_record *tmp)
{
	bool accepted = so->res.outcome == CLIENT_CONNACK && so->res.connack_rc == 0;

	if (st->record.none)
		return NULL;
	if (st->record.where == SC_REC_SESSIONS)
		return accepted ? &st->record : NULL;
	if (st->record.where == SC_REC_UNAUTHORIZED)
		return so->res.outcome == CLIENT_CONNACK && so->res.connack_rc != 0 ? &st->record : NULL;
	/* A PROXY-disabled listener that takes a header fails for that; what
	 * it recorded then is beside the point. */
	if (!accepted || hv->rec == RK_NONE || r->p->sessions.type == PROFILE_OBS_NONE ||
	    mode == SC_MODE_DISABLED)
		return NULL;
	memset(tmp, 0, sizeof(*tmp));
	tmp->where = SC_REC_SESSIONS;
	tmp->ip.src = tmp->port.src = hv->rec == RK_SOURCE ? SC_ADDR_HEADER_SRC : SC_ADDR_SOCKET_PEER;
	tmp->peer_ip.src = SC_ADDR_SOCKET_PEER; /* the proxy kept apart, where the observer shows it */
	tmp->clause = sc_clause_find(r->c->catalog, hv->clause_id);
	return tmp;
}

/* Read the record through the observer and check it. */
static void check_record(struct runner *r, const struct point *pt, const struct sc_record *rec_want,
			 const struct hdr_view *hv, const char *client_id, struct step_out *so)
{
	bool sess = rec_want->where == SC_REC_SESSIONS;
	const struct profile_observer *ob = sess ? &r->p->sessions : &r->p->unauthorized;
	struct obs_vars v = { .client_id = client_id, .listener = sc_listener_name(pt->l),
			      .output = r->target ? r->target->output : NULL };
	struct sockaddr_storage local = so->res.local;
	struct expect_record rec;
	struct expect_addrs ad;
	struct perr oe;
	char peer_ip[64], why[512], unchecked[64];

	net_addr_unmap(&local);
	net_ip_str(&local, peer_ip, sizeof(peer_ip));
	ad.header_ip = hv->rec == RK_SOURCE ? hv->ip : NULL;
	ad.header_port = hv->rec == RK_SOURCE ? hv->port : 0;
	ad.peer_ip = peer_ip;
	ad.peer_port = net_addr_port(&local);
	ad.cert_cn = hv->cn[0] ? hv->cn : NULL;
	if (obs_query(ob, &v, &rec, so->recorded, sizeof(so->recorded), &oe) < 0) {
		snprintf(why, sizeof(why), "observer: %s", oe.msg);
		worsen(so, RPT_FAIL, rec_want->clause, why);
		return;
	}
	if (expect_check_record(rec_want, &rec, &ad, sess, why, sizeof(why)) != RPT_PASS)
		worsen(so, broken(rec_want->clause), rec_want->clause, why);
	if (!rec.found)
		snprintf(so->recorded, sizeof(so->recorded), "(no record for %s)", client_id);
	if (*expect_record_unchecked(rec_want, &rec, unchecked, sizeof(unchecked))) {
		snprintf(so->unchecked, sizeof(so->unchecked), "%s not checked: the %s observer does not show it",
			 unchecked, ob->role);
		append(so->notes, sizeof(so->notes), "%s%s", so->notes[0] ? "; " : "", so->unchecked);
	}
}

/* A listener that takes one PROXY version only (profile `versions`)
 * is expected to refuse the other: the step's own expectations give way
 * to these. */
static struct sc_expect version_expect[2] = {
	{ .outcome = SC_O_NOT_ACCEPTED, .grade = RPT_PASS,
	  .note = "refused: the listener does not take this PROXY version (profile: versions)" },
	{ .outcome = SC_O_ACCEPTED, .grade = RPT_INFO,
	  .note = "took a header of a version the profile says this listener does not take" },
};

static const struct sc_step *version_step(const struct runner *r, const struct point *pt,
					  const struct sc_step *st, const struct hdr_view *hv,
					  struct sc_step *tmp)
{
	const struct profile_listener *li = &r->p->l[pt->l];

	if (!hv->version || PROFILE_TAKES(li, hv->version) || pt->mode == SC_MODE_DISABLED)
		return st;
	*tmp = *st;
	tmp->expect = version_expect;
	tmp->nexpect = 2;
	tmp->clause = sc_clause_find(r->c->catalog, "pp/versions-choice");
	tmp->record.none = true;
	return tmp;
}

/* Does the profile declare the feature a conditional clause needs? */
static bool declares(const struct profile *p, const char *feature)
{
	return !strcmp(feature, "crc32c") && p->crc32c;
}

/* A sentence that binds only receivers with a feature (`when:`) cannot be
 * broken by a target whose profile does not claim the feature. */
static void apply_condition(const struct runner *r, struct step_out *so)
{
	const struct sc_clause *c = so->clause;

	if (!c || !c->when || declares(r->p, c->when) || so->grade != sc_level_grade(c->level) ||
	    c->level == SC_LEVEL_MAY)
		return;
	so->grade = RPT_INFO;
	append(so->reason, sizeof(so->reason), "%s(the profile does not declare %s: the sentence binds only receivers that support it)",
	       so->reason[0] ? " " : "", c->when);
}

/* Why the target refused, in its own words (the rejections observer). */
static void rejection_reason(struct runner *r, const struct point *pt, struct step_out *so)
{
	const struct profile_observer *o = &r->p->rejections;
	char port[16], why[300];
	struct obs_vars v = { .client_id = so->client_id, .listener = sc_listener_name(pt->l),
			      .peer_port = port, .output = r->target ? r->target->output : NULL };
	struct perr e;

	/* a listener without a PROXY stage has no header to refuse: nothing
	 * to explain, and no need to wait for a line that will not come */
	if (o->type == PROFILE_OBS_NONE || !net_addr_port(&so->res.local) || pt->mode == SC_MODE_DISABLED)
		return;
	snprintf(port, sizeof(port), "%u", net_addr_port(&so->res.local));
	if (obs_rejection(o, &v, why, sizeof(why), &e) > 0)
		append(so->notes, sizeof(so->notes), "%sthe target says: %s", so->notes[0] ? "; " : "", why);
}

static int step_wait(const struct runner *r, const struct point *pt, const struct sc_step *st)
{
	return st->send.wait_ms == SC_WAIT_HEADER_TIMEOUT ? r->header_wait[pt->l]
		: st->send.wait_ms > 0 ? st->send.wait_ms : r->timeout_ms;
}

static void next_client_id(struct runner *r, const struct point *pt, char *buf, size_t cap)
{
	unsigned cid;

	pthread_mutex_lock(&r->mu);
	cid = ++r->conn_counter;
	pthread_mutex_unlock(&r->mu);
	runner_client_id(pt->s->id, pt->l, (r->salt << 10) + cid, buf, cap);
}

static void run_sweep(struct runner *r, const struct point *pt, const struct sc_step *st,
		      const struct hdr_view *hv, struct step_out *so);

static void run_step(struct runner *r, const struct point *pt, const struct sc_step *st,
		     struct step_out *so)
{
	char why[256];
	struct client_opts o;
	struct hdr_view hv;
	struct sc_step vstep;
	struct sc_record tmp;
	const struct sc_record *want;
	const char *note = NULL;
	int n, idx;

	memset(so, 0, sizeof(*so));
	so->expect = st->expect;
	so->nexpect = st->nexpect;
	n = build_header(r, pt, st, so->sent, sizeof(so->sent), why, sizeof(why));
	if (n < 0) {
		so->grade = RPT_FAIL;
		so->act.outcome = CLIENT_ERROR;
		snprintf(so->reason, sizeof(so->reason), "cannot build what to send: %s", why);
		return;
	}
	so->sent_len = (size_t)n;
	view_header(so->sent, so->sent_len, &hv);
	if (hv.rec == RK_SOURCE)
		snprintf(so->hsrc, sizeof(so->hsrc), "%s:%ld", hv.ip, hv.port);
	st = version_step(r, pt, st, &hv, &vstep);
	so->expect = st->expect;
	so->nexpect = st->nexpect;
	if (st->send.sweep) {
		run_sweep(r, pt, st, &hv, so);
		return;
	}
	next_client_id(r, pt, so->client_id, sizeof(so->client_id));
	fill_opts(r, pt, st, &o, so->sent, so->sent_len, so->client_id, step_wait(r, pt, st));

	/* a local failure is an outcome too (CLIENT_ERROR, its text in res) */
	(void)client_run(&o, &so->res, &so->conn, NULL);
	so->act.outcome = so->res.outcome;
	so->act.connack_rc = so->res.outcome == CLIENT_CONNACK ? so->res.connack_rc : -1;
	so->act.any_byte = so->res.any_byte_received;
	so->act.elapsed_ms = so->res.elapsed_ms;
	idx = expect_grade(st, &so->act, r->header_wait[pt->l], &so->grade, &note);
	so->clause = idx >= 0 ? sc_expect_clause(st, &st->expect[idx]) : st->clause;
	if (note && (so->grade != RPT_PASS || idx < 0))
		snprintf(so->reason, sizeof(so->reason), "%s", note);
	if (so->res.outcome == CLIENT_ERROR)
		append(so->reason, sizeof(so->reason), "%s%s", so->reason[0] ? ": " : "", so->res.detail);

	/* The record, while the session is held open (sessions) or after the
	 * refusal (unauthorized). */
	apply_condition(r, so);
	if (!(so->res.outcome == CLIENT_CONNACK && so->res.connack_rc == 0))
		rejection_reason(r, pt, so);
	want = idx >= 0 ? record_to_check(r, pt->mode, st, &hv, so, &tmp) : NULL;
	if (want)
		check_record(r, pt, want, &hv, o.client_id, so);
}

/* ---- the split sweep ------------------------------------------------------ */

/* One header, cut at every byte boundary into 2 pieces (k | rest) or 3
 * (k | one byte | rest), one connection per cut, the pieces apart in
 * time. Dropping a cut header is allowed but not recommended; accepting
 * it with an address other than its own is the worst bug there is. */
#define SWEEP_SHOWN 6

static void sweep_list(char *buf, size_t cap, size_t *count, size_t cut)
{
	if (*count < SWEEP_SHOWN)
		append(buf, cap, "%s%zu", *count ? "," : "", cut);
	else if (*count == SWEEP_SHOWN)
		append(buf, cap, ",...");
	(*count)++;
}

/* One cut, run by a sweep worker. */
struct cut {
	enum { CUT_GOOD, CUT_DROPPED, CUT_WRONG, CUT_NOCONN } what;
	enum rpt_grade grade;
	const struct sc_clause *clause;
	char why[600];
	char recorded[256];
	char notes[160];
};

struct sweep {
	struct runner *r;
	const struct point *pt;
	const struct sc_step *st;
	const struct hdr_view *hv;
	const unsigned char *hdr;
	size_t len, ncuts, next;
	struct cut *cuts;
	pthread_mutex_t mu;
};

#define SWEEP_THREADS 8

static void sweep_one(struct sweep *w, size_t k, struct cut *c)
{
	struct step_out *one = calloc(1, sizeof(*one));
	struct client_opts o;
	size_t cuts[2] = { k, k + 1 };
	const struct sc_record *want;
	struct sc_record tmp;

	if (!one) {
		c->what = CUT_NOCONN;
		return;
	}
	memcpy(one->sent, w->hdr, w->len);
	one->sent_len = w->len;
	next_client_id(w->r, w->pt, one->client_id, sizeof(one->client_id));
	fill_opts(w->r, w->pt, w->st, &o, one->sent, w->len, one->client_id, step_wait(w->r, w->pt, w->st));
	o.cuts = cuts;
	o.ncuts = (size_t)w->st->send.sweep - 1;
	o.delay_ms = w->st->send.delay_ms > 0 ? w->st->send.delay_ms : 20;
	(void)client_run(&o, &one->res, &one->conn, NULL);
	if (one->res.outcome == CLIENT_CONNACK && one->res.connack_rc == 0) {
		one->grade = RPT_PASS;
		want = record_to_check(w->r, w->pt->mode, w->st, w->hv, one, &tmp);
		if (want)
			check_record(w->r, w->pt, want, w->hv, one->client_id, one);
		c->what = one->grade == RPT_PASS ? CUT_GOOD : CUT_WRONG;
		c->grade = one->grade;
		c->clause = one->clause;
		snprintf(c->why, sizeof(c->why), "%s", one->reason);
	} else if (one->res.outcome == CLIENT_REFUSED || one->res.outcome == CLIENT_ERROR) {
		c->what = CUT_NOCONN;
	} else {
		c->what = CUT_DROPPED;
	}
	snprintf(c->recorded, sizeof(c->recorded), "%s", one->recorded);
	snprintf(c->notes, sizeof(c->notes), "%s", one->notes);
	client_close(one->conn, true);
	free(one);
}

static void *sweep_worker(void *arg)
{
	struct sweep *w = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&w->mu);
		i = w->next++;
		pthread_mutex_unlock(&w->mu);
		if (i >= w->ncuts)
			return NULL;
		sweep_one(w, i + 1, &w->cuts[i]);
	}
}

static void run_sweep(struct runner *r, const struct point *pt, const struct sc_step *st,
		      const struct hdr_view *hv, struct step_out *so)
{
	struct sweep w = { .r = r, .pt = pt, .st = st, .hv = hv, .hdr = so->sent, .len = so->sent_len };
	pthread_t th[SWEEP_THREADS];
	size_t k, good = 0, dropped = 0, wrong = 0, other = 0, nth = 0;
	char dlist[96] = "", wfirst[900] = "", olist[96] = "";

	so->grade = RPT_PASS;
	w.ncuts = so->sent_len > (size_t)st->send.sweep ? so->sent_len - (size_t)st->send.sweep + 1 : 0;
	w.cuts = calloc(w.ncuts + 1, sizeof(*w.cuts));
	if (!w.cuts) {
		so->grade = RPT_FAIL;
		snprintf(so->reason, sizeof(so->reason), "out of memory");
		return;
	}
	pthread_mutex_init(&w.mu, NULL);
	for (k = 0; k < SWEEP_THREADS && k < w.ncuts; k++)
		if (pthread_create(&th[nth], NULL, sweep_worker, &w) == 0)
			nth++;
	if (!nth)
		sweep_worker(&w);
	for (k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
	pthread_mutex_destroy(&w.mu);
	for (k = 0; k < w.ncuts; k++) {
		const struct cut *c = &w.cuts[k];

		switch (c->what) {
		case CUT_GOOD:
			good++;
			break;
		case CUT_WRONG:
			if (!wrong)
				snprintf(wfirst, sizeof(wfirst), "cut at %zu: %s", k + 1, c->why);
			wrong++;
			raise_grade(so, c->grade, c->clause);
			break;
		case CUT_DROPPED:
			sweep_list(dlist, sizeof(dlist), &dropped, k + 1);
			break;
		case CUT_NOCONN:
			sweep_list(olist, sizeof(olist), &other, k + 1);
			break;
		}
		if (c->recorded[0] && !so->recorded[0])
			snprintf(so->recorded, sizeof(so->recorded), "%s", c->recorded);
		if (c->notes[0] && !so->notes[0])
			snprintf(so->notes, sizeof(so->notes), "%s", c->notes);
	}
	free(w.cuts);
	snprintf(so->summary, sizeof(so->summary),
		 "%zu cuts into %d pieces, %d ms apart: %zu accepted with the header's address, %zu dropped%s%s%s, %zu accepted with another address%s%s",
		 w.ncuts, st->send.sweep, st->send.delay_ms > 0 ? st->send.delay_ms : 20, good, dropped,
		 dropped ? " (cut at " : "", dlist, dropped ? ")" : "", wrong,
		 other ? ", connect failed at " : "", olist);
	so->act.outcome = good + wrong ? CLIENT_CONNACK : CLIENT_CLOSED;
	so->act.connack_rc = good + wrong ? 0 : -1;
	if (wrong)
		append(so->reason, sizeof(so->reason), "accepted a cut header with another address than its own: %zu of %zu cuts, first %s",
		       wrong, w.ncuts, wfirst);
	if (dropped) {
		raise_grade(so, broken(st->clause), st->clause);
		append(so->reason, sizeof(so->reason), "%sdropped %zu of %zu cut headers (cut at %s)",
		       so->reason[0] ? "; " : "", dropped, w.ncuts, dlist);
	}
	if (other) {
		raise_grade(so, RPT_FAIL, sc_clause_find(r->c->catalog, "ppmq/liveness"));
		append(so->reason, sizeof(so->reason), "%sthe listener refused %zu connections (cut at %s)",
		       so->reason[0] ? "; " : "", other, olist);
	}
}

/* A plain client on the listener, as its mode wants: is it still served? */
static bool probe_ok(struct runner *r, const struct point *pt, char *detail, size_t cap)
{
	struct sc_step st;
	struct sc_expect x;
	struct step_out so;

	memset(&st, 0, sizeof(st));
	memset(&x, 0, sizeof(x));
	st.send.payload = SC_PAY_AUTO;
	st.send.cred = SC_CRED_VALID;
	x.outcome = SC_O_ACCEPTED;
	x.grade = RPT_PASS;
	st.expect = &x;
	st.nexpect = 1;
	run_step(r, pt, &st, &so);
	if (so.conn)
		client_close(so.conn, true);
	if (so.grade == RPT_PASS)
		return true;
	expect_actual_text(&so.act, so.res.detail, detail, cap);
	return false;
}

/* A malloc'd copy of n bytes (NULL for none); *len gets what was kept. */
static unsigned char *bytesdup(const unsigned char *p, size_t n, size_t *len)
{
	unsigned char *c;

	*len = 0;
	if (!n)
		return NULL;
	c = malloc(n);
	if (c) {
		memcpy(c, p, n);
		*len = n;
	}
	return c;
}

/* ---- the target's own words ---------------------------------------------- */

/* The files a target writes about its clients: its output (launch mode)
 * and the log its observers read. Lines appended while a point runs that
 * name one of its connections (client id, our source port, the header's
 * source address) are kept with the point, so a reader sees the broker's
 * own diagnosis beside the verdict. */
#define LOG_FILES 3
#define LOG_KEEP 12

struct logcap {
	const char *file[LOG_FILES];
	off_t off[LOG_FILES];
	int n;
};

static void logcap_add(struct logcap *lc, const char *file)
{
	struct stat st;
	int i;

	if (!file || !*file || lc->n == LOG_FILES)
		return;
	for (i = 0; i < lc->n; i++)
		if (!strcmp(lc->file[i], file))
			return;
	lc->file[lc->n] = file;
	lc->off[lc->n++] = stat(file, &st) == 0 ? st.st_size : 0;
}

static void logcap_begin(const struct runner *r, struct logcap *lc)
{
	memset(lc, 0, sizeof(*lc));
	if (r->target)
		logcap_add(lc, r->target->output);
	if (r->p->sessions.type == PROFILE_OBS_LOG)
		logcap_add(lc, r->p->sessions.file);
	if (r->p->unauthorized.type == PROFILE_OBS_LOG)
		logcap_add(lc, r->p->unauthorized.file);
}

/* Does a log line name one of the point's connections? */
static bool about(const char *line, const struct step_out *so, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char port[16];
		const char *p;

		if (so[i].client_id[0] && strstr(line, so[i].client_id))
			return true;
		if (so[i].hsrc[0] && strstr(line, so[i].hsrc))
			return true;
		snprintf(port, sizeof(port), ":%u", net_addr_port(&so[i].res.local));
		for (p = strstr(line, port); p && net_addr_port(&so[i].res.local); p = strstr(p + 1, port))
			if (!isdigit((unsigned char)p[strlen(port)]))
				return true;
	}
	return false;
}

static char *logcap_end(const struct logcap *lc, const struct step_out *so, size_t n)
{
	char out[LOG_KEEP * 320] = "";
	int kept = 0, i;

	for (i = 0; i < lc->n; i++) {
		FILE *f = fopen(lc->file[i], "r");
		char line[1024];

		if (!f)
			continue;
		if (fseeko(f, lc->off[i], SEEK_SET) == 0)
			while (kept < LOG_KEEP && fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\r\n")] = '\0';
				line[300] = '\0';
				/* a launcher may copy the log to its output: once is enough */
				if (!about(line, so, n) || strstr(out, line))
					continue;
				append(out, sizeof(out), "%s%s", kept ? "\n" : "", line);
				kept++;
			}
		fclose(f);
	}
	return out[0] ? xstrdup(out) : NULL;
}

static void run_point(struct runner *r, struct point *pt)
{
	struct logcap lc;
	const struct scenario *s = pt->s;
	struct step_out *so;
	struct client_conn **held;
	char actual[RUNNER_MAX_STEPS_TEXT] = "", reason[1024] = "", recorded[2048] = "";
	size_t i, j, k = 0, nexp = 0, worst_step = 0;
	enum rpt_grade grade = RPT_PASS;
	int64_t t0 = net_now_ms();

	logcap_begin(r, &lc);
	so = calloc(s->nsteps, sizeof(*so));
	held = calloc(s->nsteps, sizeof(*held));
	for (i = 0; i < s->nsteps; i++)
		nexp += s->steps[i].nexpect > 2 ? s->steps[i].nexpect : 2;
	pt->expected = calloc(nexp + 1, sizeof(*pt->expected));
	if (!so || !held || !pt->expected) {
		free(so);
		free(held);
		pt->grade = RPT_FAIL;
		pt->reason = xstrdup("out of memory");
		return;
	}
	for (i = 0; i < s->nsteps; i++) {
		enum rpt_grade before = grade;
		char buf[1024], line[1100];

		run_step(r, pt, &s->steps[i], &so[i]);
		held[i] = so[i].conn; /* sessions stay open until the scenario ends */
		grade = expect_worst(grade, so[i].grade);
		if (grade != before || i == 0)
			worst_step = i;
		for (j = 0; j < so[i].nexpect && k < nexp; j++) {
			expect_text(&so[i].expect[j], r->header_wait[pt->l], buf, sizeof(buf));
			if (s->nsteps > 1)
				snprintf(line, sizeof(line), "step %zu: %s", i + 1, buf);
			else
				snprintf(line, sizeof(line), "%s", buf);
			pt->expected[k++] = xstrdup(line);
		}
		if (so[i].summary[0])
			snprintf(buf, sizeof(buf), "%s", so[i].summary);
		else
			expect_actual_text(&so[i].act, so[i].res.detail, buf, sizeof(buf));
		append_step(actual, sizeof(actual), s->nsteps, i);
		append(actual, sizeof(actual), "%s", buf);
		if (so[i].notes[0])
			append(actual, sizeof(actual), " (%s)", so[i].notes);
		if (so[i].reason[0]) {
			append_step(reason, sizeof(reason), s->nsteps, i);
			append(reason, sizeof(reason), "%s", so[i].reason);
		}
		if (so[i].recorded[0])
			append(recorded, sizeof(recorded), "%s%s", recorded[0] ? "\n" : "", so[i].recorded);
	}
	pt->nexpected = k;
	for (i = 0; i < s->nsteps; i++)
		client_close(held[i], true);
	pt->clause = so[worst_step].clause;

	if (s->probe_after && grade != RPT_SKIP) {
		char detail[300];

		if (!probe_ok(r, pt, detail, sizeof(detail))) {
			grade = RPT_FAIL;
			pt->clause = sc_clause_find(r->c->catalog, "pp/no-process-before-header");
			append(reason, sizeof(reason), "%safterwards a normal client was not served: %s",
			       reason[0] ? "; " : "", detail);
			append(actual, sizeof(actual), "; probe after: %s", detail);
		} else {
			append(actual, sizeof(actual), "; probe after: served");
		}
	}
	/* A pass that checked only part of a record says which part it
	 * could not check (the IP was, the port was not). */
	for (i = 0; grade == RPT_PASS && !reason[0] && i < s->nsteps; i++)
		if (so[i].unchecked[0])
			snprintf(reason, sizeof(reason), "partly checked: %s", so[i].unchecked);
	pt->grade = grade;
	pt->reason = reason[0] ? xstrdup(reason) : NULL;
	pt->actual = xstrdup(actual);
	pt->recorded = recorded[0] ? xstrdup(recorded) : NULL;
	pt->sent = bytesdup(so[worst_step].sent, so[worst_step].sent_len, &pt->sent_len);
	pt->received = bytesdup(so[worst_step].res.rx, so[worst_step].res.rx_len, &pt->received_len);
	pt->duration_ms = net_now_ms() - t0;
	pt->log = logcap_end(&lc, so, s->nsteps);
	free(so);
	free(held);
}

/* ---- reporting in catalog order ----------------------------------------- */

static void free_point(struct point *pt)
{
	size_t i;

	free(pt->reason);
	for (i = 0; i < pt->nexpected; i++)
		free(pt->expected[i]);
	free(pt->expected);
	free(pt->actual);
	free(pt->sent);
	free(pt->received);
	free(pt->recorded);
	free(pt->log);
	pt->reason = pt->actual = pt->recorded = pt->log = NULL;
	pt->expected = NULL;
	pt->nexpected = 0;
	pt->sent = pt->received = NULL;
}

/* Called with r->mu held. */
static void flush_ready(struct runner *r)
{
	while (r->next_print < r->npt && r->pt[r->next_print].done) {
		struct point *pt = &r->pt[r->next_print];
		struct rpt_result res;
		char title[512], quote[1024];

		memset(&res, 0, sizeof(res));
		res.id = pt->s->id;
		if (!pt->s->configuration && pt->group >= 0 && r->groups[pt->group].canon)
			/* Run in a mode configuration: say which. */
			snprintf(title, sizeof(title), "%s [%s]", pt->s->title, r->groups[pt->group].canon);
		else
			snprintf(title, sizeof(title), "%s", pt->s->title);
		res.title = title;
		res.ref = pt->s->ref;
		res.family = pt->s->family;
		res.tags = (const char **)pt->s->tags;
		res.ntags = pt->s->ntags;
		res.listener = sc_listener_name(pt->l);
		res.grade = pt->grade;
		res.reason = pt->reason;
		res.expected = (const char **)pt->expected;
		res.nexpected = pt->nexpected;
		res.actual = pt->actual;
		res.sent = pt->sent;
		res.sent_len = pt->sent_len;
		res.received = pt->received;
		res.received_len = pt->received_len;
		res.recorded = pt->recorded;
		res.log = pt->log;
		res.duration_ms = pt->duration_ms;
		if (pt->clause && pt->grade != RPT_PASS && pt->grade != RPT_SKIP) {
			res.clause = pt->clause->id;
			res.level = sc_level_name(pt->clause->level);
			snprintf(quote, sizeof(quote), "%s: \"%s\"", pt->clause->source, pt->clause->quote);
			res.quote = quote;
		}
		if (rpt_run_add(r->run, &res, &r->err) < 0)
			r->failed_add = true;
		if (r->c->tap) {
			rpt_tap_point(r->c->tap, r->run->nresults, &res, r->c->strict, r->c->verbose);
			fflush(r->c->tap);
		}
		free_point(pt);
		r->next_print++;
	}
}

/* ---- pre-flight ----------------------------------------------------------- */

/* Before the catalog: does each listener do what the profile declares
 * (reachable; TLS / WebSocket / MQTT; a header required, refused or
 * optional), and does the sessions observer find a client that is
 * connected? A mismatch is one diagnosis instead of hundreds of FAILs. */

static const char *mode_behaviour(enum sc_mode m)
{
	switch (m) {
	case SC_MODE_ENABLED: return "requires a PROXY header";
	case SC_MODE_DISABLED: return "takes no PROXY header";
	default: return "takes clients with and without a header";
	}
}

/* One probe connection on listener l as point pt would make it. */
static void probe_step_cred(struct runner *r, struct point *pt, enum sc_payload pay, enum sc_cred cred,
			    struct step_out *so);

static void probe_step(struct runner *r, struct point *pt, enum sc_payload pay, struct step_out *so)
{
	probe_step_cred(r, pt, pay, SC_CRED_VALID, so);
}

static void probe_step_cred(struct runner *r, struct point *pt, enum sc_payload pay, enum sc_cred cred,
			    struct step_out *so)
{
	struct sc_step st;
	struct sc_expect x;

	memset(&st, 0, sizeof(st));
	memset(&x, 0, sizeof(x));
	st.send.payload = pay;
	st.send.header.version = PROFILE_TAKES(&r->p->l[pt->l], 2) ? 2 : 1;
	st.send.header.command = PP_CMD_PROXY;
	st.send.header.family = PP_FAM_INET;
	st.send.header.transport = -1;
	st.send.header.src = "192.0.2.250:40250"; /* to the default destination */
	st.send.cred = cred;
	st.record.none = true;
	x.outcome = SC_O_ACCEPTED;
	st.expect = &x;
	st.nexpect = 1;
	run_step(r, pt, &st, so);
}

static bool accepted(const struct step_out *so)
{
	return so->res.outcome == CLIENT_CONNACK && so->res.connack_rc == 0;
}

/* What went wrong on a probe that should have been served. */
static void probe_diag(const struct step_out *so, char *buf, size_t cap)
{
	char out[400];

	expect_actual_text(&so->act, so->res.detail, out, sizeof(out));
	switch (so->res.outcome) {
	case CLIENT_TLS_FAIL:
		snprintf(buf, cap, "the TLS handshake failed (%s): check listeners.<l>.tls", out);
		break;
	case CLIENT_WS_FAIL:
		snprintf(buf, cap, "the WebSocket upgrade was refused (%s): check path and subprotocol", out);
		break;
	case CLIENT_CONNACK:
		snprintf(buf, cap, "the valid credentials were refused (%s): check credentials.valid", out);
		break;
	default:
		snprintf(buf, cap, "%s", out);
		break;
	}
}

static int preflight_observer(struct runner *r, struct point *pt, struct step_out *so, struct perr *e)
{
	const struct profile_observer *ob = &r->p->sessions;
	struct obs_vars v = { .client_id = so->client_id, .listener = sc_listener_name(pt->l),
			      .output = r->target ? r->target->output : NULL };
	struct expect_record rec;
	char excerpt[512];
	struct perr oe;

	if (ob->type == PROFILE_OBS_NONE)
		return 0;
	if (obs_query(ob, &v, &rec, excerpt, sizeof(excerpt), &oe) < 0)
		return perr_set(e, "pre-flight: the sessions observer cannot be read: %s", oe.msg);
	if (!rec.found)
		return perr_set(e, "pre-flight: the sessions observer finds no record of client %s, connected on %s for %d ms (check its url / file and regex, and retry_ms)",
				so->client_id, sc_listener_name(pt->l), ob->retry_ms);
	if (!rec.ip[0])
		return perr_set(e, "pre-flight: the sessions observer's record of %s shows no client IP (ip_field / ip group): %s",
				so->client_id, excerpt);
	if (r->c->tap)
		fprintf(r->c->tap, "# pre-flight: the sessions observer sees %s: IP%s%s%s\n", so->client_id,
			rec.port_hidden ? "" : ", port", rec.peer_ip_hidden ? "" : ", peer IP",
			rec.peer_port_hidden ? "" : ", peer port");
	return 0;
}

/* The unauthorized observer finds a login refused for its credentials. */
static int preflight_unauthorized(struct runner *r, struct point *pt, struct perr *e)
{
	const struct profile_observer *ob = &r->p->unauthorized;
	struct step_out *so;
	struct obs_vars v = { .listener = sc_listener_name(pt->l),
			      .output = r->target ? r->target->output : NULL };
	struct expect_record rec;
	char excerpt[512], out[400];
	struct perr oe;
	int rc = 0;

	if (ob->type == PROFILE_OBS_NONE || !r->p->invalid.given)
		return 0;
	so = calloc(1, sizeof(*so));
	if (!so)
		return perr_set(e, "out of memory");
	probe_step_cred(r, pt, pt->mode == SC_MODE_ENABLED ? SC_PAY_HEADER : SC_PAY_NONE, SC_CRED_INVALID, so);
	client_close(so->conn, true);
	expect_actual_text(&so->act, so->res.detail, out, sizeof(out));
	v.client_id = so->client_id;
	if (so->res.outcome != CLIENT_CONNACK || so->res.connack_rc == 0)
		rc = perr_set(e, "pre-flight: listener %s did not refuse the profile's invalid credentials with a CONNACK (%s): check credentials.invalid",
			      sc_listener_name(pt->l), out);
	else if (obs_query(ob, &v, &rec, excerpt, sizeof(excerpt), &oe) < 0)
		rc = perr_set(e, "pre-flight: the unauthorized observer cannot be read: %s", oe.msg);
	else if (!rec.found)
		rc = perr_set(e, "pre-flight: the unauthorized observer finds no record of client %s, refused on %s with the invalid credentials (%s; check its url / file and regex, and that the broker keeps such records)",
			      so->client_id, sc_listener_name(pt->l), out);
	else if (r->c->tap)
		fprintf(r->c->tap, "# pre-flight: the unauthorized observer sees %s: IP%s\n", so->client_id,
			rec.port_hidden ? "" : ", port");
	free(so);
	return rc;
}

static int preflight_listener(struct runner *r, enum sc_listener l, bool *observed, struct perr *e)
{
	static struct scenario probe_scenario = { .id = "pre-flight", .title = "pre-flight" };
	const struct profile_listener *li = &r->p->l[l];
	struct point pt;
	struct step_out *a = calloc(2, sizeof(*a)), *b = a + 1;
	char diag[600];
	int rc = 0;

	if (!a)
		return perr_set(e, "out of memory");
	memset(&pt, 0, sizeof(pt));
	pt.s = &probe_scenario;
	pt.l = l;
	pt.mode = li->mode;
	/* a: what the declared mode serves; b: what it must not (or, for
	 * optional, the other way it serves). */
	probe_step(r, &pt, li->mode == SC_MODE_ENABLED ? SC_PAY_HEADER : SC_PAY_NONE, a);
	if (li->mode != SC_MODE_OPTIONAL || !accepted(a))
		probe_step(r, &pt, li->mode == SC_MODE_ENABLED ? SC_PAY_NONE : SC_PAY_HEADER, b);
	if (!accepted(a)) {
		probe_diag(a, diag, sizeof(diag));
		if (accepted(b))
			rc = perr_set(e, "pre-flight: listener %s (%s:%u) %s, but the profile says PROXY %s (it %s): a client %s was refused (%s), one %s was served",
				      sc_listener_name(l), li->host, li->port,
				      li->mode == SC_MODE_ENABLED ? "takes no PROXY header" : "requires a PROXY header",
				      sc_mode_name(li->mode), mode_behaviour(li->mode),
				      li->mode == SC_MODE_ENABLED ? "with a header" : "without a header", diag,
				      li->mode == SC_MODE_ENABLED ? "without" : "with one");
		else
			rc = perr_set(e, "pre-flight: listener %s (%s:%u, PROXY %s) does not serve a client as declared: %s",
				      sc_listener_name(l), li->host, li->port, sc_mode_name(li->mode), diag);
	} else if (li->mode != SC_MODE_OPTIONAL && accepted(b)) {
		rc = perr_set(e, "pre-flight: listener %s (%s:%u) serves clients %s a PROXY header, but the profile says PROXY %s (it %s)",
			      sc_listener_name(l), li->host, li->port,
			      li->mode == SC_MODE_ENABLED ? "without" : "with", sc_mode_name(li->mode),
			      mode_behaviour(li->mode));
	} else {
		if (r->c->tap)
			fprintf(r->c->tap, "# pre-flight: %s: PROXY %s as declared (%s)\n", sc_listener_name(l),
				sc_mode_name(li->mode), mode_behaviour(li->mode));
		if (!*observed) {
			*observed = true;
			rc = preflight_observer(r, &pt, a, e);
			if (rc == 0)
				rc = preflight_unauthorized(r, &pt, e);
		}
	}
	client_close(a->conn, true);
	client_close(b->conn, true);
	free(a);
	return rc;
}

static int preflight(struct runner *r, struct perr *e)
{
	bool observed = false;
	int l;

	if (r->c->no_preflight)
		return 0;
	for (l = 0; l < SC_NLISTENERS; l++) {
		if (!r->p->l[l].present || (r->c->listeners && !(r->c->listeners & (1u << l))))
			continue;
		if (preflight_listener(r, (enum sc_listener)l, &observed, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- liveness ------------------------------------------------------------ */

/* Is the target still there after point pt: its process (launch mode)
 * and a TCP connection to pt's listener. */
static bool target_alive(struct runner *r, const struct point *pt, char *why, size_t cap)
{
	const struct profile_listener *li = &r->p->l[pt->l];
	struct perr e;
	bool gone;
	int fd;

	if (r->target) {
		pthread_mutex_lock(&r->mu);
		gone = !launch_alive(r->target);
		pthread_mutex_unlock(&r->mu);
		if (gone) {
			char how[64];

			snprintf(why, cap, "its process ended (%s)", launch_exit_text(r->target, how, sizeof(how)));
			return false;
		}
	}
	fd = net_connect(li->host, li->port, r->p->client_bind, 3000, NULL, &e);
	if (fd < 0) {
		snprintf(why, cap, "%s %s:%u no longer accepts connections: %s", sc_listener_name(pt->l),
			 li->host, li->port, e.msg);
		return false;
	}
	close(fd);
	return true;
}

/* The point's result stands as the target's: print it in order. */
static void point_done(struct runner *r, struct point *pt)
{
	pthread_mutex_lock(&r->mu);
	pt->done = true;
	flush_ready(r);
	pthread_mutex_unlock(&r->mu);
}

static void *worker(void *arg)
{
	struct runner *r = arg;

	for (;;) {
		struct point *pt;
		size_t i;
		char why[256];
		bool alive;

		pthread_mutex_lock(&r->mu);
		if (r->down || r->next >= r->nqueue) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		i = r->queue[r->next++];
		pthread_mutex_unlock(&r->mu);
		pt = &r->pt[i];
		run_point(r, pt);
		alive = target_alive(r, pt, why, sizeof(why));
		pthread_mutex_lock(&r->mu);
		if (!alive || r->down) {
			/* Went down while this point ran (maybe beside others): its
			 * result says nothing until the point is run again alone. */
			if (!r->down) {
				r->down = true;
				r->down_at = i;
				snprintf(r->down_why, sizeof(r->down_why), "%s", why);
			}
			r->suspects[r->nsuspects++] = i;
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		point_done(r, pt);
	}
}

/* Point pt took the target down: FAIL, with how it ended and its last
 * words (launch mode). */
static void fail_crash(struct runner *r, struct point *pt, const char *why, bool alone)
{
	char tail[1500] = "", reason[2000];

	if (r->target)
		launch_tail(r->target, 3, tail, sizeof(tail));
	snprintf(reason, sizeof(reason), "the target went down %s: %s%s%s",
		 alone ? "after this scenario"
		       : "during this scenario (run again alone, it did not: a crash that depends on timing or on the points run beside it)",
		 why, tail[0] ? "; its last output: " : "", tail);
	free(pt->reason);
	pt->reason = xstrdup(reason);
	pt->grade = RPT_FAIL;
	pt->clause = sc_clause_find(r->c->catalog, "ppmq/liveness");
}

/* Everything not graded yet: SKIP, the target being gone since `what`. */
static void skip_rest(struct runner *r, const char *what)
{
	char why[400];
	size_t i;

	snprintf(why, sizeof(why), "not run: %s", what);
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->npt; i++)
		if (!r->pt[i].done) {
			free_point(&r->pt[i]);
			set_skip(&r->pt[i], why);
		}
	flush_ready(r);
	pthread_mutex_unlock(&r->mu);
}

/* A target that was started again logs its observers in again; one
 * that refuses leaves its record checks to fail with the reason. */
static void relogin(struct runner *r, const char *when)
{
	struct perr e;

	if (login_all(r->p, when, &e) < 0)
		log_warn("%s", e.msg);
}

static bool restart(struct runner *r, char *why, size_t cap)
{
	struct perr e;

	if (++r->restarts > RUNNER_MAX_RESTARTS) {
		snprintf(why, cap, "restarted %d times already", RUNNER_MAX_RESTARTS);
		return false;
	}
	launch_stop(r->p, r->target);
	launch_cleanup(r->target);
	if (launch_start(r->p, r->group->env, r->group->nenv, r->target, &e) < 0) {
		snprintf(why, cap, "it did not start again: %s", e.msg);
		return false;
	}
	relogin(r, "the target was restarted");
	return true;
}

/* The target went down: find which point did it and go on. Launch mode:
 * restart it, then run every suspect again, alone, checking after each;
 * each one after which it goes down again FAILs (when none does, the
 * point that found it down carries the crash). Without launch nothing
 * can be run any more: the point that found it down FAILs, the rest are
 * SKIP. Returns true when the run can go on. */
static bool recover(struct runner *r)
{
	struct point *first = &r->pt[r->down_at];
	char why[300], what[400], down_why[256];
	bool reproduced = false, up = false, gave_up;
	size_t k;

	snprintf(down_why, sizeof(down_why), "%s", r->down_why);
	snprintf(what, sizeof(what), "the target went down after %s [%s] (%s)", first->s->id,
		 sc_listener_name(first->l), down_why);
	if (!r->target) {
		/* Nothing can be run again: the point that found it down
		 * carries it (alone when nothing ran beside it). */
		fail_crash(r, first, down_why, r->nsuspects == 1);
		point_done(r, first);
		skip_rest(r, what);
		return false;
	}
	for (k = 0; k < r->nsuspects; k++) {
		struct point *pt = &r->pt[r->suspects[k]];

		if (!up && !restart(r, why, sizeof(why))) {
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "; %s", why);
			break;
		}
		free_point(pt);
		run_point(r, pt);
		up = target_alive(r, pt, why, sizeof(why));
		if (!up) {
			fail_crash(r, pt, why, true);
			reproduced = true;
		}
	}
	if (!reproduced && k == r->nsuspects)
		fail_crash(r, first, down_why, false);
	for (size_t j = 0; j < k; j++)
		point_done(r, &r->pt[r->suspects[j]]);
	gave_up = k < r->nsuspects;
	r->down = false;
	r->nsuspects = 0;
	if (!gave_up && !up && !restart(r, why, sizeof(why))) {
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "; %s", why);
		gave_up = true;
	}
	if (gave_up) {
		skip_rest(r, what);
		return false;
	}
	return true;
}

static void run_queue(struct runner *r)
{
	int n = r->c->jobs > 0 ? r->c->jobs : 1, i, started = 0;
	pthread_t *th;

	if (r->next >= r->nqueue)
		return;
	if ((size_t)n > r->nqueue - r->next)
		n = (int)(r->nqueue - r->next);
	th = calloc((size_t)n, sizeof(*th));
	if (th)
		for (i = 0; i < n; i++)
			if (pthread_create(&th[i], NULL, worker, r) == 0)
				started++;
	if (started == 0)
		worker(r); /* no threads: run inline */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
}

/* Does anything answer on the selected listeners? */
static bool reachable(const struct runner *r, char *why, size_t cap)
{
	int i;
	bool any = false, tried = false;

	why[0] = '\0';
	for (i = 0; i < SC_NLISTENERS; i++) {
		const struct profile_listener *li = &r->p->l[i];
		struct perr e;
		int fd;

		if (!li->present || (r->c->listeners && !(r->c->listeners & (1u << i))))
			continue;
		tried = true;
		fd = net_connect(li->host, li->port, r->p->client_bind, 2000, NULL, &e);
		if (fd >= 0) {
			close(fd);
			any = true;
		} else {
			size_t n = strlen(why);

			snprintf(why + n, cap - n, "%s%s %s:%u: %s", n ? "; " : "", sc_listener_name((enum sc_listener)i),
				 li->host, li->port, e.msg);
		}
	}
	return any || !tried;
}

/* --wait: until every selected listener accepts a connection, or the
 * deadline (a broker in a service container may still be starting). */
static void wait_listeners(const struct runner *r)
{
	int64_t deadline = net_now_ms() + (int64_t)r->c->wait_s * 1000;

	for (;;) {
		bool all = true;

		for (int i = 0; i < SC_NLISTENERS && all; i++) {
			const struct profile_listener *li = &r->p->l[i];
			struct perr e;
			int fd;

			if (!li->present || (r->c->listeners && !(r->c->listeners & (1u << i))))
				continue;
			fd = net_connect(li->host, li->port, r->p->client_bind, 1000, NULL, &e);
			if (fd >= 0)
				close(fd);
			all = fd >= 0;
		}
		if (all || net_now_ms() >= deadline)
			return;
		if (r->c->verbose)
			log_info("waiting for %s to accept connections on every listener", r->p->name);
		net_sleep_ms(500);
	}
}

static void fail_group(struct runner *r, int g, const char *why)
{
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->npt; i++)
		if (r->pt[i].group == g && !r->pt[i].done) {
			r->pt[i].grade = RPT_FAIL;
			r->pt[i].reason = xstrdup(why);
			r->pt[i].done = true;
		}
	flush_ready(r);
	pthread_mutex_unlock(&r->mu);
}

const struct scenario **runner_select(const struct runner_config *c, size_t *n)
{
	const struct scenario **v = calloc(c->catalog->n + 1, sizeof(*v));
	size_t i, j;

	*n = 0;
	if (!v)
		return NULL;
	for (i = 0; i < c->catalog->n; i++) {
		const struct scenario *s = &c->catalog->v[i];
		bool want = c->nonly == 0;

		for (j = 0; !want && j < c->nonly; j++)
			want = sc_matches(s, c->only[j]);
		if (want)
			v[(*n)++] = s;
	}
	return v;
}

/* The target answers and behaves as declared (reachable, pre-flight):
 * 0, or RUNNER_UNREACHABLE with *e set and "Bail out!" in the TAP. */
static int target_ready(struct runner *r, struct perr *e)
{
	char why[1024];

	if (r->c->wait_s > 0)
		wait_listeners(r);
	if (!reachable(r, why, sizeof(why)))
		perr_set(e, "target %s unreachable: %s", r->p->name, why);
	else if (login_all(r->p, "the target is ready", e) == 0 && preflight(r, e) == 0)
		return 0;
	if (r->c->tap)
		rpt_tap_bail(r->c->tap, e->msg);
	return RUNNER_UNREACHABLE;
}

/* One point per selected scenario and listener, each planned (where it
 * runs, or why it is skipped). */
static int plan_points(struct runner *r, const struct scenario **sel, size_t nsel, struct perr *e)
{
	const struct runner_config *c = r->c;
	size_t i, k = 0;
	int l;

	for (l = 0; l < SC_NLISTENERS; l++)
		if (!c->listeners || (c->listeners & (1u << l)))
			k++;
	r->npt = nsel * k;
	r->pt = calloc(r->npt, sizeof(*r->pt));
	r->queue = calloc(r->npt, sizeof(*r->queue));
	r->suspects = calloc(r->npt, sizeof(*r->suspects));
	if (!r->pt || !r->queue || !r->suspects)
		return perr_set(e, "out of memory");
	/* The base configuration runs first (group 0), then the others in
	 * the order scenarios first ask for them. */
	if (group_find_or_add(r, NULL, e) < 0)
		return RUNNER_ERROR;
	k = 0;
	for (i = 0; i < nsel; i++)
		for (l = 0; l < SC_NLISTENERS; l++) {
			if (c->listeners && !(c->listeners & (1u << l)))
				continue;
			r->pt[k].s = sel[i];
			r->pt[k].l = (enum sc_listener)l;
			r->pt[k].index = k;
			if (plan_point(r, &r->pt[k], e) < 0)
				return RUNNER_ERROR;
			k++;
		}
	return 0;
}

/* What a point is likely to wait for, in ms: the pauses and timeouts its
 * scenario declares (a sweep is one connection per cut). Only an order:
 * results are reported in catalog order whatever the order they run in. */
static long point_weight(const struct runner *r, const struct point *pt)
{
	long w = 1;

	for (size_t i = 0; i < pt->s->nsteps; i++) {
		const struct sc_send *sd = &pt->s->steps[i].send;
		long hw = r->header_wait[pt->l];

		if (sd->sweep)
			w += 2000L * sd->sweep;
		if (sd->stall_ms)
			w += sd->stall_ms == SC_WAIT_HEADER_TIMEOUT ? hw : sd->stall_ms;
		if (sd->stall_before_ms)
			w += sd->stall_before_ms == SC_WAIT_HEADER_TIMEOUT ? hw : sd->stall_before_ms;
		if (sd->wait_ms)
			w += sd->wait_ms == SC_WAIT_HEADER_TIMEOUT ? hw : sd->wait_ms;
		if (sd->send_only)
			w += hw;
		if (sd->delay_ms)
			w += (long)sd->delay_ms * (sd->split ? 100 / (long)sd->split + 1 : 2);
	}
	return w;
}

static const struct runner *sort_rn; /* qsort has no context argument */

static int by_weight(const void *a, const void *b)
{
	const struct point *x = &sort_rn->pt[*(const size_t *)a], *y = &sort_rn->pt[*(const size_t *)b];
	long wx = point_weight(sort_rn, x), wy = point_weight(sort_rn, y);

	if (wx != wy)
		return wx > wy ? -1 : 1;
	return x->index < y->index ? -1 : 1; /* stable: catalog order */
}

/* The longest points first: with N workers, the group then ends about
 * when its longest point does, not after a tail of it. */
static void queue_longest_first(struct runner *r)
{
	sort_rn = r;
	qsort(r->queue, r->nqueue, sizeof(*r->queue), by_weight);
	sort_rn = NULL;
}

/* Run the points of group g: start the target in its configuration (launch
 * mode), check it the first time, run, recover from crashes, stop it.
 * 0, or RUNNER_UNREACHABLE when the base target never comes up. */
static int run_group(struct runner *r, int g, bool *base_checked, struct perr *e)
{
	struct group *gr = &r->groups[g];
	struct launch_target t;
	struct perr le;
	size_t i;
	int rc = 0;

	r->nqueue = 0;
	for (i = 0; i < r->npt; i++)
		if (r->pt[i].group == g && !r->pt[i].done)
			r->queue[r->nqueue++] = i;
	if (r->nqueue == 0)
		return 0;
	queue_longest_first(r);
	r->target = NULL;
	r->group = gr;
	if (r->p->launch.present) {
		if (r->c->verbose)
			log_info("starting %s%s%s", r->p->name, gr->canon ? " with " : "",
				 gr->canon ? gr->canon : "");
		if (launch_start(r->p, gr->env, gr->nenv, &t, &le) < 0) {
			char why[600];

			launch_cleanup(&t);
			if (!gr->configuration && !*base_checked) {
				/* The base launch is the target: nothing answers. */
				perr_set(e, "target %s did not start: %s", r->p->name, le.msg);
				if (r->c->tap)
					rpt_tap_bail(r->c->tap, e->msg);
				return RUNNER_UNREACHABLE;
			}
			snprintf(why, sizeof(why), "target did not start with %s: %s",
				 gr->configuration ? gr->configuration : "its base configuration", le.msg);
			fail_group(r, g, why);
			return 0;
		}
		r->target = &t;
		if (*base_checked)
			relogin(r, "the target was started in another configuration");
	}
	if (!*base_checked) {
		rc = target_ready(r, e);
		*base_checked = rc == 0;
	}
	if (rc == 0) {
		r->next = 0;
		while (run_queue(r), r->down && recover(r))
			;
	}
	if (r->target) {
		launch_stop(r->p, &t);
		launch_cleanup(&t);
		r->target = NULL;
	}
	return rc;
}

/* The runner's state for c, with every point planned (where it runs, or
 * why it is skipped). 0, or -1 with *e; runner_done in either case. */
static int runner_begin(struct runner *r, const struct runner_config *c, struct rpt_run *run,
		    const struct scenario ***sel, struct perr *e)
{
	size_t nsel;

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->p = c->profile;
	r->run = run;
	r->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : c->profile->timeout_ms;
	for (int l = 0; l < SC_NLISTENERS; l++)
		r->header_wait[l] = runner_listener_header_wait(c->profile, (enum sc_listener)l);
	r->salt = (unsigned)(getpid() ^ time(NULL)) & 0x3ff;
	pthread_mutex_init(&r->mu, NULL);
	*sel = runner_select(c, &nsel);
	if (!*sel)
		return perr_set(e, "out of memory");
	if (nsel == 0)
		return perr_set(e, "no scenario matches --only");
	return plan_points(r, *sel, nsel, e);
}

static void runner_done(struct runner *r, const struct scenario **sel)
{
	size_t i;

	if (r->pt)
		for (i = 0; i < r->npt; i++)
			free_point(&r->pt[i]);
	free(r->pt);
	free(r->queue);
	free(r->suspects);
	for (i = 0; i < r->ngroups; i++)
		free(r->groups[i].canon);
	free(r->groups);
	free(sel);
	pthread_mutex_destroy(&r->mu);
}

/* A target without PROXY support: said once, before the points. */
static void say_no_proxy(const struct runner *r)
{
	size_t i, n = 0;

	if (!r->p->no_proxy_support)
		return;
	for (i = 0; i < r->npt; i++)
		n += r->pt[i].group < 0 && r->pt[i].grade == RPT_UNSUPPORTED;
	fprintf(r->c->tap, "# %s has no PROXY support (profile: no_proxy_support): %s\n"
		"# %zu of %zu points need it: UNSUPPORTED, not run; the others check that its "
		"listeners refuse a PROXY header and serve clients without one\n",
		r->p->name, r->p->no_proxy_support, n, r->npt);
}

int runner_run(const struct runner_config *c, struct rpt_run *run, struct perr *e)
{
	struct runner r;
	const struct scenario **sel;
	int g, rc;
	bool base_checked = false;

	rc = runner_begin(&r, c, run, &sel, e);
	if (rc == 0 && r.p->launch.present && launch_prepare(r.p, e) < 0) {
		if (c->tap)
			rpt_tap_bail(c->tap, e->msg);
		rc = RUNNER_UNREACHABLE;
	}
	/* Without launch, the target must answer before anything is printed. */
	if (rc == 0 && !r.p->launch.present) {
		rc = target_ready(&r, e);
		base_checked = rc == 0;
	}
	if (rc == 0 && c->tap) {
		rpt_tap_plan(c->tap, r.npt);
		say_no_proxy(&r);
		fflush(c->tap);
	}
	if (rc == 0) {
		pthread_mutex_lock(&r.mu);
		flush_ready(&r); /* leading SKIPs */
		pthread_mutex_unlock(&r.mu);
	}
	for (g = 0; rc == 0 && g < (int)r.ngroups; g++)
		rc = run_group(&r, g, &base_checked, e);
	if (rc == 0) {
		pthread_mutex_lock(&r.mu);
		flush_ready(&r);
		pthread_mutex_unlock(&r.mu);
		if (r.failed_add) {
			*e = r.err;
			rc = RUNNER_ERROR;
		}
	}
	runner_done(&r, sel);
	return rc;
}

int runner_plan(const struct runner_config *c, struct runner_planned **out, size_t *n, struct perr *e)
{
	struct runner r;
	const struct scenario **sel;
	struct runner_planned *v = NULL;
	size_t i;
	int rc = runner_begin(&r, c, NULL, &sel, e);

	*out = NULL;
	*n = 0;
	if (rc == 0 && !(v = calloc(r.npt + 1, sizeof(*v))))
		rc = perr_set(e, "out of memory");
	for (i = 0; rc == 0 && i < r.npt; i++) {
		const struct point *pt = &r.pt[i];

		v[i].s = pt->s;
		v[i].l = pt->l;
		v[i].mode = pt->mode;
		v[i].unsupported = pt->group < 0 && pt->grade == RPT_UNSUPPORTED;
		if (pt->group < 0)
			v[i].skip = xstrdup(pt->reason ? pt->reason : "not run");
		else if (r.groups[pt->group].canon)
			v[i].configuration = xstrdup(r.groups[pt->group].canon);
		if ((pt->group < 0 && !v[i].skip) ||
		    (pt->group >= 0 && r.groups[pt->group].canon && !v[i].configuration))
			rc = perr_set(e, "out of memory");
	}
	if (rc == 0) {
		*out = v;
		*n = r.npt;
	} else {
		runner_plan_free(v, r.npt);
	}
	runner_done(&r, sel);
	return rc;
}

void runner_plan_free(struct runner_planned *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].skip);
		free(v[i].configuration);
	}
	free(v);
}
