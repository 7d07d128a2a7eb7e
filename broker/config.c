/* config.c - see config.h.
 *
 * Every key is a row of one table (name, env name, type, default, and
 * for per-listener PROXY keys the global key it inherits from). Loading
 * collects, per key, the winning text and its source (file, then env),
 * then converts each text into the typed struct cfg, applies
 * inheritance, and checks cross-key rules (ssl enabled needs a cert).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pp.h"
#include "yx.h"
#include "acl.h"

/* ---- the key table ------------------------------------------------------ */

enum field {
	F_PROXY_ENABLED, F_PROXY_MODE, F_PROXY_TIMEOUT, F_PROXY_MAX, F_TRUSTED,
	F_L_ENABLED, F_L_ADDR, F_L_PORT, F_L_PROXY_ENABLED, F_L_PROXY_MODE,
	F_L_TRUSTED, F_L_CERT, F_L_KEY, F_L_CA, F_L_CLIENT_AUTH, F_L_PATH,
	F_ADM_ENABLED, F_ADM_ADDR, F_ADM_PORT, F_ADM_TOKEN,
	F_SEC_ANON, F_SEC_USERS, F_SEC_CERT_ID, F_SEC_ACL,
	F_MQTT_MAXPKT, F_MQTT_KA, F_MQTT_SUBFILT, F_MQTT_SUBS, F_MQTT_RETMAX, F_MQTT_RETBYTES,
	F_MQTT_QMSGS, F_MQTT_QBYTES, F_MQTT_OFFBYTES, F_MQTT_OUTBUF, F_MQTT_SESSIONS,
	F_SESS_MAX, F_SESS_UNAUTH,
	F_LOG_LEVEL, F_LOG_FILE,
	F_MAX_CONN, F_L_MAX_CONN, F_L_TLS_TIMEOUT, F_L_WS_TIMEOUT,
	F_ADM_MAX_CONN, F_ADM_MAX_PER_CLIENT, F_ADM_IDLE, F_ADM_OPEN_DELETE,
	F_MQTT_MAXCONNECT, F_LOG_REFUSED,
};

enum ktype {
	T_BOOL,      /* true/false ... */
	T_STR,       /* non-empty text */
	T_PATH,      /* file name */
	T_SECRET,    /* text, printed as *** */
	T_WSPATH,    /* "/..." */
	T_PORT,      /* 1..65535 (min/max) */
	T_DURATION,  /* ms */
	T_UINT,      /* min..max */
	T_MODE,      /* strict|optional */
	T_AUTH,      /* none|optional|required */
	T_LEVEL,     /* error|warn|info|debug */
	T_CIDRS,     /* list */
	T_USERS,     /* list of {username, password} */
};

struct key {
	char name[48];
	char env[48];
	enum field field;
	enum ktype type;
	int lk;                 /* listener index, -1 for global keys */
	const char *def;        /* default text; NULL = unset */
	int inherit;            /* index of the global key inherited when unset, or -1 */
	unsigned long min, max; /* T_PORT, T_UINT */
};

#define MAX_KEYS 96
static struct key keys[MAX_KEYS];
static size_t nkeys;
static const char *key_names[MAX_KEYS + 1];   /* NULL-terminated, for suggestions */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static const char *const lnames[CFG_NLISTENERS] = { "tcp", "ssl", "ws", "wss" };
static const char *const lenv[CFG_NLISTENERS] = { "TCP", "SSL", "WS", "WSS" };
static const char *const lport_def[CFG_NLISTENERS] = { "1883", "8883", "8084", "8085" };
static const char *const lenabled_def[CFG_NLISTENERS] = { "true", "false", "true", "false" };

static int add_key(const char *name, const char *env, enum field f, enum ktype t,
		   int lk, const char *def, int inherit, unsigned long min,
		   unsigned long max)
{
	struct key *k = &keys[nkeys];

	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->env, sizeof(k->env), "%s", env ? env : "");
	k->field = f;
	k->type = t;
	k->lk = lk;
	k->def = def;
	k->inherit = inherit;
	k->min = min;
	k->max = max;
	key_names[nkeys] = k->name;
	return (int)nkeys++;
}

static void build_keys(void)
{
	char n[48], v[48];
	int g_enabled, g_mode, g_trusted;

	g_enabled = add_key("listener.proxy_enabled", "MQTT_PROXY_PROTOCOL_ENABLED",
			    F_PROXY_ENABLED, T_BOOL, -1, "false", -1, 0, 0);
	g_mode = add_key("listener.proxy_mode", "MQTT_PROXY_PROTOCOL_MODE",
			 F_PROXY_MODE, T_MODE, -1, "strict", -1, 0, 0);
	add_key("listener.proxy_timeout", "MQTT_PROXY_PROTOCOL_TIMEOUT",
		F_PROXY_TIMEOUT, T_DURATION, -1, "3s", -1, 1, 3600000);
	add_key("listener.proxy_max_header", "MQTT_PROXY_PROTOCOL_MAX_HEADER",
		F_PROXY_MAX, T_UINT, -1, "4096", -1, PP_V2_FIXED_LEN, PP_V2_MAX_LEN);
	g_trusted = add_key("listener.trusted_proxies", "MQTT_PROXY_TRUSTED_PROXIES",
			    F_TRUSTED, T_CIDRS, -1, NULL, -1, 0, 0);
	add_key("listener.max_connections", "LISTENER_MAX_CONNECTIONS", F_MAX_CONN, T_UINT, -1,
		"10000", -1, 1, 10000000);
	for (int i = 0; i < CFG_NLISTENERS; i++) {
#define K(suffix, envfmt, ...) \
	(snprintf(n, sizeof(n), "listener.%s." suffix, lnames[i]), \
	 snprintf(v, sizeof(v), envfmt, lenv[i]), add_key(n, v, __VA_ARGS__))
		K("enabled", "LISTENER_%s_ENABLED", F_L_ENABLED, T_BOOL, i, lenabled_def[i], -1, 0, 0);
		K("bind_address", "LISTENER_%s_BIND_ADDRESS", F_L_ADDR, T_STR, i, "0.0.0.0", -1, 0, 0);
		K("bind_port", "LISTENER_%s_BIND_PORT", F_L_PORT, T_PORT, i, lport_def[i], -1, 1, 65535);
		K("proxy_enabled", "MQTT_%s_PROXY_PROTOCOL_ENABLED", F_L_PROXY_ENABLED, T_BOOL, i, NULL, g_enabled, 0, 0);
		K("proxy_mode", "MQTT_%s_PROXY_PROTOCOL_MODE", F_L_PROXY_MODE, T_MODE, i, NULL, g_mode, 0, 0);
		K("trusted_proxies", "MQTT_%s_PROXY_TRUSTED_PROXIES", F_L_TRUSTED, T_CIDRS, i, NULL, g_trusted, 0, 0);
		K("max_connections", "LISTENER_%s_MAX_CONNECTIONS", F_L_MAX_CONN, T_UINT, i, "0", -1, 0, 10000000);
		if (i == CFG_SSL || i == CFG_WSS) {
			K("cert_file", "LISTENER_%s_PEM_CERT", F_L_CERT, T_PATH, i, NULL, -1, 0, 0);
			K("key_file", "LISTENER_%s_PEM_KEY", F_L_KEY, T_PATH, i, NULL, -1, 0, 0);
			K("ca_file", "LISTENER_%s_PEM_CA", F_L_CA, T_PATH, i, NULL, -1, 0, 0);
			K("client_auth", "LISTENER_%s_CLIENT_AUTH", F_L_CLIENT_AUTH, T_AUTH, i, "none", -1, 0, 0);
			K("handshake_timeout", "LISTENER_%s_HANDSHAKE_TIMEOUT", F_L_TLS_TIMEOUT, T_DURATION, i,
			  "10s", -1, 1, 3600000);
		}
		if (i == CFG_WS || i == CFG_WSS) {
			K("path", "LISTENER_%s_PATH", F_L_PATH, T_WSPATH, i, "/mqtt", -1, 0, 0);
			K("upgrade_timeout", "LISTENER_%s_UPGRADE_TIMEOUT", F_L_WS_TIMEOUT, T_DURATION, i,
			  "10s", -1, 1, 3600000);
		}
#undef K
	}
	add_key("admin.enabled", "ADMIN_ENABLED", F_ADM_ENABLED, T_BOOL, -1, "true", -1, 0, 0);
	add_key("admin.bind_address", "ADMIN_BIND_ADDRESS", F_ADM_ADDR, T_STR, -1, "127.0.0.1", -1, 0, 0);
	add_key("admin.bind_port", "ADMIN_BIND_PORT", F_ADM_PORT, T_PORT, -1, "8083", -1, 0, 65535);
	add_key("admin.token", "ADMIN_TOKEN", F_ADM_TOKEN, T_SECRET, -1, NULL, -1, 0, 0);
	add_key("admin.allow_delete_without_token", "ADMIN_ALLOW_DELETE_WITHOUT_TOKEN", F_ADM_OPEN_DELETE,
		T_BOOL, -1, "false", -1, 0, 0);
	add_key("admin.max_connections", "ADMIN_MAX_CONNECTIONS", F_ADM_MAX_CONN, T_UINT, -1, "256", -1,
		1, 100000);
	add_key("admin.max_connections_per_client", "ADMIN_MAX_CONNECTIONS_PER_CLIENT",
		F_ADM_MAX_PER_CLIENT, T_UINT, -1, "32", -1, 1, 100000);
	add_key("admin.idle_timeout", "ADMIN_IDLE_TIMEOUT", F_ADM_IDLE, T_DURATION, -1, "2s", -1,
		1000, 3600000);
	add_key("security.allow_anonymous", "SECURITY_ALLOW_ANONYMOUS", F_SEC_ANON, T_BOOL, -1, "true", -1, 0, 0);
	add_key("security.users", "SECURITY_USERS", F_SEC_USERS, T_USERS, -1, NULL, -1, 0, 0);
	add_key("security.proxy_cert_identity", "SECURITY_PROXY_CERT_IDENTITY", F_SEC_CERT_ID, T_BOOL, -1,
		"false", -1, 0, 0);
	add_key("mqtt.max_connect_size", "MQTT_MAX_CONNECT_SIZE", F_MQTT_MAXCONNECT, T_UINT, -1, "16384", -1,
		16, 268435460);
	add_key("security.acl_file", "SECURITY_ACL_FILE", F_SEC_ACL, T_PATH, -1, NULL, -1, 0, 0);
	add_key("mqtt.max_packet_size", "MQTT_MAX_PACKET_SIZE", F_MQTT_MAXPKT, T_UINT, -1, "1048576", -1, 16, 268435460);
	add_key("mqtt.keepalive_max", "MQTT_KEEPALIVE_MAX", F_MQTT_KA, T_UINT, -1, "65535", -1, 1, 65535);
	add_key("mqtt.max_filters_per_subscribe", "MQTT_MAX_FILTERS_PER_SUBSCRIBE", F_MQTT_SUBFILT, T_UINT, -1,
		"1000", -1, 1, 100000000);
	add_key("mqtt.max_subscriptions_per_client", "MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT", F_MQTT_SUBS, T_UINT, -1,
		"10000", -1, 1, 100000000);
	add_key("mqtt.max_retained_messages", "MQTT_MAX_RETAINED_MESSAGES", F_MQTT_RETMAX, T_UINT, -1, "10000", -1,
		1, 100000000);
	add_key("mqtt.max_retained_bytes", "MQTT_MAX_RETAINED_BYTES", F_MQTT_RETBYTES, T_UINT, -1, "67108864", -1,
		1024, 1ul << 40);
	add_key("mqtt.max_sessions", "MQTT_MAX_SESSIONS", F_MQTT_SESSIONS, T_UINT, -1, "20000", -1,
		1, 100000000);
	add_key("mqtt.max_queued_messages", "MQTT_MAX_QUEUED_MESSAGES", F_MQTT_QMSGS, T_UINT, -1, "1000", -1,
		1, 100000000);
	add_key("mqtt.max_queued_bytes", "MQTT_MAX_QUEUED_BYTES", F_MQTT_QBYTES, T_UINT, -1, "4194304", -1,
		1024, 1ul << 40);
	add_key("mqtt.max_offline_bytes", "MQTT_MAX_OFFLINE_BYTES", F_MQTT_OFFBYTES, T_UINT, -1, "67108864", -1,
		1024, 1ul << 40);
	add_key("mqtt.max_output_buffer", "MQTT_MAX_OUTPUT_BUFFER", F_MQTT_OUTBUF, T_UINT, -1, "1048576", -1,
		1024, 1ul << 30);
	add_key("sessions.max_kept", "SESSIONS_MAX_KEPT", F_SESS_MAX, T_UINT, -1, "10000", -1, 1, 10000000);
	add_key("sessions.unauthorized_max", "SESSIONS_UNAUTHORIZED_MAX", F_SESS_UNAUTH, T_UINT, -1, "1000", -1, 1, 1000000);
	add_key("log.level", "LOG_LEVEL", F_LOG_LEVEL, T_LEVEL, -1, "info", -1, 0, 0);
	add_key("log.file", "LOG_FILE", F_LOG_FILE, T_PATH, -1, NULL, -1, 0, 0);
	add_key("log.refused_per_second", "LOG_REFUSED_PER_SECOND", F_LOG_REFUSED, T_UINT, -1, "10", -1,
		0, 1000000);
}

static void keys_init(void)
{
	pthread_once(&keys_once, build_keys);
}

static int key_find(const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

size_t cfg_key_count(void)
{
	keys_init();
	return nkeys;
}

const char *cfg_key_name(size_t i)
{
	keys_init();
	return i < nkeys ? keys[i].name : NULL;
}

const char *cfg_env_name(const char *key)
{
	int i;

	keys_init();
	i = key_find(key);
	return i < 0 ? NULL : keys[i].env;
}

/* ---- names --------------------------------------------------------------- */

const char *cfg_listener_name(enum cfg_listener_kind k)
{
	return (unsigned)k < CFG_NLISTENERS ? lnames[k] : NULL;
}

int cfg_listener_parse(const char *s, enum cfg_listener_kind *k)
{
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		if (strcmp(s, lnames[i]) == 0) {
			*k = (enum cfg_listener_kind)i;
			return 0;
		}
	}
	return -1;
}

const char *cfg_proxy_mode_name(enum cfg_proxy_mode m)
{
	return m == CFG_PROXY_OPTIONAL ? "optional" : "strict";
}

const char *cfg_client_auth_name(enum cfg_client_auth a)
{
	switch (a) {
	case CFG_CLIENT_AUTH_OPTIONAL: return "optional";
	case CFG_CLIENT_AUTH_REQUIRED: return "required";
	default: return "none";
	}
}

const char *cfg_src_kind_name(enum cfg_src_kind k)
{
	switch (k) {
	case CFG_SRC_FILE: return "file";
	case CFG_SRC_ENV: return "env";
	case CFG_SRC_INHERITED: return "inherited";
	default: return "default";
	}
}

/* ---- scalar parsers ------------------------------------------------------ */

/* Decimal digits only (no sign, no spaces), at most max. */
static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (max - (unsigned long)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*out = v;
	return 0;
}

/* ---- per-key state while loading ------------------------------------------ */

struct file_user {
	char *username, *password;
};

/* Texts live in cfg_priv.arena until conversion is done. */
struct kval {
	char *text;             /* winning text before conversion; NULL = unset */
	struct cfg_src src;
	char loc[300];          /* error prefix: "path:line:col" or "env NAME" */
	char via[80];           /* " (from env X)" when a placeholder read env X */
	int file_line;          /* duplicate detection; 0 = not in file */
	struct file_user *users; /* security.users from the file */
	size_t nusers;
};

struct cfg_priv {
	struct kval v[MAX_KEYS];
	struct yx_arena arena;  /* what loading read; released once converted */
};

/* Conversion is done (or failed): the raw texts are no longer needed. */
static void priv_drop_texts(struct cfg_priv *p)
{
	for (size_t i = 0; i < nkeys; i++) {
		p->v[i].text = NULL;
		p->v[i].users = NULL;
		p->v[i].nusers = 0;
	}
	yx_arena_free(&p->arena);
}

static void src_set(struct cfg_src *s, enum cfg_src_kind kind, int line, int col,
		    const char *env, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void src_set(struct cfg_src *s, enum cfg_src_kind kind, int line, int col,
		    const char *env, const char *fmt, ...)
{
	va_list ap;

	s->kind = kind;
	s->line = line;
	s->col = col;
	snprintf(s->env, sizeof(s->env), "%s", env ? env : "");
	va_start(ap, fmt);
	vsnprintf(s->desc, sizeof(s->desc), fmt, ap);
	va_end(ap);
}

/* ---- YAML walking ----------------------------------------------------------
 * The document layer (lib/yx.h) reads, expands and locates; this part
 * maps nested or dotted keys onto the key table. */

struct loader {
	struct yx_doc *d;
	struct cfg_priv *priv;
	size_t visits;
	struct perr *e;
};

/* Is name a strict prefix ("listener.tcp") of some key? */
static bool is_section(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < nkeys; i++)
		if (strncmp(keys[i].name, name, n) == 0 && keys[i].name[n] == '.')
			return true;
	return false;
}

static int lerr(const struct loader *L, const yaml_node_t *at, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "path:line:col: key: why" */
static int lerr(const struct loader *L, const yaml_node_t *at, const char *key,
		const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (key && *key)
		return yx_err(L->d, at, L->e, "%s: %s", key, why);
	return yx_err(L->d, at, L->e, "%s", why);
}

/* Expand a scalar node; *out NULL when it ends up empty (unset). */
static int scalar_text(const struct loader *L, yaml_node_t *n, const char *key,
		       char **out, struct yx_env_use *use)
{
	*out = NULL;
	memset(use, 0, sizeof(*use));
	if (yx_is_null(n))
		return 0;
	if (yx_scalar(L->d, n, &L->priv->arena, key, out, NULL, use, L->e) < 0)
		return -1;
	if (!**out)
		*out = NULL;
	return 0;
}

/* Keep the first of each in to. */
static void use_merge(struct yx_env_use *to, const struct yx_env_use *from)
{
	if (!to->set[0])
		memcpy(to->set, from->set, sizeof(to->set));
	if (!to->first[0])
		memcpy(to->first, from->first, sizeof(to->first));
	if (!to->unset[0])
		memcpy(to->unset, from->unset, sizeof(to->unset));
}

/* One {username, password} entry of security.users. */
static int load_user(const struct loader *L, yaml_node_t *u, const char *ukey,
		     struct file_user *fu)
{
	static const char *const fields[] = { "username", "password", NULL };
	struct yx_env_use use;

	if (yx_check_keys(L->d, u, fields, ukey, L->e) < 0)
		return -1;
	for (size_t i = 0; fields[i]; i++) {
		yaml_node_t *v = yx_get(L->d, u, fields[i]);
		char **dst = i ? &fu->password : &fu->username;

		if (!v)
			continue;
		if (scalar_text(L, v, ukey, dst, &use) < 0)
			return -1;
		if (!*dst && (*dst = yx_strdup(&L->priv->arena, "")) == NULL)
			return perr_set(L->e, "out of memory");
	}
	if (!fu->username || !*fu->username)
		return lerr(L, u, ukey, "username missing or empty");
	return 0;
}

static int load_users(const struct loader *L, struct kval *kv, const yaml_node_t *keyn,
		      yaml_node_t *val, const char *key)
{
	size_t count = yx_count(val);

	if (!yx_is_seq(val))
		return lerr(L, keyn, key, "expected a list of {username, password}");
	kv->users = yx_alloc(&L->priv->arena, (count ? count : 1) * sizeof(*kv->users));
	if (!kv->users)
		return perr_set(L->e, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *u = yx_item(L->d, val, i);
		struct file_user *fu = &kv->users[i];
		char ukey[80];

		snprintf(ukey, sizeof(ukey), "%s[%zu]", key, i);
		kv->nusers++;
		if (!yx_is_map(u))
			return lerr(L, u ? u : val, ukey, "expected a mapping {username, password}");
		if (load_user(L, u, ukey, fu) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv->users[j].username, fu->username) == 0)
				return lerr(L, u, ukey, "duplicate user '%s'", fu->username);
	}
	return 0;
}

/* A list of CIDRs as one text, items joined with commas (CIDRs never
 * contain one). An explicit empty list is a value ("trust every
 * source"), not "unset": it overrides the global list. */
static int cidr_list(const struct loader *L, yaml_node_t *val, const char *key,
		     char **out, struct yx_env_use *use)
{
	size_t n = yx_count(val), len = 0;
	char **t = yx_alloc(&L->priv->arena, (n + 1) * sizeof(*t)), *p;

	memset(use, 0, sizeof(*use));
	if (!t)
		return perr_set(L->e, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yx_item(L->d, val, i);
		struct yx_env_use iu;

		if (!yx_is_scalar(item))
			return lerr(L, item ? item : val, key, "list items must be scalars (CIDR)");
		if (scalar_text(L, item, key, &t[i], &iu) < 0)
			return -1;
		use_merge(use, &iu);
		len += t[i] ? strlen(t[i]) + 1 : 0;
	}
	p = *out = yx_alloc(&L->priv->arena, len + 1);
	if (!p)
		return perr_set(L->e, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (t[i])
			p += sprintf(p, "%s%s", p == *out ? "" : ",", t[i]);
	return 0;
}

/* Where a file value came from, for --print-config and messages. */
static void file_source(const struct loader *L, struct kval *kv, const yaml_node_t *keyn,
			const struct yx_env_use *use)
{
	int line = yx_line(keyn), col = (int)keyn->start_mark.column + 1;
	const char *path = L->d->file;

	yx_where(L->d, keyn, kv->loc, sizeof(kv->loc));
	yx_env_note(use, kv->via, sizeof(kv->via));
	if (use->set[0])
		src_set(&kv->src, CFG_SRC_ENV, line, col, use->set, "env %s (via %s:%d)",
			use->set, path, line);
	else if (use->first[0])
		src_set(&kv->src, CFG_SRC_FILE, line, col, NULL,
			"file %s:%d, default of ${%s}", path, line, use->first);
	else
		src_set(&kv->src, CFG_SRC_FILE, line, col, NULL, "file %s:%d", path, line);
}

/* A leaf for a known key. */
static int load_leaf(struct loader *L, int ki, const yaml_node_t *keyn,
		     yaml_node_t *val, const char *key)
{
	const struct key *k = &keys[ki];
	struct kval *kv = &L->priv->v[ki];
	struct yx_env_use use = { .set = "" };
	char *text = NULL;

	if (kv->file_line)
		return lerr(L, keyn, key, "duplicate key (first set at line %d)", kv->file_line);
	kv->file_line = yx_line(keyn);

	if (k->type == T_USERS && !yx_is_scalar(val)) {
		if (load_users(L, kv, keyn, val, key) < 0)
			return -1;
		file_source(L, kv, keyn, &use);
		return 0;
	}
	if (yx_is_seq(val) && k->type == T_CIDRS) {
		if (cidr_list(L, val, key, &text, &use) < 0)
			return -1;
	} else if (!yx_is_scalar(val)) {
		return lerr(L, keyn, key, "expected a single value, found a %s",
			    yx_is_map(val) ? "mapping" : "list");
	} else if (scalar_text(L, val, key, &text, &use) < 0) {
		return -1;
	}
	if (!text)
		return 0;   /* empty: unset, falls through to env / inherit / default */
	kv->text = text;
	file_source(L, kv, keyn, &use);
	return 0;
}

static int unknown_key(const struct loader *L, const yaml_node_t *kn, const char *full)
{
	const char *sug = yx_closest(full, key_names);

	if (sug)
		return lerr(L, kn, full, "unknown key (did you mean %s?)", sug);
	return lerr(L, kn, full, "unknown key");
}

static int walk(struct loader *L, yaml_node_t *map, const char *prefix, int depth)
{
	if (depth > 8)
		return lerr(L, map, prefix, "nesting too deep");
	for (size_t i = 0; i < yx_count(map); i++) {
		yaml_node_t *vn, *kn = yx_pair_key(L->d, map, i);
		const char *name = yx_pair(L->d, map, i, &vn);
		char full[256];
		int ki;

		if (++L->visits > 10000)
			return lerr(L, map, prefix, "too many keys");
		if (!kn || !vn)
			return lerr(L, map, prefix, "malformed mapping");
		if (!yx_is_scalar(kn))
			return lerr(L, kn, prefix, "keys must be plain names");
		if (!*name)
			return lerr(L, kn, prefix, "empty key");
		if (snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", name) >= (int)sizeof(full))
			return lerr(L, kn, prefix, "key too long");
		ki = key_find(full);
		if (ki >= 0) {
			if (load_leaf(L, ki, kn, vn, full) < 0)
				return -1;
			continue;
		}
		if (yx_is_map(vn) && (is_section(full) || yx_count(vn) > 0)) {
			/* Unknown non-empty sections are reported at their
			 * leaves, where the suggestion is most precise. */
			if (walk(L, vn, full, depth + 1) < 0)
				return -1;
			continue;
		}
		if (!is_section(full))
			return unknown_key(L, kn, full);
		if (!yx_is_scalar(vn) || !yx_is_null(vn))
			return lerr(L, kn, full, "expected a mapping of keys under it");
		/* "listener.tcp:" with nothing under it */
	}
	return 0;
}

static int load_file(const char *path, struct cfg_priv *priv, struct perr *e)
{
	struct yx_doc d;
	struct loader L = { .d = &d, .priv = priv, .e = e };
	yaml_node_t *root;
	int rc;

	rc = yx_load(&d, path, &priv->arena, YX_EMPTY_OK, e);
	d.expand_env = true;
	root = rc == 0 ? yx_root(&d) : NULL;
	if (root && !yx_is_map(root))
		rc = lerr(&L, root, NULL, "the top level must be a mapping (key: value)");
	else if (root)
		rc = walk(&L, root, "", 0);
	yx_free(&d);
	return rc;
}

/* ---- environment ------------------------------------------------------------ */

static int load_env(struct cfg_priv *priv, struct perr *e)
{
	for (size_t i = 0; i < nkeys; i++) {
		struct kval *kv = &priv->v[i];
		const char *v = keys[i].env[0] ? getenv(keys[i].env) : NULL;

		if (!v || !*v)
			continue;
		kv->text = yx_strdup(&priv->arena, v);
		if (!kv->text)
			return perr_set(e, "out of memory");
		kv->via[0] = '\0';
		snprintf(kv->loc, sizeof(kv->loc), "env %s", keys[i].env);
		src_set(&kv->src, CFG_SRC_ENV, 0, 0, keys[i].env, "env %s", keys[i].env);
	}
	return 0;
}


/* ---- conversion --------------------------------------------------------------- */

static int verr(struct perr *e, const struct key *k, const struct kval *kv,
		const char *text, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int verr(struct perr *e, const struct key *k, const struct kval *kv,
		const char *text, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (text)
		return perr_set(e, "%s: %s: '%.100s'%s %s", kv->loc[0] ? kv->loc : "default",
				k->name, text, kv->via, why);
	return perr_set(e, "%s: %s: %s", kv->loc[0] ? kv->loc : "default", k->name, why);
}

static struct cfg_listener *lst(struct cfg *c, const struct key *k)
{
	return k->lk >= 0 ? &c->listener[k->lk] : NULL;
}

static int set_str(struct cfg *c, const struct key *k, const char *text)
{
	struct cfg_listener *l = lst(c, k);
	char **dst = NULL;
	char *t;

	switch (k->field) {
	case F_L_ADDR: dst = &l->bind_address; break;
	case F_L_CERT: dst = &l->cert_file; break;
	case F_L_KEY: dst = &l->key_file; break;
	case F_L_CA: dst = &l->ca_file; break;
	case F_L_PATH: dst = &l->path; break;
	case F_ADM_ADDR: dst = &c->admin.bind_address; break;
	case F_ADM_TOKEN: dst = &c->admin.token; break;
	case F_LOG_FILE: dst = &c->log.file; break;
	case F_SEC_ACL: dst = &c->security.acl_file; break;
	default: return -1;
	}
	t = strdup(text);
	if (!t)
		return -1;
	free(*dst);
	*dst = t;
	return 0;
}

static int set_cidrs(struct cfg *c, const struct key *k, const struct kval *kv,
		     const char *text, struct perr *e)
{
	struct net_cidr *list;
	size_t cap = 1, n = 0;
	struct perr pe;

	for (const char *p = text; *p; p++)
		if (*p == ',' || *p == ' ')
			cap++;
	if (cap > 4096)
		return verr(e, k, kv, NULL, "too many networks (at most 4096)");
	list = calloc(cap, sizeof(*list));
	if (!list)
		return perr_set(e, "out of memory");
	if (net_cidr_parse_list(text, list, cap, &n, &pe) < 0) {
		free(list);
		return verr(e, k, kv, NULL, "%s", pe.msg);
	}
	if (n == 0) {
		/* It used to read as "every source": that is now said plainly. */
		free(list);
		return verr(e, k, kv, NULL, "an empty list trusts no proxy: list the proxies "
			    "(e.g. 10.0.0.0/8), or give \"0.0.0.0/0,::/0\" to trust every source");
	}
	if (k->field == F_TRUSTED) {
		free(c->trusted);
		c->trusted = list;
		c->ntrusted = n;
	} else {
		struct cfg_listener *l = lst(c, k);

		free(l->trusted);
		l->trusted = list;
		l->ntrusted = n;
	}
	return 0;
}

/* security.users as text: "alice:secret,bob:pw" (env SECURITY_USERS). */
static int set_users_text(struct cfg *c, const struct key *k, const struct kval *kv,
			  const char *text, struct perr *e)
{
	const char *p = text;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		struct cfg_user *u, *nu;

		if (len == 0) {
			p = end ? end + 1 : p + len;
			continue;
		}
		if (!colon || colon == p)
			return verr(e, k, kv, NULL, "entry '%.*s' is not username:password", (int)len, p);
		nu = realloc(c->security.users, (c->security.nusers + 1) * sizeof(*nu));
		if (!nu)
			return perr_set(e, "out of memory");
		c->security.users = nu;
		u = &nu[c->security.nusers];
		u->username = strndup(p, (size_t)(colon - p));
		u->password = strndup(colon + 1, len - (size_t)(colon - p) - 1);
		c->security.nusers++;
		if (!u->username || !u->password)
			return perr_set(e, "out of memory");
		for (size_t j = 0; j + 1 < c->security.nusers; j++)
			if (strcmp(nu[j].username, u->username) == 0)
				return verr(e, k, kv, NULL, "duplicate user '%s'", u->username);
		p = end ? end + 1 : p + len;
	}
	return 0;
}

static int set_users_file(struct cfg *c, const struct kval *kv, struct perr *e)
{
	if (!kv->nusers)
		return 0;
	c->security.users = calloc(kv->nusers, sizeof(*c->security.users));
	if (!c->security.users)
		return perr_set(e, "out of memory");
	for (size_t i = 0; i < kv->nusers; i++) {
		struct cfg_user *u = &c->security.users[i];

		c->security.nusers++;
		u->username = strdup(kv->users[i].username);
		u->password = strdup(kv->users[i].password ? kv->users[i].password : "");
		if (!u->username || !u->password)
			return perr_set(e, "out of memory");
	}
	return 0;
}

static void set_bool(struct cfg *c, const struct key *k, bool b)
{
	struct cfg_listener *l = lst(c, k);

	switch (k->field) {
	case F_PROXY_ENABLED: c->proxy_enabled = b; break;
	case F_L_ENABLED: l->enabled = b; break;
	case F_L_PROXY_ENABLED: l->proxy_enabled = b; l->proxy_explicit = true; break;
	case F_ADM_ENABLED: c->admin.enabled = b; break;
	case F_SEC_ANON: c->security.allow_anonymous = b; break;
	case F_SEC_CERT_ID: c->security.proxy_cert_identity = b; break;
	case F_ADM_OPEN_DELETE: c->admin.allow_delete_without_token = b; break;
	default: break;
	}
}

/* T_MODE, T_AUTH, T_LEVEL: one word out of a few, any case. */
static int convert_word(struct cfg *c, const struct key *k, const struct kval *kv,
			const char *text, struct perr *e)
{
	struct cfg_listener *l = lst(c, k);

	if (k->type == T_MODE) {
		enum cfg_proxy_mode m;

		if (strcasecmp(text, "strict") == 0)
			m = CFG_PROXY_STRICT;
		else if (strcasecmp(text, "optional") == 0)
			m = CFG_PROXY_OPTIONAL;
		else
			return verr(e, k, kv, text, "is not a proxy mode (strict|optional)");
		if (l)
			l->proxy_mode = m;
		else
			c->proxy_mode = m;
	} else if (k->type == T_AUTH) {
		if (strcasecmp(text, "none") == 0)
			l->client_auth = CFG_CLIENT_AUTH_NONE;
		else if (strcasecmp(text, "optional") == 0)
			l->client_auth = CFG_CLIENT_AUTH_OPTIONAL;
		else if (strcasecmp(text, "required") == 0)
			l->client_auth = CFG_CLIENT_AUTH_REQUIRED;
		else
			return verr(e, k, kv, text, "is not a client_auth value (none|optional|required)");
	} else {
		char low[16];
		size_t i;
		int lv;

		for (i = 0; text[i] && i + 1 < sizeof(low); i++)
			low[i] = (char)tolower((unsigned char)text[i]);
		low[i] = '\0';
		lv = text[i] ? -1 : log_level_parse(low);
		if (lv < 0)
			return verr(e, k, kv, text, "is not a log level (error|warn|info|debug)");
		c->log.level = (enum log_level)lv;
	}
	return 0;
}

static int convert(struct cfg *c, size_t ki, struct perr *e)
{
	const struct key *k = &keys[ki];
	struct kval *kv = &c->priv->v[ki];
	struct cfg_listener *l = lst(c, k);
	const char *text = kv->text;
	struct perr pe;
	unsigned long u;
	bool b;

	if (!text) {
		if (k->type == T_USERS)
			return set_users_file(c, kv, e);
		if (k->inherit >= 0 || !k->def)
			return 0;   /* inherited below, or stays unset */
		text = k->def;
	}
	switch (k->type) {
	case T_BOOL:
		if (yx_parse_bool(text, &b) < 0)
			return verr(e, k, kv, text, "is not a boolean (true/false/yes/no/1/0)");
		set_bool(c, k, b);
		return 0;
	case T_STR:
		for (const char *p = text; *p; p++)
			if (isspace((unsigned char)*p))
				return verr(e, k, kv, text, "contains white space");
		break;
	case T_WSPATH:
		if (text[0] != '/')
			return verr(e, k, kv, text, "must start with '/'");
		for (const char *p = text; *p; p++)
			if (isspace((unsigned char)*p) || *p == '?' || *p == '#')
				return verr(e, k, kv, text, "must be a plain path (no spaces, '?' or '#')");
		break;
	case T_PATH:
	case T_SECRET:
		break;
	case T_PORT:
		if (parse_ulong(text, 65535, &u) < 0 || u < k->min || u > k->max)
			return verr(e, k, kv, text, "is not a port (%lu..%lu)", k->min, k->max);
		if (k->field == F_L_PORT)
			l->bind_port = (uint16_t)u;
		else
			c->admin.bind_port = (uint16_t)u;
		return 0;
	case T_DURATION:
		if (yx_parse_duration_ms(text, k->min, k->max, &u, &pe) < 0)
			return verr(e, k, kv, NULL, "%s", pe.msg);
		switch (k->field) {
		case F_L_TLS_TIMEOUT: l->tls_timeout_ms = (unsigned)u; break;
		case F_L_WS_TIMEOUT: l->ws_timeout_ms = (unsigned)u; break;
		case F_ADM_IDLE: c->admin.idle_timeout_ms = (unsigned)u; break;
		default: c->proxy_timeout_ms = (unsigned)u; break;
		}
		return 0;
	case T_UINT:
		if (parse_ulong(text, k->max, &u) < 0 || u < k->min)
			return verr(e, k, kv, text, "is not a number in %lu..%lu", k->min, k->max);
		switch (k->field) {
		case F_PROXY_MAX: c->proxy_max_header = u; break;
		case F_MAX_CONN: c->max_connections = u; break;
		case F_L_MAX_CONN: l->max_connections = u; break;
		case F_ADM_MAX_CONN: c->admin.max_connections = u; break;
		case F_ADM_MAX_PER_CLIENT: c->admin.max_connections_per_client = u; break;
		case F_MQTT_MAXCONNECT: c->mqtt.max_connect_size = u; break;
		case F_LOG_REFUSED: c->log.refused_per_second = (unsigned)u; break;
		case F_MQTT_MAXPKT: c->mqtt.max_packet_size = u; break;
		case F_MQTT_KA: c->mqtt.keepalive_max = (unsigned)u; break;
		case F_MQTT_SUBFILT: c->mqtt.max_filters_per_subscribe = u; break;
		case F_MQTT_SUBS: c->mqtt.max_subscriptions_per_client = u; break;
		case F_MQTT_RETMAX: c->mqtt.max_retained_messages = u; break;
		case F_MQTT_RETBYTES: c->mqtt.max_retained_bytes = u; break;
		case F_MQTT_QMSGS: c->mqtt.max_queued_messages = u; break;
		case F_MQTT_SESSIONS: c->mqtt.max_sessions = u; break;
		case F_MQTT_QBYTES: c->mqtt.max_queued_bytes = u; break;
		case F_MQTT_OFFBYTES: c->mqtt.max_offline_bytes = u; break;
		case F_MQTT_OUTBUF: c->mqtt.max_output_buffer = u; break;
		case F_SESS_MAX: c->sessions.max_kept = u; break;
		case F_SESS_UNAUTH: c->sessions.unauthorized_max = u; break;
		default: break;
		}
		return 0;
	case T_MODE:
	case T_AUTH:
	case T_LEVEL:
		return convert_word(c, k, kv, text, e);
	case T_CIDRS:
		return set_cidrs(c, k, kv, text, e);
	case T_USERS:
		return set_users_text(c, k, kv, text, e);
	}
	if (set_str(c, k, text) < 0)
		return perr_set(e, "out of memory");
	return 0;
}

static int key_index(enum field f, int lk)
{
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].field == f && keys[i].lk == lk)
			return (int)i;
	return -1;
}

/* Per-listener PROXY keys left unset take the global value. */
static int inherit(struct cfg *c, struct perr *e)
{
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		static const enum field fs[] = { F_L_PROXY_ENABLED, F_L_PROXY_MODE, F_L_TRUSTED };
		struct cfg_listener *l = &c->listener[i];

		for (size_t j = 0; j < sizeof(fs) / sizeof(fs[0]); j++) {
			int ki = key_index(fs[j], i);
			struct kval *kv = &c->priv->v[ki];
			const struct key *g = &keys[keys[ki].inherit];
			const struct cfg_src *gs = &c->priv->v[keys[ki].inherit].src;

			if (kv->text)
				continue;
			src_set(&kv->src, CFG_SRC_INHERITED, 0, 0, gs->env,
				"inherited from %s (%s)", g->name, gs->desc);
			switch (fs[j]) {
			case F_L_PROXY_ENABLED:
				l->proxy_enabled = c->proxy_enabled;
				l->proxy_explicit = false;
				break;
			case F_L_PROXY_MODE:
				l->proxy_mode = c->proxy_mode;
				break;
			default:
				free(l->trusted);
				l->trusted = NULL;
				l->ntrusted = c->ntrusted;
				if (c->ntrusted) {
					l->trusted = calloc(c->ntrusted, sizeof(*l->trusted));
					if (!l->trusted)
						return perr_set(e, "out of memory");
					memcpy(l->trusted, c->trusted, c->ntrusted * sizeof(*l->trusted));
				}
				break;
			}
		}
		l->proxy_timeout_ms = c->proxy_timeout_ms;
		l->proxy_max_header = c->proxy_max_header;
	}
	return 0;
}

static const char *kloc(const struct cfg *c, enum field f, int lk)
{
	int ki = key_index(f, lk);
	const struct kval *kv = &c->priv->v[ki];

	return kv->loc[0] ? kv->loc : "default";
}

/* Where the effective value of a per-listener key was set: its own
 * place, else the global key's it inherits. */
static const char *kloc_inherited(const struct cfg *c, enum field f, int lk)
{
	int ki = key_index(f, lk);
	const struct kval *kv = &c->priv->v[ki];

	if (!kv->loc[0] && keys[ki].inherit >= 0)
		kv = &c->priv->v[keys[ki].inherit];
	return kv->loc[0] ? kv->loc : "default";
}

/* Who may speak for a client. Optional mode takes connections with and
 * without a header, so without a trusted list any client could choose
 * the address recorded for it: the list must be given, be it one that
 * trusts every source. An identity from a header is only as good as the
 * proxy that wrote it: never from a source anyone can be. */
static int check_trust(const struct cfg *c, int i, struct perr *e)
{
	const struct cfg_listener *l = &c->listener[i];
	const char *n = lnames[i];

	if (!l->proxy_enabled)
		return 0;
	if (l->proxy_mode == CFG_PROXY_OPTIONAL && l->ntrusted == 0)
		return perr_set(e, "%s: listener.%s.proxy_mode: optional mode honours PROXY headers only "
				"from trusted proxies, and listener.%s.trusted_proxies is not set (nor "
				"listener.trusted_proxies, env MQTT_PROXY_TRUSTED_PROXIES): list the proxies "
				"(e.g. 10.0.0.0/8), or give \"0.0.0.0/0,::/0\" to trust every source",
				kloc_inherited(c, F_L_PROXY_MODE, i), n, n);
	if (c->security.proxy_cert_identity && cfg_trusts_any(l))
		return perr_set(e, "%s: security.proxy_cert_identity: listener.%s takes PROXY headers "
				"from any source (listener.%s.trusted_proxies is not set, or holds a /0 "
				"network): a client could claim any certificate; set the proxies to trust",
				kloc(c, F_SEC_CERT_ID, -1), n, n);
	return 0;
}

static bool addr_overlap(const char *a, const char *b)
{
	static const char *const any[] = { "0.0.0.0", "::", "*", "" };

	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++)
		if (strcmp(a, any[i]) == 0 || strcmp(b, any[i]) == 0)
			return true;
	return strcmp(a, b) == 0;
}

static int validate(struct cfg *c, struct perr *e)
{
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		struct cfg_listener *l = &c->listener[i];
		const char *n = lnames[i];

		if (!l->enabled)
			continue;
		if (i == CFG_SSL || i == CFG_WSS) {
			const struct { const char *what; const char *file; enum field f; } files[] = {
				{ "cert_file", l->cert_file, F_L_CERT },
				{ "key_file", l->key_file, F_L_KEY },
				{ "ca_file", l->ca_file, F_L_CA },
			};

			for (size_t j = 0; j < 3; j++) {
				int ki = key_index(files[j].f, i);

				if (!files[j].file) {
					if (files[j].f == F_L_CA)
						continue;
					return perr_set(e, "%s: listener.%s.enabled: the %s listener is enabled but "
							"listener.%s.%s is not set (env %s)",
							kloc(c, F_L_ENABLED, i), n, n, n, files[j].what,
							keys[ki].env);
				}
				if (access(files[j].file, R_OK) < 0)
					return perr_set(e, "%s: listener.%s.%s: cannot read '%s': %s",
							kloc(c, files[j].f, i), n, files[j].what,
							files[j].file, strerror(errno));
			}
			if (l->client_auth != CFG_CLIENT_AUTH_NONE && !l->ca_file)
				return perr_set(e, "%s: listener.%s.client_auth: '%s' needs listener.%s.ca_file "
						"to verify client certificates",
						kloc(c, F_L_CLIENT_AUTH, i), n,
						cfg_client_auth_name(l->client_auth), n);
		}
		/* Two enabled listeners on one port would fail at bind time
		 * with a less helpful message. */
		for (int j = 0; j < i; j++) {
			const struct cfg_listener *o = &c->listener[j];

			if (o->enabled && o->bind_port == l->bind_port &&
			    addr_overlap(o->bind_address, l->bind_address))
				return perr_set(e, "%s: listener.%s.bind_port: port %u is already used by listener.%s",
						kloc(c, F_L_PORT, i), n, l->bind_port, lnames[j]);
		}
		if (c->admin.enabled && c->admin.bind_port == l->bind_port &&
		    addr_overlap(c->admin.bind_address, l->bind_address))
			return perr_set(e, "%s: admin.bind_port: port %u is already used by listener.%s",
					kloc(c, F_ADM_PORT, -1), l->bind_port, n);
		if (check_trust(c, i, e) < 0)
			return -1;
	}
	return 0;
}

/* The rules of security.acl_file, read once at start-up: a mistake in
 * them stops the broker with the rule's file:line:col. */
static int load_acl(struct cfg *c, struct perr *e)
{
	if (!c->security.acl_file)
		return 0;
	c->security.acl = acl_load(c->security.acl_file, e);
	if (!c->security.acl)
		return perr_wrap(e, "%s: security.acl_file", kloc(c, F_SEC_ACL, -1));
	return 0;
}

/* ---- public ----------------------------------------------------------------- */

int cfg_load(const char *path, struct cfg *c, struct perr *e)
{
	keys_init();
	memset(c, 0, sizeof(*c));
	c->priv = calloc(1, sizeof(*c->priv));
	if (!c->priv)
		return perr_set(e, "out of memory");
	for (size_t i = 0; i < nkeys; i++)
		src_set(&c->priv->v[i].src, CFG_SRC_DEFAULT, 0, 0, NULL, "default");
	for (int i = 0; i < CFG_NLISTENERS; i++)
		c->listener[i].kind = (enum cfg_listener_kind)i;
	if (path) {
		c->path = strdup(path);
		if (!c->path) {
			perr_set(e, "out of memory");
			goto fail;
		}
		if (load_file(path, c->priv, e) < 0)
			goto fail;
	}
	if (load_env(c->priv, e) < 0)
		goto fail;
	for (size_t i = 0; i < nkeys; i++)
		if (convert(c, i, e) < 0)
			goto fail;
	if (inherit(c, e) < 0 || validate(c, e) < 0 || load_acl(c, e) < 0)
		goto fail;
	priv_drop_texts(c->priv);
	return 0;
fail:
	cfg_free(c);
	return -1;
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	if (c->priv) {
		priv_drop_texts(c->priv);
		free(c->priv);
	}
	for (int i = 0; i < CFG_NLISTENERS; i++) {
		struct cfg_listener *l = &c->listener[i];

		free(l->bind_address);
		free(l->trusted);
		free(l->cert_file);
		free(l->key_file);
		free(l->ca_file);
		free(l->path);
	}
	free(c->trusted);
	free(c->admin.bind_address);
	free(c->admin.token);
	for (size_t i = 0; i < c->security.nusers; i++) {
		free(c->security.users[i].username);
		free(c->security.users[i].password);
	}
	free(c->security.users);
	free(c->security.acl_file);
	acl_free(c->security.acl);
	free(c->log.file);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

const struct cfg_src *cfg_source(const struct cfg *c, const char *key)
{
	int i;

	keys_init();
	i = key_find(key);
	if (i < 0 || !c->priv)
		return NULL;
	return &c->priv->v[i].src;
}

static void print_cidrs(FILE *f, const struct net_cidr *list, size_t n)
{
	char b[64];

	if (n == 0) {
		fputs("(unset)", f);
		return;
	}
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", net_cidr_str(&list[i], b, sizeof(b)));
	fputc(']', f);
}

static void print_str(FILE *f, const char *s)
{
	fputs(s ? s : "(unset)", f);
}

static void print_value(FILE *f, const struct cfg *c, const struct key *k)
{
	const struct cfg_listener *l = k->lk >= 0 ? &c->listener[k->lk] : NULL;
	static const char *const lvl[] = { "error", "warn", "info", "debug" };

	switch (k->field) {
	case F_PROXY_ENABLED: fputs(c->proxy_enabled ? "true" : "false", f); break;
	case F_PROXY_MODE: fputs(cfg_proxy_mode_name(c->proxy_mode), f); break;
	case F_PROXY_TIMEOUT: fprintf(f, "%ums", c->proxy_timeout_ms); break;
	case F_PROXY_MAX: fprintf(f, "%zu", c->proxy_max_header); break;
	case F_TRUSTED: print_cidrs(f, c->trusted, c->ntrusted); break;
	case F_L_ENABLED: fputs(l->enabled ? "true" : "false", f); break;
	case F_L_ADDR: print_str(f, l->bind_address); break;
	case F_L_PORT: fprintf(f, "%u", l->bind_port); break;
	case F_L_PROXY_ENABLED: fputs(l->proxy_enabled ? "true" : "false", f); break;
	case F_L_PROXY_MODE: fputs(cfg_proxy_mode_name(l->proxy_mode), f); break;
	case F_L_TRUSTED: print_cidrs(f, l->trusted, l->ntrusted); break;
	case F_L_CERT: print_str(f, l->cert_file); break;
	case F_L_KEY: print_str(f, l->key_file); break;
	case F_L_CA: print_str(f, l->ca_file); break;
	case F_L_CLIENT_AUTH: fputs(cfg_client_auth_name(l->client_auth), f); break;
	case F_L_PATH: print_str(f, l->path); break;
	case F_ADM_ENABLED: fputs(c->admin.enabled ? "true" : "false", f); break;
	case F_ADM_ADDR: print_str(f, c->admin.bind_address); break;
	case F_ADM_PORT: fprintf(f, "%u", c->admin.bind_port); break;
	case F_ADM_TOKEN: fputs(c->admin.token ? "***" : "(unset)", f); break;
	case F_SEC_ANON: fputs(c->security.allow_anonymous ? "true" : "false", f); break;
	case F_SEC_CERT_ID: fputs(c->security.proxy_cert_identity ? "true" : "false", f); break;
	case F_SEC_USERS:
		fputc('[', f);
		for (size_t i = 0; i < c->security.nusers; i++)
			fprintf(f, "%s%s:***", i ? ", " : "", c->security.users[i].username);
		fputc(']', f);
		break;
	case F_MQTT_MAXPKT: fprintf(f, "%zu", c->mqtt.max_packet_size); break;
	case F_MQTT_KA: fprintf(f, "%u", c->mqtt.keepalive_max); break;
	case F_MQTT_SUBFILT: fprintf(f, "%zu", c->mqtt.max_filters_per_subscribe); break;
	case F_MQTT_SUBS: fprintf(f, "%zu", c->mqtt.max_subscriptions_per_client); break;
	case F_MQTT_RETMAX: fprintf(f, "%zu", c->mqtt.max_retained_messages); break;
	case F_MQTT_RETBYTES: fprintf(f, "%zu", c->mqtt.max_retained_bytes); break;
	case F_MQTT_QMSGS: fprintf(f, "%zu", c->mqtt.max_queued_messages); break;
	case F_MQTT_SESSIONS: fprintf(f, "%zu", c->mqtt.max_sessions); break;
	case F_MQTT_QBYTES: fprintf(f, "%zu", c->mqtt.max_queued_bytes); break;
	case F_MQTT_OFFBYTES: fprintf(f, "%zu", c->mqtt.max_offline_bytes); break;
	case F_MQTT_OUTBUF: fprintf(f, "%zu", c->mqtt.max_output_buffer); break;
	case F_SESS_MAX: fprintf(f, "%zu", c->sessions.max_kept); break;
	case F_SESS_UNAUTH: fprintf(f, "%zu", c->sessions.unauthorized_max); break;
	case F_LOG_LEVEL:
		fputs((unsigned)c->log.level < 4 ? lvl[c->log.level] : "info", f);
		break;
	case F_LOG_FILE: print_str(f, c->log.file); break;
	case F_MAX_CONN: fprintf(f, "%zu", c->max_connections); break;
	case F_L_MAX_CONN: fprintf(f, "%zu", l->max_connections); break;
	case F_L_TLS_TIMEOUT: fprintf(f, "%ums", l->tls_timeout_ms); break;
	case F_L_WS_TIMEOUT: fprintf(f, "%ums", l->ws_timeout_ms); break;
	case F_ADM_MAX_CONN: fprintf(f, "%zu", c->admin.max_connections); break;
	case F_ADM_MAX_PER_CLIENT: fprintf(f, "%zu", c->admin.max_connections_per_client); break;
	case F_ADM_IDLE: fprintf(f, "%ums", c->admin.idle_timeout_ms); break;
	case F_ADM_OPEN_DELETE: fputs(c->admin.allow_delete_without_token ? "true" : "false", f); break;
	case F_MQTT_MAXCONNECT: fprintf(f, "%zu", c->mqtt.max_connect_size); break;
	case F_LOG_REFUSED: fprintf(f, "%u", c->log.refused_per_second); break;
	case F_SEC_ACL: print_str(f, c->security.acl_file); break;
	}
}

void cfg_print(const struct cfg *c, FILE *f)
{
	keys_init();
	for (size_t i = 0; i < nkeys; i++) {
		fprintf(f, "%s = ", keys[i].name);
		print_value(f, c, &keys[i]);
		fprintf(f, "  # %s\n", c->priv ? c->priv->v[i].src.desc : "default");
	}
}

bool cfg_trusted(const struct cfg_listener *l, const struct sockaddr_storage *peer)
{
	if (l->ntrusted == 0)
		return true;
	return net_cidr_match_any(l->trusted, l->ntrusted, peer);
}

bool cfg_trusts_any(const struct cfg_listener *l)
{
	for (size_t i = 0; i < l->ntrusted; i++)
		if (l->trusted[i].prefix == 0)
			return true;
	return l->ntrusted == 0;
}

/* Compare without an early exit, so timing says nothing about where the
 * first difference is. */
bool cfg_secret_eq(const char *want, const void *got, size_t got_len)
{
	size_t wl = strlen(want);
	const unsigned char *g = got;
	unsigned char d = (unsigned char)(wl != got_len);

	for (size_t i = 0; i < wl; i++)
		d |= (unsigned char)want[i] ^ (i < got_len ? g[i] : 0);
	return d == 0;
}

bool cfg_auth(const struct cfg *c, const char *username, const void *password,
	      size_t password_len, bool password_given, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!username) {
		if (c->security.allow_anonymous)
			return true;
		*why = "anonymous-not-allowed";
		return false;
	}
	if (c->security.nusers == 0) {
		if (c->security.allow_anonymous)
			return true;
		*why = "unknown-user";
		return false;
	}
	for (size_t i = 0; i < c->security.nusers; i++) {
		const struct cfg_user *u = &c->security.users[i];

		if (strcmp(u->username, username) != 0)
			continue;
		if (!u->password[0])
			return true;
		if (password_given && cfg_secret_eq(u->password, password, password_len))
			return true;
		*why = "bad-password";
		return false;
	}
	*why = "unknown-user";
	return false;
}
