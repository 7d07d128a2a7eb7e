/* mqtt.h - MQTT 3.1.1 (protocol level 4) and 5.0 (level 5) packet codec.
 *
 * Four parts:
 *   - framing: given the bytes received so far, say "need more", "a packet
 *     of N bytes" or "malformed / too large", as early as the bytes allow;
 *   - decoding of one whole packet into struct mqtt_pkt, with the spec's
 *     validation (reserved bits, UTF-8, topic rules, packet ids, property
 *     ids per packet, duplicates ...). Failures are reported as MQTT 5
 *     reason codes (0x81 Malformed Packet, 0x82 Protocol Error, ...), which
 *     is what a v5 peer is told; a 3.1.1 peer is simply disconnected;
 *   - encoding of struct mqtt_pkt (structural checks only, so that tests
 *     can also build packets a strict peer must refuse);
 *   - topic helpers (validation, matching with + and #) and the small
 *     CONNECT / CONNACK / PUBLISH helpers a client needs.
 *
 * Nothing here allocates. Decoded strings, binary data, payloads and
 * property blocks POINT INTO THE BUFFER GIVEN TO mqtt_decode(): they are
 * valid as long as that buffer is, and must be copied to outlive it.
 * Strings are not NUL-terminated.
 *
 * References: MQTT Version 3.1.1 (OASIS Standard, 2014) and MQTT Version
 * 5.0 (OASIS Standard, 2019).
 */
#ifndef PPMQ_MQTT_H
#define PPMQ_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels (the CONNECT "Protocol Level" byte). */
#define MQTT_V31  3   /* "MQIsdp": recognised and refused (CONNACK 0x01) */
#define MQTT_V311 4
#define MQTT_V5   5

#define MQTT_MAX_REMAINING  268435455u           /* 4-byte variable int */
#define MQTT_MAX_PACKET     (1u + 4u + MQTT_MAX_REMAINING)
#define MQTT_MAX_STR        65535u               /* UTF-8 string / binary data */

/* ---- packet types ------------------------------------------------------ */

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
	MQTT_AUTH = 15,          /* 5.0 only */
};

/* "CONNECT", "PUBLISH", ...; "RESERVED" for 0 and out of range. */
const char *mqtt_type_name(int type);

/* ---- return and reason codes ------------------------------------------- */

/* 3.1.1 CONNACK return codes. */
enum mqtt_connack_v3 {
	MQTT_CONNACK_ACCEPTED = 0x00,
	MQTT_CONNACK_REFUSED_PROTOCOL_VERSION = 0x01,
	MQTT_CONNACK_REFUSED_IDENTIFIER = 0x02,
	MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE = 0x03,
	MQTT_CONNACK_REFUSED_BAD_USERNAME_PASSWORD = 0x04,
	MQTT_CONNACK_REFUSED_NOT_AUTHORIZED = 0x05,
};

/* 5.0 reason codes. 0x00 also means Normal disconnection / Granted QoS 0. */
enum mqtt_rc {
	MQTT_RC_SUCCESS = 0x00,
	MQTT_RC_NORMAL_DISCONNECTION = 0x00,
	MQTT_RC_GRANTED_QOS_0 = 0x00,
	MQTT_RC_GRANTED_QOS_1 = 0x01,
	MQTT_RC_GRANTED_QOS_2 = 0x02,
	MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
	MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	MQTT_RC_CONTINUE_AUTHENTICATION = 0x18,
	MQTT_RC_REAUTHENTICATE = 0x19,
	MQTT_RC_UNSPECIFIED = 0x80,
	MQTT_RC_MALFORMED_PACKET = 0x81,
	MQTT_RC_PROTOCOL_ERROR = 0x82,
	MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
	MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
	MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
	MQTT_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
	MQTT_RC_NOT_AUTHORIZED = 0x87,
	MQTT_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT_RC_SERVER_BUSY = 0x89,
	MQTT_RC_BANNED = 0x8A,
	MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
	MQTT_RC_BAD_AUTHENTICATION_METHOD = 0x8C,
	MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
	MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
	MQTT_RC_TOPIC_NAME_INVALID = 0x90,
	MQTT_RC_PACKET_ID_IN_USE = 0x91,
	MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
	MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
	MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
	MQTT_RC_PACKET_TOO_LARGE = 0x95,
	MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
	MQTT_RC_QUOTA_EXCEEDED = 0x97,
	MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
	MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
	MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
	MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
	MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
	MQTT_RC_SERVER_MOVED = 0x9D,
	MQTT_RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E,
	MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
	MQTT_RC_MAXIMUM_CONNECT_TIME = 0xA0,
	MQTT_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED = 0xA1,
	MQTT_RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2,
};

/* 3.1.1 SUBACK failure code (5.0 uses reason codes >= 0x80). */
#define MQTT_SUBACK_FAILURE 0x80

/* Names for logs. mqtt_reason_name: the 5.0 name ("Malformed Packet"),
 * "Success" for 0x00, "unknown" when not a reason code.
 * mqtt_connack_name: the 3.1.1 return code name ("Connection Refused,
 * bad user name or password") when version < 5, else mqtt_reason_name. */
const char *mqtt_reason_name(uint8_t rc);
const char *mqtt_connack_name(uint8_t version, uint8_t rc);

/* ---- framing ----------------------------------------------------------- */

#define MQTT_NEED_MORE        0
#define MQTT_FRAME_MALFORMED  (-1)  /* 5th Remaining Length byte, or similar */
#define MQTT_FRAME_TOO_LARGE  (-2)  /* whole packet would exceed max_packet */

/* Look at the bytes received so far (buf may hold several packets; only
 * the first one is measured). Returns the whole first packet's length
 * (fixed header + remaining length, > 0), MQTT_NEED_MORE when more bytes
 * are needed to say, MQTT_FRAME_MALFORMED or MQTT_FRAME_TOO_LARGE.
 * TOO_LARGE is reported as soon as the length field is complete, before
 * the body has arrived. max_packet counts the whole packet as 5.0's
 * Maximum Packet Size does; 0 means MQTT_MAX_PACKET. The packet type is
 * not checked here (mqtt_decode does). */
long mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet);

/* The first packet's whole length as its fixed header declares it, as
 * soon as the Remaining Length field is complete (the body may not have
 * arrived): > 0, MQTT_NEED_MORE or MQTT_FRAME_MALFORMED. */
long mqtt_frame_size(const uint8_t *buf, size_t len);

/* The protocol level the first bytes of a CONNECT announce (3 for 3.1's
 * "MQIsdp", 4, 5 ...), or 0 while they do not say it yet, or when they
 * are no CONNECT with a known protocol name. */
uint8_t mqtt_connect_level(const uint8_t *buf, size_t len);

/* ---- values ------------------------------------------------------------ */

/* A UTF-8 string or binary data: bytes, not NUL-terminated. p may be
 * NULL when len == 0. */
struct mqtt_str {
	const char *p;
	size_t len;
};

/* Wrap a C string (NULL gives {NULL, 0}). */
struct mqtt_str mqtt_cstr(const char *s);
/* Compare with a C string. */
bool mqtt_str_eq(struct mqtt_str a, const char *s);

struct mqtt_user_prop {
	struct mqtt_str key, val;
};

/* ---- 5.0 properties ---------------------------------------------------- */

enum mqtt_prop_id {
	MQTT_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,
	MQTT_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,
	MQTT_PROP_CONTENT_TYPE = 0x03,
	MQTT_PROP_RESPONSE_TOPIC = 0x08,
	MQTT_PROP_CORRELATION_DATA = 0x09,
	MQTT_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,
	MQTT_PROP_SESSION_EXPIRY_INTERVAL = 0x11,
	MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,
	MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
	MQTT_PROP_AUTHENTICATION_METHOD = 0x15,
	MQTT_PROP_AUTHENTICATION_DATA = 0x16,
	MQTT_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,
	MQTT_PROP_WILL_DELAY_INTERVAL = 0x18,
	MQTT_PROP_REQUEST_RESPONSE_INFORMATION = 0x19,
	MQTT_PROP_RESPONSE_INFORMATION = 0x1A,
	MQTT_PROP_SERVER_REFERENCE = 0x1C,
	MQTT_PROP_REASON_STRING = 0x1F,
	MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
	MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
	MQTT_PROP_TOPIC_ALIAS = 0x23,
	MQTT_PROP_MAXIMUM_QOS = 0x24,
	MQTT_PROP_RETAIN_AVAILABLE = 0x25,
	MQTT_PROP_USER_PROPERTY = 0x26,
	MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
	MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28,
	MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
	MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE = 0x2A,
};

/* Property set for mqtt_props_decode's ctx argument: the Will Properties
 * of a CONNECT (packet types use their enum mqtt_type value). */
#define MQTT_PROPS_WILL 0

#define MQTT_MAX_SUB_IDS 16   /* Subscription Identifiers kept per PUBLISH */

/* Every 5.0 property. A property is present when its bit is set in
 * `present` (MQTT_PROP_BIT(id)); the value fields of absent properties
 * are zero. User properties and Subscription Identifiers may repeat. */
struct mqtt_props {
	uint64_t present;

	uint8_t payload_format;          /* 0x01: 0 bytes, 1 UTF-8 */
	uint32_t message_expiry;         /* 0x02: seconds */
	struct mqtt_str content_type;    /* 0x03 */
	struct mqtt_str response_topic;  /* 0x08 */
	struct mqtt_str correlation_data;/* 0x09: binary */
	uint32_t sub_ids[MQTT_MAX_SUB_IDS]; /* 0x0B, in order; 1..268435455 (encode: the
					       first n_sub_ids, no `present` bit needed) */
	unsigned n_sub_ids;              /* decode: extra ones beyond the array are validated and dropped */
	uint32_t session_expiry;         /* 0x11: seconds, 0xFFFFFFFF = never */
	struct mqtt_str assigned_client_id; /* 0x12 */
	uint16_t server_keepalive;       /* 0x13 */
	struct mqtt_str auth_method;     /* 0x15 */
	struct mqtt_str auth_data;       /* 0x16: binary */
	uint8_t request_problem_info;    /* 0x17: 0 or 1 (default 1) */
	uint32_t will_delay;             /* 0x18: seconds */
	uint8_t request_response_info;   /* 0x19: 0 or 1 */
	struct mqtt_str response_info;   /* 0x1A */
	struct mqtt_str server_reference;/* 0x1C */
	struct mqtt_str reason_string;   /* 0x1F */
	uint16_t receive_maximum;        /* 0x21: 1..65535 */
	uint16_t topic_alias_maximum;    /* 0x22 */
	uint16_t topic_alias;            /* 0x23: 1..65535 */
	uint8_t maximum_qos;             /* 0x24: 0 or 1 */
	uint8_t retain_available;        /* 0x25: 0 or 1 */
	uint32_t maximum_packet_size;    /* 0x27: >= 1 */
	uint8_t wildcard_sub_available;  /* 0x28 */
	uint8_t sub_id_available;        /* 0x29 */
	uint8_t shared_sub_available;    /* 0x2A */

	/* 0x26 User Property. Decode: n_user pairs, read them with
	 * mqtt_props_user_next() (user stays NULL). Encode: n_user pairs
	 * from `user`; when user is NULL, the user properties found in raw
	 * are copied, in order (so decoded properties re-encode as they came). */
	size_t n_user;
	const struct mqtt_user_prop *user;

	/* Decode: the property block as received, without its length. */
	const uint8_t *raw;
	size_t raw_len;
};

#define MQTT_PROP_BIT(id)     ((uint64_t)1 << (id))
#define MQTT_HAS(props, id)   (((props)->present & MQTT_PROP_BIT(id)) != 0)
#define MQTT_PROP_SET(props, id) ((props)->present |= MQTT_PROP_BIT(id))

/* Decode a property block (its content, without the length) as allowed in
 * packet type ctx (or MQTT_PROPS_WILL). Returns 0, or a reason code:
 * 0x81 for unknown / not allowed ids and truncated values, 0x82 for
 * duplicates and out-of-range values. *why (may be NULL) gets a static
 * description. Pointers in *out point into raw. */
int mqtt_props_decode(const uint8_t *raw, size_t len, int ctx,
		      struct mqtt_props *out, const char **why);

/* Iterate the user properties of decoded props: *pos starts at 0.
 * Returns true and fills *out while there is one more. */
bool mqtt_props_user_next(const struct mqtt_props *pr, size_t *pos,
			  struct mqtt_user_prop *out);

/* ---- packets ----------------------------------------------------------- */

struct mqtt_connect {
	struct mqtt_str protocol_name;   /* decode: as sent; encode: empty => "MQTT" ("MQIsdp" for level 3) */
	uint8_t version;                 /* protocol level: 3, 4, 5 (decode sets it even on failure once read) */
	bool clean;                      /* Clean Session (3.1.1) / Clean Start (5.0) */
	uint16_t keepalive;              /* seconds, 0 = off */
	struct mqtt_props props;         /* 5.0 */
	struct mqtt_str client_id;       /* may be empty */

	bool will;
	uint8_t will_qos;
	bool will_retain;
	struct mqtt_props will_props;    /* 5.0 */
	struct mqtt_str will_topic;
	struct mqtt_str will_payload;    /* binary */

	bool has_username;
	struct mqtt_str username;
	bool has_password;
	struct mqtt_str password;        /* binary */
};

struct mqtt_connack {
	bool session_present;
	uint8_t rc;                      /* 3.1.1 return code or 5.0 reason code */
	struct mqtt_props props;         /* 5.0 */
};

struct mqtt_publish {
	uint8_t qos;                     /* 0, 1, 2 */
	bool dup, retain;
	struct mqtt_str topic;           /* 5.0: may be empty when a Topic Alias is given */
	uint16_t id;                     /* QoS > 0 only */
	struct mqtt_props props;         /* 5.0 */
	const uint8_t *payload;
	size_t payload_len;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct mqtt_ack {
	uint16_t id;
	uint8_t rc;                      /* 5.0; 0x00 when absent on the wire */
	struct mqtt_props props;         /* 5.0 */
};

/* One SUBSCRIBE entry. */
struct mqtt_sub {
	struct mqtt_str filter;          /* UTF-8 checked by decode; filter syntax is NOT (see mqtt_topic_filter_valid) */
	uint8_t qos;                     /* requested maximum QoS */
	bool no_local;                   /* 5.0 */
	bool retain_as_published;       /* 5.0 */
	uint8_t retain_handling;         /* 5.0: 0 send, 1 send if new, 2 do not send */
};

struct mqtt_subscribe {
	uint16_t id;
	struct mqtt_props props;         /* 5.0 */
	size_t n;                        /* entries (decode: >= 1) */
	const struct mqtt_sub *subs;     /* encode: n entries (NULL: from raw). decode: NULL, use mqtt_subscribe_next */
	const uint8_t *raw;              /* decode: the payload */
	size_t raw_len;
};

struct mqtt_unsubscribe {
	uint16_t id;
	struct mqtt_props props;         /* 5.0 */
	size_t n;                        /* filters (decode: >= 1) */
	const struct mqtt_str *filters;  /* encode: n filters (NULL: from raw). decode: NULL, use mqtt_unsubscribe_next */
	const uint8_t *raw;              /* decode: the payload */
	size_t raw_len;
};

/* SUBACK and UNSUBACK (3.1.1 UNSUBACK has no codes: n == 0). */
struct mqtt_suback {
	uint16_t id;
	struct mqtt_props props;         /* 5.0 */
	size_t n;
	const uint8_t *rcs;              /* n return / reason codes */
};

/* DISCONNECT and AUTH (5.0 reason code + properties; empty in 3.1.1). */
struct mqtt_disconnect {
	uint8_t rc;                      /* 0x00 when absent on the wire */
	struct mqtt_props props;
};

struct mqtt_pkt {
	enum mqtt_type type;
	uint8_t flags;                   /* low nibble of the first byte; encode ignores it (derives it) */
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_ack ack;                 /* PUBACK PUBREC PUBREL PUBCOMP */
		struct mqtt_subscribe subscribe;
		struct mqtt_suback suback;           /* SUBACK UNSUBACK */
		struct mqtt_unsubscribe unsubscribe;
		struct mqtt_disconnect disconnect;   /* DISCONNECT AUTH */
	};
};

/* Decode one whole packet: buf/len exactly as measured by mqtt_frame().
 * version is the connection's protocol level (4 or 5) and selects the
 * format of every packet but CONNECT, which carries its own (p->connect.
 * version). Returns 0, or a 5.0 reason code saying why the packet is
 * refused; *why (may be NULL) then gets a static one-line description:
 *   0x81 Malformed Packet     lengths, reserved bits, bad UTF-8 (U+0000,
 *                             surrogates, overlong), QoS 3, unknown type,
 *                             unknown / misplaced property ids
 *   0x82 Protocol Error       duplicate properties, packet id 0, bad
 *                             property values, empty SUBSCRIBE, password
 *                             without user name (3.1.1), DUP on QoS 0 ...
 *   0x84 Unsupported Protocol Version   CONNECT level other than 4 / 5
 *                             (p->connect.version says which, 3 for MQIsdp)
 *   0x90 Topic Name invalid   wildcard or empty topic in PUBLISH / will
 *   0x94 Topic Alias invalid  Topic Alias property of 0
 * A CONNECT whose protocol name is not "MQTT" (or "MQIsdp" with level 3)
 * is 0x81 with version 0: close without CONNACK.
 * Decoded strings point into buf. */
int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version,
		struct mqtt_pkt *p, const char **why);

/* Iterate decoded SUBSCRIBE entries / UNSUBSCRIBE filters: *pos starts at
 * 0; true while there is one more. */
bool mqtt_subscribe_next(const struct mqtt_subscribe *s, size_t *pos, struct mqtt_sub *out);
bool mqtt_unsubscribe_next(const struct mqtt_unsubscribe *u, size_t *pos, struct mqtt_str *out);

/* Encode p for a connection at protocol level version (CONNECT uses
 * p->connect.version). Returns the packet's length; when that is larger
 * than cap nothing useful is written (call again with a bigger buffer,
 * like snprintf). Returns -1 when p cannot be encoded at all (a string
 * over 65535 bytes, remaining length over the limit, QoS > 2, unknown
 * type). Only structure is checked: packets a strict receiver refuses
 * (wildcards in a PUBLISH topic, packet id 0 ...) can be built on
 * purpose. For 5.0 acks and DISCONNECT, the reason code and properties
 * are omitted when the code is 0x00 and there are no properties. */
long mqtt_encode(const struct mqtt_pkt *p, uint8_t version, uint8_t *buf, size_t cap);

/* ---- text and topics --------------------------------------------------- */

/* Well-formed UTF-8 as MQTT requires: no U+0000, no surrogates, no
 * overlong forms, nothing above U+10FFFF. */
bool mqtt_utf8_valid(const void *s, size_t len);

/* PUBLISH topic name: 1..65535 bytes, valid UTF-8, no '+' or '#'. */
bool mqtt_topic_name_valid(const char *s, size_t len);
/* Topic filter: 1..65535 bytes, valid UTF-8; '+' alone in its level; '#'
 * alone in the last level. */
bool mqtt_topic_filter_valid(const char *s, size_t len);

/* Does topic name match filter? NUL-terminated, both assumed valid.
 * '+' matches one level, '#' the parent level and every level below;
 * filters starting with a wildcard do not match topics starting with '$'. */
bool mqtt_topic_match(const char *filter, const char *topic);

/* ---- client helpers ---------------------------------------------------- */

/* Build a CONNECT: version 4 or 5; client_id may be "" (or NULL);
 * username / password NULL when absent. Returns the length (> cap: did
 * not fit, nothing usable written) or -1 on bad input. */
long mqtt_build_connect(uint8_t *buf, size_t cap, uint8_t version,
			const char *client_id, const char *username,
			const char *password, uint16_t keepalive, bool clean);

/* Read a CONNACK at the start of buf (bytes received so far). Returns its
 * length (> 0) and sets *session_present and *rc (3.1.1 return code or
 * 5.0 reason code); MQTT_NEED_MORE (0) when incomplete; -1 when the bytes
 * are not a valid CONNACK for that version (another packet type, bad
 * length, reserved bits ...). Either out pointer may be NULL. */
long mqtt_parse_connack(const uint8_t *buf, size_t len, uint8_t version,
			bool *session_present, uint8_t *rc);

/* Build a PUBLISH (id is used for QoS > 0 only) / a DISCONNECT (reason
 * used in 5.0 only) / a PINGREQ. Same return convention as
 * mqtt_build_connect. */
long mqtt_build_publish(uint8_t *buf, size_t cap, uint8_t version,
			const char *topic, const void *payload, size_t len,
			uint8_t qos, bool retain, uint16_t id);
long mqtt_build_disconnect(uint8_t *buf, size_t cap, uint8_t version, uint8_t reason);
long mqtt_build_pingreq(uint8_t *buf, size_t cap);

/* Build a SUBSCRIBE of one filter at maximum QoS qos / an acknowledgement
 * of packet id: type MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL or
 * MQTT_PUBCOMP, reason code 0x00 (-1 for another type). Same return
 * convention as mqtt_build_connect. */
long mqtt_build_subscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t id,
			  const char *filter, uint8_t qos);
long mqtt_build_ack(uint8_t *buf, size_t cap, uint8_t version, enum mqtt_type type,
		    uint16_t id);

#endif
