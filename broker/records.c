/* records.c - see records.h.
 *
 * Sessions live in a chained hash table keyed by client id. Disconnected
 * records are also on a list in disconnect order, so the oldest one can be
 * dropped in O(1) when the store is over its bound. The unauthorized
 * clients are a fixed ring. One mutex guards everything.
 */
#include "records.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "net.h"

/* A session record as kept: one allocation with its strings; callers
 * see it as a struct rec_session (sess_view). */
struct sess {
	struct sess *hnext;               /* hash chain */
	struct sess *dprev, *dnext;       /* disconnected list (NULL when connected) */
	struct rec_proxy *proxy;          /* NULL: no header */
	const char *tls_version;          /* static (rec_conn_info); "" when !tls */
	const char *tls_cipher;
	int64_t connected_ms;             /* CLOCK_REALTIME, milliseconds */
	int64_t disconnected_ms;          /* 0 while connected */
	uint64_t gen;                     /* connection generation */
	uint32_t peer_off, client_off;    /* in str: peer IP, client IP */
	uint16_t client_port, peer_port;
	uint8_t listener;                 /* enum cfg_listener_kind */
	uint8_t mqtt_version;
	bool tls : 1;
	bool connected : 1;
	bool has_username : 1;
	char str[];                       /* client id, user name, peer IP, client IP, each
					     NUL-terminated; the client IP "" when the peer's */
};

struct rec_store {
	pthread_mutex_t mu;
	struct sess **buckets;
	size_t nbuckets, nsess, max_kept;
	struct sess *dhead, *dtail;       /* oldest disconnected first */
	uint64_t next_gen;

	struct rec_unauth *ring;
	size_t ring_cap, ring_start, ring_len;

	struct rec_counters cnt;
};

/* ---- text helpers ---------------------------------------------------------- */

/* Printable ASCII stays, everything else (and the backslash) becomes
 * \xNN: the result is always valid UTF-8 and valid in JSON. */
static char *safe_text(const uint8_t *p, size_t n)
{
	char *out = malloc(n * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			*o++ = (char)p[i];
		} else {
			snprintf(o, 5, "\\x%02x", p[i]);
			o += 4;
		}
	}
	*o = '\0';
	return out;
}

static char *dup_hex(const uint8_t *p, size_t n)
{
	char *out = malloc(n * 2 + 1);

	if (out)
		hex_encode(p, n, out);
	return out;
}

static char *opt_safe(struct pp_bytes b, bool *oom)
{
	char *s;

	if (!b.ptr)
		return NULL;
	s = safe_text(b.ptr, b.len);
	if (!s)
		*oom = true;
	return s;
}

static char *opt_dup(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* IP text of an address, made safe (UNIX paths may hold any byte). */
static void ip_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char buf[REC_IP_STRLEN + 16];
	size_t j = 0;

	net_ip_str(ss, buf, sizeof(buf));
	if (!buf[0])
		snprintf(buf, sizeof(buf), "-");
	for (size_t i = 0; buf[i] && j + 1 < cap; i++)
		out[j++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	out[j] = '\0';
}

void rec_addr_text(const struct sockaddr_storage *ss, char ip[REC_IP_STRLEN], uint16_t *port)
{
	ip_text(ss, ip, REC_IP_STRLEN);
	*port = net_addr_port(ss);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

const char *rec_pp_cmd_name(enum pp_cmd c)
{
	return c == PP_CMD_LOCAL ? "local" : "proxy";
}

const char *rec_pp_fam_name(enum pp_fam f)
{
	switch (f) {
	case PP_FAM_INET: return "inet";
	case PP_FAM_INET6: return "inet6";
	case PP_FAM_UNIX: return "unix";
	default: return "unspec";
	}
}

const char *rec_mqtt_version_name(int level)
{
	switch (level) {
	case 3: return "3.1";
	case 4: return "3.1.1";
	case 5: return "5";
	default: return "unknown";
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rec_time_str(const struct timespec *ts, char *buf, size_t cap)
{
	struct tm tm;
	char b[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03ldZ", b, (long)(ts->tv_nsec / 1000000));
	return buf;
}

/* ---- PROXY details ---------------------------------------------------------- */

void rec_proxy_free(struct rec_proxy *p)
{
	if (!p)
		return;
	free(p->alpn);
	free(p->authority);
	free(p->unique_id);
	free(p->aws_vpce_id);
	free(p->ssl_version);
	free(p->ssl_cn);
	free(p->ssl_cipher);
	free(p->ssl_sig_alg);
	free(p->ssl_key_alg);
	for (size_t i = 0; i < p->nraw; i++)
		free(p->raw[i].hex);
	free(p->raw);
	free(p);
}

/* Decoded separately, so not repeated under "raw". */
static bool tlv_is_decoded(uint8_t type)
{
	return type == PP2_TYPE_ALPN || type == PP2_TYPE_AUTHORITY ||
	       type == PP2_TYPE_UNIQUE_ID || type == PP2_TYPE_SSL || type == PP2_TYPE_AWS;
}

struct rec_proxy *rec_proxy_new(const struct pp_header *h)
{
	struct rec_proxy *p = calloc(1, sizeof(*p));
	bool oom = false;
	size_t ntlv;

	if (!p)
		return NULL;
	p->version = h->version;
	p->command = h->command;
	p->family = h->family;
	p->transport = h->transport;
	ip_text(&h->src, p->src_ip, sizeof(p->src_ip));
	ip_text(&h->dst, p->dst_ip, sizeof(p->dst_ip));
	p->src_port = net_addr_port(&h->src);
	p->dst_port = net_addr_port(&h->dst);

	p->alpn = opt_safe(h->alpn, &oom);
	p->authority = opt_safe(h->authority, &oom);
	p->aws_vpce_id = opt_safe(h->aws_vpce_id, &oom);
	if (h->unique_id.ptr) {
		p->unique_id = dup_hex(h->unique_id.ptr, h->unique_id.len);
		oom |= !p->unique_id;
	}
	if (h->ssl.present) {
		p->ssl_present = true;
		p->ssl_client = h->ssl.client;
		p->ssl_verify = h->ssl.verify;
		p->ssl_version = opt_safe(h->ssl.version, &oom);
		p->ssl_cn = opt_safe(h->ssl.cn, &oom);
		p->ssl_cipher = opt_safe(h->ssl.cipher, &oom);
		p->ssl_sig_alg = opt_safe(h->ssl.sig_alg, &oom);
		p->ssl_key_alg = opt_safe(h->ssl.key_alg, &oom);
	}
	ntlv = h->ntlv < PP_MAX_TLVS ? h->ntlv : PP_MAX_TLVS;
	if (ntlv) {
		p->raw = calloc(ntlv, sizeof(*p->raw));
		if (!p->raw)
			oom = true;
	}
	for (size_t i = 0; p->raw && i < ntlv; i++) {
		const struct pp_tlv *t = &h->tlv[i];
		struct rec_tlv_raw *r;
		size_t n;

		/* An AWS TLV without the VPC endpoint sub-type is still
		 * worth seeing, as raw bytes. */
		if (tlv_is_decoded(t->type) &&
		    !(t->type == PP2_TYPE_AWS && !h->aws_vpce_id.ptr))
			continue;
		r = &p->raw[p->nraw++];
		r->type = t->type;
		r->len = t->value.len;
		n = t->value.len < REC_RAW_HEX_MAX ? t->value.len : REC_RAW_HEX_MAX;
		r->hex = dup_hex(t->value.ptr ? t->value.ptr : (const uint8_t *)"", t->value.ptr ? n : 0);
		oom |= !r->hex;
	}
	if (oom) {
		rec_proxy_free(p);
		return NULL;
	}
	return p;
}

struct rec_proxy *rec_proxy_dup(const struct rec_proxy *s)
{
	struct rec_proxy *p;
	bool oom = false;

	if (!s)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	*p = *s;
	p->alpn = opt_dup(s->alpn, &oom);
	p->authority = opt_dup(s->authority, &oom);
	p->unique_id = opt_dup(s->unique_id, &oom);
	p->aws_vpce_id = opt_dup(s->aws_vpce_id, &oom);
	p->ssl_version = opt_dup(s->ssl_version, &oom);
	p->ssl_cn = opt_dup(s->ssl_cn, &oom);
	p->ssl_cipher = opt_dup(s->ssl_cipher, &oom);
	p->ssl_sig_alg = opt_dup(s->ssl_sig_alg, &oom);
	p->ssl_key_alg = opt_dup(s->ssl_key_alg, &oom);
	p->raw = NULL;
	p->nraw = 0;
	if (s->nraw) {
		p->raw = calloc(s->nraw, sizeof(*p->raw));
		if (!p->raw)
			oom = true;
		for (size_t i = 0; p->raw && i < s->nraw; i++) {
			p->raw[i] = s->raw[i];
			p->raw[i].hex = opt_dup(s->raw[i].hex, &oom);
			p->nraw++;
		}
	}
	if (oom) {
		rec_proxy_free(p);
		return NULL;
	}
	return p;
}

/* ---- store ------------------------------------------------------------------ */

struct rec_store *rec_store_new(size_t max_kept, size_t unauthorized_max)
{
	struct rec_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max_kept = max_kept ? max_kept : 1;
	s->ring_cap = unauthorized_max ? unauthorized_max : 1;
	s->nbuckets = 64;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->ring = calloc(s->ring_cap, sizeof(*s->ring));
	if (!s->buckets || !s->ring || pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s->buckets);
		free(s->ring);
		free(s);
		return NULL;
	}
	s->next_gen = 1;
	return s;
}

static void sess_free(struct sess *x)
{
	rec_proxy_free(x->proxy);
	free(x);
}

static void unauth_clear(struct rec_unauth *u)
{
	free(u->client_id);
	free(u->username);
	memset(u, 0, sizeof(*u));
}

void rec_store_free(struct rec_store *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct sess *x = s->buckets[b];

		while (x) {
			struct sess *next = x->hnext;

			sess_free(x);
			x = next;
		}
	}
	for (size_t i = 0; i < s->ring_len; i++)
		unauth_clear(&s->ring[(s->ring_start + i) % s->ring_cap]);
	free(s->buckets);
	free(s->ring);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static size_t hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct sess *sess_find(struct rec_store *s, const char *id)
{
	for (struct sess *x = s->buckets[hash(id) & (s->nbuckets - 1)]; x; x = x->hnext)
		if (strcmp(x->str, id) == 0)
			return x;
	return NULL;
}

static void grow(struct rec_store *s)
{
	size_t nb = s->nbuckets * 2;
	struct sess **b = calloc(nb, sizeof(*b));

	if (!b)
		return;   /* longer chains, still correct */
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct sess *x = s->buckets[i];

		while (x) {
			struct sess *next = x->hnext;
			size_t h = hash(x->str) & (nb - 1);

			x->hnext = b[h];
			b[h] = x;
			x = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
}

static void dlist_remove(struct rec_store *s, struct sess *x)
{
	if (!x->dprev && s->dhead != x)
		return;   /* not on the list */
	if (x->dprev)
		x->dprev->dnext = x->dnext;
	else
		s->dhead = x->dnext;
	if (x->dnext)
		x->dnext->dprev = x->dprev;
	else
		s->dtail = x->dprev;
	x->dprev = x->dnext = NULL;
}

static void dlist_append(struct rec_store *s, struct sess *x)
{
	x->dprev = s->dtail;
	x->dnext = NULL;
	if (s->dtail)
		s->dtail->dnext = x;
	else
		s->dhead = x;
	s->dtail = x;
}

static void sess_unlink(struct rec_store *s, struct sess *x)
{
	struct sess **pp = &s->buckets[hash(x->str) & (s->nbuckets - 1)];

	while (*pp && *pp != x)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = x->hnext;
	dlist_remove(s, x);
	s->nsess--;
	if (x->connected && s->cnt.sessions_connected)
		s->cnt.sessions_connected--;
	sess_free(x);
}

/* Over the bound: drop the oldest disconnected records. */
static void trim(struct rec_store *s)
{
	while (s->nsess > s->max_kept && s->dhead)
		sess_unlink(s, s->dhead);
}

static void copy_addrs(const struct rec_conn_info *ci, char *cip, uint16_t *cport,
		       char *pip, uint16_t *pport)
{
	copy_str(cip, REC_IP_STRLEN, ci->client_ip);
	*cport = ci->client_port;
	copy_str(pip, REC_IP_STRLEN, ci->peer_ip);
	*pport = ci->peer_port;
}

static enum cfg_listener_kind lkind(enum cfg_listener_kind l)
{
	return (unsigned)l < CFG_NLISTENERS ? l : CFG_TCP;
}

/* A record for client_id with its strings (client id, user name, peer
 * IP, client IP: "" when the peer's) after it; NULL out of memory. */
static struct sess *sess_new(const char *client_id, const char *username,
			     const struct rec_conn_info *ci)
{
	bool same = strcmp(ci->client_ip, ci->peer_ip) == 0;
	const char *v[4] = { client_id, username ? username : "", ci->peer_ip,
			     same ? "" : ci->client_ip };
	size_t len[4], total = 0;
	struct sess *x;
	char *p;

	for (int i = 0; i < 4; i++) {
		len[i] = strlen(v[i]) + 1;
		total += len[i];
	}
	if (total > UINT32_MAX)
		return NULL;
	x = calloc(1, sizeof(*x) + total);
	if (!x)
		return NULL;
	p = x->str;
	for (int i = 0; i < 4; i++) {
		memcpy(p, v[i], len[i]);
		p += len[i];
	}
	x->has_username = username != NULL;
	x->peer_off = (uint32_t)(len[0] + len[1]);
	x->client_off = same ? x->peer_off : (uint32_t)(x->peer_off + len[2]);
	return x;
}

/* What callers see of x. */
static void sess_view(const struct sess *x, struct rec_session *r)
{
	r->client_id = (char *)x->str;
	r->username = x->has_username ? x->str + strlen(x->str) + 1 : NULL;
	r->peer_ip = x->str + x->peer_off;
	r->client_ip = x->str + x->client_off;
	r->tls_version = x->tls_version;
	r->tls_cipher = x->tls_cipher;
	r->proxy = x->proxy;
	r->connected_ms = x->connected_ms;
	r->disconnected_ms = x->disconnected_ms;
	r->gen = x->gen;
	r->client_port = x->client_port;
	r->peer_port = x->peer_port;
	r->listener = x->listener;
	r->mqtt_version = x->mqtt_version;
	r->tls = x->tls;
	r->connected = x->connected;
}

uint64_t rec_session_connect(struct rec_store *s, const char *client_id,
			     const char *username, int mqtt_version,
			     const struct rec_conn_info *ci)
{
	struct sess *x = sess_new(client_id ? client_id : "", username, ci), *old;
	uint64_t gen;

	if (!x)
		return 0;
	if (ci->proxy)
		x->proxy = rec_proxy_dup(ci->proxy);
	if (ci->proxy && !x->proxy) {
		sess_free(x);
		return 0;
	}
	x->listener = (uint8_t)lkind(ci->listener);
	x->client_port = ci->client_port;
	x->peer_port = ci->peer_port;
	x->mqtt_version = (uint8_t)mqtt_version;
	x->tls = ci->tls;
	x->tls_version = ci->tls && ci->tls_version ? ci->tls_version : "";
	x->tls_cipher = ci->tls && ci->tls_cipher ? ci->tls_cipher : "";
	x->connected = true;
	x->connected_ms = now_ms();

	pthread_mutex_lock(&s->mu);
	/* A reconnect replaces the record. */
	old = sess_find(s, x->str);
	if (old)
		sess_unlink(s, old);
	if (s->nsess >= s->nbuckets * 2)
		grow(s);
	{
		size_t h = hash(x->str) & (s->nbuckets - 1);

		x->hnext = s->buckets[h];
		s->buckets[h] = x;
	}
	s->nsess++;
	gen = s->next_gen++;
	x->gen = gen;
	s->cnt.sessions_connected++;
	trim(s);
	pthread_mutex_unlock(&s->mu);
	return gen;
}

void rec_session_disconnect(struct rec_store *s, const char *client_id, uint64_t gen)
{
	struct sess *x;

	if (!client_id)
		return;
	pthread_mutex_lock(&s->mu);
	x = sess_find(s, client_id);
	if (x && x->gen == gen && x->connected) {
		x->connected = false;
		x->disconnected_ms = now_ms();
		if (s->cnt.sessions_connected)
			s->cnt.sessions_connected--;
		dlist_append(s, x);
		trim(s);
	}
	pthread_mutex_unlock(&s->mu);
}

static int cmp_sess(const void *a, const void *b)
{
	const struct sess *const *x = a, *const *y = b;

	return strcmp((*x)->str, (*y)->str);
}

void rec_session_foreach(struct rec_store *s, rec_session_fn fn, void *ctx)
{
	const struct sess **v;
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	v = malloc((s->nsess ? s->nsess : 1) * sizeof(*v));
	if (v) {
		for (size_t b = 0; b < s->nbuckets; b++)
			for (const struct sess *x = s->buckets[b]; x; x = x->hnext)
				v[n++] = x;
		qsort(v, n, sizeof(*v), cmp_sess);
		for (size_t i = 0; i < n; i++) {
			struct rec_session r;

			sess_view(v[i], &r);
			if (fn(&r, ctx))
				break;
		}
		free(v);
	}
	pthread_mutex_unlock(&s->mu);
}

bool rec_session_get(struct rec_store *s, const char *client_id, rec_session_fn fn, void *ctx)
{
	struct sess *x;

	pthread_mutex_lock(&s->mu);
	x = client_id ? sess_find(s, client_id) : NULL;
	if (x && fn) {
		struct rec_session r;

		sess_view(x, &r);
		fn(&r, ctx);
	}
	pthread_mutex_unlock(&s->mu);
	return x != NULL;
}

/* ---- unauthorized clients ----------------------------------------------------- */

void rec_unauthorized_add(struct rec_store *s, const char *client_id,
			  const char *username, const char *reason,
			  bool password_provided, const struct rec_conn_info *ci)
{
	struct rec_unauth u = { 0 };

	u.client_id = strdup(client_id ? client_id : "");
	u.username = username ? strdup(username) : NULL;
	if (!u.client_id || (username && !u.username)) {
		unauth_clear(&u);
		return;
	}
	copy_addrs(ci, u.client_ip, &u.client_port, u.peer_ip, &u.peer_port);
	u.listener = lkind(ci->listener);
	copy_str(u.reason, sizeof(u.reason), reason ? reason : "unknown");
	u.password_provided = password_provided;
	u.tls_used = ci->tls;
	clock_gettime(CLOCK_REALTIME, &u.ts);

	pthread_mutex_lock(&s->mu);
	if (s->ring_len == s->ring_cap) {
		unauth_clear(&s->ring[s->ring_start]);
		s->ring[s->ring_start] = u;
		s->ring_start = (s->ring_start + 1) % s->ring_cap;
	} else {
		s->ring[(s->ring_start + s->ring_len) % s->ring_cap] = u;
		s->ring_len++;
	}
	s->cnt.unauthorized_total++;
	pthread_mutex_unlock(&s->mu);
}

void rec_unauthorized_clear(struct rec_store *s)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ring_len; i++)
		unauth_clear(&s->ring[(s->ring_start + i) % s->ring_cap]);
	s->ring_start = s->ring_len = 0;
	pthread_mutex_unlock(&s->mu);
}

void rec_unauthorized_foreach(struct rec_store *s, rec_unauth_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ring_len; i++)
		if (fn(&s->ring[(s->ring_start + i) % s->ring_cap], ctx))
			break;
	pthread_mutex_unlock(&s->mu);
}

/* ---- counters -------------------------------------------------------------------- */

void rec_conn_open(struct rec_store *s, enum cfg_listener_kind l)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	s->cnt.conn_current[l]++;
	s->cnt.conn_total[l]++;
	pthread_mutex_unlock(&s->mu);
}

void rec_conn_close(struct rec_store *s, enum cfg_listener_kind l)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	if (s->cnt.conn_current[l])
		s->cnt.conn_current[l]--;
	pthread_mutex_unlock(&s->mu);
}

void rec_proxy_accepted(struct rec_store *s, enum cfg_listener_kind l, int version,
			enum pp_cmd cmd)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	if (version == 1 || version == 2)
		s->cnt.proxy_accepted_version[version]++;
	s->cnt.proxy_accepted_command[cmd == PP_CMD_LOCAL ? PP_CMD_LOCAL : PP_CMD_PROXY]++;
	s->cnt.proxy_accepted_listener[l]++;
	pthread_mutex_unlock(&s->mu);
}

/* Reason names become metric label values: keep them to a safe alphabet. */
static void label_text(const char *in, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; in[i] && j + 1 < cap; i++) {
		char c = in[i];

		out[j++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') ? c : '_';
	}
	out[j] = '\0';
}

void rec_proxy_rejected(struct rec_store *s, enum cfg_listener_kind l, const char *reason)
{
	char name[sizeof(s->cnt.rejected[0].name)];
	size_t i;

	label_text(reason && *reason ? reason : "unknown", name, sizeof(name));
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	s->cnt.proxy_rejected_listener[l]++;
	for (i = 0; i < s->cnt.nreasons; i++)
		if (strcmp(s->cnt.rejected[i].name, name) == 0)
			break;
	if (i == s->cnt.nreasons) {
		if (i == REC_MAX_REASONS) {
			/* Table full: the last slot collects the rest. */
			i = REC_MAX_REASONS - 1;
			copy_str(s->cnt.rejected[i].name, sizeof(name), "other");
		} else {
			copy_str(s->cnt.rejected[i].name, sizeof(name), name);
			s->cnt.nreasons++;
		}
	}
	s->cnt.rejected[i].count++;
	pthread_mutex_unlock(&s->mu);
}

void rec_tls_failure(struct rec_store *s, enum cfg_listener_kind l)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	s->cnt.tls_failures[l]++;
	pthread_mutex_unlock(&s->mu);
}

void rec_ws_failure(struct rec_store *s, enum cfg_listener_kind l)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	s->cnt.ws_failures[l]++;
	pthread_mutex_unlock(&s->mu);
}

void rec_limit_hit(struct rec_store *s, enum cfg_listener_kind l, enum rec_limit which)
{
	l = lkind(l);
	if ((unsigned)which >= REC_NLIMITS)
		return;
	pthread_mutex_lock(&s->mu);
	s->cnt.limit_hits[which][l]++;
	pthread_mutex_unlock(&s->mu);
}

const char *const rec_msg_limit_names[REC_MSG_LIMITS] = {
	"queued_messages", "queued_bytes", "offline_bytes", "output_buffer",
	"retained_messages", "retained_bytes",
};

void rec_msg_limit(struct rec_store *s, unsigned which, uint8_t qos)
{
	if (which >= REC_MSG_LIMITS || qos > 2)
		return;
	pthread_mutex_lock(&s->mu);
	s->cnt.msg_limit_hits[which][qos]++;
	pthread_mutex_unlock(&s->mu);
}

void rec_engine_gauges(struct rec_store *s, uint64_t queued_bytes, uint64_t offline_bytes,
		       uint64_t retained, uint64_t acl_denied)
{
	pthread_mutex_lock(&s->mu);
	s->cnt.queued_bytes = queued_bytes;
	s->cnt.offline_bytes = offline_bytes;
	s->cnt.retained = retained;
	s->cnt.acl_denied = acl_denied;
	pthread_mutex_unlock(&s->mu);
}

void rec_mqtt_connect(struct rec_store *s, enum cfg_listener_kind l, bool accepted)
{
	l = lkind(l);
	pthread_mutex_lock(&s->mu);
	if (accepted)
		s->cnt.mqtt_accepted[l]++;
	else
		s->cnt.mqtt_refused[l]++;
	pthread_mutex_unlock(&s->mu);
}

void rec_counters_get(struct rec_store *s, struct rec_counters *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->cnt;
	out->sessions_kept = s->nsess;
	out->unauthorized_kept = s->ring_len;
	pthread_mutex_unlock(&s->mu);
}
