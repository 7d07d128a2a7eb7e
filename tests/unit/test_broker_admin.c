/* test_broker_admin.c - the admin HTTP API, queried with libcurl on an
 * ephemeral loopback port: JSON shapes, errors, token, DELETE, /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

#define TOKEN "t0ken-Secret"

struct fixture {
	char path[64];
	struct cfg cfg;
	struct rec_store *rec;
	struct adm_server *adm;
	uint16_t port;
	uint64_t gen_b;
};

static struct fixture fx;

struct reply {
	long status;
	char *body;
	size_t len;
	char ctype[128];
	char allow[128];
	char www_auth[128];
	curl_off_t uploaded;     /* request body bytes sent */
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, p, sz * n);
	r->len += sz * n;
	nb[r->len] = '\0';
	r->body = nb;
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;
	static const struct { const char *name; size_t off; } h[] = {
		{ "content-type:", offsetof(struct reply, ctype) },
		{ "allow:", offsetof(struct reply, allow) },
		{ "www-authenticate:", offsetof(struct reply, www_auth) },
	};

	for (size_t i = 0; i < 3; i++) {
		size_t nl = strlen(h[i].name);

		if (len > nl && strncasecmp(p, h[i].name, nl) == 0) {
			char *dst = (char *)r + h[i].off;
			size_t vl = len - nl;
			const char *v = p + nl;

			while (vl && *v == ' ') {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
				vl--;
			snprintf(dst, 128, "%.*s", (int)vl, v);
		}
	}
	return len;
}

/* One request; the reply's body is NUL-terminated ("" when empty). */
static struct reply http(const char *method, const char *path, const char *token, const char *body)
{
	struct reply r = { 0 };
	char url[512], auth[200];
	struct curl_slist *hdr = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", fx.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdr = curl_slist_append(hdr, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &r.uploaded);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static json_t *parse(const struct reply *r)
{
	json_error_t err;
	json_t *j = json_loads(r->body, 0, &err);

	if (!j)
		fail_msg("not JSON (%s): %s", err.text, r->body);
	assert_non_null(strstr(r->ctype, "application/json"));
	return j;
}

static void assert_error(const struct reply *r, long status)
{
	json_t *j;

	assert_int_equal(r->status, status);
	j = parse(r);
	assert_true(json_is_string(json_object_get(j, "error")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
	json_decref(j);
}

static void ip4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

/* A connection's addresses as the core gives them to the records. */
static void ci_addrs(struct rec_conn_info *ci, const struct sockaddr_storage *client,
		     const struct sockaddr_storage *peer)
{
	rec_addr_text(client, ci->client_ip, &ci->client_port);
	rec_addr_text(peer, ci->peer_ip, &ci->peer_port);
}

static void fill_records(void)
{
	struct rec_conn_info ci;
	struct sockaddr_storage peer;
	struct pp_header h;
	struct rec_proxy *p;
	static const uint8_t crc[] = { 1, 2, 3, 4 };

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.command = PP_CMD_PROXY;
	h.family = PP_FAM_INET;
	h.transport = PP_PROTO_STREAM;
	ip4(&h.src, "192.0.2.1", 40000);
	ip4(&h.dst, "198.51.100.1", 1883);
	h.alpn.ptr = (const uint8_t *)"mqtt";
	h.alpn.len = 4;
	h.authority.ptr = (const uint8_t *)"broker.example";
	h.authority.len = 14;
	h.unique_id.ptr = crc;
	h.unique_id.len = 4;
	h.aws_vpce_id.ptr = (const uint8_t *)"vpce-0abc";
	h.aws_vpce_id.len = 9;
	h.ssl.present = true;
	h.ssl.client = 1;
	h.ssl.cn.ptr = (const uint8_t *)"client-a";
	h.ssl.cn.len = 8;
	h.ssl.cipher.ptr = (const uint8_t *)"ECDHE-RSA-AES128-GCM-SHA256";
	h.ssl.cipher.len = 27;
	h.ntlv = 1;
	h.tlv[0].type = PP2_TYPE_CRC32C;
	h.tlv[0].value.ptr = crc;
	h.tlv[0].value.len = 4;
	p = rec_proxy_new(&h);
	assert_non_null(p);

	memset(&ci, 0, sizeof(ci));
	ci.listener = CFG_WSS;
	ip4(&peer, "10.0.0.5", 33000);
	ci_addrs(&ci, &h.src, &peer);
	ci.proxy = p;
	ci.tls = true;
	ci.tls_version = "TLSv1.3";
	ci.tls_cipher = "TLS_AES_128_GCM_SHA256";
	assert_true(rec_session_connect(fx.rec, "dev/1 #x", "alice", 5, &ci) > 0);
	rec_proxy_free(p);

	memset(&ci, 0, sizeof(ci));
	ci.listener = CFG_TCP;
	ip4(&peer, "127.0.0.1", 45000);
	ci_addrs(&ci, &peer, &peer);
	fx.gen_b = rec_session_connect(fx.rec, "b-plain", NULL, 4, &ci);
	rec_session_disconnect(fx.rec, "b-plain", fx.gen_b);

	ci_addrs(&ci, &h.src, &peer);
	rec_unauthorized_add(fx.rec, "bad-1", "mallory", "bad-password", true, &ci);
	rec_unauthorized_add(fx.rec, "bad-2", NULL, "anonymous-not-allowed", false, &ci);

	rec_conn_open(fx.rec, CFG_TCP);
	rec_conn_open(fx.rec, CFG_TCP);
	rec_conn_close(fx.rec, CFG_TCP);
	rec_conn_open(fx.rec, CFG_WSS);
	rec_proxy_accepted(fx.rec, CFG_WSS, 2, PP_CMD_PROXY);
	rec_proxy_rejected(fx.rec, CFG_TCP, "v1-bad-src-port");
	rec_mqtt_connect(fx.rec, CFG_WSS, true);
	rec_mqtt_connect(fx.rec, CFG_TCP, false);
	rec_tls_failure(fx.rec, CFG_WSS);
	rec_limit_hit(fx.rec, CFG_SSL, REC_LIMIT_CONNECTIONS);
	rec_limit_hit(fx.rec, CFG_SSL, REC_LIMIT_CONNECTIONS);
	rec_limit_hit(fx.rec, CFG_WS, REC_LIMIT_LISTENER);
	rec_limit_hit(fx.rec, CFG_TCP, REC_LIMIT_CONNECT_SIZE);
	rec_limit_hit(fx.rec, CFG_WS, REC_LIMIT_OUTPUT);
	rec_limit_hit(fx.rec, CFG_TCP, REC_LIMIT_SESSIONS);
	rec_msg_limit(fx.rec, 1, 1);           /* queued_bytes, QoS 1 */
	rec_msg_limit(fx.rec, 1, 1);
	rec_msg_limit(fx.rec, 3, 0);           /* output_buffer, QoS 0 */
	rec_msg_limit(fx.rec, 9, 0);           /* no such limit: ignored */
	rec_engine_gauges(fx.rec, 5000, 3000, 7, 4);
}

static int start(const char *yml)
{
	struct perr e;
	int fd;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.path, sizeof(fx.path), "/tmp/ppmq-adm-XXXXXX");
	fd = mkstemp(fx.path);
	if (fd < 0 || write(fd, yml, strlen(yml)) != (ssize_t)strlen(yml))
		return -1;
	close(fd);
	unsetenv("MQTT_PROXY_PROTOCOL_ENABLED");
	unsetenv("ADMIN_TOKEN");
	unsetenv("ADMIN_BIND_PORT");
	setenv("MQTT_PROXY_TRUSTED_PROXIES", "10.0.0.0/8", 1);
	if (cfg_load(fx.path, &fx.cfg, &e) < 0) {
		fprintf(stderr, "cfg_load: %s\n", e.msg);
		return -1;
	}
	unsetenv("MQTT_PROXY_TRUSTED_PROXIES");
	fx.rec = rec_store_new(fx.cfg.sessions.max_kept, fx.cfg.sessions.unauthorized_max);
	if (!fx.rec)
		return -1;
	fill_records();
	if (adm_start(&fx.cfg, fx.rec, &fx.adm, &e) < 0) {
		fprintf(stderr, "adm_start: %s\n", e.msg);
		return -1;
	}
	fx.port = adm_port(fx.adm);
	return fx.port ? 0 : -1;
}

static int group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return start("admin:\n  bind_port: 0\n  token: " TOKEN "\n"
		     "listener:\n  proxy_enabled: true\n  proxy_mode: optional\n"
		     "  tcp:\n    proxy_enabled: false\n"
		     "  ws:\n    trusted_proxies: [\"2001:db8::/32\"]\n");
}

static void stop(void)
{
	adm_stop(fx.adm);
	rec_store_free(fx.rec);
	cfg_free(&fx.cfg);
	unlink(fx.path);
	fx.adm = NULL;
	fx.rec = NULL;
}

static int group_teardown(void **state)
{
	(void)state;
	stop();
	curl_global_cleanup();
	return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_healthz(void **state)
{
	struct reply r;

	(void)state;
	r = http("GET", "/healthz", NULL, NULL);   /* no token needed */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_non_null(strstr(r.ctype, "text/plain"));
	free(r.body);
	r = http("POST", "/healthz", NULL, "x=1");
	assert_error(&r, 405);
	free(r.body);
}

static void test_token(void **state)
{
	struct reply r;
	static const char *const paths[] = { "/api/v1/sessions", "/api/v1/sessions/b-plain",
					     "/api/v1/unauthorized-clients", "/api/v1/listeners",
					     "/metrics", "/api/v1/nope" };

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		r = http("GET", paths[i], NULL, NULL);
		assert_error(&r, 401);
		assert_non_null(strstr(r.www_auth, "Bearer"));
		free(r.body);
		r = http("GET", paths[i], "wrong", NULL);
		assert_error(&r, 401);
		free(r.body);
		r = http("GET", paths[i], TOKEN "x", NULL);
		assert_error(&r, 401);
		free(r.body);
	}
	/* The token is checked as soon as the headers are in: a request
	 * without it is answered before its body is read (curl waits for
	 * "100 Continue" before sending a large one, and gets the 401). */
	{
		size_t big = 2u << 20;
		char *body = malloc(big + 1);

		assert_non_null(body);
		memset(body, 'x', big);
		body[big] = '\0';
		r = http("POST", "/api/v1/sessions", NULL, body);
		assert_error(&r, 401);
		assert_true(r.uploaded < (curl_off_t)big);
		free(r.body);
		r = http("POST", "/api/v1/nope", "wrong", body);
		assert_error(&r, 401);
		assert_true(r.uploaded < (curl_off_t)big);
		free(r.body);
		free(body);
	}
	/* a DELETE without the token clears nothing */
	r = http("DELETE", "/api/v1/unauthorized-clients", NULL, NULL);
	assert_error(&r, 401);
	free(r.body);
	{
		struct rec_counters c;

		rec_counters_get(fx.rec, &c);
		assert_int_equal(c.unauthorized_kept, 2);
	}
	r = http("GET", "/api/v1/sessions", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	free(r.body);
}

static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	assert_true(json_is_object(o));
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(o, keys[i]))
			fail_msg("missing field '%s'", keys[i]);
	assert_int_equal(json_object_size(o), n);
}

static void assert_iso_time(json_t *v)
{
	regex_t re;

	assert_true(json_is_string(v));
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
				 REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, json_string_value(v), 0, NULL, 0), 0);
	regfree(&re);
}

static const char *const session_keys[] = {
	"clientId", "username", "clientIp", "clientPort", "peerIp", "peerPort", "listener",
	"connected", "mqttVersion", "tls", "proxy", "connectedAt", "disconnectedAt",
};

static void check_proxied_session(json_t *s)
{
	json_t *p, *t, *ssl, *raw;
	static const char *const proxy_keys[] = { "version", "command", "family", "transport", "srcIp",
						  "srcPort", "dstIp", "dstPort", "tlvs" };
	static const char *const tlv_keys[] = { "alpn", "authority", "ssl", "uniqueId", "awsVpceId", "raw" };

	assert_keys(s, session_keys, 13);
	assert_string_equal(json_string_value(json_object_get(s, "clientId")), "dev/1 #x");
	assert_string_equal(json_string_value(json_object_get(s, "username")), "alice");
	assert_string_equal(json_string_value(json_object_get(s, "clientIp")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(s, "clientPort")), 40000);
	assert_string_equal(json_string_value(json_object_get(s, "peerIp")), "10.0.0.5");
	assert_int_equal(json_integer_value(json_object_get(s, "peerPort")), 33000);
	assert_string_equal(json_string_value(json_object_get(s, "listener")), "wss");
	assert_true(json_is_true(json_object_get(s, "connected")));
	assert_string_equal(json_string_value(json_object_get(s, "mqttVersion")), "5");
	t = json_object_get(s, "tls");
	assert_string_equal(json_string_value(json_object_get(t, "version")), "TLSv1.3");
	assert_string_equal(json_string_value(json_object_get(t, "cipher")), "TLS_AES_128_GCM_SHA256");
	assert_iso_time(json_object_get(s, "connectedAt"));
	assert_true(json_is_null(json_object_get(s, "disconnectedAt")));

	p = json_object_get(s, "proxy");
	assert_keys(p, proxy_keys, 9);
	assert_int_equal(json_integer_value(json_object_get(p, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(p, "command")), "proxy");
	assert_string_equal(json_string_value(json_object_get(p, "family")), "inet");
	assert_string_equal(json_string_value(json_object_get(p, "srcIp")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(p, "dstPort")), 1883);
	t = json_object_get(p, "tlvs");
	assert_keys(t, tlv_keys, 6);
	assert_string_equal(json_string_value(json_object_get(t, "alpn")), "mqtt");
	assert_string_equal(json_string_value(json_object_get(t, "authority")), "broker.example");
	assert_string_equal(json_string_value(json_object_get(t, "uniqueId")), "01020304");
	assert_string_equal(json_string_value(json_object_get(t, "awsVpceId")), "vpce-0abc");
	ssl = json_object_get(t, "ssl");
	assert_string_equal(json_string_value(json_object_get(ssl, "cn")), "client-a");
	assert_string_equal(json_string_value(json_object_get(ssl, "cipher")),
			    "ECDHE-RSA-AES128-GCM-SHA256");
	assert_true(json_is_null(json_object_get(ssl, "version")));
	assert_int_equal(json_integer_value(json_object_get(ssl, "client")), 1);
	raw = json_object_get(t, "raw");
	assert_int_equal(json_array_size(raw), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(raw, 0), "type")), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(raw, 0), "hex")), "01020304");
}

static void test_sessions(void **state)
{
	struct reply r;
	json_t *j, *b;

	(void)state;
	r = http("GET", "/api/v1/sessions", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	j = parse(&r);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 2);
	/* client-id order: "b-plain" < "dev/1 #x" */
	b = json_array_get(j, 0);
	assert_keys(b, session_keys, 13);
	assert_string_equal(json_string_value(json_object_get(b, "clientId")), "b-plain");
	assert_true(json_is_null(json_object_get(b, "username")));
	assert_true(json_is_null(json_object_get(b, "proxy")));
	assert_true(json_is_null(json_object_get(b, "tls")));
	assert_true(json_is_false(json_object_get(b, "connected")));
	assert_string_equal(json_string_value(json_object_get(b, "clientIp")), "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(b, "clientPort")), 45000);
	assert_string_equal(json_string_value(json_object_get(b, "mqttVersion")), "3.1.1");
	assert_iso_time(json_object_get(b, "disconnectedAt"));
	check_proxied_session(json_array_get(j, 1));
	json_decref(j);
	free(r.body);

	/* HEAD behaves like GET without a body */
	r = http("HEAD", "/api/v1/sessions", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	assert_non_null(strstr(r.ctype, "application/json"));
	free(r.body);
}

static void test_session_by_id(void **state)
{
	struct reply r;
	json_t *j;
	char path[200];
	CURL *c = curl_easy_init();
	char *esc = curl_easy_escape(c, "dev/1 #x", 0);

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/sessions/%s", esc);
	curl_free(esc);
	curl_easy_cleanup(c);
	r = http("GET", path, TOKEN, NULL);
	assert_int_equal(r.status, 200);
	j = parse(&r);
	check_proxied_session(j);
	json_decref(j);
	free(r.body);

	r = http("GET", "/api/v1/sessions/b-plain", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	j = parse(&r);
	assert_string_equal(json_string_value(json_object_get(j, "clientId")), "b-plain");
	json_decref(j);
	free(r.body);

	r = http("GET", "/api/v1/sessions/nobody", TOKEN, NULL);
	assert_error(&r, 404);
	free(r.body);
	r = http("GET", "/api/v1/sessions/dev%2F1", TOKEN, NULL);
	assert_error(&r, 404);
	free(r.body);
}

static void test_unauthorized(void **state)
{
	struct reply r;
	json_t *j, *u;
	static const char *const keys[] = { "clientId", "username", "clientIp", "clientPort", "peerIp",
					    "peerPort", "listener", "reason", "passwordProvided",
					    "tlsUsed", "ts" };

	(void)state;
	r = http("GET", "/api/v1/unauthorized-clients", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	j = parse(&r);
	assert_int_equal(json_array_size(j), 2);
	u = json_array_get(j, 0);
	assert_keys(u, keys, 11);
	assert_string_equal(json_string_value(json_object_get(u, "clientId")), "bad-1");
	assert_string_equal(json_string_value(json_object_get(u, "username")), "mallory");
	assert_string_equal(json_string_value(json_object_get(u, "clientIp")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(u, "clientPort")), 40000);
	assert_string_equal(json_string_value(json_object_get(u, "peerIp")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(u, "listener")), "tcp");
	assert_string_equal(json_string_value(json_object_get(u, "reason")), "bad-password");
	assert_true(json_is_true(json_object_get(u, "passwordProvided")));
	assert_true(json_is_false(json_object_get(u, "tlsUsed")));
	assert_iso_time(json_object_get(u, "ts"));
	u = json_array_get(j, 1);
	assert_true(json_is_null(json_object_get(u, "username")));
	assert_true(json_is_false(json_object_get(u, "passwordProvided")));
	json_decref(j);
	free(r.body);

	r = http("PUT", "/api/v1/unauthorized-clients", TOKEN, NULL);
	assert_error(&r, 405);
	assert_string_equal(r.allow, "GET, HEAD, DELETE");
	free(r.body);

	/* DELETE with a body still works and clears */
	r = http("DELETE", "/api/v1/unauthorized-clients", TOKEN, "ignored=1");
	assert_int_equal(r.status, 204);
	assert_int_equal(r.len, 0);
	free(r.body);
	r = http("GET", "/api/v1/unauthorized-clients", TOKEN, NULL);
	j = parse(&r);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	free(r.body);
	/* the store keeps working after a clear */
	{
		struct rec_conn_info ci;
		struct sockaddr_storage peer;

		memset(&ci, 0, sizeof(ci));
		ip4(&peer, "127.0.0.2", 1);
		ci_addrs(&ci, &peer, &peer);
		rec_unauthorized_add(fx.rec, "bad-3", NULL, "unknown-user", true, &ci);
	}
	r = http("GET", "/api/v1/unauthorized-clients", TOKEN, NULL);
	j = parse(&r);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "clientIp")),
			    "127.0.0.2");
	json_decref(j);
	free(r.body);
}

static void test_listeners(void **state)
{
	struct reply r;
	json_t *j, *l;
	static const char *const kinds[] = { "tcp", "ssl", "ws", "wss" };

	(void)state;
	r = http("GET", "/api/v1/listeners", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	j = parse(&r);
	assert_int_equal(json_array_size(j), 4);
	for (size_t i = 0; i < 4; i++) {
		l = json_array_get(j, i);
		assert_string_equal(json_string_value(json_object_get(l, "kind")), kinds[i]);
		assert_true(json_is_boolean(json_object_get(l, "enabled")));
		assert_true(json_is_string(json_object_get(l, "bind")));
		assert_true(json_is_integer(json_object_get(l, "port")));
		assert_string_equal(json_string_value(json_object_get(l, "proxyMode")), "optional");
		assert_true(json_is_array(json_object_get(l, "trustedProxies")));
		assert_true(json_is_string(json_object_get(l, "proxySource")));
		assert_true(json_is_string(json_object_get(l, "proxySourceDetail")));
		assert_true(i == 1 || i == 3 ? json_is_object(json_object_get(l, "tls"))
					     : json_is_null(json_object_get(l, "tls")));
		assert_true(i >= 2 ? json_is_string(json_object_get(l, "path"))
				   : json_is_null(json_object_get(l, "path")));
	}
	l = json_array_get(j, 0);
	assert_true(json_is_false(json_object_get(l, "proxyEnabled")));
	assert_string_equal(json_string_value(json_object_get(l, "proxySource")), "file");
	assert_int_equal(json_integer_value(json_object_get(l, "port")), 1883);
	assert_string_equal(json_string_value(json_object_get(l, "bind")), "0.0.0.0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "trustedProxies"), 0)),
			    "10.0.0.0/8");
	l = json_array_get(j, 1);
	assert_true(json_is_true(json_object_get(l, "proxyEnabled")));
	assert_string_equal(json_string_value(json_object_get(l, "proxySource")), "inherited");
	assert_non_null(strstr(json_string_value(json_object_get(l, "proxySourceDetail")),
			       "inherited from listener.proxy_enabled (file "));
	assert_string_equal(json_string_value(json_object_get(json_object_get(l, "tls"), "clientAuth")),
			    "none");
	l = json_array_get(j, 2);
	assert_string_equal(json_string_value(json_object_get(l, "path")), "/mqtt");
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "trustedProxies"), 0)),
			    "2001:db8::/32");
	assert_int_equal(json_integer_value(json_object_get(l, "proxyTimeoutMs")), 3000);
	json_decref(j);
	free(r.body);
}

/* The value of a sample line "name{labels} value", -1 when absent. */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void test_metrics(void **state)
{
	struct reply r;
	regex_t sample_re, type_re;
	char *copy, *save = NULL;
	char last_type[128] = "";
	size_t samples = 0;

	(void)state;
	r = http("GET", "/metrics", TOKEN, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.ctype, "text/plain"));
	assert_non_null(strstr(r.ctype, "version=0.0.4"));
	assert_int_equal(sample(r.body, "ppmq_connections_total{listener=\"tcp\"}"), 2);
	assert_int_equal(sample(r.body, "ppmq_connections_current{listener=\"tcp\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_connections_total{listener=\"wss\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_connections_total{listener=\"ssl\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_accepted_total{version=\"2\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_accepted_total{version=\"1\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_accepted_by_command_total{command=\"proxy\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_rejected_total{reason=\"v1-bad-src-port\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_rejected_total{reason=\"missing\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_rejected_total{reason=\"timeout\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_rejected_total{reason=\"untrusted-source\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_proxy_headers_by_listener_total{listener=\"tcp\",result=\"rejected\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_tls_handshake_failures_total{listener=\"wss\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_tls_handshake_failures_total{listener=\"tcp\"}"), -1);
	assert_int_equal(sample(r.body, "ppmq_ws_upgrade_failures_total{listener=\"ws\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_mqtt_connects_total{listener=\"wss\",result=\"accepted\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_mqtt_connects_total{listener=\"tcp\",result=\"refused\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_sessions_connected"), 1);
	assert_int_equal(sample(r.body, "ppmq_session_records"), 2);
	assert_int_equal(sample(r.body, "ppmq_connections_refused_total{listener=\"ssl\",limit=\"total\"}"), 2);
	assert_int_equal(sample(r.body, "ppmq_connections_refused_total{listener=\"ssl\",limit=\"listener\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_connections_refused_total{listener=\"ws\",limit=\"listener\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_connects_too_large_total{listener=\"tcp\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_connects_too_large_total{listener=\"wss\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_slow_consumers_closed_total{listener=\"ws\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_sessions_refused_total{listener=\"tcp\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_messages_dropped_total{limit=\"queued_bytes\",qos=\"1\"}"), 2);
	assert_int_equal(sample(r.body, "ppmq_messages_dropped_total{limit=\"output_buffer\",qos=\"0\"}"), 1);
	assert_int_equal(sample(r.body, "ppmq_messages_dropped_total{limit=\"retained_bytes\",qos=\"2\"}"), 0);
	assert_int_equal(sample(r.body, "ppmq_queued_bytes{sessions=\"online\"}"), 2000);
	assert_int_equal(sample(r.body, "ppmq_queued_bytes{sessions=\"offline\"}"), 3000);
	assert_int_equal(sample(r.body, "ppmq_retained_messages"), 7);
	assert_int_equal(sample(r.body, "ppmq_acl_denied_total"), 4);

	/* Every line is a HELP, a TYPE or a sample of the family just typed. */
	assert_int_equal(regcomp(&sample_re, "^([a-z_]+)(\\{[a-z]+=\"[^\"]*\"(,[a-z]+=\"[^\"]*\")*\\})? [0-9]+$",
				 REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type_re, "^# TYPE ([a-z_]+) (counter|gauge)$", REG_EXTENDED), 0);
	assert_true(r.len > 0 && r.body[r.len - 1] == '\n');
	copy = strdup(r.body);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];

		if (strncmp(line, "# HELP ppmq_", 12) == 0)
			continue;
		if (regexec(&type_re, line, 2, m, 0) == 0) {
			snprintf(last_type, sizeof(last_type), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			continue;
		}
		if (regexec(&sample_re, line, 2, m, 0) != 0)
			fail_msg("bad metrics line: '%s'", line);
		if ((size_t)(m[1].rm_eo - m[1].rm_so) != strlen(last_type) ||
		    strncmp(line, last_type, strlen(last_type)) != 0)
			fail_msg("sample '%s' outside its family '%s'", line, last_type);
		samples++;
	}
	assert_true(samples > 30);
	free(copy);
	regfree(&sample_re);
	regfree(&type_re);
	free(r.body);
}

static void test_methods_and_paths(void **state)
{
	struct reply r;
	static const struct { const char *m, *p; long status; } cases[] = {
		{ "POST", "/api/v1/sessions", 405 },
		{ "DELETE", "/api/v1/sessions", 405 },
		{ "DELETE", "/api/v1/sessions/b-plain", 405 },
		{ "PUT", "/api/v1/listeners", 405 },
		{ "POST", "/metrics", 405 },
		{ "GET", "/", 404 },
		{ "GET", "/api/v1/nope", 404 },
		{ "GET", "/api/v1/sessionsX", 404 },
		{ "GET", "/api/v2/sessions", 404 },
		{ "DELETE", "/nope", 404 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = http(cases[i].m, cases[i].p, TOKEN, cases[i].m[0] == 'P' ? "a=b" : NULL);
		assert_error(&r, cases[i].status);
		if (cases[i].status == 405)
			assert_non_null(strstr(r.allow, "GET"));
		free(r.body);
	}
	/* the session survived the refused DELETE */
	assert_true(rec_session_get(fx.rec, "b-plain", NULL, NULL));
}

#define UNAUTH "/api/v1/unauthorized-clients"

/* The status of one request without a token. */
static long status_without_token(const char *method, const char *path)
{
	struct reply r = http(method, path, NULL, NULL);

	free(r.body);
	return r.status;
}

/* Does GET path (without a token) show this text? */
static bool shows(const char *path, const char *text)
{
	struct reply r = http("GET", path, NULL, NULL);
	bool found = strstr(r.body, text) != NULL;

	free(r.body);
	return found;
}

static void test_port_in_use_and_no_token(void **state)
{
	struct adm_server *a2 = NULL;
	struct perr e;
	struct reply r;
	uint16_t old = fx.cfg.admin.bind_port;

	(void)state;
	/* the same port again: a clear error, no server */
	fx.cfg.admin.bind_port = fx.port;
	assert_int_equal(adm_start(&fx.cfg, fx.rec, &a2, &e), -1);
	assert_null(a2);
	{
		/* what, where, why; each once */
		char want[200];

		snprintf(want, sizeof(want), "admin API: cannot listen on 127.0.0.1:%u: Address already in use",
			 (unsigned)fx.port);
		assert_string_equal(e.msg, want);
	}
	fx.cfg.admin.bind_port = old;
	adm_stop(NULL);

	/* without a token configured, no header is needed to read ... */
	stop();
	assert_int_equal(start("admin:\n  bind_port: 0\n"), 0);
	assert_int_equal(status_without_token("GET", "/api/v1/sessions"), 200);
	assert_int_equal(status_without_token("GET", "/metrics"), 200);
	/* ... but clearing needs one, unless the configuration says otherwise */
	r = http("DELETE", UNAUTH, NULL, NULL);
	assert_error(&r, 403);
	assert_non_null(strstr(r.body, "admin.allow_delete_without_token"));
	free(r.body);
	assert_true(shows(UNAUTH, "bad-1"));
	stop();
	assert_int_equal(start("admin:\n  bind_port: 0\n  allow_delete_without_token: true\n"), 0);
	assert_int_equal(status_without_token("DELETE", UNAUTH), 204);
	assert_false(shows(UNAUTH, "bad-1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_session_by_id),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_methods_and_paths),
		cmocka_unit_test(test_port_in_use_and_no_token),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
