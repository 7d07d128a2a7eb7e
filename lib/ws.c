/* ws.c - WebSocket handshake and framing (RFC 6455), see ws.h. */
#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- small string helpers ----------------------------------------------- */

/* Offset of "\r\n\r\n" + 4 within buf[0..len), or 0 when absent. */
static size_t find_head_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A header field value with surrounding whitespace removed. */
struct span {
	const uint8_t *p;
	size_t n;
};

static struct span trim(const uint8_t *p, size_t n)
{
	while (n && is_ows(*p)) {
		p++;
		n--;
	}
	while (n && is_ows(p[n - 1]))
		n--;
	return (struct span){ p, n };
}

static bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp((const char *)s.p, lit, n) == 0;
}

/* Does the comma-separated list contain token tok (case-insensitive or not)? */
static bool list_has(struct span s, const char *tok, bool icase)
{
	size_t i = 0, tl = strlen(tok);
	while (i <= s.n) {
		size_t j = i;
		while (j < s.n && s.p[j] != ',')
			j++;
		struct span item = trim(s.p + i, j - i);
		if (item.n == tl && (icase ? strncasecmp((const char *)item.p, tok, tl) == 0
					   : memcmp(item.p, tok, tl) == 0))
			return true;
		i = j + 1;
	}
	return false;
}

/* Copy a span into a fixed buffer; false when it does not fit. */
static bool span_copy(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap)
		return false;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return true;
}

static bool printable_ascii(struct span s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < 0x20 || s.p[i] == 0x7F)
			if (s.p[i] != '\t')
				return false;
	return true;
}

static bool is_b64(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* 16 bytes in base64: 22 alphabet characters then "==". */
static bool key_valid(struct span s)
{
	if (s.n != WS_KEY_LEN || s.p[22] != '=' || s.p[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!is_b64(s.p[i]))
			return false;
	return true;
}

/* Iterate over header lines of a head (request or status line excluded).
 * line points at the start of a line; returns false at the blank line. */
struct hdr {
	struct span name, value;
};

/* Parse one header line [p, eol). Returns false when malformed. */
static bool parse_header_line(const uint8_t *p, size_t n, struct hdr *h)
{
	size_t i = 0;
	while (i < n && is_tchar(p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':')
		return false;
	h->name = (struct span){ p, i };
	h->value = trim(p + i + 1, n - i - 1);
	return printable_ascii(h->value);
}

/* Next CRLF-terminated line starting at *pos; sets *line and its length
 * (without CRLF) and advances *pos. Returns false if a bare CR or LF or a
 * NUL is found (malformed). The head is known to end with CRLFCRLF. */
static bool next_line(const uint8_t *buf, size_t end, size_t *pos, const uint8_t **line,
		      size_t *n)
{
	size_t i = *pos;
	while (i + 1 < end && !(buf[i] == '\r' && buf[i + 1] == '\n')) {
		if (buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\0')
			return false;
		i++;
	}
	if (i + 1 >= end)
		return false;
	*line = buf + *pos;
	*n = i - *pos;
	*pos = i + 2;
	return true;
}

/* ---- server side ---------------------------------------------------------- */

void ws_server_opts_init(struct ws_server_opts *o)
{
	memset(o, 0, sizeof *o);
	o->path = "/mqtt";
	o->subprotocol = "mqtt";
	o->require_subprotocol = true;
	o->max_len = WS_REQ_MAX;
}

static int req_fail(struct ws_request *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int req_fail(struct ws_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	req->status = status;
	va_start(ap, fmt);
	vsnprintf(req->reason, sizeof req->reason, fmt, ap);
	va_end(ap);
	return -1;
}

/* What the header fields of an upgrade request said, as they are read. */
struct req_seen {
	bool upgrade, conn, key, host, version, version_ok, offered;
	char version_text[16];
};

/* GET SP target SP HTTP/1.1: 0, or -1 with req->status and reason. */
static int parse_request_line(const uint8_t *line, size_t n, struct ws_request *req)
{
	const uint8_t *sp1 = memchr(line, ' ', n);
	const uint8_t *t = sp1 + 1;
	const uint8_t *sp2 = memchr(t, ' ', n - (size_t)(t - line));

	if (!sp2 || sp2 == t)
		return req_fail(req, 400, "malformed request line");
	struct span target = { t, (size_t)(sp2 - t) };
	struct span ver = { sp2 + 1, n - (size_t)(sp2 + 1 - line) };
	if (!(ver.n == 8 && memcmp(ver.p, "HTTP/1.1", 8) == 0))
		return req_fail(req, 400, "not HTTP/1.1");
	if (target.p[0] != '/')
		return req_fail(req, 400, "request target is not a path");
	for (size_t i = 0; i < target.n; i++)
		if (target.p[i] <= 0x20 || target.p[i] >= 0x7F)
			return req_fail(req, 400, "bad character in request target");
	if (!span_copy(req->path, sizeof req->path, target))
		return req_fail(req, 400, "request target too long");
	return 0;
}

/* One header field: 0, or -1 with req->status and reason. */
static int take_field(const struct hdr *h, const char *proto, struct req_seen *s,
		      struct ws_request *req)
{
	if (span_ieq(h->name, "Host")) {
		if (s->host)
			return req_fail(req, 400, "duplicate Host");
		s->host = true;
		if (h->value.n == 0 || !span_copy(req->host, sizeof req->host, h->value))
			return req_fail(req, 400, "bad Host");
	} else if (span_ieq(h->name, "Upgrade")) {
		s->upgrade = s->upgrade || list_has(h->value, "websocket", true);
	} else if (span_ieq(h->name, "Connection")) {
		s->conn = s->conn || list_has(h->value, "upgrade", true);
	} else if (span_ieq(h->name, "Sec-WebSocket-Key")) {
		if (s->key)
			return req_fail(req, 400, "duplicate Sec-WebSocket-Key");
		if (!key_valid(h->value))
			return req_fail(req, 400, "Sec-WebSocket-Key is not 16 bytes in base64");
		s->key = true;
		span_copy(req->key, sizeof req->key, h->value);
	} else if (span_ieq(h->name, "Sec-WebSocket-Version")) {
		/* two versions: not "13" */
		s->version_ok = !s->version && h->value.n == 2 && memcmp(h->value.p, "13", 2) == 0;
		s->version = true;
		if (!span_copy(s->version_text, sizeof s->version_text, h->value))
			snprintf(s->version_text, sizeof s->version_text, "?");
	} else if (span_ieq(h->name, "Sec-WebSocket-Protocol")) {
		s->offered = s->offered || list_has(h->value, proto, false);
	} else if (span_ieq(h->name, "Origin")) {
		span_copy(req->origin, sizeof req->origin, h->value);
	} else if (span_ieq(h->name, "X-Forwarded-For")) {
		span_copy(req->forwarded_for, sizeof req->forwarded_for, h->value);
	}
	return 0;
}

/* The request as a whole: path, the fields an upgrade needs, the version,
 * the subprotocol. 0, or -1 with req->status and reason. */
static int check_request(const struct req_seen *s, const struct ws_server_opts *o,
			 const char *proto, struct ws_request *req)
{
	if (o->path) {
		size_t plen = strcspn(req->path, "?");
		if (plen != strlen(o->path) || strncmp(req->path, o->path, plen) != 0)
			return req_fail(req, 404, "path '%.*s' is not %s", (int)plen, req->path,
					o->path);
	}
	if (!s->host)
		return req_fail(req, 400, "no Host header");
	if (!s->upgrade)
		return req_fail(req, 400, "no 'Upgrade: websocket'");
	if (!s->conn)
		return req_fail(req, 400, "no 'Connection: upgrade'");
	if (!s->key)
		return req_fail(req, 400, "no Sec-WebSocket-Key");
	if (!s->version)
		return req_fail(req, 426, "no Sec-WebSocket-Version");
	if (!s->version_ok)
		return req_fail(req, 426, "Sec-WebSocket-Version '%s' is not 13", s->version_text);
	if (s->offered)
		snprintf(req->subprotocol, sizeof req->subprotocol, "%s", proto);
	else if (o->require_subprotocol)
		return req_fail(req, 400, "subprotocol '%s' not offered", proto);
	return 0;
}

int ws_parse_request(const uint8_t *buf, size_t len, const struct ws_server_opts *o,
		     struct ws_request *req)
{
	struct ws_server_opts defo;
	static const char get[] = "GET ";
	size_t head, pos = 0, n;
	const uint8_t *line;
	struct req_seen seen;

	memset(req, 0, sizeof *req);
	memset(&seen, 0, sizeof seen);
	if (!o) {
		ws_server_opts_init(&defo);
		o = &defo;
	}
	size_t max_len = o->max_len ? o->max_len : WS_REQ_MAX;
	const char *proto = o->subprotocol ? o->subprotocol : "mqtt";

	size_t pre = len < 4 ? len : 4;
	if (memcmp(buf, get, pre) != 0)
		return req_fail(req, 400, "not an HTTP GET request");
	head = find_head_end(buf, len < max_len ? len : max_len);
	if (head == 0) {
		if (len >= max_len)
			return req_fail(req, 400, "request head longer than %zu bytes", max_len);
		return 0;
	}
	if (!next_line(buf, head, &pos, &line, &n))
		return req_fail(req, 400, "malformed request line");
	if (parse_request_line(line, n, req) < 0)
		return -1;
	for (;;) {
		struct hdr h;
		if (!next_line(buf, head, &pos, &line, &n))
			return req_fail(req, 400, "malformed header line");
		if (n == 0)
			break;
		if (!parse_header_line(line, n, &h))
			return req_fail(req, 400, "malformed header line '%.*s'",
					(int)(n > 40 ? 40 : n), (const char *)line);
		if (take_field(&h, proto, &seen, req) < 0)
			return -1;
	}
	if (check_request(&seen, o, proto, req) < 0)
		return -1;
	req->status = 101;
	return (int)head;
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char cat[128];
	int n = snprintf(cat, sizeof cat, "%s%s", key ? key : "", WS_GUID);
	out[0] = '\0';
	if (!key || n < 0 || (size_t)n >= sizeof cat)
		return -1;
	SHA1((const unsigned char *)cat, (size_t)n, md);
	if (EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) != WS_ACCEPT_LEN)
		return -1;
	return 0;
}

/* snprintf result into a length or -1 when truncated. */
static int fit(int n, size_t cap)
{
	return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

int ws_build_response(const struct ws_request *req, char *out, size_t cap)
{
	char acc[WS_ACCEPT_LEN + 1];
	if (ws_accept_key(req->key, acc) < 0)
		return -1;
	if (req->subprotocol[0])
		return fit(snprintf(out, cap,
				    "HTTP/1.1 101 Switching Protocols\r\n"
				    "Upgrade: websocket\r\n"
				    "Connection: Upgrade\r\n"
				    "Sec-WebSocket-Accept: %s\r\n"
				    "Sec-WebSocket-Protocol: %s\r\n\r\n",
				    acc, req->subprotocol),
			   cap);
	return fit(snprintf(out, cap,
			    "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\n"
			    "Connection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: %s\r\n\r\n",
			    acc),
		   cap);
}

static const char *status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

int ws_build_error(int status, const char *reason, char *out, size_t cap)
{
	char body[160];
	int bl = snprintf(body, sizeof body, "%d %s%s%s\n", status, status_text(status),
			  reason && *reason ? ": " : "", reason ? reason : "");
	if (bl < 0)
		return -1;
	if ((size_t)bl >= sizeof body)
		bl = (int)sizeof body - 1;
	return fit(snprintf(out, cap,
			    "HTTP/1.1 %d %s\r\n"
			    "%s"
			    "Content-Type: text/plain\r\n"
			    "Content-Length: %d\r\n"
			    "Connection: close\r\n\r\n%.*s",
			    status, status_text(status),
			    status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", bl, bl, body),
		   cap);
}

/* ---- client side ---------------------------------------------------------- */

int ws_client_key(char out[WS_KEY_LEN + 1])
{
	unsigned char raw[16];
	out[0] = '\0';
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw) != WS_KEY_LEN)
		return -1;
	return 0;
}

int ws_build_request(const struct ws_client_req *r, char *out, size_t cap)
{
	const char *path = r->path && *r->path ? r->path : "/mqtt";
	if (!r->host || !*r->host || !r->key || !*r->key)
		return -1;
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "%s%s%s"
			 "%s%s%s"
			 "%s\r\n",
			 path, r->host, r->key,
			 r->subprotocol && *r->subprotocol ? "Sec-WebSocket-Protocol: " : "",
			 r->subprotocol && *r->subprotocol ? r->subprotocol : "",
			 r->subprotocol && *r->subprotocol ? "\r\n" : "",
			 r->origin ? "Origin: " : "", r->origin ? r->origin : "",
			 r->origin ? "\r\n" : "", r->extra ? r->extra : "");
	return fit(n, cap);
}

static int resp_fail(struct ws_response *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int resp_fail(struct ws_response *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return -1;
}

int ws_parse_response(const uint8_t *buf, size_t len, const char *key,
		      const char *subprotocol, struct ws_response *resp)
{
	static const char http[] = "HTTP/1.";
	size_t pre = len < 7 ? len : 7, head, pos = 0, n;
	const uint8_t *line;
	bool has_upgrade = false, has_conn = false, accept_ok = false, has_accept = false;
	char acc[WS_ACCEPT_LEN + 1];

	memset(resp, 0, sizeof *resp);
	if (memcmp(buf, http, pre) != 0)
		return resp_fail(resp, "not an HTTP response");
	head = find_head_end(buf, len < WS_REQ_MAX ? len : WS_REQ_MAX);
	if (head == 0) {
		if (len >= WS_REQ_MAX)
			return resp_fail(resp, "response head longer than %d bytes", WS_REQ_MAX);
		return 0;
	}
	if (!next_line(buf, head, &pos, &line, &n))
		return resp_fail(resp, "malformed status line");
	/* "HTTP/1.1 101 Switching Protocols" */
	if (n < 12 || line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' ||
	    line[10] > '9' || line[11] < '0' || line[11] > '9' || (n > 12 && line[12] != ' '))
		return resp_fail(resp, "malformed status line");
	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (resp->status != 101) {
		struct span txt = n > 13 ? trim(line + 13, n - 13) : (struct span){ line, 0 };
		return resp_fail(resp, "HTTP %d %.*s", resp->status,
				 (int)(txt.n > 60 ? 60 : txt.n), (const char *)txt.p);
	}
	if (ws_accept_key(key, acc) < 0)
		return resp_fail(resp, "bad key");
	for (;;) {
		struct hdr h;
		if (!next_line(buf, head, &pos, &line, &n))
			return resp_fail(resp, "malformed header line");
		if (n == 0)
			break;
		if (!parse_header_line(line, n, &h))
			return resp_fail(resp, "malformed header line");
		if (span_ieq(h.name, "Upgrade"))
			has_upgrade = has_upgrade || list_has(h.value, "websocket", true);
		else if (span_ieq(h.name, "Connection"))
			has_conn = has_conn || list_has(h.value, "upgrade", true);
		else if (span_ieq(h.name, "Sec-WebSocket-Accept")) {
			accept_ok = !has_accept && h.value.n == WS_ACCEPT_LEN &&
				    memcmp(h.value.p, acc, WS_ACCEPT_LEN) == 0;
			has_accept = true;
		} else if (span_ieq(h.name, "Sec-WebSocket-Protocol")) {
			if (!span_copy(resp->subprotocol, sizeof resp->subprotocol, h.value))
				return resp_fail(resp, "subprotocol too long");
		}
	}
	if (!has_upgrade)
		return resp_fail(resp, "101 without 'Upgrade: websocket'");
	if (!has_conn)
		return resp_fail(resp, "101 without 'Connection: upgrade'");
	if (!has_accept)
		return resp_fail(resp, "101 without Sec-WebSocket-Accept");
	if (!accept_ok)
		return resp_fail(resp, "Sec-WebSocket-Accept does not match the key");
	if (resp->subprotocol[0] &&
	    !(subprotocol && strcmp(resp->subprotocol, subprotocol) == 0))
		return resp_fail(resp, "server chose subprotocol '%s', not requested",
				 resp->subprotocol);
	return (int)head;
}

/* ---- frames --------------------------------------------------------------- */

const char *ws_opcode_name(int op)
{
	switch (op) {
	case WS_OP_CONT: return "continuation";
	case WS_OP_TEXT: return "text";
	case WS_OP_BINARY: return "binary";
	case WS_OP_CLOSE: return "close";
	case WS_OP_PING: return "ping";
	case WS_OP_PONG: return "pong";
	default: return "reserved";
	}
}

int ws_header_encode(const struct ws_frame_hdr *h, uint8_t out[WS_MAX_HDR])
{
	int form = h->len_form;
	size_t n = 0;
	if (form == 0)
		form = h->len <= 125 ? 7 : (h->len <= 0xFFFF ? 16 : 64);
	if ((form == 7 && h->len > 125) || (form == 16 && h->len > 0xFFFF) ||
	    (form != 7 && form != 16 && form != 64))
		return -1;
	out[n++] = (uint8_t)((h->fin ? 0x80 : 0) | ((h->rsv & 7) << 4) | (h->opcode & 0x0F));
	uint8_t m = h->masked ? 0x80 : 0;
	if (form == 7) {
		out[n++] = (uint8_t)(m | h->len);
	} else if (form == 16) {
		out[n++] = m | 126;
		out[n++] = (uint8_t)(h->len >> 8);
		out[n++] = (uint8_t)h->len;
	} else {
		out[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			out[n++] = (uint8_t)(h->len >> (8 * i));
	}
	if (h->masked) {
		memcpy(out + n, h->mask, 4);
		n += 4;
	}
	return (int)n;
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(offset + i) & 3];
}

int ws_encode(uint8_t *out, size_t cap, bool fin, uint8_t opcode, const void *payload,
	      size_t len, const uint8_t mask[4])
{
	struct ws_frame_hdr h;
	uint8_t hdr[WS_MAX_HDR];
	memset(&h, 0, sizeof h);
	h.fin = fin;
	h.opcode = opcode;
	h.len = len;
	if (mask) {
		h.masked = true;
		memcpy(h.mask, mask, 4);
	}
	int hl = ws_header_encode(&h, hdr);
	if (hl < 0 || (size_t)hl > cap || len > cap - (size_t)hl)
		return -1;
	memcpy(out, hdr, (size_t)hl);
	if (len) {
		memmove(out + hl, payload, len);
		if (mask)
			ws_mask(out + hl, len, mask, 0);
	}
	return hl + (int)len;
}

int ws_encode_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
		    const uint8_t mask[4])
{
	uint8_t body[WS_MAX_CONTROL];
	size_t n = 0;
	if (code) {
		body[n++] = (uint8_t)(code >> 8);
		body[n++] = (uint8_t)code;
		if (reason) {
			size_t rl = strlen(reason);
			if (rl > WS_MAX_CONTROL - 2)
				rl = WS_MAX_CONTROL - 2;
			memcpy(body + n, reason, rl);
			n += rl;
		}
	}
	return ws_encode(out, cap, true, WS_OP_CLOSE, body, n, mask);
}

int ws_random_mask(uint8_t mask[4])
{
	return RAND_bytes(mask, 4) == 1 ? 0 : -1;
}

bool ws_close_code_valid(unsigned code)
{
	if (code >= 1000 && code <= 1003)
		return true;
	if (code >= 1007 && code <= 1011)
		return true;
	return code >= 3000 && code <= 4999;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

int ws_close_parse(const uint8_t *p, size_t len, uint16_t *code, const uint8_t **reason,
		   size_t *reason_len)
{
	*code = 0;
	*reason = NULL;
	*reason_len = 0;
	if (len == 0)
		return 0;
	if (len == 1 || len > WS_MAX_CONTROL)
		return -1;
	*code = (uint16_t)((p[0] << 8) | p[1]);
	if (!ws_close_code_valid(*code))
		return -1;
	*reason = p + 2;
	*reason_len = len - 2;
	return 0;
}

/* ---- decoder -------------------------------------------------------------- */

void ws_decoder_init(struct ws_decoder *d, enum ws_role role)
{
	memset(d, 0, sizeof *d);
	d->role = role;
}

static size_t dec_fail(struct ws_decoder *d, struct ws_event *ev, uint16_t code,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t dec_fail(struct ws_decoder *d, struct ws_event *ev, uint16_t code,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof d->err, fmt, ap);
	va_end(ap);
	d->err_code = code;
	ev->type = WS_EV_ERROR;
	ev->close_code = code;
	ev->err = d->err;
	return 0;
}

static bool is_control(uint8_t op)
{
	return op & 0x08;
}

static bool opcode_known(uint8_t op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

/* What the first two bytes already decide: false after dec_fail. */
static bool first_bytes_ok(struct ws_decoder *d, struct ws_event *ev, const struct ws_frame_hdr *h)
{
	const char *op = ws_opcode_name(h->opcode);

	if (d->close_seen)
		return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "frame after close");
	if (h->rsv)
		return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "RSV bits 0x%x set without an extension", h->rsv);
	if (!opcode_known(h->opcode))
		return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "reserved opcode 0x%x", h->opcode);
	if (d->role == WS_ROLE_SERVER && !h->masked)
		return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "unmasked frame from client");
	if (d->role == WS_ROLE_CLIENT && h->masked)
		return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "masked frame from server");
	if (is_control(h->opcode)) {
		if (!h->fin)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "fragmented %s frame", op);
		if (h->len > WS_MAX_CONTROL)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "%s frame longer than 125 bytes", op);
	} else if (h->opcode == WS_OP_CONT) {
		if (!d->in_msg)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "continuation frame without a message");
	} else {
		if (d->in_msg)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL,
					"new %s frame inside a fragmented message", op);
		if (d->binary_only && h->opcode == WS_OP_TEXT)
			return dec_fail(d, ev, WS_CLOSE_UNSUPPORTED, "text frame (MQTT needs binary)");
	}
	return true;
}

/* The extended length and the mask (the whole header is in buf): the
 * header's size, or 0 after dec_fail. */
static size_t header_rest(struct ws_decoder *d, struct ws_event *ev, const uint8_t *buf,
			  struct ws_frame_hdr *h)
{
	size_t off = 2;

	if (h->len == 126) {
		h->len = ((uint64_t)buf[2] << 8) | buf[3];
		off = 4;
	} else if (h->len == 127) {
		if (buf[2] & 0x80)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "64-bit length with the high bit set");
		h->len = 0;
		for (int i = 0; i < 8; i++)
			h->len = (h->len << 8) | buf[2 + i];
		off = 10;
	}
	if (h->masked) {
		memcpy(h->mask, buf + off, 4);
		off += 4;
	}
	if (d->max_frame && h->len > d->max_frame)
		return dec_fail(d, ev, WS_CLOSE_TOO_BIG, "frame of %llu bytes over the limit of %llu",
				(unsigned long long)h->len, (unsigned long long)d->max_frame);
	return off;
}

/* A whole control frame at p (avail bytes): what it consumed, or 0 (not
 * all there yet, or after dec_fail). */
static size_t control_frame(struct ws_decoder *d, struct ws_event *ev, uint8_t *p, size_t avail,
			    const struct ws_frame_hdr *h)
{
	if (avail < h->len)
		return 0; /* whole control frames only */
	if (h->masked)
		ws_mask(p, (size_t)h->len, h->mask, 0);
	if (h->opcode == WS_OP_CLOSE) {
		uint16_t code;
		const uint8_t *r;
		size_t rl;

		if (ws_close_parse(p, (size_t)h->len, &code, &r, &rl) < 0)
			return dec_fail(d, ev, WS_CLOSE_PROTOCOL, "malformed close frame");
		if (!utf8_valid(r, rl))
			return dec_fail(d, ev, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
		d->close_seen = true;
	}
	ev->type = WS_EV_CONTROL;
	ev->opcode = h->opcode;
	ev->data = p;
	ev->len = (size_t)h->len;
	ev->frame_end = ev->msg_end = true;
	return (size_t)h->len;
}

/* The payload of the current data frame, as much as there is. */
static size_t data_payload(struct ws_decoder *d, struct ws_event *ev, uint8_t *buf, size_t len,
			   size_t off)
{
	uint64_t want = d->cur.len - d->done;
	size_t avail = len - off;
	size_t n = want < avail ? (size_t)want : avail;

	if (n == 0 && want > 0)
		return off;
	if (d->cur.masked)
		ws_mask(buf + off, n, d->cur.mask, d->done);
	d->done += n;
	ev->type = WS_EV_DATA;
	ev->opcode = d->msg_opcode;
	ev->data = buf + off;
	ev->len = n;
	ev->frame_end = d->done == d->cur.len;
	ev->msg_end = ev->frame_end && d->cur.fin;
	if (ev->frame_end)
		d->in_frame = false;
	return off + n;
}

size_t ws_decode(struct ws_decoder *d, uint8_t *buf, size_t len, struct ws_event *ev)
{
	struct ws_frame_hdr h;
	size_t off = 0, hl, n;

	memset(ev, 0, sizeof *ev);
	if (d->err_code) {
		ev->type = WS_EV_ERROR;
		ev->close_code = d->err_code;
		ev->err = d->err;
		return 0;
	}
	if (d->in_frame)
		return data_payload(d, ev, buf, len, 0);
	if (len < 2)
		return 0;
	memset(&h, 0, sizeof h);
	h.fin = buf[0] & 0x80;
	h.rsv = (buf[0] >> 4) & 7;
	h.opcode = buf[0] & 0x0F;
	h.masked = buf[1] & 0x80;
	h.len = buf[1] & 0x7F;
	if (!first_bytes_ok(d, ev, &h))
		return 0;
	hl = 2 + (h.len == 126 ? 2 : h.len == 127 ? 8 : 0) + (h.masked ? 4 : 0);
	if (len < hl || !(off = header_rest(d, ev, buf, &h)))
		return 0;
	if (is_control(h.opcode)) {
		n = control_frame(d, ev, buf + off, len - off, &h);
		return ev->type == WS_EV_CONTROL ? off + n : 0;
	}
	/* data frame: header consumed now, payload delivered as it comes */
	if (h.opcode != WS_OP_CONT)
		d->msg_opcode = h.opcode;
	d->in_msg = !h.fin;
	d->cur = h;
	d->done = 0;
	d->in_frame = true;
	return data_payload(d, ev, buf, len, off);
}
