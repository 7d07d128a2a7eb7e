/* profile.h - target profiles: how to reach a broker, which PROXY mode to
 * expect on each listener, how to read what it recorded, and optionally
 * how to launch it in several configurations. Format and every key:
 * conformance/targets/README.md.
 */
#ifndef PPMQ_CONFORM_PROFILE_H
#define PPMQ_CONFORM_PROFILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "scenario.h"
#include "yx.h"

struct profile_tls {
	char *ca;
	bool insecure;
	char *sni;
	char *cert, *key;
};

struct profile_listener {
	bool present;
	enum sc_mode mode;     /* SC_MODE_ABSENT when not present */
	char *host;            /* never NULL when present */
	uint16_t port;
	struct profile_tls tls;
	char *path;            /* ws, wss: default "/mqtt" */
	char *subprotocol;     /* ws, wss: default "mqtt" */
	unsigned versions;     /* PROXY versions it takes: PROFILE_V1 | PROFILE_V2 (default both) */
	int header_timeout_ms; /* its own PROXY header timeout: -1 the profile's, 0 none */
};

/* Points run at once against a target whose profile does not say: each
 * point is its own connections with its own client id, so they do not
 * disturb each other; a target that limits connections says `jobs: N`. */
#define PROFILE_DEFAULT_JOBS 8

#define PROFILE_V1 (1u << 1)
#define PROFILE_V2 (1u << 2)
/* Does listener li take PROXY headers of this version (1 or 2)? */
#define PROFILE_TAKES(li, v) (((li)->versions & (1u << (v))) != 0)

struct profile_cred {
	bool given;
	char *username;        /* NULL: anonymous */
	char *password;        /* NULL: none */
};

enum profile_obs_type { PROFILE_OBS_NONE = 0, PROFILE_OBS_HTTP, PROFILE_OBS_LOG };

struct profile_kv {
	char *key;
	char *value;           /* NULL: remove (environment) */
};

enum profile_body { PROFILE_BODY_NONE = 0, PROFILE_BODY_JSON, PROFILE_BODY_FORM };

#define PROFILE_TOKEN_MAX 8192
#define PROFILE_MAX_LOGINS 4

/* observers.<role>.auth.login: how an observer gets the token its API
 * wants (a JWT from TBMQ's POST /api/auth/login, say), and how it sends
 * it. Observers whose auth is the same YAML node (an alias) share one. */
struct profile_login {
	char *method;          /* "POST" by default */
	char *url;
	enum profile_body body;     /* what fields are sent as */
	struct profile_kv *fields;  /* the JSON object's members or the form's fields */
	size_t nfields;
	char *token_field;     /* dotted path of the token in the JSON answer, or ... */
	char *token_header;    /* ... the answer header that holds it */
	char *header;          /* request header that carries it: "Authorization" by default */
	char *scheme;          /* written before it: "Bearer" by default, "" for none */
	bool insecure;         /* https: do not verify the server (the observer's) */
	/* At run time (conformance/login.c): the current token. */
	pthread_mutex_t mu;
	char token[PROFILE_TOKEN_MAX];
	unsigned gen;          /* tokens received so far */
};

struct profile_observer {
	enum profile_obs_type type;
	const char *role;      /* "sessions" | "unauthorized" | "rejections" */
	/* http */
	char *url;             /* template: {client_id}, {listener} */
	char *bearer;
	char *basic_user, *basic_pass;
	struct profile_login *login; /* auth.login, or NULL */
	struct profile_kv *headers;
	size_t nheaders;
	char *array_field;     /* NULL: the document is the array (when match_field) */
	char *match_field;     /* NULL: the document is the record */
	char *ip_field, *port_field, *peer_ip_field, *peer_port_field, *connected_field;
	char *connected_value;  /* connected_field holds this text while connected
				 * (TBMQ's "CONNECTED"); NULL: it is a boolean */
	char *username_field;  /* the user name the broker recorded (identity checks) */
	bool insecure;
	/* log */
	char *file;
	char *regex;           /* template: {client_id} */
	char *ip_group, *port_group;
	int retry_ms;
};

struct profile_launch {
	bool present;
	char *prepare;         /* run once before the first start, or NULL */
	char *start, *stop;
	struct profile_kv *env;
	size_t nenv;
	bool ready_listeners;
	uint16_t *ready_ports;
	size_t nready_ports;
	char *ready_url;
	char *ready_log;
	int timeout_ms;
	char *output;          /* NULL: a temporary file */
	char *workdir;
};

#define PROFILE_MAX_SETTINGS 16

struct profile_configs {
	bool present;
	struct profile_kv settings[PROFILE_MAX_SETTINGS]; /* scenario setting -> env var */
	size_t nsettings;
	struct profile_kv values[PROFILE_MAX_SETTINGS];   /* scenario value -> text for the broker */
	size_t nvalues;
	enum sc_mode default_mode;              /* enabled | disabled */
	char *modes[SC_NMODES];                 /* mode -> configuration bringing it, or NULL */
};

/* policy: an address rule the target declares (scenarios/85-policy.yml).
 * Addresses are IPv4 text. */
struct profile_policy {
	bool present;
	char *blocked_cidr;     /* a network whose clients the target refuses */
	char *blocked_source;   /* an address in it (default: the network's first host) */
	char *allowed_source;   /* an address the target's policy lets in */
	char *blocked_proxy;    /* optional: a local address to connect from, trusted as a
				 * proxy by the target and inside a network it refuses */
};

struct profile {
	char *path;
	char *name, *description;
	char *host;
	char *client_bind, *untrusted_bind;
	int timeout_ms;
	int header_timeout_ms;
	int mqtt;
	int jobs;              /* points run at once unless -j says otherwise */
	char *no_proxy_support; /* the broker reads no PROXY header at all, and why
				 * (HiveMQ CE); NULL: it does */
	bool crc32c;           /* the broker verifies the v2 CRC32C TLV (declared) */
	bool identity_ssl_cn;  /* identity.from: ssl_cn - the user name is the CN of a
				* client certificate the proxy verified (v2 SSL TLV) */
	struct profile_policy policy;
	struct profile_listener l[SC_NLISTENERS];
	struct profile_cred valid, invalid;
	bool anonymous;
	struct profile_observer sessions, unauthorized;
	struct profile_observer rejections; /* log: why the target refused a connection */
	struct profile_login *logins[PROFILE_MAX_LOGINS]; /* every distinct auth.login */
	size_t nlogins;
	struct profile_launch launch;
	struct profile_configs conf;
	struct yx_arena arena;
};

/* Load path into *p (zeroed first). Allocates launch.free_ports and
 * exports them to the environment before expanding the other values.
 * Returns 0 or -1 with "file:line:col: why". */
int profile_load(struct profile *p, const char *path, struct perr *e);
int profile_load_string(struct profile *p, const char *name, const char *yaml, struct perr *e);
void profile_free(struct profile *p);

/* What a scenario configuration ("global=true tcp=unset") means for this
 * target: the environment changes for `start` (*env: every setting's
 * variable, value NULL when it must be removed; arena memory of p) and
 * each listener's effective mode. -1 with *e when the profile has no
 * configurations or a setting is not mapped. */
int profile_config_resolve(struct profile *p, const char *configuration, struct profile_kv **env,
		      size_t *nenv, enum sc_mode modes[SC_NLISTENERS], struct perr *e);

/* Ask the kernel for a free loopback TCP port; 0 on failure. */
uint16_t profile_free_port(void);

#endif
