/* engine.h - the broker's MQTT semantics, independent of sockets.
 *
 * The core feeds each connection's bytes (after PROXY, TLS and WebSocket)
 * to eng_client_input(); the engine answers through the core's struct
 * eng_io (send = queue bytes, close = close after flushing), given the
 * connection's context.
 * Everything runs on one thread (the event loop's); nothing here blocks.
 *
 * What the engine does: MQTT 3.1.1 and 5.0 (level 3 "MQIsdp" is refused
 * with CONNACK 0x01); CONNECT first, username / password checks, client
 * id assignment and takeover; QoS 0/1/2 both ways with inflight limits;
 * subscriptions with + and #; retained messages; will messages (5.0 will
 * delay too); keep-alive; clean and persistent in-memory sessions with a
 * queue per session bounded in messages and bytes, all offline sessions
 * bounded together, output held back from a client that does not read
 * (eng_io.backlog), each limit reported (on_limit); 5.0 session expiry, topic aliases
 * from clients, subscription identifiers, no-local, retain-as-published,
 * retain handling; shared subscriptions ($share/NAME/FILTER, one member
 * of a group per message, in turn), also from 3.1.1 clients; an optional
 * authorization hook (the ACL) for connections, PUBLISH and filters.
 * Protocol violations close the connection (5.0: after a DISCONNECT with
 * the reason).
 *
 * Lifecycle of a connection, as the core sees it:
 *
 *   c = eng_client_new(eng, &info, &io, ctx);  transport reached MQTT
 *   eng_client_input(c, bytes, n) ...          every read; -1 => close
 *   eng_client_closed(c, graceful);            exactly once; frees c
 *
 * The engine asks for a close in two ways and never both for one client:
 *   - eng_client_input() returns -1: close this connection after flushing
 *     what was queued (refused CONNECT, DISCONNECT received, violation);
 *   - io->close(ctx) for any other reason: takeover by a newer connection,
 *     keep-alive timeout (from eng_tick), a failed io->send while the
 *     engine was writing to this client on behalf of another one.
 * After either, the engine sends nothing more on that client and ignores
 * its input; the core still calls eng_client_closed() once it is gone.
 */
#ifndef PPMQ_BROKER_ENGINE_H
#define PPMQ_BROKER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct eng;
struct eng_client;

/* ---- what the engine knows about a connection -------------------------- */

struct eng_client_info {
	/* Filled by the core before eng_client_new (copied by it): what the
	 * engine needs of who the connection is; the rest (addresses, PROXY
	 * details, TLS) stays with the core, which finds it through opaque. */
	const char *listener;            /* "tcp" | "ssl" | "ws" | "wss": a static string */
	const char *cert_identity;       /* CN of a client certificate a trusted proxy verified
					    (security.proxy_cert_identity), or NULL: when set it
					    is the user name, authenticated. Owned by the core;
					    must outlive the client. */
	void *opaque;                    /* the core's per-connection pointer, passed back untouched */

	/* Filled by the engine. */
	uint64_t conn_id;                /* unique per eng_client, from 1 */
	const char *client_id;           /* NULL before CONNECT; the assigned id if the client sent "" */
	const char *username;            /* NULL: none given */
	int mqtt_version;                /* protocol level 3, 4, 5; 0 before CONNECT */
	bool clean;                      /* Clean Session / Clean Start */
	bool session_present;            /* CONNACK's flag */
	uint16_t keepalive;              /* effective keep-alive, seconds */
};

/* Why an authentication failed (on_auth_failed's reason). Same strings as
 * cfg_auth() in config.h. */
#define ENG_AUTH_ANONYMOUS_NOT_ALLOWED "anonymous-not-allowed"
#define ENG_AUTH_UNKNOWN_USER          "unknown-user"
#define ENG_AUTH_BAD_PASSWORD          "bad-password"
#define ENG_AUTH_BAD_METHOD            "unsupported-auth-method" /* 5.0 enhanced authentication */
#define ENG_AUTH_ACL                   "acl-denied"   /* cfg.authorize refused the connection */

/* What cfg.authorize is asked about. */
enum eng_op { ENG_OP_CONNECT = 0, ENG_OP_PUBLISH, ENG_OP_SUBSCRIBE };

/* Why a session's connection ended (on_session_disconnected's reason). */
#define ENG_DISC_NORMAL      "disconnect"          /* DISCONNECT received */
#define ENG_DISC_CLOSED      "connection-closed"   /* transport gone without DISCONNECT */
#define ENG_DISC_TAKEOVER    "session-taken-over"
#define ENG_DISC_KEEPALIVE   "keepalive-timeout"
#define ENG_DISC_PROTOCOL    "protocol-error"      /* includes malformed packets */
#define ENG_DISC_SEND_FAILED "send-failed"
#define ENG_DISC_SHUTDOWN    "shutdown"            /* eng_free with clients left */

/* ---- configuration ----------------------------------------------------- */

struct eng_user {
	const char *user;
	const char *pass;                /* NULL: any password is accepted */
};

/* The memory limits, and what biting one does to a message. */
enum eng_limit {
	ENG_LIMIT_QUEUE_MESSAGES = 0,    /* max_queued: dropped for that session */
	ENG_LIMIT_QUEUE_BYTES,           /* max_queued_bytes: dropped for that session */
	ENG_LIMIT_OFFLINE_BYTES,         /* max_offline_bytes: dropped for that (offline) session */
	ENG_LIMIT_OUTPUT,                /* max_output: a QoS 0 message dropped for that client */
	ENG_LIMIT_RETAINED_MESSAGES,     /* retained_max: delivered, not retained */
	ENG_LIMIT_RETAINED_BYTES,        /* retained_max_bytes: delivered, not retained */
	ENG_LIMIT_SESSIONS,              /* max_sessions: a CONNECT refused (no message) */
	ENG_NLIMITS,
};

struct eng_limit_event {
	enum eng_limit which;
	const char *client_id;           /* the session's; NULL for the retained limits */
	void *opaque;                    /* ENG_LIMIT_SESSIONS: the connection's info.opaque */
	const char *topic;               /* NULL for ENG_LIMIT_SESSIONS */
	size_t size;                     /* the message's topic, payload and properties */
	uint8_t qos;                     /* as it would have been delivered (or published) */
	size_t limit;                    /* the limit's value */
};

/* Zero means "default" for every number. */
struct eng_cfg {
	bool allow_anonymous;            /* CONNECT without user name accepted */
	const struct eng_user *users;    /* copied by eng_new */
	size_t n_users;

	size_t max_packet_size;          /* whole packet, bytes; default 1 MiB. 5.0: advertised */
	uint16_t max_inflight;           /* unacknowledged QoS>0 PUBLISH per direction; default 20.
					    5.0: advertised as Receive Maximum */
	uint16_t keepalive_max;          /* 0: no cap. 5.0: Server Keep Alive; 3.1.1: larger
					    keep-alives (and 0) are capped silently */
	unsigned connect_timeout;        /* seconds from eng_client_new to CONNECT; default 10 */
	uint32_t session_expiry_default; /* seconds a 3.1.1 persistent (clean session 0) session
					    lives offline; default 2 h; 0xFFFFFFFF = never */
	uint32_t session_expiry_max;     /* 5.0: cap on the client's Session Expiry Interval
					    (0: no cap) */
	size_t max_queued;               /* per offline / busy session, QoS>0 messages; default 1000 */
	/* Sessions, online and offline: a CONNECT that needs a new one past
	 * it is refused (5.0: 0x97 Quota exceeded, 3.1.1: 0x03); default 20000. */
	size_t max_sessions;
	/* Bytes of one session's outgoing QoS>0 messages, queued and
	 * inflight (a message counts its topic, payload and properties in
	 * every session that holds it); default 4 MiB. */
	size_t max_queued_bytes;
	size_t max_offline_bytes;        /* the same, every offline session together; default 64 MiB */
	/* Bytes a connection may have waiting to be written (eng_io.backlog)
	 * before the engine holds back: QoS 0 messages are dropped, QoS>0
	 * ones wait in the session's queue; default 1 MiB. */
	size_t max_output;
	size_t retained_max;             /* retained messages kept; default 10000 */
	size_t retained_max_bytes;       /* their topic and payload bytes together; default 64 MiB */
	size_t max_subscribe_filters;    /* per SUBSCRIBE, or it is refused whole (5.0: 0x97
					    Quota exceeded, 3.1.1: 0x80); default 1000 */
	size_t max_subscriptions;        /* per session; new filters beyond get 0x97 / 0x80;
					    default 10000 */

	/* The engine's clock: milliseconds on a clock that never goes back
	 * (any epoch), read when the core calls in. NULL: CLOCK_MONOTONIC.
	 * Every deadline (keep-alive, CONNECT timeout, will delay, session
	 * and message expiry) is kept on it to the millisecond. */
	int64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	/* The earliest deadline changed: call eng_tick() in in_ms
	 * milliseconds (0: now), or never when in_ms is -1. Called at the end
	 * of an engine call, never in the middle of one. */
	void (*timer_set)(void *ctx, int64_t in_ms);
	void *timer_ctx;

	/* Optional external authentication (e.g. wrapping cfg_auth). When
	 * set it replaces the users list; it returns true to accept, or
	 * false and sets *why to one of the ENG_AUTH_* strings. */
	bool (*auth)(void *ctx, const char *username, const void *password,
		     size_t password_len, bool password_given, const char **why);
	void *auth_ctx;

	/* Optional authorization (the ACL), asked once credentials are
	 * accepted (ENG_OP_CONNECT, topic NULL; then ENG_OP_PUBLISH for the
	 * will's topic: either refused with CONNACK 0x05 / 0x87 and
	 * on_auth_failed's ENG_AUTH_ACL), for each PUBLISH (topic:
	 * the name, after any alias; refused: 5.0 PUBACK / PUBREC 0x87,
	 * 3.1.1 acknowledged as usual, delivered to no one) and each
	 * SUBSCRIBE filter (topic: the filter, of a shared subscription the
	 * part after the share name; refused: 0x87 / 0x80). topic is not
	 * NUL-terminated. Returns true to allow. NULL: everything allowed. */
	bool (*authorize)(void *ctx, const struct eng_client_info *info, enum eng_op op,
			  const char *topic, size_t len);
	void *authorize_ctx;

	/* Callbacks into the recorder; any may be NULL. info (and the
	 * strings in it) are valid during the call only. */
	void *rec_ctx;
	/* CONNACK 0 was queued. */
	void (*on_session_connected)(void *ctx, const struct eng_client_info *info);
	/* A connection that had on_session_connected ended or lost its
	 * session (takeover): once per such connection, with an ENG_DISC_*
	 * reason. Called before the session's next on_session_connected. */
	void (*on_session_disconnected)(void *ctx, const struct eng_client_info *info,
					const char *reason);
	/* CONNECT refused for credentials or authorization (CONNACK 4 / 5,
	 * 0x86 / 0x87 / 0x8C). client_id as sent ("" possible); username
	 * NULL when none; reason an ENG_AUTH_* string. */
	void (*on_auth_failed)(void *ctx, const struct eng_client_info *info,
			       const char *client_id, const char *username,
			       const char *reason, bool password_provided);
	/* A session's state was discarded (expiry, clean start, takeover
	 * with clean start, end of a non-persistent session). */
	void (*on_session_removed)(void *ctx, const char *client_id);
	/* A memory limit bit: a message dropped, or not retained. Called
	 * for every one (the core thins the log, not the counters). */
	void (*on_limit)(void *ctx, const struct eng_limit_event *ev);
};

/* ---- per connection I/O ------------------------------------------------ */

/* The core's functions, one table for every connection (eng_client_new
 * keeps a pointer to it); each gets the ctx given to eng_client_new. */
struct eng_io {
	/* Queue bytes for writing (copy them; buf is the engine's). Returns
	 * 0, or -1 when the connection cannot take them (the engine then
	 * treats the connection as failed). */
	int (*send)(void *ctx, const uint8_t *buf, size_t len);
	/* Close after flushing what was queued. Must not call back into the
	 * engine: the core calls eng_client_closed() later, from its loop. */
	void (*close)(void *ctx);
	/* Optional. Bytes queued for the connection and not yet written
	 * (compared with cfg.max_output). */
	size_t (*backlog)(void *ctx);
	/* Optional. The engine holds messages back until the backlog is
	 * written: call eng_client_drained() once it is, from the loop (not
	 * from inside an engine call). */
	void (*watch_drain)(void *ctx);
};

/* ---- counters ---------------------------------------------------------- */

struct eng_stats {
	uint64_t clients;                /* gauge: eng_client objects (transport level) */
	uint64_t connected;              /* gauge: clients past CONNACK 0 */
	uint64_t sessions;               /* gauge: sessions (online + offline) */
	uint64_t retained;               /* gauge: retained messages */
	uint64_t subscriptions;          /* gauge: subscriptions of all sessions */
	uint64_t connects_total;         /* CONNACK 0 sent */
	uint64_t connects_refused;       /* CONNACK != 0 sent */
	uint64_t auth_failures;          /* of which credential / authorization refusals */
	uint64_t acl_denied;             /* connections, PUBLISH and filters refused by cfg.authorize */
	uint64_t protocol_errors;        /* connections closed for a violation */
	uint64_t msgs_in;                /* PUBLISH received */
	uint64_t msgs_out;               /* PUBLISH sent */
	uint64_t msgs_dropped;           /* queue full, too large for the client, expired */
	uint64_t limit_hits[ENG_NLIMITS];/* of which at a memory limit (retained: not kept) */
	uint64_t queued_bytes;           /* gauge: every session's queued and inflight bytes */
	uint64_t offline_bytes;          /* gauge: of which in offline sessions */
	uint64_t bytes_in, bytes_out;    /* MQTT bytes */
};

/* ---- API --------------------------------------------------------------- */

/* Create an engine. cfg is copied (users deep-copied). Returns NULL with
 * *e set. */
struct eng *eng_new(const struct eng_cfg *cfg, struct perr *e);
/* Free everything, including clients the core has not closed (their io
 * is not called; on_session_disconnected is, with ENG_DISC_SHUTDOWN, and
 * on_session_removed for every session: free the recorder afterwards).
 * NULL-safe. */
void eng_free(struct eng *eng);

/* A connection reached the MQTT stage. info is copied (the core's strings
 * must stay valid until eng_client_closed). io is kept by pointer: it
 * must outlive the client; ctx is what its functions get. Returns NULL
 * on allocation failure. */
struct eng_client *eng_client_new(struct eng *eng, const struct eng_client_info *info,
				  const struct eng_io *io, void *ctx);

/* Bytes received (any split: partial packets are buffered). Returns 0, or
 * -1: close the connection after flushing what the engine queued (e.g. a
 * CONNACK refusal or a 5.0 DISCONNECT with the reason), or ENG_INPUT_MORE:
 * this client's work is not done (a SUBSCRIBE with many filters, many
 * retained messages to send, many packets at once: each call does a
 * bounded amount), call again with len 0 on a later turn of the loop,
 * after serving other connections; reading more from this client can
 * wait until then. */
#define ENG_INPUT_MORE 1
int eng_client_input(struct eng_client *c, const uint8_t *buf, size_t len);

/* The transport is gone (or the core closed it as asked). graceful: the
 * close was orderly (the engine asked for it, or the peer closed cleanly);
 * false for resets, errors and timeouts outside the engine. The will is
 * published unless a normal DISCONNECT came in; the session is kept or
 * dropped per clean session / session expiry. Frees c. */
void eng_client_closed(struct eng_client *c, bool graceful);

/* The backlog c's io.watch_drain was about has been written: messages
 * held back for it go out. */
void eng_client_drained(struct eng_client *c);

/* What the engine knows about c (client id etc. once connected). */
const struct eng_client_info *eng_client_info(const struct eng_client *c);

/* Do what is due at the clock's time: keep-alive (1.5 x keep-alive
 * without a packet), CONNECT timeout, will delay, session expiry,
 * retained messages' expiry. Call it when cfg.timer_set asked for it
 * (earlier is harmless). */
void eng_tick(struct eng *eng);

void eng_stats_get(const struct eng *eng, struct eng_stats *out);

#endif
