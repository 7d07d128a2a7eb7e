/* test_broker_config.c - broker configuration: YAML + env, TBMQ inheritance,
 * sources, and every kind of error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *const L[CFG_NLISTENERS] = { "tcp", "ssl", "ws", "wss" };
static const char *const LENV[CFG_NLISTENERS] = { "TCP", "SSL", "WS", "WSS" };

/* Placeholder variables used by the tests, besides every key's own. */
static const char *const extra_env[] = { "PPMQ_T_A", "PPMQ_T_B", "PPMQ_T_PORT", "PPMQ_T_PW" };

static char tmp_path[64];
static char cert_path[64];

static void clear_env(void)
{
	for (size_t i = 0; i < cfg_key_count(); i++) {
		const char *env = cfg_env_name(cfg_key_name(i));

		if (env && *env)
			unsetenv(env);
	}
	for (size_t i = 0; i < sizeof(extra_env) / sizeof(extra_env[0]); i++)
		unsetenv(extra_env[i]);
}

static int setup(void **state)
{
	(void)state;
	clear_env();
	tmp_path[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	clear_env();
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
	return 0;
}

/* Write a temporary YAML file; its path is tmp_path (removed in teardown). */
static const char *yaml(const char *text)
{
	int fd;

	if (tmp_path[0])
		unlink(tmp_path);
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/ppmq-cfg-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

static void load_ok(const char *path, struct cfg *c)
{
	struct perr e = { { 0 } };

	if (cfg_load(path, c, &e) < 0)
		fail_msg("cfg_load failed: %s", e.msg);
}

/* Load must fail with exactly "<tmp_path>:<rest>" (or exactly msg when
 * path_prefix is false). */
static void load_fails(const char *path, const char *rest, bool path_prefix)
{
	struct cfg c;
	struct perr e = { { 0 } };
	char want[700];

	assert_int_equal(cfg_load(path, &c, &e), -1);
	if (path_prefix)
		snprintf(want, sizeof(want), "%s:%s", path, rest);
	else
		snprintf(want, sizeof(want), "%s", rest);
	assert_string_equal(e.msg, want);
	/* A failed load leaves nothing to free, and freeing again is harmless. */
	cfg_free(&c);
}

static char *print_all(const struct cfg *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cfg_print(c, f);
	fclose(f);
	return buf;
}

static void assert_line(const char *printed, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strncmp(printed, line, strlen(line)) == 0 && printed[strlen(line)] == '\n')
		return;
	if (!strstr(printed, want))
		fail_msg("line not printed: '%s'\n--- got:\n%s", line, printed);
}

/* The limits' values (listener arrays in tcp, ssl, ws, wss order). */
struct limits {
	size_t total, per_listener[CFG_NLISTENERS];
	unsigned tls_ms[CFG_NLISTENERS], ws_ms[CFG_NLISTENERS];
	size_t admin_max, admin_per_client;
	unsigned admin_idle_ms;
	bool open_delete;
	size_t connect_size;
	unsigned refused_per_second;
};

static void assert_limits(const struct cfg *c, const struct limits *w)
{
	assert_int_equal(c->max_connections, w->total);
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		assert_int_equal(c->listener[i].max_connections, w->per_listener[i]);
		assert_int_equal(c->listener[i].tls_timeout_ms, w->tls_ms[i]);
		assert_int_equal(c->listener[i].ws_timeout_ms, w->ws_ms[i]);
	}
	assert_int_equal(c->admin.max_connections, w->admin_max);
	assert_int_equal(c->admin.max_connections_per_client, w->admin_per_client);
	assert_int_equal(c->admin.idle_timeout_ms, w->admin_idle_ms);
	assert_int_equal(c->admin.allow_delete_without_token, w->open_delete);
	assert_int_equal(c->mqtt.max_connect_size, w->connect_size);
	assert_int_equal(c->log.refused_per_second, w->refused_per_second);
}

/* ---- defaults ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct cfg c;
	char *p;

	(void)state;
	load_ok(NULL, &c);
	assert_null(c.path);
	assert_false(c.proxy_enabled);
	assert_int_equal(c.proxy_mode, CFG_PROXY_STRICT);
	assert_int_equal(c.proxy_timeout_ms, 3000);
	assert_int_equal(c.proxy_max_header, 4096);
	assert_int_equal(c.ntrusted, 0);
	assert_true(c.listener[CFG_TCP].enabled);
	assert_false(c.listener[CFG_SSL].enabled);
	assert_true(c.listener[CFG_WS].enabled);
	assert_false(c.listener[CFG_WSS].enabled);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1883);
	assert_int_equal(c.listener[CFG_SSL].bind_port, 8883);
	assert_int_equal(c.listener[CFG_WS].bind_port, 8084);
	assert_int_equal(c.listener[CFG_WSS].bind_port, 8085);
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		assert_int_equal(c.listener[i].kind, i);
		assert_string_equal(c.listener[i].bind_address, "0.0.0.0");
		assert_false(c.listener[i].proxy_enabled);
		assert_false(c.listener[i].proxy_explicit);
		assert_int_equal(c.listener[i].proxy_timeout_ms, 3000);
	}
	assert_string_equal(c.listener[CFG_WS].path, "/mqtt");
	assert_string_equal(c.listener[CFG_WSS].path, "/mqtt");
	assert_null(c.listener[CFG_TCP].path);
	assert_null(c.listener[CFG_SSL].cert_file);
	assert_true(c.admin.enabled);
	assert_string_equal(c.admin.bind_address, "127.0.0.1");
	assert_int_equal(c.admin.bind_port, 8083);
	assert_null(c.admin.token);
	assert_true(c.security.allow_anonymous);
	assert_int_equal(c.security.nusers, 0);
	assert_int_equal(c.sessions.unauthorized_max, 1000);
	assert_int_equal(c.log.level, LOG_INFO);
	assert_null(c.log.file);
	assert_limits(&c, &(struct limits){ 10000, { 0, 0, 0, 0 }, { 0, 10000, 0, 10000 },
					     { 0, 0, 10000, 10000 }, 256, 32, 2000, false, 16384, 10 });

	assert_int_equal(cfg_source(&c, "listener.tcp.bind_port")->kind, CFG_SRC_DEFAULT);
	assert_string_equal(cfg_source(&c, "listener.tcp.bind_port")->desc, "default");
	assert_int_equal(cfg_source(&c, "listener.ws.proxy_enabled")->kind, CFG_SRC_INHERITED);
	assert_string_equal(cfg_source(&c, "listener.ws.proxy_enabled")->desc,
			    "inherited from listener.proxy_enabled (default)");
	assert_null(cfg_source(&c, "listener.nope"));

	p = print_all(&c);
	assert_line(p, "listener.proxy_enabled = false  # default");
	assert_line(p, "listener.tcp.bind_port = 1883  # default");
	assert_line(p, "listener.proxy_timeout = 3000ms  # default");
	assert_line(p, "admin.token = (unset)  # default");
	assert_line(p, "listener.trusted_proxies = (unset)  # default");
	assert_line(p, "listener.max_connections = 10000  # default");
	assert_line(p, "listener.ssl.handshake_timeout = 10000ms  # default");
	assert_line(p, "listener.wss.upgrade_timeout = 10000ms  # default");
	assert_line(p, "admin.idle_timeout = 2000ms  # default");
	assert_line(p, "mqtt.max_connect_size = 16384  # default");
	/* one line per key */
	{
		size_t lines = 0;

		for (const char *q = p; *q; q++)
			lines += *q == '\n';
		assert_int_equal(lines, cfg_key_count());
	}
	free(p);
	cfg_free(&c);
	cfg_free(&c);   /* idempotent */
}

static void test_env_names(void **state)
{
	(void)state;
	assert_string_equal(cfg_env_name("listener.proxy_enabled"), "MQTT_PROXY_PROTOCOL_ENABLED");
	assert_string_equal(cfg_env_name("listener.tcp.proxy_enabled"), "MQTT_TCP_PROXY_PROTOCOL_ENABLED");
	assert_string_equal(cfg_env_name("listener.wss.proxy_enabled"), "MQTT_WSS_PROXY_PROTOCOL_ENABLED");
	assert_string_equal(cfg_env_name("listener.ssl.cert_file"), "LISTENER_SSL_PEM_CERT");
	assert_string_equal(cfg_env_name("listener.wss.key_file"), "LISTENER_WSS_PEM_KEY");
	assert_string_equal(cfg_env_name("listener.ws.path"), "LISTENER_WS_PATH");
	assert_string_equal(cfg_env_name("listener.tcp.bind_port"), "LISTENER_TCP_BIND_PORT");
	assert_string_equal(cfg_env_name("admin.bind_port"), "ADMIN_BIND_PORT");
	assert_string_equal(cfg_env_name("admin.token"), "ADMIN_TOKEN");
	assert_string_equal(cfg_env_name("security.allow_anonymous"), "SECURITY_ALLOW_ANONYMOUS");
	assert_string_equal(cfg_env_name("listener.proxy_mode"), "MQTT_PROXY_PROTOCOL_MODE");
	assert_string_equal(cfg_env_name("listener.proxy_timeout"), "MQTT_PROXY_PROTOCOL_TIMEOUT");
	assert_string_equal(cfg_env_name("listener.trusted_proxies"), "MQTT_PROXY_TRUSTED_PROXIES");
	assert_null(cfg_env_name("listener.bogus"));
	assert_string_equal(cfg_listener_name(CFG_WSS), "wss");
	assert_null(cfg_listener_name(CFG_NLISTENERS));
	{
		enum cfg_listener_kind k;

		assert_int_equal(cfg_listener_parse("ws", &k), 0);
		assert_int_equal(k, CFG_WS);
		assert_int_equal(cfg_listener_parse("tls", &k), -1);
	}
}

/* ---- the inheritance table ------------------------------------------------------ */

enum tri { UNSET = 0, T_TRUE, T_FALSE };
static const char *tri_text(enum tri t)
{
	return t == T_TRUE ? "true" : "false";
}

/* One cell of the table: global g, listener li set to v, the other three
 * listeners left unset; from file (use_env false) or env. */
static void check_cell(enum tri g, int li, enum tri v, bool use_env)
{
	char text[512] = "listener:\n";
	char gdesc[128], want[300];
	struct cfg c;
	bool expect_global = g == T_TRUE;

	clear_env();
	if (use_env) {
		if (g != UNSET)
			setenv("MQTT_PROXY_PROTOCOL_ENABLED", tri_text(g), 1);
		if (v != UNSET) {
			char name[64];

			snprintf(name, sizeof(name), "MQTT_%s_PROXY_PROTOCOL_ENABLED", LENV[li]);
			setenv(name, tri_text(v), 1);
		}
		/* TBMQ's file: placeholders with an empty default. */
		snprintf(text, sizeof(text),
			 "listener:\n"
			 "  proxy_enabled: \"${MQTT_PROXY_PROTOCOL_ENABLED:false}\"\n"
			 "  tcp:\n    proxy_enabled: \"${MQTT_TCP_PROXY_PROTOCOL_ENABLED:}\"\n"
			 "  ssl:\n    proxy_enabled: \"${MQTT_SSL_PROXY_PROTOCOL_ENABLED:}\"\n"
			 "  ws:\n    proxy_enabled: \"${MQTT_WS_PROXY_PROTOCOL_ENABLED:}\"\n"
			 "  wss:\n    proxy_enabled: \"${MQTT_WSS_PROXY_PROTOCOL_ENABLED:}\"\n");
		load_ok(yaml(text), &c);
		if (g != UNSET)
			snprintf(gdesc, sizeof(gdesc), "env MQTT_PROXY_PROTOCOL_ENABLED");
		else
			snprintf(gdesc, sizeof(gdesc), "file %s:2, default of ${MQTT_PROXY_PROTOCOL_ENABLED}",
				 tmp_path);
	} else {
		if (g != UNSET)
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "  proxy_enabled: %s\n", tri_text(g));
		if (v != UNSET)
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "  %s:\n    proxy_enabled: %s\n", L[li], tri_text(v));
		else
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "  %s:\n    bind_port: %d\n", L[li], 20000 + li);
		load_ok(yaml(text), &c);
		if (g != UNSET)
			snprintf(gdesc, sizeof(gdesc), "file %s:2", tmp_path);
		else
			snprintf(gdesc, sizeof(gdesc), "default");
	}

	assert_int_equal(c.proxy_enabled, expect_global);
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		const struct cfg_listener *l = &c.listener[i];
		char key[64];
		const struct cfg_src *s;

		snprintf(key, sizeof(key), "listener.%s.proxy_enabled", L[i]);
		s = cfg_source(&c, key);
		assert_non_null(s);
		if (i == li && v != UNSET) {
			assert_int_equal(l->proxy_enabled, v == T_TRUE);
			assert_true(l->proxy_explicit);
			assert_int_equal(s->kind, use_env ? CFG_SRC_ENV : CFG_SRC_FILE);
			if (use_env) {
				snprintf(want, sizeof(want), "MQTT_%s_PROXY_PROTOCOL_ENABLED", LENV[i]);
				assert_string_equal(s->env, want);
			} else {
				assert_int_equal(s->line, g != UNSET ? 4 : 3);
				assert_int_equal(s->col, 5);
			}
		} else {
			assert_int_equal(l->proxy_enabled, expect_global);
			assert_false(l->proxy_explicit);
			assert_int_equal(s->kind, CFG_SRC_INHERITED);
			snprintf(want, sizeof(want), "inherited from listener.proxy_enabled (%s)", gdesc);
			assert_string_equal(s->desc, want);
		}
	}
	/* The printed form tells the same story. */
	{
		char *p = print_all(&c);
		char line[400];

		snprintf(line, sizeof(line), "listener.%s.proxy_enabled = %s  # %s", L[li],
			 v != UNSET ? tri_text(v) : (expect_global ? "true" : "false"),
			 cfg_source(&c, (snprintf(want, sizeof(want), "listener.%s.proxy_enabled",
						  L[li]), want))->desc);
		assert_line(p, line);
		free(p);
	}
	cfg_free(&c);
}

static void test_inheritance_file(void **state)
{
	(void)state;
	for (int g = UNSET; g <= T_FALSE; g++)
		for (int li = 0; li < CFG_NLISTENERS; li++)
			for (int v = UNSET; v <= T_FALSE; v++)
				check_cell((enum tri)g, li, (enum tri)v, false);
}

static void test_inheritance_env(void **state)
{
	(void)state;
	for (int g = UNSET; g <= T_FALSE; g++)
		for (int li = 0; li < CFG_NLISTENERS; li++)
			for (int v = UNSET; v <= T_FALSE; v++)
				check_cell((enum tri)g, li, (enum tri)v, true);
}

/* TBMQ's documented example, env only, no file. */
static void test_inheritance_tbmq_example(void **state)
{
	struct cfg c;
	char *p;

	(void)state;
	setenv("MQTT_PROXY_PROTOCOL_ENABLED", "true", 1);
	setenv("MQTT_TCP_PROXY_PROTOCOL_ENABLED", "false", 1);
	setenv("MQTT_SSL_PROXY_PROTOCOL_ENABLED", "", 1);
	load_ok(NULL, &c);
	assert_false(c.listener[CFG_TCP].proxy_enabled);
	assert_true(c.listener[CFG_SSL].proxy_enabled);
	assert_true(c.listener[CFG_WS].proxy_enabled);
	assert_true(c.listener[CFG_WSS].proxy_enabled);
	p = print_all(&c);
	assert_line(p, "listener.proxy_enabled = true  # env MQTT_PROXY_PROTOCOL_ENABLED");
	assert_line(p, "listener.tcp.proxy_enabled = false  # env MQTT_TCP_PROXY_PROTOCOL_ENABLED");
	assert_line(p, "listener.ssl.proxy_enabled = true  # inherited from listener.proxy_enabled "
		       "(env MQTT_PROXY_PROTOCOL_ENABLED)");
	free(p);
	cfg_free(&c);
}

/* The key's own env variable beats a literal in the file. */
static void test_env_overrides_file(void **state)
{
	struct cfg c;

	(void)state;
	setenv("MQTT_WS_PROXY_PROTOCOL_ENABLED", "no", 1);
	setenv("LISTENER_TCP_BIND_PORT", "1999", 1);
	load_ok(yaml("listener:\n  proxy_enabled: true\n  ws:\n    proxy_enabled: yes\n"
		     "  tcp:\n    bind_port: 1884\n"), &c);
	assert_false(c.listener[CFG_WS].proxy_enabled);
	assert_true(c.listener[CFG_WS].proxy_explicit);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1999);
	assert_string_equal(cfg_source(&c, "listener.tcp.bind_port")->desc, "env LISTENER_TCP_BIND_PORT");
	assert_true(c.listener[CFG_SSL].proxy_enabled);
	cfg_free(&c);
}

/* proxy_mode and trusted_proxies inherit the same way. */
static void test_mode_and_trusted_inherit(void **state)
{
	struct cfg c;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	(void)state;
	setenv("MQTT_PROXY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7", 1);
	load_ok(yaml("listener:\n"
		     "  proxy_mode: optional\n"
		     "  ws:\n    proxy_mode: strict\n    trusted_proxies: [\"2001:db8::/32\"]\n"
		     "  wss:\n    trusted_proxies: [0.0.0.0/0, \"::/0\"]\n"), &c);
	assert_int_equal(c.proxy_mode, CFG_PROXY_OPTIONAL);
	assert_int_equal(c.listener[CFG_TCP].proxy_mode, CFG_PROXY_OPTIONAL);
	assert_int_equal(c.listener[CFG_WS].proxy_mode, CFG_PROXY_STRICT);
	assert_int_equal(cfg_source(&c, "listener.tcp.proxy_mode")->kind, CFG_SRC_INHERITED);
	assert_int_equal(cfg_source(&c, "listener.ws.proxy_mode")->kind, CFG_SRC_FILE);
	assert_int_equal(c.ntrusted, 2);
	assert_int_equal(c.listener[CFG_TCP].ntrusted, 2);
	assert_int_equal(c.listener[CFG_WS].ntrusted, 1);
	assert_int_equal(c.listener[CFG_WSS].ntrusted, 2);
	assert_int_equal(cfg_source(&c, "listener.wss.trusted_proxies")->kind, CFG_SRC_FILE);
	assert_false(cfg_trusts_any(&c.listener[CFG_TCP]));
	assert_true(cfg_trusts_any(&c.listener[CFG_WSS]));
	assert_string_equal(cfg_source(&c, "listener.ssl.trusted_proxies")->desc,
			    "inherited from listener.trusted_proxies (env MQTT_PROXY_TRUSTED_PROXIES)");

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &sin->sin_addr);
	assert_true(cfg_trusted(&c.listener[CFG_TCP], &ss));
	assert_false(cfg_trusted(&c.listener[CFG_WS], &ss));
	assert_true(cfg_trusted(&c.listener[CFG_WSS], &ss));   /* 0.0.0.0/0 */
	inet_pton(AF_INET, "192.0.2.8", &sin->sin_addr);
	assert_false(cfg_trusted(&c.listener[CFG_TCP], &ss));
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6->sin6_addr);
	assert_true(cfg_trusted(&c.listener[CFG_SSL], &ss));
	inet_pton(AF_INET6, "2001:db8::5", &sin6->sin6_addr);
	assert_true(cfg_trusted(&c.listener[CFG_WS], &ss));
	assert_false(cfg_trusted(&c.listener[CFG_TCP], &ss));
	{
		char *p = print_all(&c);

		assert_line(p, "listener.trusted_proxies = [10.0.0.0/8, 192.0.2.7/32]  # env MQTT_PROXY_TRUSTED_PROXIES");
		free(p);
	}
	cfg_free(&c);
}

/* ---- ${ENV:default} ----------------------------------------------------------- */

static void test_placeholders(void **state)
{
	struct cfg c;
	char want[300];
	const char *text =
		"listener:\n"
		"  tcp:\n"
		"    bind_port: \"${PPMQ_T_PORT:1884}\"\n"
		"    bind_address: ${PPMQ_T_A:127.0.0.1}\n"
		"  ws:\n"
		"    path: \"/${PPMQ_T_A:mq}${PPMQ_T_B}-x\"\n"
		"  proxy_timeout: ${PPMQ_T_B:500ms}\n";

	(void)state;
	/* unset: defaults of the placeholders */
	load_ok(yaml(text), &c);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1884);
	assert_string_equal(c.listener[CFG_TCP].bind_address, "127.0.0.1");
	assert_string_equal(c.listener[CFG_WS].path, "/mq-x");
	assert_int_equal(c.proxy_timeout_ms, 500);
	assert_int_equal(cfg_source(&c, "listener.tcp.bind_port")->kind, CFG_SRC_FILE);
	snprintf(want, sizeof(want), "file %s:3, default of ${PPMQ_T_PORT}", tmp_path);
	assert_string_equal(cfg_source(&c, "listener.tcp.bind_port")->desc, want);
	cfg_free(&c);

	/* set: the environment wins; empty counts as unset */
	setenv("PPMQ_T_PORT", "2883", 1);
	setenv("PPMQ_T_A", "", 1);
	setenv("PPMQ_T_B", "3s", 1);
	load_ok(yaml(text), &c);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 2883);
	assert_string_equal(c.listener[CFG_TCP].bind_address, "127.0.0.1");
	assert_string_equal(c.listener[CFG_WS].path, "/mq3s-x");
	assert_int_equal(c.proxy_timeout_ms, 3000);
	assert_int_equal(cfg_source(&c, "listener.tcp.bind_port")->kind, CFG_SRC_ENV);
	assert_string_equal(cfg_source(&c, "listener.tcp.bind_port")->env, "PPMQ_T_PORT");
	assert_int_equal(cfg_source(&c, "listener.tcp.bind_port")->line, 3);
	snprintf(want, sizeof(want), "env PPMQ_T_PORT (via %s:3)", tmp_path);
	assert_string_equal(cfg_source(&c, "listener.tcp.bind_port")->desc, want);
	cfg_free(&c);

	/* "${X:}" with X unset: the key stays at its default */
	unsetenv("PPMQ_T_PORT");
	load_ok(yaml("listener:\n  tcp:\n    bind_port: \"${PPMQ_T_PORT:}\"\n    enabled: ${PPMQ_T_A}\n"), &c);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1883);
	assert_true(c.listener[CFG_TCP].enabled);
	assert_int_equal(cfg_source(&c, "listener.tcp.bind_port")->kind, CFG_SRC_DEFAULT);
	cfg_free(&c);

	/* the YAML layer's rules: nested defaults, $$ for a '$' (PPMQ_T_A is
	 * empty, PPMQ_T_B is 3s) */
	load_ok(yaml("admin:\n  token: \"pa$$w${PPMQ_T_A:${PPMQ_T_B:x}}\"\n"), &c);
	assert_string_equal(c.admin.token, "pa$w3s");
	snprintf(want, sizeof(want), "env PPMQ_T_B (via %s:2)", tmp_path);
	assert_string_equal(cfg_source(&c, "admin.token")->desc, want);
	cfg_free(&c);
	/* a bad value made by an unset variable names it */
	load_fails(yaml("listener:\n  ws:\n    path: \"${PPMQ_T_A}mqtt\"\n"),
		   "3:5: listener.ws.path: 'mqtt' (${PPMQ_T_A} is unset) must start with '/'", true);

	/* null-ish YAML values are unset too; quoted "null" is not */
	load_ok(yaml("listener:\n  tcp:\n    proxy_enabled: ~\n    bind_address:\n  ws:\n    path: \"/null\"\n"), &c);
	assert_false(c.listener[CFG_TCP].proxy_explicit);
	assert_string_equal(c.listener[CFG_TCP].bind_address, "0.0.0.0");
	cfg_free(&c);
}

static void test_dotted_keys_and_values(void **state)
{
	struct cfg c;

	(void)state;
	setenv("PPMQ_T_PW", "s3cret", 1);
	load_ok(yaml("listener.tcp.bind_port: 1999\n"
		     "listener:\n  ws.proxy_enabled: TRUE\n  proxy_max_header: 232\n"
		     "admin:\n  token: abc\n  bind_port: 0\n"
		     "mqtt:\n  max_packet_size: 65536\n  keepalive_max: 600\n"
		     "sessions:\n  unauthorized_max: 5\n  max_kept: 7\n"
		     "log:\n  level: DEBUG\n  file: /tmp/x.log\n"
		     "security:\n  allow_anonymous: No\n  users:\n"
		     "    - username: alice\n      password: \"${PPMQ_T_PW:x}\"\n"
		     "    - {username: bob, password: pw}\n"
		     "    - username: carol\n"), &c);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1999);
	assert_true(c.listener[CFG_WS].proxy_enabled);
	assert_int_equal(c.proxy_max_header, 232);
	assert_int_equal(c.listener[CFG_WSS].proxy_max_header, 232);
	assert_string_equal(c.admin.token, "abc");
	assert_int_equal(c.admin.bind_port, 0);
	assert_int_equal(c.mqtt.max_packet_size, 65536);
	assert_int_equal(c.mqtt.keepalive_max, 600);
	assert_int_equal(c.sessions.unauthorized_max, 5);
	assert_int_equal(c.sessions.max_kept, 7);
	assert_int_equal(c.log.level, LOG_DEBUG);
	assert_string_equal(c.log.file, "/tmp/x.log");
	assert_false(c.security.allow_anonymous);
	assert_int_equal(c.security.nusers, 3);
	assert_string_equal(c.security.users[0].username, "alice");
	assert_string_equal(c.security.users[0].password, "s3cret");
	assert_string_equal(c.security.users[1].password, "pw");

	{
		const char *why = NULL;

		assert_true(cfg_auth(&c, "alice", "s3cret", 6, true, &why));
		assert_false(cfg_auth(&c, "alice", "s3cre", 5, true, &why));
		assert_string_equal(why, "bad-password");
		assert_false(cfg_auth(&c, "alice", "s3cret!", 7, true, &why));
		assert_false(cfg_auth(&c, "alice", NULL, 0, false, &why));
		assert_string_equal(why, "bad-password");
		assert_false(cfg_auth(&c, "mallory", "pw", 2, true, &why));
		assert_string_equal(why, "unknown-user");
		assert_false(cfg_auth(&c, NULL, NULL, 0, false, &why));
		assert_string_equal(why, "anonymous-not-allowed");
		assert_true(cfg_auth(&c, "carol", "anything", 8, true, &why));
	}
	{
		char *p = print_all(&c);

		assert_non_null(strstr(p, "\nadmin.token = ***  # file "));
		assert_non_null(strstr(p, "\nsecurity.users = [alice:***, bob:***, carol:***]  # file "));
		assert_null(strstr(p, "s3cret"));
		free(p);
	}
	cfg_free(&c);
}

static void test_users_from_env(void **state)
{
	struct cfg c;

	(void)state;
	setenv("SECURITY_USERS", "u1:p:w,u2:x", 1);
	setenv("SECURITY_ALLOW_ANONYMOUS", "0", 1);
	load_ok(yaml("security:\n  users:\n    - username: ignored\n      password: p\n"), &c);
	assert_int_equal(c.security.nusers, 2);
	assert_string_equal(c.security.users[0].username, "u1");
	assert_string_equal(c.security.users[0].password, "p:w");
	assert_true(cfg_auth(&c, "u2", "x", 1, true, NULL));
	assert_false(cfg_auth(&c, "ignored", "p", 1, true, NULL));
	assert_string_equal(cfg_source(&c, "security.users")->desc, "env SECURITY_USERS");
	cfg_free(&c);
	/* anonymous allowed and no users: everyone gets in */
	clear_env();
	load_ok(NULL, &c);
	assert_true(cfg_auth(&c, "anyone", "x", 1, true, NULL));
	assert_true(cfg_auth(&c, NULL, NULL, 0, false, NULL));
	cfg_free(&c);
}

/* ---- errors ----------------------------------------------------------------------- */

static void test_error_bad_port(void **state)
{
	(void)state;
	load_fails(yaml("listener:\n  tcp:\n    bind_port: 70000\n"),
		   "3:5: listener.tcp.bind_port: '70000' is not a port (1..65535)", true);
	load_fails(yaml("listener:\n  tcp:\n    bind_port: 0\n"),
		   "3:5: listener.tcp.bind_port: '0' is not a port (1..65535)", true);
	load_fails(yaml("listener:\n  ws:\n    bind_port: -1\n"),
		   "3:5: listener.ws.bind_port: '-1' is not a port (1..65535)", true);
	load_fails(yaml("admin:\n  bind_port: 1e3\n"),
		   "2:3: admin.bind_port: '1e3' is not a port (0..65535)", true);
	setenv("LISTENER_WSS_BIND_PORT", "x", 1);
	load_fails(NULL, "env LISTENER_WSS_BIND_PORT: listener.wss.bind_port: 'x' is not a port (1..65535)",
		   false);
	unsetenv("LISTENER_WSS_BIND_PORT");
	/* a bad value reached through a placeholder names both */
	setenv("PPMQ_T_PORT", "99999", 1);
	load_fails(yaml("listener:\n  tcp:\n    bind_port: ${PPMQ_T_PORT:1}\n"),
		   "3:5: listener.tcp.bind_port: '99999' (from env PPMQ_T_PORT) is not a port (1..65535)",
		   true);
}

static void test_error_bad_bool(void **state)
{
	(void)state;
	load_fails(yaml("listener:\n  proxy_enabled: maybe\n"),
		   "2:3: listener.proxy_enabled: 'maybe' is not a boolean (true/false/yes/no/1/0)", true);
	load_fails(yaml("# comment\nlistener:\n  wss:\n    proxy_enabled: \"on\"\n"),
		   "4:5: listener.wss.proxy_enabled: 'on' is not a boolean (true/false/yes/no/1/0)", true);
	setenv("MQTT_SSL_PROXY_PROTOCOL_ENABLED", "enabled", 1);
	load_fails(NULL, "env MQTT_SSL_PROXY_PROTOCOL_ENABLED: listener.ssl.proxy_enabled: 'enabled' "
		   "is not a boolean (true/false/yes/no/1/0)", false);
}

static void test_error_unknown_key(void **state)
{
	(void)state;
	load_fails(yaml("listener:\n  tcp:\n    proxy_enable: true\n"),
		   "3:5: listener.tcp.proxy_enable: unknown key (did you mean listener.tcp.proxy_enabled?)",
		   true);
	load_fails(yaml("listner:\n  ws:\n    path: /x\n"),
		   "3:5: listner.ws.path: unknown key (did you mean listener.ws.path?)", true);
	load_fails(yaml("listener:\n  tpc:\n    bind_port: 1\n"),
		   "3:5: listener.tpc.bind_port: unknown key (did you mean listener.tcp.bind_port?)", true);
	load_fails(yaml("completely_different: 1\n"),
		   "1:1: completely_different: unknown key", true);
	load_fails(yaml("security:\n  users:\n    - username: a\n      passwd: b\n"),
		   "4:7: security.users[0]: unknown key 'passwd' (did you mean 'password'?)", true);
}

static void test_error_bad_cidr(void **state)
{
	struct cfg c;
	struct perr e;
	char want[200];

	(void)state;
	assert_int_equal(cfg_load(yaml("listener:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n"),
				  &c, &e), -1);
	snprintf(want, sizeof(want), "%s:2:3: listener.trusted_proxies: ", tmp_path);
	assert_memory_equal(e.msg, want, strlen(want));
	assert_non_null(strstr(e.msg, "10.0.0.0/33"));
	setenv("MQTT_TCP_PROXY_TRUSTED_PROXIES", "1.2.3.4,banana", 1);
	assert_int_equal(cfg_load(NULL, &c, &e), -1);
	snprintf(want, sizeof(want), "env MQTT_TCP_PROXY_TRUSTED_PROXIES: listener.tcp.trusted_proxies: ");
	assert_memory_equal(e.msg, want, strlen(want));
	assert_non_null(strstr(e.msg, "banana"));
}

/* security.acl_file is read with the configuration: its rules, or the
 * rule at fault with its file:line:col after the key's own place. */
static void test_acl_file(void **state)
{
	char acl[] = "/tmp/ppmq-cfg-acl-XXXXXX", text[256];
	int fd = mkstemp(acl);
	struct cfg c;
	struct perr e;

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "deny connect from 203.0.113.0/24\n", 33) == 33);
	snprintf(text, sizeof(text), "security:\n  acl_file: %s\n", acl);
	assert_int_equal(cfg_load(yaml(text), &c, &e), 0);
	assert_non_null(c.security.acl);
	assert_string_equal(c.security.acl_file, acl);
	cfg_free(&c);
	assert_true(write(fd, "allow publish a/#/b\n", 20) == 20);  /* line 2 */
	close(fd);
	assert_int_equal(cfg_load(yaml(text), &c, &e), -1);
	snprintf(text, sizeof(text), "%s:2:3: security.acl_file: %s:2:15: 'a/#/b' is not an MQTT topic filter",
		 tmp_path, acl);
	assert_string_equal(e.msg, text);
	unlink(acl);
	setenv("SECURITY_ACL_FILE", acl, 1);
	assert_int_equal(cfg_load(NULL, &c, &e), -1);
	unsetenv("SECURITY_ACL_FILE");
	snprintf(text, sizeof(text), "env SECURITY_ACL_FILE: security.acl_file: %s: cannot open", acl);
	assert_memory_equal(e.msg, text, strlen(text));
}

/* An identity from a header needs proxies to trust: never from anyone. */
static void test_cert_identity_needs_trusted(void **state)
{
	struct cfg c;
	struct perr e;

	(void)state;
	assert_int_equal(cfg_load(yaml("listener:\n  proxy_enabled: true\nsecurity:\n  proxy_cert_identity: true\n"),
				  &c, &e), -1);
	assert_non_null(strstr(e.msg, "security.proxy_cert_identity: listener.tcp takes PROXY headers from any source"));
	assert_int_equal(cfg_load(yaml("listener:\n  proxy_enabled: true\n  trusted_proxies: [10.0.0.0/8]\n"
				       "security:\n  proxy_cert_identity: true\n"), &c, &e), 0);
	assert_true(c.security.proxy_cert_identity);
	cfg_free(&c);
}

/* Optional mode needs a trusted list; every source is trusted only when
 * the list says so; an empty list is refused. */
static void test_trust_rules(void **state)
{
	struct cfg c;
	static const char *const why =
		"optional mode honours PROXY headers only from trusted proxies, and "
		"listener.tcp.trusted_proxies is not set (nor listener.trusted_proxies, env "
		"MQTT_PROXY_TRUSTED_PROXIES): list the proxies (e.g. 10.0.0.0/8), or give "
		"\"0.0.0.0/0,::/0\" to trust every source";
	char want[600];

	(void)state;
	snprintf(want, sizeof(want), "2:3: listener.tcp.proxy_mode: %s", why);
	load_fails(yaml("listener:\n  proxy_mode: optional\n  proxy_enabled: true\n"), want, true);
	snprintf(want, sizeof(want), "4:5: listener.tcp.proxy_mode: %s", why);
	load_fails(yaml("listener:\n  proxy_enabled: true\n  tcp:\n    proxy_mode: optional\n"
			"  ws:\n    trusted_proxies: [10.0.0.0/8]\n"), want, true);
	/* a listener without PROXY, or a disabled one, needs nothing */
	load_ok(yaml("listener:\n  proxy_mode: optional\n"), &c);
	cfg_free(&c);
	load_fails(yaml("listener:\n  ws:\n    trusted_proxies: []\n"),
		   "3:5: listener.ws.trusted_proxies: an empty list trusts no proxy: list the proxies "
		   "(e.g. 10.0.0.0/8), or give \"0.0.0.0/0,::/0\" to trust every source", true);
	setenv("MQTT_PROXY_PROTOCOL_ENABLED", "true", 1);
	setenv("MQTT_PROXY_PROTOCOL_MODE", "optional", 1);
	setenv("MQTT_PROXY_TRUSTED_PROXIES", "0.0.0.0/0,::/0", 1);
	load_ok(NULL, &c);
	for (int i = 0; i < CFG_NLISTENERS; i++)
		assert_true(cfg_trusts_any(&c.listener[i]));
	cfg_free(&c);
	setenv("MQTT_PROXY_TRUSTED_PROXIES", "0.0.0.0/0", 1);
	setenv("SECURITY_PROXY_CERT_IDENTITY", "true", 1);
	load_fails(NULL, "env SECURITY_PROXY_CERT_IDENTITY: security.proxy_cert_identity: listener.tcp "
		   "takes PROXY headers from any source (listener.tcp.trusted_proxies is not set, or "
		   "holds a /0 network): a client could claim any certificate; set the proxies to trust",
		   false);
}

/* Connection limits, handshake timeouts, admin and log limits. */
static void test_limits(void **state)
{
	struct cfg c;

	(void)state;
	setenv("LISTENER_MAX_CONNECTIONS", "500", 1);
	setenv("LISTENER_WSS_MAX_CONNECTIONS", "20", 1);
	setenv("LISTENER_WSS_UPGRADE_TIMEOUT", "1500ms", 1);
	setenv("ADMIN_IDLE_TIMEOUT", "5s", 1);
	load_ok(yaml("listener:\n  ssl:\n    handshake_timeout: 250ms\n  ws:\n    upgrade_timeout: 2s\n"
		     "admin:\n  max_connections: 32\n  max_connections_per_client: 2\n"
		     "  allow_delete_without_token: yes\n"
		     "mqtt:\n  max_connect_size: 1024\nlog:\n  refused_per_second: 0\n"), &c);
	assert_limits(&c, &(struct limits){ 500, { 0, 0, 0, 20 }, { 0, 250, 0, 10000 },
					     { 0, 0, 2000, 1500 }, 32, 2, 5000, true, 1024, 0 });
	assert_int_equal(c.proxy_timeout_ms, 3000);
	cfg_free(&c);
	clear_env();
	load_fails(yaml("listener:\n  max_connections: 0\n"),
		   "2:3: listener.max_connections: '0' is not a number in 1..10000000", true);
	load_fails(yaml("listener:\n  tcp:\n    handshake_timeout: 1s\n"),
		   "3:5: listener.tcp.handshake_timeout: unknown key (did you mean "
		   "listener.ssl.handshake_timeout?)", true);
	load_fails(yaml("admin:\n  idle_timeout: 500ms\n"),
		   "2:3: admin.idle_timeout: '500ms' is out of range (1s..1h)", true);
	load_fails(yaml("mqtt:\n  max_connect_size: 8\n"),
		   "2:3: mqtt.max_connect_size: '8' is not a number in 16..268435460", true);
}

static void test_error_bad_duration_and_enums(void **state)
{
	(void)state;
	load_fails(yaml("listener:\n  proxy_timeout: 3x\n"),
		   "2:3: listener.proxy_timeout: '3x' is not a duration (e.g. 3s, 500ms, 3000): unknown unit 'x'",
		   true);
	load_fails(yaml("listener:\n  proxy_timeout: 0s\n"),
		   "2:3: listener.proxy_timeout: '0s' is out of range (1ms..1h)", true);
	load_fails(yaml("listener:\n  proxy_mode: lenient\n"),
		   "2:3: listener.proxy_mode: 'lenient' is not a proxy mode (strict|optional)", true);
	load_fails(yaml("listener:\n  ssl:\n    client_auth: maybe\n"),
		   "3:5: listener.ssl.client_auth: 'maybe' is not a client_auth value (none|optional|required)",
		   true);
	load_fails(yaml("log:\n  level: verbose\n"),
		   "2:3: log.level: 'verbose' is not a log level (error|warn|info|debug)", true);
	load_fails(yaml("listener:\n  proxy_max_header: 8\n"),
		   "2:3: listener.proxy_max_header: '8' is not a number in 16..65551", true);
	load_fails(yaml("listener:\n  ws:\n    path: mqtt\n"),
		   "3:5: listener.ws.path: 'mqtt' must start with '/'", true);
	load_fails(yaml("listener:\n  tcp:\n    bind_address: \"0.0.0.0 \"\n"),
		   "3:5: listener.tcp.bind_address: '0.0.0.0 ' contains white space", true);
	setenv("MQTT_PROXY_PROTOCOL_TIMEOUT", "soon", 1);
	load_fails(NULL, "env MQTT_PROXY_PROTOCOL_TIMEOUT: listener.proxy_timeout: 'soon' is not a "
		   "duration (e.g. 3s, 500ms, 3000)", false);
}

static void test_error_tls_files(void **state)
{
	int fd;

	(void)state;
	load_fails(yaml("listener:\n  ssl:\n    enabled: true\n"),
		   "3:5: listener.ssl.enabled: the ssl listener is enabled but listener.ssl.cert_file is "
		   "not set (env LISTENER_SSL_PEM_CERT)", true);
	snprintf(cert_path, sizeof(cert_path), "/tmp/ppmq-cert-XXXXXX");
	fd = mkstemp(cert_path);
	assert_true(fd >= 0);
	close(fd);
	setenv("LISTENER_WSS_ENABLED", "1", 1);
	setenv("LISTENER_WSS_PEM_CERT", cert_path, 1);
	load_fails(NULL, "env LISTENER_WSS_ENABLED: listener.wss.enabled: the wss listener is enabled but "
		   "listener.wss.key_file is not set (env LISTENER_WSS_PEM_KEY)", false);
	setenv("LISTENER_WSS_PEM_KEY", "/nonexistent/ppmq.key", 1);
	load_fails(NULL, "env LISTENER_WSS_PEM_KEY: listener.wss.key_file: cannot read "
		   "'/nonexistent/ppmq.key': No such file or directory", false);
	setenv("LISTENER_WSS_PEM_KEY", cert_path, 1);
	setenv("LISTENER_WSS_CLIENT_AUTH", "required", 1);
	load_fails(NULL, "env LISTENER_WSS_CLIENT_AUTH: listener.wss.client_auth: 'required' needs "
		   "listener.wss.ca_file to verify client certificates", false);
	setenv("LISTENER_WSS_PEM_CA", cert_path, 1);
	{
		struct cfg c;

		load_ok(NULL, &c);
		assert_true(c.listener[CFG_WSS].enabled);
		assert_string_equal(c.listener[CFG_WSS].cert_file, cert_path);
		assert_int_equal(c.listener[CFG_WSS].client_auth, CFG_CLIENT_AUTH_REQUIRED);
		cfg_free(&c);
	}
	unlink(cert_path);
}

static void test_error_duplicates_and_structure(void **state)
{
	(void)state;
	load_fails(yaml("listener:\n  tcp:\n    bind_port: 1\n    bind_port: 2\n"),
		   "4:5: listener.tcp.bind_port: duplicate key (first set at line 3)", true);
	load_fails(yaml("listener.tcp.bind_port: 1\nlistener:\n  tcp:\n    bind_port: 2\n"),
		   "4:5: listener.tcp.bind_port: duplicate key (first set at line 1)", true);
	load_fails(yaml("listener:\n  tcp: 5\n"),
		   "2:3: listener.tcp: expected a mapping of keys under it", true);
	load_fails(yaml("listener:\n  tcp:\n    bind_port: [1, 2]\n"),
		   "3:5: listener.tcp.bind_port: expected a single value, found a list", true);
	load_fails(yaml("- a\n- b\n"), "1:1: the top level must be a mapping (key: value)", true);
	load_fails(yaml("security:\n  users:\n    - username: a\n    - username: a\n"),
		   "4:7: security.users[1]: duplicate user 'a'", true);
	load_fails(yaml("security:\n  users:\n    - password: a\n"),
		   "3:7: security.users[0]: username missing or empty", true);
	load_fails(yaml("listener:\n  ws:\n    path: \"${PPMQ_T_A:/x\"\n"),
		   "3:11: listener.ws.path: unterminated placeholder '${PPMQ_T_A:/x'", true);
	load_fails(yaml("listener:\n  ws:\n    path: \"/${}\"\n"),
		   "3:11: listener.ws.path: bad placeholder '${}': expected ${NAME} or ${NAME:default}", true);
	load_fails(yaml("listener:\n  ws:\n    bind_port: 1883\n"),
		   "3:5: listener.ws.bind_port: port 1883 is already used by listener.tcp", true);
	load_fails(yaml("log:\n  level: info\n---\nlog:\n  level: debug\n"),
		   "4:1: only one YAML document is allowed", true);
}

static void test_error_yaml_and_file(void **state)
{
	struct cfg c;
	struct perr e;
	char want[200];

	(void)state;
	assert_int_equal(cfg_load(yaml("listener:\n  tcp: [\n"), &c, &e), -1);
	snprintf(want, sizeof(want), "%s:3:1: YAML syntax: ", tmp_path);
	assert_memory_equal(e.msg, want, strlen(want));
	assert_int_equal(cfg_load(yaml("listener:\n\tbad: tab\n"), &c, &e), -1);
	snprintf(want, sizeof(want), "%s:2:", tmp_path);
	assert_memory_equal(e.msg, want, strlen(want));
	assert_non_null(strstr(e.msg, "YAML"));
	load_fails("/nonexistent/ppmq.yml", "/nonexistent/ppmq.yml: No such file or directory", false);
	/* empty file and comment-only file: all defaults */
	load_ok(yaml(""), &c);
	assert_string_equal(c.path, tmp_path);
	cfg_free(&c);
	load_ok(yaml("# nothing\n"), &c);
	assert_int_equal(c.listener[CFG_TCP].bind_port, 1883);
	cfg_free(&c);
	/* an alias that refers to its own mapping must not loop forever */
	assert_int_equal(cfg_load(yaml("a: &x\n  b: *x\n"), &c, &e), -1);
}

/* ---- the documentation agrees with the code ----------------------------------------- */

/* Tests run from the top of the tree (make check); elsewhere, skip. */
static char *read_doc(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* cfg_print output without the "  # source" comments. */
static char *values_only(const struct cfg *c)
{
	char *p = print_all(c), *o = p, *w = p;

	while (*o) {
		char *eol = strchr(o, '\n');
		char *hash = strstr(o, "  # ");

		if (!eol)
			break;
		if (hash && hash < eol) {
			memmove(w, o, (size_t)(hash - o));
			w += hash - o;
		} else {
			memmove(w, o, (size_t)(eol - o));
			w += eol - o;
		}
		*w++ = '\n';
		o = eol + 1;
	}
	*w = '\0';
	return p;
}

static void test_example_file_is_the_defaults(void **state)
{
	struct cfg d, x;
	char *a, *b;

	(void)state;
	if (access("docs/ppmq-broker.example.yml", R_OK) < 0)
		skip();
	load_ok(NULL, &d);
	load_ok("docs/ppmq-broker.example.yml", &x);
	a = values_only(&d);
	b = values_only(&x);
	assert_string_equal(a, b);
	/* and its placeholders still listen to the environment */
	free(a);
	free(b);
	cfg_free(&x);
	setenv("MQTT_PROXY_PROTOCOL_ENABLED", "true", 1);
	setenv("MQTT_WS_PROXY_PROTOCOL_ENABLED", "false", 1);
	load_ok("docs/ppmq-broker.example.yml", &x);
	assert_true(x.listener[CFG_TCP].proxy_enabled);
	assert_false(x.listener[CFG_WS].proxy_enabled);
	assert_int_equal(cfg_source(&x, "listener.tcp.proxy_enabled")->kind, CFG_SRC_INHERITED);
	cfg_free(&x);
	cfg_free(&d);
}

/* "listener.wss.path" -> "listener.X.path", "LISTENER_WSS_PATH" -> "LISTENER_X_PATH". */
static void generalise(const char *in, char *out, size_t cap)
{
	static const char *const kinds[] = { ".tcp.", ".ssl.", ".wss.", ".ws.", "_TCP_", "_SSL_",
					     "_WSS_", "_WS_" };

	snprintf(out, cap, "%s", in);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char *p = strstr(out, kinds[i]);

		if (p) {
			size_t kl = strlen(kinds[i]);

			p[1] = 'X';
			memmove(p + 2, p + kl - 1, strlen(p + kl - 1) + 1);
			return;
		}
	}
}

/* The man page also groups keys as "listener.{ssl,wss}.cert_file" and
 * "LISTENER_{WS,WSS}_PATH": is name written that way? */
static bool in_braces(const char *doc, const char *name, const char *prefix, char sep)
{
	static const char *const groups[] = { "{ssl,wss}", "{ws,wss}", "{SSL,WSS}", "{WS,WSS}" };
	const char *leaf;
	char want[96];

	if (strncmp(name, prefix, strlen(prefix)) != 0)
		return false;
	leaf = strchr(name + strlen(prefix), sep);
	if (!leaf)
		return false;
	for (size_t i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "%s%s%s", prefix, groups[i], leaf);
		if (strstr(doc, want))
			return true;
	}
	return false;
}

static void test_reference_lists_every_key(void **state)
{
	char *md = read_doc("docs/broker-config.md");
	char *man = read_doc("docs/ppmq-broker.1");

	(void)state;
	if (!md || !man) {
		free(md);
		free(man);
		skip();
	}
	for (size_t i = 0; i < cfg_key_count(); i++) {
		const char *k = cfg_key_name(i), *env = cfg_env_name(k);
		char gk[64], ge[64], gm[64];

		generalise(k, gk, sizeof(gk));
		generalise(env, ge, sizeof(ge));
		if (!strstr(md, k) && !strstr(md, gk))
			fail_msg("docs/broker-config.md does not mention %s", k);
		if (!strstr(md, env) && !strstr(md, ge))
			fail_msg("docs/broker-config.md does not mention %s", env);
		/* the man page writes XX for the upper-case kind */
		snprintf(gm, sizeof(gm), "%s", ge);
		{
			char *x = strstr(gm, "_X_");

			if (x) {
				memmove(x + 2, x + 1, strlen(x + 1) + 1);
				x[1] = 'X';
			}
		}
		if (!strstr(man, k) && !strstr(man, gk) && !in_braces(man, k, "listener.", '.'))
			fail_msg("docs/ppmq-broker.1 does not mention %s", k);
		if (!strstr(man, env) && !strstr(man, gm) && !in_braces(man, env, "LISTENER_", '_'))
			fail_msg("docs/ppmq-broker.1 does not mention %s", env);
	}
	free(md);
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance_tbmq_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_and_trusted_inherit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotted_keys_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_from_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_bad_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_bad_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_bad_cidr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_identity_needs_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_bad_duration_and_enums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_tls_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trust_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_duplicates_and_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_yaml_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_file_is_the_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_lists_every_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
