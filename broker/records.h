/* records.h - what the broker recorded, for the admin API and /metrics:
 *
 *   - sessions: one record per client id, replaced on reconnect, kept
 *     after disconnect (connected = false) up to sessions.max_kept;
 *   - unauthorized clients: a bounded ring of failed authentications
 *     (oldest evicted first);
 *   - counters: connections, PROXY headers accepted / rejected, TLS and
 *     WebSocket failures, MQTT connects accepted / refused.
 *
 * Written from the event loop, read from the admin HTTP thread: every
 * function takes the store's one mutex; the rec_*_foreach callbacks run
 * with it held (they must not call back into the store).
 *
 * Strings given to these functions are copied; nothing keeps the
 * caller's pointers.
 */
#ifndef PPMQ_BROKER_RECORDS_H
#define PPMQ_BROKER_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "pp.h"

#define REC_IP_STRLEN 120     /* "unix:<108-byte path>" fits; IPv6 text is 46 */

/* Rejection reasons besides pp_reason_name() ones ("v1-bad-src-port" ...). */
#define REC_REJECT_MISSING   "missing"           /* no header on a strict listener */
#define REC_REJECT_TIMEOUT   "timeout"           /* header not complete in time */
#define REC_REJECT_UNTRUSTED "untrusted-source"  /* header from a peer outside trusted_proxies */

/* ---- PROXY details, deep-copied out of a struct pp_header -------------- */

struct rec_tlv_raw {
	uint8_t type;
	size_t len;        /* value length on the wire */
	char *hex;         /* lowercase hex of the first REC_RAW_HEX_MAX bytes */
};
#define REC_RAW_HEX_MAX 256

struct rec_proxy {
	int version;                 /* 1 or 2 */
	enum pp_cmd command;
	enum pp_fam family;
	enum pp_proto transport;
	char src_ip[REC_IP_STRLEN];  /* "-" for LOCAL / UNSPEC / v1 UNKNOWN */
	uint16_t src_port;
	char dst_ip[REC_IP_STRLEN];
	uint16_t dst_port;

	/* Well-known TLVs, NULL when absent. Text values keep printable ASCII
	 * and show other bytes as \xNN, so they are always valid JSON strings. */
	char *alpn;
	char *authority;
	char *unique_id;             /* hex (binary up to 128 bytes) */
	char *aws_vpce_id;           /* 0xEA sub-type 0x01 */
	bool ssl_present;
	uint8_t ssl_client;          /* PP2_CLIENT_* bits */
	uint32_t ssl_verify;
	char *ssl_version, *ssl_cn, *ssl_cipher, *ssl_sig_alg, *ssl_key_alg;

	/* Every other top-level TLV (CRC32C, NOOP, NETNS, Azure, GCP, custom
	 * ...), in wire order. */
	struct rec_tlv_raw *raw;
	size_t nraw;
};

/* Deep copy of what a parsed header says (its byte strings point into the
 * receive buffer, which the core reuses). NULL on allocation failure. */
struct rec_proxy *rec_proxy_new(const struct pp_header *h);
struct rec_proxy *rec_proxy_dup(const struct rec_proxy *p);
void rec_proxy_free(struct rec_proxy *p);   /* NULL-safe */

/* "local" | "proxy"; "unspec" | "inet" | "inet6" | "unix". */
const char *rec_pp_cmd_name(enum pp_cmd c);
const char *rec_pp_fam_name(enum pp_fam f);

/* ---- what the core knows about a connection ---------------------------- */

/* A connection's identity as the records keep it (the recorded part of
 * the core's struct ident, decided once per connection); passed to
 * rec_session_connect / rec_unauthorized_add, which copy it. */
struct rec_conn_info {
	enum cfg_listener_kind listener;
	/* Real client: the header's source for PROXY command with INET/INET6
	 * (or UNIX); the socket peer without a header, for LOCAL, UNSPEC and
	 * v1 UNKNOWN. Text from rec_addr_text. */
	char client_ip[REC_IP_STRLEN];
	uint16_t client_port;
	char peer_ip[REC_IP_STRLEN];     /* socket peer: the proxy, or the client itself */
	uint16_t peer_port;
	struct rec_proxy *proxy;         /* NULL: no header on this connection */
	bool tls;
	/* Static strings (OpenSSL's names, kept by pointer): "" when !tls. */
	const char *tls_version;         /* "TLSv1.3" */
	const char *tls_cipher;          /* "TLS_AES_256_GCM_SHA384" */
};

/* An address as the records show it: the IP ("unix:PATH" for UNIX, "-"
 * for none), with bytes outside printable ASCII as '?', and the port (0
 * when it has none). */
void rec_addr_text(const struct sockaddr_storage *ss, char ip[REC_IP_STRLEN], uint16_t *port);

/* ---- records ------------------------------------------------------------ */

/* One per client id, kept while the broker runs (small, with its strings
 * in the same allocation); rec_session_foreach and rec_session_get show
 * it as this struct, valid during the call. */
struct rec_session {
	char *client_id;
	const char *username;        /* in the block; NULL: none given */
	const char *client_ip;       /* in the block */
	const char *peer_ip;         /* in the block */
	const char *tls_version;     /* static (rec_conn_info); "" when !tls */
	const char *tls_cipher;
	struct rec_proxy *proxy;     /* NULL: no header */
	int64_t connected_ms;        /* CLOCK_REALTIME, milliseconds */
	int64_t disconnected_ms;     /* 0 while connected */
	uint64_t gen;                /* connection generation, see rec_session_connect */
	uint16_t client_port;
	uint16_t peer_port;
	uint8_t listener;            /* enum cfg_listener_kind */
	uint8_t mqtt_version;        /* protocol level: 3 (3.1), 4 (3.1.1), 5 */
	bool tls;
	bool connected;
};

struct rec_unauth {
	char *client_id;             /* may be "" (empty client id) */
	char *username;              /* NULL: none given */
	char client_ip[REC_IP_STRLEN];
	uint16_t client_port;
	char peer_ip[REC_IP_STRLEN];
	uint16_t peer_port;
	enum cfg_listener_kind listener;
	char reason[64];             /* "bad-password", "unknown-user", "anonymous-not-allowed", ... */
	bool password_provided;
	bool tls_used;
	struct timespec ts;          /* CLOCK_REALTIME */
};

/* "3.1" | "3.1.1" | "5" | "unknown" for an MQTT protocol level. */
const char *rec_mqtt_version_name(int level);

/* ISO-8601 UTC with milliseconds: "2024-05-01T12:00:00.123Z". */
const char *rec_time_str(const struct timespec *ts, char *buf, size_t cap);

/* ---- counters ----------------------------------------------------------- */

#define REC_MAX_REASONS 64  /* distinct rejection reasons; more are counted as "other" */

/* Limits that refuse or close a connection, counted by listener. */
enum rec_limit {
	REC_LIMIT_CONNECTIONS = 0,  /* listener.max_connections (every listener together) */
	REC_LIMIT_LISTENER,         /* listener.X.max_connections */
	REC_LIMIT_CONNECT_SIZE,     /* mqtt.max_connect_size */
	REC_LIMIT_OUTPUT,           /* closed as a slow consumer (brk_out_max) */
	REC_LIMIT_SESSIONS,         /* CONNECT refused: mqtt.max_sessions */
	REC_NLIMITS,
};

/* The memory limits on messages, in the order of the engine's enum
 * eng_limit (engine.h, where they come first), with their names in
 * /metrics. */
#define REC_MSG_LIMITS 6
extern const char *const rec_msg_limit_names[REC_MSG_LIMITS];

struct rec_counters {
	uint64_t conn_current[CFG_NLISTENERS];  /* open sockets */
	uint64_t conn_total[CFG_NLISTENERS];    /* accepted sockets */
	uint64_t proxy_accepted_version[3];     /* [1], [2] used */
	uint64_t proxy_accepted_command[2];     /* [PP_CMD_LOCAL], [PP_CMD_PROXY] */
	uint64_t proxy_accepted_listener[CFG_NLISTENERS];
	uint64_t proxy_rejected_listener[CFG_NLISTENERS];
	size_t nreasons;                        /* rejected[] in first-seen order */
	struct {
		char name[48];
		uint64_t count;
	} rejected[REC_MAX_REASONS];
	uint64_t tls_failures[CFG_NLISTENERS];
	uint64_t ws_failures[CFG_NLISTENERS];
	uint64_t limit_hits[REC_NLIMITS][CFG_NLISTENERS];
	/* Messages dropped at a memory limit (the retained limits: not
	 * kept), by limit and QoS. */
	uint64_t msg_limit_hits[REC_MSG_LIMITS][3];
	uint64_t queued_bytes;                  /* gauges, from the engine once a second */
	uint64_t offline_bytes;
	uint64_t retained;
	uint64_t acl_denied;                    /* connections, PUBLISH and filters the ACL refused */
	uint64_t mqtt_accepted[CFG_NLISTENERS];
	uint64_t mqtt_refused[CFG_NLISTENERS];
	uint64_t unauthorized_total;            /* ever recorded (ring evictions included) */
	uint64_t sessions_connected;            /* gauge */
	uint64_t sessions_kept;                 /* gauge: records in the store */
	uint64_t unauthorized_kept;             /* gauge: records in the ring */
};

/* ---- the store ---------------------------------------------------------- */

struct rec_store;

/* max_kept: session records (connected ones are never dropped; past the
 * bound the oldest disconnected record goes). unauthorized_max: ring size.
 * Both >= 1. NULL on allocation failure. */
struct rec_store *rec_store_new(size_t max_kept, size_t unauthorized_max);
void rec_store_free(struct rec_store *s);   /* NULL-safe */

/* A client completed CONNECT. Creates or replaces the record for
 * client_id (a reconnect overwrites every field). Returns the new
 * connection generation (> 0), or 0 on allocation failure. */
uint64_t rec_session_connect(struct rec_store *s, const char *client_id,
			     const char *username, int mqtt_version,
			     const struct rec_conn_info *ci);

/* That connection ended. Ignored unless gen is the record's current
 * generation: after a takeover the old connection's close must not mark
 * the new one disconnected. */
void rec_session_disconnect(struct rec_store *s, const char *client_id, uint64_t gen);

/* Authentication failed (CONNACK refused for credentials or
 * authorization). reason is short and stable (see cfg_auth). */
void rec_unauthorized_add(struct rec_store *s, const char *client_id,
			  const char *username, const char *reason,
			  bool password_provided, const struct rec_conn_info *ci);
void rec_unauthorized_clear(struct rec_store *s);

/* Visit records, store locked. Sessions in client-id order; unauthorized
 * clients oldest first. Return non-zero from fn to stop. */
typedef int (*rec_session_fn)(const struct rec_session *r, void *ctx);
typedef int (*rec_unauth_fn)(const struct rec_unauth *r, void *ctx);
void rec_session_foreach(struct rec_store *s, rec_session_fn fn, void *ctx);
void rec_unauthorized_foreach(struct rec_store *s, rec_unauth_fn fn, void *ctx);

/* One record by client id: calls fn (locked) and returns true when found. */
bool rec_session_get(struct rec_store *s, const char *client_id,
		     rec_session_fn fn, void *ctx);

/* Counters (the event loop calls these as things happen). */
void rec_conn_open(struct rec_store *s, enum cfg_listener_kind l);
void rec_conn_close(struct rec_store *s, enum cfg_listener_kind l);
void rec_proxy_accepted(struct rec_store *s, enum cfg_listener_kind l,
			int version, enum pp_cmd cmd);
/* reason: pp_reason_name(err.reason) or a REC_REJECT_* string. */
void rec_proxy_rejected(struct rec_store *s, enum cfg_listener_kind l, const char *reason);
void rec_tls_failure(struct rec_store *s, enum cfg_listener_kind l);
void rec_ws_failure(struct rec_store *s, enum cfg_listener_kind l);
/* A connection refused or closed at a limit. */
void rec_limit_hit(struct rec_store *s, enum cfg_listener_kind l, enum rec_limit which);
/* A message dropped (or not retained) at a memory limit, which < REC_MSG_LIMITS. */
void rec_msg_limit(struct rec_store *s, unsigned which, uint8_t qos);
/* The engine's gauges. */
void rec_engine_gauges(struct rec_store *s, uint64_t queued_bytes, uint64_t offline_bytes,
		       uint64_t retained, uint64_t acl_denied);
/* A CONNECT answered: accepted (CONNACK 0) or refused (any other code). */
void rec_mqtt_connect(struct rec_store *s, enum cfg_listener_kind l, bool accepted);

/* Consistent snapshot of every counter. */
void rec_counters_get(struct rec_store *s, struct rec_counters *out);

#endif
