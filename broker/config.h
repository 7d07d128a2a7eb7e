/* config.h - ppmq-broker configuration: YAML file + environment, with
 * TBMQ's names and its global / per-listener PROXY inheritance.
 *
 * Where a value comes from, highest precedence first:
 *   1. the key's own environment variable (LISTENER_TCP_BIND_PORT ...),
 *      when set and non-empty, even if the key is absent from the file;
 *   2. the file: a literal value, or "${ENV_NAME:default}" / "${ENV_NAME}"
 *      (literal text around it allowed), expanded from the environment
 *      by the YAML layer (lib/yx.h: nested defaults, $$ for a '$');
 *   3. per-listener PROXY keys only (proxy_enabled, proxy_mode,
 *      trusted_proxies): inherited from the global listener.* key;
 *   4. the built-in default.
 * An empty value (an empty env variable, "${X:}" with X unset, "") means
 * "unset": the next rule down applies.
 *
 * Every effective value remembers its source (struct cfg_src), shown by
 * cfg_print() (--print-config) and by the admin API's /api/v1/listeners.
 *
 * Errors name the place, the key and why, e.g.
 *   "ppmq.yml:12:5: listener.tcp.bind_port: '70000' is not a port (1..65535)"
 *   "env LISTENER_TCP_BIND_PORT: listener.tcp.bind_port: 'x' is not a port (1..65535)"
 * Unknown keys get the closest known key as a suggestion. ppmq-broker
 * exits with status 2 on any of them.
 *
 * The struct is read-only once loaded: the event loop and the admin
 * thread read it concurrently without locking.
 */
#ifndef PPMQ_BROKER_CONFIG_H
#define PPMQ_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "err.h"
#include "log.h"
#include "net.h"

struct acl;

/* The four MQTT listener kinds, in TBMQ's order. Also used by records. */
enum cfg_listener_kind { CFG_TCP = 0, CFG_SSL, CFG_WS, CFG_WSS, CFG_NLISTENERS };

/* "tcp" | "ssl" | "ws" | "wss" (NULL for an out-of-range value). */
const char *cfg_listener_name(enum cfg_listener_kind k);
/* Inverse of cfg_listener_name; 0 or -1. */
int cfg_listener_parse(const char *s, enum cfg_listener_kind *k);

/* strict: a header is required on every connection (TBMQ's behaviour).
 * optional: connections with or without a header are accepted; a header
 * is only honoured from trusted_proxies. */
enum cfg_proxy_mode { CFG_PROXY_STRICT = 0, CFG_PROXY_OPTIONAL };
const char *cfg_proxy_mode_name(enum cfg_proxy_mode m);   /* "strict" | "optional" */

/* TLS client certificates on ssl / wss. */
enum cfg_client_auth { CFG_CLIENT_AUTH_NONE = 0, CFG_CLIENT_AUTH_OPTIONAL, CFG_CLIENT_AUTH_REQUIRED };
const char *cfg_client_auth_name(enum cfg_client_auth a); /* "none" | "optional" | "required" */

/* Where an effective value came from. */
enum cfg_src_kind {
	CFG_SRC_DEFAULT = 0,  /* built-in default */
	CFG_SRC_FILE,         /* literal in the file, or a ${ENV:default} placeholder that fell back to its default */
	CFG_SRC_ENV,          /* an environment variable (the key's own, or one named by a placeholder) */
	CFG_SRC_INHERITED,    /* per-listener key unset: the global key's value */
};

struct cfg_src {
	enum cfg_src_kind kind;
	int line, col;         /* FILE (and ENV through a file placeholder): 1-based; else 0 */
	char env[64];          /* ENV: the variable's name; else "" */
	/* The whole story, ready to print after "# ":
	 *   "default"
	 *   "file ppmq.yml:12"
	 *   "file ppmq.yml:12, default of ${MQTT_X}"
	 *   "env MQTT_PROXY_PROTOCOL_ENABLED"
	 *   "env MQTT_X (via ppmq.yml:12)"
	 *   "inherited from listener.proxy_enabled (env MQTT_PROXY_PROTOCOL_ENABLED)" */
	char desc[224];
};

/* "default" | "file" | "env" | "inherited". */
const char *cfg_src_kind_name(enum cfg_src_kind k);

struct cfg_user {
	char *username;
	char *password;
};

/* One MQTT listener, every value effective (inheritance already applied). */
struct cfg_listener {
	enum cfg_listener_kind kind;
	bool enabled;
	char *bind_address;        /* never NULL */
	uint16_t bind_port;

	/* PROXY protocol */
	bool proxy_enabled;        /* effective: per-listener value, else global */
	bool proxy_explicit;       /* listener.X.proxy_enabled was set (not inherited) */
	enum cfg_proxy_mode proxy_mode;
	/* Sources allowed to send a header. Empty list = every source.
	 * A header from a peer outside a non-empty list is rejected with
	 * reason "untrusted-source"; in optional mode a connection from an
	 * untrusted peer without a header is accepted as a plain one. */
	struct net_cidr *trusted;
	size_t ntrusted;
	unsigned proxy_timeout_ms; /* copy of the global listener.proxy_timeout */
	size_t proxy_max_header;   /* copy of the global listener.proxy_max_header */

	/* Open connections on this listener; more are accepted and closed at
	 * once, before any byte is read or written. 0: only the total
	 * (cfg.max_connections) applies. */
	size_t max_connections;
	unsigned tls_timeout_ms;   /* ssl, wss: TLS handshake; else 0 */
	unsigned ws_timeout_ms;    /* ws, wss: HTTP upgrade request; else 0 */

	/* TLS: ssl and wss only (NULL elsewhere) */
	char *cert_file, *key_file, *ca_file;
	enum cfg_client_auth client_auth;

	/* WebSocket: ws and wss only (NULL elsewhere) */
	char *path;
};

struct cfg {
	char *path;                /* file loaded, NULL when none */

	/* global PROXY settings (listener.*) */
	bool proxy_enabled;
	enum cfg_proxy_mode proxy_mode;
	unsigned proxy_timeout_ms;
	size_t proxy_max_header;
	struct net_cidr *trusted;
	size_t ntrusted;
	/* Open client connections, all listeners together (not inherited:
	 * listener.X.max_connections is each listener's own bound). */
	size_t max_connections;

	struct cfg_listener listener[CFG_NLISTENERS]; /* indexed by cfg_listener_kind */

	struct {
		bool enabled;
		char *bind_address;
		uint16_t bind_port;    /* 0 = let the kernel pick (tests) */
		char *token;           /* bearer token; NULL = no authentication */
		size_t max_connections;            /* open at once, every client together */
		size_t max_connections_per_client; /* open at once from one address */
		unsigned idle_timeout_ms;          /* a connection idle this long is closed */
		bool allow_delete_without_token;   /* DELETE when token is NULL */
	} admin;

	struct {
		bool allow_anonymous;
		struct cfg_user *users;
		size_t nusers;
		/* The CN of a client certificate a trusted proxy reports as
		 * verified (v2 SSL TLV) is the MQTT user name, authenticated. */
		bool proxy_cert_identity;
		/* Access rules (broker/acl.h), loaded from acl_file with the
		 * configuration; NULL: everything is allowed. */
		char *acl_file;
		struct acl *acl;
	} security;

	struct {
		/* Largest CONNECT, bytes: all a client sends before it is
		 * authenticated, so what it can make the broker buffer. */
		size_t max_connect_size;
		size_t max_packet_size;  /* bytes */
		unsigned keepalive_max;  /* seconds; longer client keep-alives are capped */
		size_t max_filters_per_subscribe;   /* more: the SUBSCRIBE is refused */
		size_t max_subscriptions_per_client; /* per session */
		size_t max_retained_messages;
		size_t max_retained_bytes;          /* topics and payloads */
		/* Sessions kept, online and offline: past it a CONNECT that
		 * needs a new one is refused. */
		size_t max_sessions;
		/* A session's outgoing QoS>0 messages, queued or inflight:
		 * beyond either, new ones are dropped for it. */
		size_t max_queued_messages;
		size_t max_queued_bytes;            /* topics, payloads, properties */
		size_t max_offline_bytes;           /* every offline session together */
		/* Bytes waiting to be written to one client: beyond, QoS 0
		 * messages to it are dropped and QoS>0 ones wait queued. */
		size_t max_output_buffer;
	} mqtt;

	struct {
		size_t max_kept;          /* session records kept (oldest disconnected dropped first) */
		size_t unauthorized_max;  /* unauthorized-clients ring size */
	} sessions;

	struct {
		enum log_level level;
		char *file;              /* NULL = stderr */
		/* Lines a second, per listener and kind, about refused
		 * connections (headers, handshakes, limits); 0: every one. */
		unsigned refused_per_second;
	} log;

	struct cfg_priv *priv;     /* per-key sources; owned */
};

/* Load the configuration: defaults, then the file (path may be NULL: no
 * file), then the environment. On success returns 0 and *c must later be
 * given to cfg_free. On failure returns -1 with *e set ("file:line:col:
 * key: why") and *c left empty (cfg_free on it is harmless). */
int cfg_load(const char *path, struct cfg *c, struct perr *e);

/* Release everything cfg_load allocated; *c is zeroed. NULL-safe. */
void cfg_free(struct cfg *c);

/* Every key, one per line, in a stable order:
 *   key = value  # source description
 * e.g. "listener.tcp.proxy_enabled = true  # inherited from
 * listener.proxy_enabled (env MQTT_PROXY_PROTOCOL_ENABLED)". Unset values
 * print as "(unset)"; admin.token and passwords as "***". */
void cfg_print(const struct cfg *c, FILE *f);

/* Source of a key's effective value ("listener.ssl.proxy_enabled");
 * NULL for an unknown key. security.users has one source for the list. */
const struct cfg_src *cfg_source(const struct cfg *c, const char *key);

/* Environment variable name of a key, NULL when unknown. */
const char *cfg_env_name(const char *key);

/* Number of known keys and the i-th name, in cfg_print's order (for docs
 * and tests). */
size_t cfg_key_count(void);
const char *cfg_key_name(size_t i);

/* May a PROXY header from peer be honoured on listener l? (true when the
 * trusted list is empty; IPv4-mapped IPv6 peers match IPv4 networks.) */
bool cfg_trusted(const struct cfg_listener *l, const struct sockaddr_storage *peer);

/* Does listener l take a PROXY header from any source: trusted_proxies
 * unset (strict mode), or a network of prefix 0 in it (0.0.0.0/0, ::/0)? */
bool cfg_trusts_any(const struct cfg_listener *l);

/* Does got[0..got_len) equal the string want? No early exit, so timing
 * says nothing about where the first difference is. */
bool cfg_secret_eq(const char *want, const void *got, size_t got_len);

/* Password check against security.users, constant time in the password.
 * username NULL => anonymous (allowed when security.allow_anonymous).
 * Returns true when the client may connect; otherwise *why (may be NULL)
 * is a stable reason for the unauthorized-clients record:
 * "anonymous-not-allowed", "unknown-user", "bad-password". A user listed
 * without password accepts any password. */
bool cfg_auth(const struct cfg *c, const char *username, const void *password,
	      size_t password_len, bool password_given, const char **why);

#endif
