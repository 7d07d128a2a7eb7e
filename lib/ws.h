/* ws.h - WebSocket (RFC 6455) handshake and framing, server and client side.
 *
 * Incremental and allocation-free, in the same style as pp_parse(): the
 * caller keeps the bytes received so far in its own buffer and hands them
 * in again when more arrive; each call says how many bytes it consumed and
 * never looks past what it needs. Bytes after the HTTP upgrade request (a
 * first frame in the same segment) and after a frame stay in place.
 *
 * MQTT over WebSocket: the MQTT byte stream is the concatenation of the
 * binary frames' payloads. An MQTT packet may span frames and one frame
 * may hold several packets, so the caller appends every WS_EV_DATA slice to
 * its MQTT input buffer and parses packets from there.
 *
 * Handshake, server:  ws_parse_request() -> ws_build_response() or
 *                     ws_build_error(req.status ...)
 * Handshake, client:  ws_client_key() + ws_build_request() ->
 *                     ws_parse_response()
 * Frames:             ws_decoder_init() + ws_decode() in a loop;
 *                     ws_encode() / ws_encode_close() / ws_header_encode()
 *
 * The encoder writes whatever it is told (any opcode, RSV bits, length
 * form, masked or not), so a test client can misbehave on purpose; the
 * decoder enforces every rule.
 */
#ifndef PPMQ_WS_H
#define PPMQ_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN       24     /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN    28     /* base64 of a SHA-1 */
#define WS_MAX_HDR       14     /* 2 + 8 (length) + 4 (mask) */
#define WS_MAX_CONTROL   125    /* control frame payload limit */
#define WS_REQ_MAX       8192   /* default limit on an upgrade request */

/* ---- handshake: server side ------------------------------------------------ */

struct ws_server_opts {
	const char *path;          /* required request path (query ignored); NULL = any */
	const char *subprotocol;   /* the one we speak; default "mqtt" */
	bool require_subprotocol;  /* default true: the client must offer it */
	size_t max_len;            /* request size limit; default WS_REQ_MAX */
};
void ws_server_opts_init(struct ws_server_opts *o);

/* What a parsed request said, copied out of the buffer (the buffer may be
 * reused at once). On failure, status and reason say what to answer. */
struct ws_request {
	char path[256];            /* request-target as sent, query included */
	char host[256];
	char key[WS_KEY_LEN + 1];
	char subprotocol[32];      /* the one selected, "" = none */
	char origin[256];
	char forwarded_for[128];   /* X-Forwarded-For as sent, "" when absent */
	int status;                /* 101 on success; 400, 404, 426 on failure */
	char reason[128];          /* why it was refused */
};

/* Parse an HTTP/1.1 upgrade request at the start of buf.
 * Returns the request length (> 0: bytes consumed, the rest of buf is the
 * WebSocket stream) and fills *req; 0 when more bytes are needed; -1 when
 * the request must be refused: req->status (400 bad request, 404 path
 * mismatch, 426 unsupported Sec-WebSocket-Version) and req->reason.
 * Checks: method GET, HTTP/1.1, Host, Upgrade: websocket, Connection
 * containing the token "upgrade" (both case-insensitive token lists),
 * Sec-WebSocket-Key (16 bytes in base64), Sec-WebSocket-Version 13, the
 * path, and Sec-WebSocket-Protocol containing the subprotocol (when
 * required). A prefix that cannot become "GET " fails at once, so
 * non-HTTP bytes (a raw MQTT CONNECT, a PROXY header on a listener
 * without PROXY support) are refused without waiting. */
int ws_parse_request(const uint8_t *buf, size_t len, const struct ws_server_opts *o,
		     struct ws_request *req);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key GUID)) into
 * out[WS_ACCEPT_LEN + 1]. Returns 0 or -1. */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* The 101 response for a request parsed with success. Returns its length,
 * or -1 when cap is too small. */
int ws_build_response(const struct ws_request *req, char *out, size_t cap);

/* An error response ("HTTP/1.1 400 Bad Request", Connection: close,
 * a short text body with reason; 426 adds Sec-WebSocket-Version: 13).
 * reason may be NULL. Returns the length, or -1 when cap is too small. */
int ws_build_error(int status, const char *reason, char *out, size_t cap);

/* ---- handshake: client side ------------------------------------------------ */

/* A fresh random key into out[WS_KEY_LEN + 1]. Returns 0 or -1. */
int ws_client_key(char out[WS_KEY_LEN + 1]);

struct ws_client_req {
	const char *host;          /* Host header value, e.g. "localhost:8084" */
	const char *path;          /* default "/mqtt" */
	const char *key;           /* from ws_client_key() */
	const char *subprotocol;   /* NULL or "" = no Sec-WebSocket-Protocol */
	const char *origin;        /* NULL = none */
	const char *extra;         /* raw header lines, each ending "\r\n"; NULL = none */
};

/* Build the GET request. Returns the length, or -1 when cap is too small
 * or a field is missing. */
int ws_build_request(const struct ws_client_req *r, char *out, size_t cap);

struct ws_response {
	int status;                /* HTTP status code, 0 when unparsable */
	char subprotocol[32];      /* as selected by the server, "" = none */
	char reason[128];          /* why it was refused */
};

/* Parse the server's answer at the start of buf. Returns its length (> 0)
 * on a valid 101 (the rest of buf is the WebSocket stream); 0 when more
 * bytes are needed; -1 with resp->reason when it is not a valid upgrade:
 * another status, Upgrade/Connection missing, Sec-WebSocket-Accept not
 * matching key, or a subprotocol other than the one asked for (a missing
 * one is accepted; resp->subprotocol is then ""). */
int ws_parse_response(const uint8_t *buf, size_t len, const char *key,
		      const char *subprotocol, struct ws_response *resp);

/* ---- frames ---------------------------------------------------------------- */

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};
const char *ws_opcode_name(int op); /* "binary", "close", ... "reserved" */

/* Close status codes used here (RFC 6455 7.4.1). */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

/* A frame header, both for decoding and for (mis)encoding. */
struct ws_frame_hdr {
	bool fin;
	uint8_t rsv;               /* RSV1..3 as bits 0x4, 0x2, 0x1 */
	uint8_t opcode;            /* 4 bits */
	bool masked;
	uint8_t mask[4];
	uint64_t len;              /* payload length */
	uint8_t len_form;          /* encode: 0 = minimal, or force 7 / 16 / 64-bit
				    * (7: len must be <= 125) */
};

/* Encode a header into out (at most WS_MAX_HDR bytes). Writes exactly what
 * h says, rules or not. Returns the header length, -1 when len does not
 * fit the forced form. */
int ws_header_encode(const struct ws_frame_hdr *h, uint8_t out[WS_MAX_HDR]);

/* Encode one whole frame: header then payload, masked with mask when it is
 * not NULL (clients must mask, servers must not). Returns the frame length,
 * or -1 when cap is too small. payload may be NULL when len == 0. */
int ws_encode(uint8_t *out, size_t cap, bool fin, uint8_t opcode,
	      const void *payload, size_t len, const uint8_t mask[4]);

/* A close frame with a status code and an optional reason (truncated to
 * fit 125 bytes). code 0 = no body. Returns the length or -1. */
int ws_encode_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
		    const uint8_t mask[4]);

/* XOR p with the mask, starting at payload offset `offset` (so a payload
 * can be (un)masked in pieces). */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);

/* Four random bytes for a client mask. Returns 0 or -1. */
int ws_random_mask(uint8_t mask[4]);

/* Is code acceptable in a received close frame (1000-1003, 1007-1011,
 * 3000-4999)? */
bool ws_close_code_valid(unsigned code);

/* Split a close frame payload: *code is 0 (none given) or the status code;
 * reason/reason_len point into p. Returns 0, or -1 when malformed (length
 * 1, or an invalid code). */
int ws_close_parse(const uint8_t *p, size_t len, uint16_t *code,
		   const uint8_t **reason, size_t *reason_len);

/* ---- decoder --------------------------------------------------------------- */

enum ws_role {
	WS_ROLE_SERVER, /* decodes client frames: they must be masked */
	WS_ROLE_CLIENT, /* decodes server frames: they must not be masked */
};

enum ws_ev_type {
	WS_EV_NONE = 0, /* need more bytes (consumed what it could) */
	WS_EV_DATA,     /* a slice of a text/binary/continuation frame's payload */
	WS_EV_CONTROL,  /* a whole close/ping/pong frame */
	WS_EV_ERROR,    /* protocol violation: close with ev.close_code */
};

struct ws_event {
	enum ws_ev_type type;
	uint8_t opcode;        /* DATA: the message's opcode (text or binary, also
				* for continuation frames); CONTROL: the frame's */
	bool frame_end;        /* DATA: the slice ends its frame */
	bool msg_end;          /* DATA: ... and that frame had FIN: message complete */
	uint8_t *data;         /* payload, unmasked in place, inside the caller's buffer */
	size_t len;
	uint16_t close_code;   /* ERROR: the code to close with */
	const char *err;       /* ERROR: why (points into the decoder) */
};

struct ws_decoder {
	/* settings (set after ws_decoder_init) */
	enum ws_role role;
	uint64_t max_frame;    /* payload limit per frame, 0 = none; over it: 1009 */
	bool binary_only;      /* text frames are an error (1003): MQTT needs binary */

	/* state (private) */
	bool in_frame;         /* header consumed, payload being delivered */
	struct ws_frame_hdr cur;
	uint64_t done;         /* payload bytes of cur delivered so far */
	bool in_msg;           /* a fragmented message is open */
	uint8_t msg_opcode;
	bool close_seen;
	uint16_t err_code;     /* != 0: failed, every call repeats the error */
	char err[96];
};

void ws_decoder_init(struct ws_decoder *d, enum ws_role role);

/* Decode from buf[0..len) (modified: payloads are unmasked in place).
 * Returns the bytes consumed and fills *ev. Call in a loop, advancing by
 * the return value, until ev->type is WS_EV_NONE (need more) or
 * WS_EV_ERROR; keep the unconsumed bytes and present them again, with
 * what arrives next, at the front of buf.
 *   - a frame header is consumed only once whole (<= 14 bytes);
 *   - a control frame only once whole (<= 14 + 125 bytes): the caller's
 *     buffer must hold at least 139 bytes;
 *   - data payload is delivered as it arrives, in slices.
 * Enforced: RSV bits zero, known opcodes, masking by role, control frames
 * FIN and <= 125 bytes, continuation only inside a fragmented message and
 * no new data frame inside one, 64-bit length high bit zero, max_frame,
 * close payload (length 1, an invalid code, a reason that is not UTF-8),
 * nothing after a close. Text payloads are not checked for UTF-8 (MQTT
 * uses binary frames; set binary_only to refuse text).
 * On WS_EV_ERROR nothing is consumed and the decoder stays in error. */
size_t ws_decode(struct ws_decoder *d, uint8_t *buf, size_t len, struct ws_event *ev);

#endif
