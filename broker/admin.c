/* admin.c - see admin.h.
 *
 * libmicrohttpd runs the HTTP side in its own thread; every handler reads
 * the records through rec_*_foreach (store locked while the JSON is
 * built) and the configuration, which is immutable after loading.
 */
#include "admin.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "ratelog.h"

#define SESSIONS_PATH "/api/v1/sessions"
#define UNAUTH_PATH   "/api/v1/unauthorized-clients"
#define LISTENER_PATH "/api/v1/listeners"

struct adm_server {
	struct MHD_Daemon *d;
	const struct cfg *cfg;
	struct rec_store *rec;
	uint16_t port;
	int fd;
	/* libmicrohttpd's own lines (a refused connection each): thinned */
	pthread_mutex_t log_mu;
	struct ratelim log_lim;
};

/* ---- responses ------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *ctype, char *body, size_t len,
				 const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ppmq\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Takes ownership of j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j,
				 const char *allow)
{
	char *body = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	size_t len;
	char *nb;

	json_decref(j);
	if (!body)
		return MHD_NO;
	/* A trailing newline keeps `curl` output tidy. */
	len = strlen(body);
	nb = realloc(body, len + 2);
	if (!nb) {
		free(body);
		return MHD_NO;
	}
	nb[len] = '\n';
	nb[len + 1] = '\0';
	return send_text(c, status, "application/json", nb, len + 1, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
				  const char *msg, const char *allow)
{
	return send_json(c, status, json_pack("{s:s, s:i}", "error", msg, "status", (int)status),
			 allow);
}

/* ---- JSON builders ----------------------------------------------------------- */

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jtime(const struct timespec *ts)
{
	char b[40];

	if (ts->tv_sec == 0 && ts->tv_nsec == 0)
		return json_null();
	return json_string(rec_time_str(ts, b, sizeof(b)));
}

/* A session record's time: milliseconds since the epoch, 0 for none. */
static json_t *jtime_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	return jtime(&ts);
}

static json_t *proxy_json(const struct rec_proxy *p)
{
	json_t *tlvs, *raw, *ssl, *o;

	if (!p)
		return json_null();
	raw = json_array();
	for (size_t i = 0; i < p->nraw; i++)
		json_array_append_new(raw, json_pack("{s:i, s:I, s:s}", "type", (int)p->raw[i].type,
						     "length", (json_int_t)p->raw[i].len,
						     "hex", p->raw[i].hex));
	if (p->ssl_present)
		ssl = json_pack("{s:i, s:I, s:o, s:o, s:o, s:o, s:o}",
				"client", (int)p->ssl_client,
				"verify", (json_int_t)p->ssl_verify,
				"version", jstr_or_null(p->ssl_version),
				"cn", jstr_or_null(p->ssl_cn),
				"cipher", jstr_or_null(p->ssl_cipher),
				"sigAlg", jstr_or_null(p->ssl_sig_alg),
				"keyAlg", jstr_or_null(p->ssl_key_alg));
	else
		ssl = json_null();
	tlvs = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
			 "alpn", jstr_or_null(p->alpn),
			 "authority", jstr_or_null(p->authority),
			 "ssl", ssl,
			 "uniqueId", jstr_or_null(p->unique_id),
			 "awsVpceId", jstr_or_null(p->aws_vpce_id),
			 "raw", raw);
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:o}",
		      "version", p->version,
		      "command", rec_pp_cmd_name(p->command),
		      "family", rec_pp_fam_name(p->family),
		      "transport", p->transport == PP_PROTO_STREAM ? "stream" :
				   p->transport == PP_PROTO_DGRAM ? "dgram" : "unspec",
		      "srcIp", p->src_ip, "srcPort", (int)p->src_port,
		      "dstIp", p->dst_ip, "dstPort", (int)p->dst_port,
		      "tlvs", tlvs);
	return o;
}

static json_t *session_json(const struct rec_session *r)
{
	json_t *tls = r->tls ? json_pack("{s:s, s:s}", "version", r->tls_version,
					 "cipher", r->tls_cipher)
			     : json_null();

	return json_pack("{s:s, s:o, s:s, s:i, s:s, s:i, s:s, s:b, s:s, s:o, s:o, s:o, s:o}",
			 "clientId", r->client_id,
			 "username", jstr_or_null(r->username),
			 "clientIp", r->client_ip,
			 "clientPort", (int)r->client_port,
			 "peerIp", r->peer_ip,
			 "peerPort", (int)r->peer_port,
			 "listener", cfg_listener_name(r->listener),
			 "connected", (int)r->connected,
			 "mqttVersion", rec_mqtt_version_name(r->mqtt_version),
			 "tls", tls,
			 "proxy", proxy_json(r->proxy),
			 "connectedAt", jtime_ms(r->connected_ms),
			 "disconnectedAt", jtime_ms(r->disconnected_ms));
}

static int add_session(const struct rec_session *r, void *ctx)
{
	json_t *o = session_json(r);

	/* json_pack fails only on bad UTF-8 or memory: records keep text safe. */
	if (o)
		json_array_append_new(ctx, o);
	return 0;
}

static int set_session(const struct rec_session *r, void *ctx)
{
	*(json_t **)ctx = session_json(r);
	return 0;
}

static int add_unauth(const struct rec_unauth *u, void *ctx)
{
	json_t *o = json_pack("{s:s, s:o, s:s, s:i, s:s, s:i, s:s, s:s, s:b, s:b, s:o}",
			      "clientId", u->client_id,
			      "username", jstr_or_null(u->username),
			      "clientIp", u->client_ip,
			      "clientPort", (int)u->client_port,
			      "peerIp", u->peer_ip,
			      "peerPort", (int)u->peer_port,
			      "listener", cfg_listener_name(u->listener),
			      "reason", u->reason,
			      "passwordProvided", (int)u->password_provided,
			      "tlsUsed", (int)u->tls_used,
			      "ts", jtime(&u->ts));

	if (o)
		json_array_append_new(ctx, o);
	return 0;
}

static json_t *listeners_json(const struct cfg *cfg)
{
	json_t *a = json_array();

	for (int i = 0; i < CFG_NLISTENERS; i++) {
		const struct cfg_listener *l = &cfg->listener[i];
		char key[64], cidr[64];
		const struct cfg_src *src;
		json_t *trusted = json_array(), *tls, *o;

		snprintf(key, sizeof(key), "listener.%s.proxy_enabled", cfg_listener_name(l->kind));
		src = cfg_source(cfg, key);
		for (size_t j = 0; j < l->ntrusted; j++)
			json_array_append_new(trusted, json_string(net_cidr_str(&l->trusted[j], cidr,
										 sizeof(cidr))));
		if (i == CFG_SSL || i == CFG_WSS)
			tls = json_pack("{s:o, s:o, s:s}",
					"certFile", jstr_or_null(l->cert_file),
					"caFile", jstr_or_null(l->ca_file),
					"clientAuth", cfg_client_auth_name(l->client_auth));
		else
			tls = json_null();
		o = json_pack("{s:s, s:b, s:s, s:i, s:b, s:b, s:s, s:s, s:s, s:o, s:i, s:I, s:o, s:o}",
			      "kind", cfg_listener_name(l->kind),
			      "enabled", (int)l->enabled,
			      "bind", l->bind_address ? l->bind_address : "",
			      "port", (int)l->bind_port,
			      "proxyEnabled", (int)l->proxy_enabled,
			      "proxyExplicit", (int)l->proxy_explicit,
			      "proxyMode", cfg_proxy_mode_name(l->proxy_mode),
			      "proxySource", src ? cfg_src_kind_name(src->kind) : "default",
			      "proxySourceDetail", src ? src->desc : "default",
			      "trustedProxies", trusted,
			      "proxyTimeoutMs", (int)l->proxy_timeout_ms,
			      "proxyMaxHeader", (json_int_t)l->proxy_max_header,
			      "tls", tls,
			      "path", jstr_or_null(l->path));
		if (o)
			json_array_append_new(a, o);
	}
	return a;
}

/* ---- /metrics ------------------------------------------------------------------ */

struct mbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void mprintf(struct mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mprintf(struct mbuf *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(m->p + m->len, m->cap - m->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			m->oom = true;
			return;
		}
		if ((size_t)n < m->cap - m->len) {
			m->len += (size_t)n;
			return;
		}
		{
			size_t cap = m->cap * 2 + (size_t)n;
			char *p = realloc(m->p, cap);

			if (!p) {
				m->oom = true;
				return;
			}
			m->p = p;
			m->cap = cap;
		}
	}
}

static void mhead(struct mbuf *m, const char *name, const char *type, const char *help)
{
	mprintf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void mper_listener(struct mbuf *m, const char *name, const char *type,
			  const char *help, const uint64_t *v, unsigned mask)
{
	mhead(m, name, type, help);
	for (int i = 0; i < CFG_NLISTENERS; i++)
		if (mask & (1u << i))
			mprintf(m, "%s{listener=\"%s\"} %llu\n", name,
				cfg_listener_name((enum cfg_listener_kind)i), (unsigned long long)v[i]);
}

/* What the limits refused or closed (listener.max_connections,
 * listener.X.max_connections, mqtt.max_connect_size). */
static void mlimits(struct mbuf *m, const struct rec_counters *c)
{
	static const char *const which[] = { [REC_LIMIT_CONNECTIONS] = "total",
					     [REC_LIMIT_LISTENER] = "listener" };

	mhead(m, "ppmq_connections_refused_total", "counter",
	      "Connections closed at accept, before any byte, at a connection limit "
	      "(total: listener.max_connections, listener: listener.X.max_connections).");
	for (int i = 0; i < CFG_NLISTENERS; i++)
		for (int w = REC_LIMIT_CONNECTIONS; w <= REC_LIMIT_LISTENER; w++)
			mprintf(m, "ppmq_connections_refused_total{listener=\"%s\",limit=\"%s\"} %llu\n",
				cfg_listener_name((enum cfg_listener_kind)i), which[w],
				(unsigned long long)c->limit_hits[w][i]);
	mper_listener(m, "ppmq_connects_too_large_total", "counter",
		      "Connections closed for a CONNECT larger than mqtt.max_connect_size.",
		      c->limit_hits[REC_LIMIT_CONNECT_SIZE], 0xf);
	mper_listener(m, "ppmq_slow_consumers_closed_total", "counter",
		      "Connections closed with more output waiting than twice mqtt.max_output_buffer "
		      "and mqtt.max_packet_size.", c->limit_hits[REC_LIMIT_OUTPUT], 0xf);
	mper_listener(m, "ppmq_sessions_refused_total", "counter",
		      "CONNECTs refused because mqtt.max_sessions sessions are kept (5.0: CONNACK "
		      "0x97 Quota exceeded, 3.1.1: 0x03).", c->limit_hits[REC_LIMIT_SESSIONS], 0xf);
}

/* What the memory limits on messages dropped, and what they bound. */
static void mmemory(struct mbuf *m, const struct rec_counters *c)
{
	mhead(m, "ppmq_messages_dropped_total", "counter",
	      "Messages dropped at a memory limit, by limit and QoS (queued_messages: "
	      "mqtt.max_queued_messages, queued_bytes: mqtt.max_queued_bytes, offline_bytes: "
	      "mqtt.max_offline_bytes, output_buffer: mqtt.max_output_buffer), or, for "
	      "retained_messages and retained_bytes (mqtt.max_retained_*), delivered but not retained.");
	for (int w = 0; w < REC_MSG_LIMITS; w++)
		for (int q = 0; q <= 2; q++)
			mprintf(m, "ppmq_messages_dropped_total{limit=\"%s\",qos=\"%d\"} %llu\n",
				rec_msg_limit_names[w], q,
				(unsigned long long)c->msg_limit_hits[w][q]);
	mhead(m, "ppmq_queued_bytes", "gauge",
	      "Bytes of QoS>0 messages queued or inflight for sessions, online or offline "
	      "(updated once a second).");
	mprintf(m, "ppmq_queued_bytes{sessions=\"online\"} %llu\n",
		(unsigned long long)(c->queued_bytes - c->offline_bytes));
	mprintf(m, "ppmq_queued_bytes{sessions=\"offline\"} %llu\n",
		(unsigned long long)c->offline_bytes);
	mhead(m, "ppmq_retained_messages", "gauge", "Retained messages kept (updated once a second).");
	mprintf(m, "ppmq_retained_messages %llu\n", (unsigned long long)c->retained);
	mhead(m, "ppmq_acl_denied_total", "counter",
	      "Connections, PUBLISHes and SUBSCRIBE filters refused by security.acl_file "
	      "(updated once a second).");
	mprintf(m, "ppmq_acl_denied_total %llu\n", (unsigned long long)c->acl_denied);
}

static int cmp_reason(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rejected headers by reason. The reasons every deployment can see are
 * always present, so that alerts have a series to start from; the others
 * appear when seen. */
static void mrejected(struct mbuf *m, const struct rec_counters *c)
{
	static const char *const always[] = { REC_REJECT_MISSING, REC_REJECT_TIMEOUT,
					      REC_REJECT_UNTRUSTED };
	const char *names[REC_MAX_REASONS + 3];
	size_t nn = 0;

	for (size_t i = 0; i < c->nreasons; i++)
		names[nn++] = c->rejected[i].name;
	for (size_t i = 0; i < 3; i++) {
		bool seen = false;

		for (size_t j = 0; j < c->nreasons; j++)
			seen |= strcmp(c->rejected[j].name, always[i]) == 0;
		if (!seen)
			names[nn++] = always[i];
	}
	qsort(names, nn, sizeof(names[0]), cmp_reason);
	mhead(m, "ppmq_proxy_headers_rejected_total", "counter",
	      "PROXY protocol headers rejected (or missing), by reason.");
	for (size_t i = 0; i < nn; i++) {
		uint64_t n = 0;

		for (size_t j = 0; j < c->nreasons; j++)
			if (strcmp(c->rejected[j].name, names[i]) == 0)
				n = c->rejected[j].count;
		mprintf(m, "ppmq_proxy_headers_rejected_total{reason=\"%s\"} %llu\n", names[i],
			(unsigned long long)n);
	}
}

static char *metrics_text(struct rec_store *rec, size_t *len)
{
	struct rec_counters c;
	struct mbuf m = { 0 };
	const unsigned all = 0xf, tls = (1u << CFG_SSL) | (1u << CFG_WSS),
		       ws = (1u << CFG_WS) | (1u << CFG_WSS);

	rec_counters_get(rec, &c);
	m.cap = 4096;
	m.p = malloc(m.cap);
	if (!m.p)
		return NULL;
	m.p[0] = '\0';

	mper_listener(&m, "ppmq_connections_current", "gauge",
		      "Open client connections by listener.", c.conn_current, all);
	mper_listener(&m, "ppmq_connections_total", "counter",
		      "Client connections accepted by listener.", c.conn_total, all);
	mlimits(&m, &c);
	mmemory(&m, &c);

	mhead(&m, "ppmq_proxy_headers_accepted_total", "counter",
	      "PROXY protocol headers accepted, by protocol version.");
	for (int v = 1; v <= 2; v++)
		mprintf(&m, "ppmq_proxy_headers_accepted_total{version=\"%d\"} %llu\n", v,
			(unsigned long long)c.proxy_accepted_version[v]);
	mhead(&m, "ppmq_proxy_headers_accepted_by_command_total", "counter",
	      "PROXY protocol headers accepted, by command.");
	mprintf(&m, "ppmq_proxy_headers_accepted_by_command_total{command=\"local\"} %llu\n",
		(unsigned long long)c.proxy_accepted_command[PP_CMD_LOCAL]);
	mprintf(&m, "ppmq_proxy_headers_accepted_by_command_total{command=\"proxy\"} %llu\n",
		(unsigned long long)c.proxy_accepted_command[PP_CMD_PROXY]);
	mrejected(&m, &c);
	mhead(&m, "ppmq_proxy_headers_by_listener_total", "counter",
	      "PROXY protocol headers by listener and result.");
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		const char *ln = cfg_listener_name((enum cfg_listener_kind)i);

		mprintf(&m, "ppmq_proxy_headers_by_listener_total{listener=\"%s\",result=\"accepted\"} %llu\n",
			ln, (unsigned long long)c.proxy_accepted_listener[i]);
		mprintf(&m, "ppmq_proxy_headers_by_listener_total{listener=\"%s\",result=\"rejected\"} %llu\n",
			ln, (unsigned long long)c.proxy_rejected_listener[i]);
	}
	mper_listener(&m, "ppmq_tls_handshake_failures_total", "counter",
		      "TLS handshakes that failed.", c.tls_failures, tls);
	mper_listener(&m, "ppmq_ws_upgrade_failures_total", "counter",
		      "WebSocket upgrades refused or malformed.", c.ws_failures, ws);
	mhead(&m, "ppmq_mqtt_connects_total", "counter",
	      "MQTT CONNECTs answered, by listener and result.");
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		const char *ln = cfg_listener_name((enum cfg_listener_kind)i);

		mprintf(&m, "ppmq_mqtt_connects_total{listener=\"%s\",result=\"accepted\"} %llu\n",
			ln, (unsigned long long)c.mqtt_accepted[i]);
		mprintf(&m, "ppmq_mqtt_connects_total{listener=\"%s\",result=\"refused\"} %llu\n",
			ln, (unsigned long long)c.mqtt_refused[i]);
	}
	mhead(&m, "ppmq_sessions_connected", "gauge", "Sessions currently connected.");
	mprintf(&m, "ppmq_sessions_connected %llu\n", (unsigned long long)c.sessions_connected);
	mhead(&m, "ppmq_session_records", "gauge", "Session records kept (connected or not).");
	mprintf(&m, "ppmq_session_records %llu\n", (unsigned long long)c.sessions_kept);
	mhead(&m, "ppmq_unauthorized_clients", "gauge", "Records in the unauthorized-clients list.");
	mprintf(&m, "ppmq_unauthorized_clients %llu\n", (unsigned long long)c.unauthorized_kept);
	mhead(&m, "ppmq_unauthorized_clients_total", "counter", "Failed authentications recorded.");
	mprintf(&m, "ppmq_unauthorized_clients_total %llu\n", (unsigned long long)c.unauthorized_total);
	if (m.oom) {
		free(m.p);
		return NULL;
	}
	*len = m.len;
	return m.p;
}

/* ---- routing --------------------------------------------------------------------- */

static bool token_ok(const struct adm_server *a, struct MHD_Connection *c)
{
	const char *h, *want = a->cfg->admin.token;

	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return cfg_secret_eq(want, h, strlen(h));
}

static bool is_get(const char *m)
{
	return strcmp(m, MHD_HTTP_METHOD_GET) == 0 || strcmp(m, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Before anything else (routing, reading a body), as soon as the
 * headers are in: may this request go on? Every path but /healthz needs
 * the token when there is one; without a token, DELETE is refused unless
 * admin.allow_delete_without_token. Returns MHD_YES to go on, or the
 * result of queueing the refusal (*refused set). */
static enum MHD_Result gate(const struct adm_server *a, struct MHD_Connection *c,
			    const char *url, const char *method, bool *refused)
{
	const struct cfg *cfg = a->cfg;

	*refused = true;
	if (strcmp(url, "/healthz") == 0) {
		*refused = false;
		return MHD_YES;
	}
	if (cfg->admin.token && *cfg->admin.token) {
		if (!token_ok(a, c))
			return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token", NULL);
	} else if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0 &&
		   !cfg->admin.allow_delete_without_token) {
		return send_error(c, MHD_HTTP_FORBIDDEN, "DELETE needs admin.token to be set "
				  "(or admin.allow_delete_without_token: true)", NULL);
	}
	*refused = false;
	return MHD_YES;
}

static enum MHD_Result route(struct adm_server *a, struct MHD_Connection *c,
			     const char *url, const char *method)
{
	const size_t sp = strlen(SESSIONS_PATH);

	if (strcmp(url, "/healthz") == 0) {
		char *ok;

		if (!is_get(method))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		ok = strdup("ok\n");
		if (!ok)
			return MHD_NO;
		return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", ok, 3, NULL);
	}

	if (strcmp(url, SESSIONS_PATH) == 0 || strcmp(url, SESSIONS_PATH "/") == 0) {
		json_t *arr;

		if (!is_get(method))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		arr = json_array();
		rec_session_foreach(a->rec, add_session, arr);
		return send_json(c, MHD_HTTP_OK, arr, NULL);
	}
	if (strncmp(url, SESSIONS_PATH "/", sp + 1) == 0) {
		const char *id = url + sp + 1;   /* MHD already %-decoded the path */
		json_t *o = NULL;

		if (!is_get(method))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		if (!rec_session_get(a->rec, id, set_session, &o))
			return send_error(c, MHD_HTTP_NOT_FOUND, "no session for this client id", NULL);
		if (!o)
			return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
		return send_json(c, MHD_HTTP_OK, o, NULL);
	}
	if (strcmp(url, UNAUTH_PATH) == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) {
			rec_unauthorized_clear(a->rec);
			return send_text(c, MHD_HTTP_NO_CONTENT, "text/plain", NULL, 0, NULL);
		}
		if (is_get(method)) {
			json_t *arr = json_array();

			rec_unauthorized_foreach(a->rec, add_unauth, arr);
			return send_json(c, MHD_HTTP_OK, arr, NULL);
		}
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD, DELETE");
	}
	if (strcmp(url, LISTENER_PATH) == 0) {
		if (!is_get(method))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		return send_json(c, MHD_HTTP_OK, listeners_json(a->cfg), NULL);
	}
	if (strcmp(url, "/metrics") == 0) {
		char *body;
		size_t len = 0;

		if (!is_get(method))
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		body = metrics_text(a->rec, &len);
		if (!body)
			return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
		return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, NULL);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_data_size,
			       void **con_cls)
{
	static int marker, refused_marker;

	(void)version;
	(void)upload_data;
	/* First call: headers only. The gate decides at once; otherwise the
	 * answer comes once any request body has been read (and ignored), as
	 * libmicrohttpd expects. */
	if (*con_cls == NULL) {
		bool refused;
		enum MHD_Result r = gate(cls, c, url, method, &refused);

		*con_cls = refused ? &refused_marker : &marker;
		return r;
	}
	if (*con_cls == &refused_marker) {
		*upload_data_size = 0;   /* answered already: the body is dropped */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return route(cls, c, url, method);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* One line a refused connection, so at most log.refused_per_second a
 * second; the count of the others goes with the next line written. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct adm_server *a = cls;
	struct timespec ts;
	char line[512];
	uint64_t dropped;
	int64_t now;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_lock(&a->log_mu);
	dropped = ratelim_drain(&a->log_lim, now);
	ok = ratelim_take(&a->log_lim, a->cfg->log.refused_per_second, now);
	pthread_mutex_unlock(&a->log_mu);
	if (!ok)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (dropped)
		log_warn("admin: ... %llu more lines suppressed (log.refused_per_second = %u)",
			 (unsigned long long)dropped, a->cfg->log.refused_per_second);
	log_warn("admin: %s", line);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int adm_start(const struct cfg *cfg, struct rec_store *rec, struct adm_server **out,
	      struct perr *e)
{
	struct adm_server *a = calloc(1, sizeof(*a));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (!a)
		return perr_set(e, "admin: out of memory");
	a->cfg = cfg;
	a->rec = rec;
	pthread_mutex_init(&a->log_mu, NULL);
	a->log_lim.start_ms = INT64_MIN / 2;
	/* Our own socket: name resolution and the chosen port (0 = any) are
	 * then handled like every other listener. */
	a->fd = net_listen(cfg->admin.bind_address, cfg->admin.bind_port, 64, e);
	if (a->fd < 0) {
		pthread_mutex_destroy(&a->log_mu);
		free(a);
		return perr_wrap(e, "admin API"); /* the message names the address */
	}
	a->port = net_local_port(a->fd);
	/* Idle connections go fast (whole seconds, rounded up) and one
	 * address cannot take every slot: a slowloris leaves room for
	 * /healthz. */
	a->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, a,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)a->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->admin.max_connections,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned)cfg->admin.max_connections_per_client,
				MHD_OPTION_CONNECTION_TIMEOUT, (cfg->admin.idle_timeout_ms + 999) / 1000,
				MHD_OPTION_END);
	if (!a->d) {
		close(a->fd);
		pthread_mutex_destroy(&a->log_mu);
		free(a);
		return perr_set(e, "admin API on %s:%u: libmicrohttpd failed to start",
				cfg->admin.bind_address, cfg->admin.bind_port);
	}
	*out = a;
	return 0;
}

uint16_t adm_port(const struct adm_server *a)
{
	return a ? a->port : 0;
}

void adm_stop(struct adm_server *a)
{
	if (!a)
		return;
	/* MHD_stop_daemon closes the listening socket it was given. */
	MHD_stop_daemon(a->d);
	pthread_mutex_destroy(&a->log_mu);
	free(a);
}
