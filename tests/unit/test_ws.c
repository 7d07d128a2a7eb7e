/* test_ws.c - WebSocket handshake and framing (lib/ws). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define GOOD_REQ                                                                      \
	"GET /mqtt HTTP/1.1\r\n"                                                      \
	"Host: localhost:8084\r\n"                                                    \
	"Upgrade: websocket\r\n"                                                      \
	"Connection: keep-alive, Upgrade\r\n"                                         \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                             \
	"Sec-WebSocket-Version: 13\r\n"                                               \
	"Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n"                                  \
	"Origin: http://example.com\r\n"                                              \
	"X-Forwarded-For: 203.0.113.9\r\n"                                            \
	"\r\n"

static int parse_str(const char *s, struct ws_request *req)
{
	return ws_parse_request((const uint8_t *)s, strlen(s), NULL, req);
}

/* ---- handshake ----------------------------------------------------------- */

static void test_accept_key_rfc_example(void **state)
{
	(void)state;
	char acc[WS_ACCEPT_LEN + 1];
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_request_good(void **state)
{
	(void)state;
	struct ws_request req;
	const char *extra = "\x82\x85XXXX";
	char buf[1024];
	snprintf(buf, sizeof buf, "%s%s", GOOD_REQ, extra);
	int n = ws_parse_request((const uint8_t *)buf, strlen(buf), NULL, &req);
	assert_int_equal(n, (int)strlen(GOOD_REQ)); /* the frame bytes after it stay */
	assert_int_equal(req.status, 101);
	assert_string_equal(req.path, "/mqtt");
	assert_string_equal(req.host, "localhost:8084");
	assert_string_equal(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_string_equal(req.subprotocol, "mqtt");
	assert_string_equal(req.origin, "http://example.com");
	assert_string_equal(req.forwarded_for, "203.0.113.9");

	char resp[512];
	int rl = ws_build_response(&req, resp, sizeof resp);
	assert_true(rl > 0);
	assert_int_equal((size_t)rl, strlen(resp));
	assert_non_null(strstr(resp, "HTTP/1.1 101 Switching Protocols\r\n"));
	assert_non_null(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_non_null(strstr(resp, "Sec-WebSocket-Protocol: mqtt\r\n"));
	char small[20];
	assert_int_equal(ws_build_response(&req, small, sizeof small), -1);

	/* the client side accepts what the server side built */
	struct ws_response wr;
	assert_int_equal(ws_parse_response((const uint8_t *)resp, (size_t)rl,
					   "dGhlIHNhbXBsZSBub25jZQ==", "mqtt", &wr),
			 rl);
	assert_int_equal(wr.status, 101);
	assert_string_equal(wr.subprotocol, "mqtt");
	/* ... and refuses it for another key */
	assert_int_equal(ws_parse_response((const uint8_t *)resp, (size_t)rl,
					   "AAAAAAAAAAAAAAAAAAAAAA==", "mqtt", &wr),
			 -1);
	assert_non_null(strstr(wr.reason, "Accept"));
}

static void test_request_need_more_every_prefix(void **state)
{
	(void)state;
	struct ws_request req;
	size_t len = strlen(GOOD_REQ);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(ws_parse_request((const uint8_t *)GOOD_REQ, i, NULL, &req), 0);
	assert_int_equal(ws_parse_request((const uint8_t *)GOOD_REQ, len, NULL, &req), (int)len);
}

static void test_request_query_and_case(void **state)
{
	(void)state;
	struct ws_request req;
	const char *r = "GET /mqtt?token=1 HTTP/1.1\r\n"
			"host: h\r\n"
			"UPGRADE: WebSocket\r\n"
			"connection: UPGRADE\r\n"
			"sec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==   \r\n"
			"sec-websocket-version: 13\r\n"
			"sec-websocket-protocol: mqtt\r\n\r\n";
	assert_int_equal(parse_str(r, &req), (int)strlen(r));
	assert_string_equal(req.path, "/mqtt?token=1");
	assert_string_equal(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
}

struct bad_case {
	const char *req;
	int status;
	const char *reason_part;
};

static void test_request_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "POST /mqtt HTTP/1.1\r\n\r\n", 400, "GET" },
		{ "\x10\x0c\x00\x04MQTT", 400, "GET" },          /* raw MQTT CONNECT */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 400, "GET" }, /* PROXY header */
		{ "GET /mqtt HTTP/1.0\r\nHost: h\r\n\r\n", 400, "HTTP/1.1" },
		{ "GET mqtt HTTP/1.1\r\nHost: h\r\n\r\n", 400, "path" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
		  400, "Key" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  400, "Key" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  400, "Connection" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  400, "Upgrade" },
		{ "GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  400, "Host" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  426, "13" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  426, "Version" },
		{ "GET /other HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
		  404, "/other" },
		{ "GET /mqttx HTTP/1.1\r\nHost: h\r\n\r\n", 404, "path" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
		  400, "subprotocol" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		  400, "subprotocol" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\n folded: x\r\n\r\n", 400, "malformed" },
		{ "GET /mqtt HTTP/1.1\r\nHost h\r\n\r\n", 400, "malformed" },
		{ "GET /mqtt HTTP/1.1\nHost: h\r\n\r\n", 400, "malformed" },
		{ "GET /mqtt HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n", 400, "Host" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ws_request req;
		int rc = parse_str(cases[i].req, &req);
		if (rc != -1 || req.status != cases[i].status ||
		    !strstr(req.reason, cases[i].reason_part))
			fail_msg("case %zu: rc %d status %d reason '%s'", i, rc, req.status,
				 req.reason);
	}
}

static void test_request_early_reject_and_limit(void **state)
{
	(void)state;
	struct ws_request req;
	/* one byte is enough to know a PROXY v2 signature is not a GET */
	assert_int_equal(ws_parse_request((const uint8_t *)"\r", 1, NULL, &req), -1);
	assert_int_equal(ws_parse_request((const uint8_t *)"G", 1, NULL, &req), 0);
	/* a head that never ends is refused at the size limit */
	struct ws_server_opts o;
	ws_server_opts_init(&o);
	o.max_len = 64;
	char big[200];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /mqtt HTTP/1.1\r\nX: ", 23);
	assert_int_equal(ws_parse_request((const uint8_t *)big, 63, &o, &req), 0);
	assert_int_equal(ws_parse_request((const uint8_t *)big, 64, &o, &req), -1);
	assert_int_equal(req.status, 400);
}

static void test_request_options(void **state)
{
	(void)state;
	struct ws_server_opts o;
	struct ws_request req;
	const char *r = "GET /any/where HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n\r\n";
	ws_server_opts_init(&o);
	o.path = NULL;
	o.require_subprotocol = false;
	assert_int_equal(ws_parse_request((const uint8_t *)r, strlen(r), &o, &req),
			 (int)strlen(r));
	assert_string_equal(req.subprotocol, "");
	char resp[512];
	assert_true(ws_build_response(&req, resp, sizeof resp) > 0);
	assert_null(strstr(resp, "Sec-WebSocket-Protocol"));
}

static void test_error_responses(void **state)
{
	(void)state;
	char out[512];
	int n = ws_build_error(426, "need 13", out, sizeof out);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(out));
	assert_non_null(strstr(out, "HTTP/1.1 426 Upgrade Required\r\n"));
	assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	/* Content-Length matches the body */
	const char *body = strstr(out, "\r\n\r\n") + 4;
	int cl = atoi(strstr(out, "Content-Length: ") + 16);
	assert_int_equal((size_t)cl, strlen(body));
	n = ws_build_error(404, NULL, out, sizeof out);
	assert_true(n > 0);
	assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
	assert_null(strstr(out, "Sec-WebSocket-Version"));
	assert_int_equal(ws_build_error(400, "x", out, 10), -1);
}

static void test_client_request_roundtrip(void **state)
{
	(void)state;
	char key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1], req[1024];
	assert_int_equal(ws_client_key(key), 0);
	assert_int_equal(ws_client_key(key2), 0);
	assert_int_equal(strlen(key), WS_KEY_LEN);
	assert_string_not_equal(key, key2);
	struct ws_client_req cr = { .host = "127.0.0.1:8084", .path = "/mqtt", .key = key,
				    .subprotocol = "mqtt" };
	int n = ws_build_request(&cr, req, sizeof req);
	assert_true(n > 0);
	struct ws_request pr;
	assert_int_equal(ws_parse_request((const uint8_t *)req, (size_t)n, NULL, &pr), n);
	assert_string_equal(pr.key, key);
	assert_string_equal(pr.host, "127.0.0.1:8084");
	char resp[512];
	int rl = ws_build_response(&pr, resp, sizeof resp);
	assert_true(rl > 0);
	struct ws_response wr;
	for (int i = 0; i < rl; i++)
		assert_int_equal(ws_parse_response((const uint8_t *)resp, (size_t)i, key, "mqtt",
						   &wr),
				 0);
	assert_int_equal(ws_parse_response((const uint8_t *)resp, (size_t)rl, key, "mqtt", &wr),
			 rl);
	assert_int_equal(ws_build_request(&cr, req, 30), -1);
	cr.host = NULL;
	assert_int_equal(ws_build_request(&cr, req, sizeof req), -1);
}

static void test_client_response_bad(void **state)
{
	(void)state;
	struct ws_response wr;
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	const char *r404 = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(ws_parse_response((const uint8_t *)r404, strlen(r404), key, "mqtt", &wr),
			 -1);
	assert_int_equal(wr.status, 404);
	assert_non_null(strstr(wr.reason, "404 Not Found"));
	const char *other = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			    "Sec-WebSocket-Protocol: chat\r\n\r\n";
	assert_int_equal(ws_parse_response((const uint8_t *)other, strlen(other), key, "mqtt", &wr),
			 -1);
	assert_non_null(strstr(wr.reason, "chat"));
	const char *noacc = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\n\r\n";
	assert_int_equal(ws_parse_response((const uint8_t *)noacc, strlen(noacc), key, "mqtt", &wr),
			 -1);
	const char *noproto = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	assert_int_equal(ws_parse_response((const uint8_t *)noproto, strlen(noproto), key, "mqtt",
					   &wr),
			 (int)strlen(noproto));
	assert_string_equal(wr.subprotocol, "");
	assert_int_equal(ws_parse_response((const uint8_t *)"\x20\x02\x00\x00", 4, key, "mqtt", &wr),
			 -1);
	assert_non_null(strstr(wr.reason, "not an HTTP"));
}

/* ---- frames -------------------------------------------------------------- */

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void test_encode_rfc_examples(void **state)
{
	(void)state;
	uint8_t out[64];
	/* RFC 6455 5.7: unmasked "Hello" and masked "Hello" (text frames) */
	static const uint8_t plain[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
					  0x9f, 0x4d, 0x51, 0x58 };
	assert_int_equal(ws_encode(out, sizeof out, true, WS_OP_TEXT, "Hello", 5, NULL), 7);
	assert_memory_equal(out, plain, 7);
	assert_int_equal(ws_encode(out, sizeof out, true, WS_OP_TEXT, "Hello", 5, MASK), 11);
	assert_memory_equal(out, masked, 11);
	assert_int_equal(ws_encode(out, 10, true, WS_OP_TEXT, "Hello", 5, MASK), -1);

	struct ws_decoder d;
	struct ws_event ev;
	uint8_t buf[16];
	memcpy(buf, masked, sizeof masked);
	ws_decoder_init(&d, WS_ROLE_SERVER);
	assert_int_equal(ws_decode(&d, buf, sizeof masked, &ev), sizeof masked);
	assert_int_equal(ev.type, WS_EV_DATA);
	assert_int_equal(ev.opcode, WS_OP_TEXT);
	assert_true(ev.msg_end);
	assert_int_equal(ev.len, 5);
	assert_memory_equal(ev.data, "Hello", 5);
}

static void test_length_forms(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		size_t hl = (n <= 125 ? 2 : n <= 65535 ? 4 : 10);
		for (int m = 0; m < 2; m++) {
			uint8_t *pl = malloc(n + 1), *out = malloc(n + WS_MAX_HDR);
			for (size_t i = 0; i < n; i++)
				pl[i] = (uint8_t)(i * 7 + 3);
			int fl = ws_encode(out, n + WS_MAX_HDR, true, WS_OP_BINARY, pl, n,
					   m ? MASK : NULL);
			assert_int_equal(fl, (int)(hl + (m ? 4 : 0) + n));
			if (n == 126 || n == 65535)
				assert_int_equal(out[1] & 0x7F, 126);
			if (n >= 65536)
				assert_int_equal(out[1] & 0x7F, 127);
			struct ws_decoder d;
			struct ws_event ev;
			ws_decoder_init(&d, m ? WS_ROLE_SERVER : WS_ROLE_CLIENT);
			size_t used = ws_decode(&d, out, (size_t)fl, &ev);
			assert_int_equal(used, (size_t)fl);
			assert_int_equal(ev.type, WS_EV_DATA);
			assert_int_equal(ev.len, n);
			assert_true(ev.frame_end && ev.msg_end);
			if (n)
				assert_memory_equal(ev.data, pl, n);
			free(pl);
			free(out);
		}
	}
	/* forced forms: a 5-byte payload with a 64-bit length (non-minimal) */
	struct ws_frame_hdr h = { .fin = true, .opcode = WS_OP_BINARY, .len = 5, .len_form = 64 };
	uint8_t hdr[WS_MAX_HDR];
	assert_int_equal(ws_header_encode(&h, hdr), 10);
	assert_int_equal(hdr[1], 127);
	h.len_form = 16;
	assert_int_equal(ws_header_encode(&h, hdr), 4);
	h.len = 200;
	h.len_form = 7;
	assert_int_equal(ws_header_encode(&h, hdr), -1);
	h.len = 70000;
	h.len_form = 16;
	assert_int_equal(ws_header_encode(&h, hdr), -1);
}

/* Feed a stream one byte more at a time (the worst segmentation) and
 * collect data payload and control frames. The buffer only ever holds
 * unconsumed bytes, like a real connection's. */
struct collect {
	uint8_t data[4096];
	size_t dlen;
	int ctl_ops[16];
	size_t nctl;
	int msgs;
	int error_code;
};

static void feed_split(enum ws_role role, const uint8_t *stream, size_t len, size_t step,
		       struct collect *c)
{
	struct ws_decoder d;
	uint8_t buf[8192];
	size_t have = 0, pos = 0;
	memset(c, 0, sizeof *c);
	ws_decoder_init(&d, role);
	while (pos < len || have) {
		size_t add = len - pos < step ? len - pos : step;
		memcpy(buf + have, stream + pos, add);
		have += add;
		pos += add;
		size_t off = 0;
		for (;;) {
			struct ws_event ev;
			size_t n = ws_decode(&d, buf + off, have - off, &ev);
			off += n;
			if (ev.type == WS_EV_NONE)
				break;
			if (ev.type == WS_EV_ERROR) {
				c->error_code = ev.close_code;
				return;
			}
			if (ev.type == WS_EV_DATA) {
				memcpy(c->data + c->dlen, ev.data, ev.len);
				c->dlen += ev.len;
				c->msgs += ev.msg_end;
			} else {
				c->ctl_ops[c->nctl++] = ev.opcode;
			}
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (add == 0 && have) /* no more input and stuck: incomplete */
			break;
	}
}

static void test_split_every_byte(void **state)
{
	(void)state;
	uint8_t stream[2048];
	size_t len = 0;
	uint8_t payload[300];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	/* a message in three fragments with a ping in between, then a 300-byte
	 * frame (16-bit length), a pong, and a close */
	len += (size_t)ws_encode(stream + len, sizeof stream - len, false, WS_OP_BINARY, payload,
				 10, MASK);
	len += (size_t)ws_encode(stream + len, sizeof stream - len, true, WS_OP_PING, "hi", 2,
				 MASK);
	len += (size_t)ws_encode(stream + len, sizeof stream - len, false, WS_OP_CONT, payload + 10,
				 0, MASK);
	len += (size_t)ws_encode(stream + len, sizeof stream - len, true, WS_OP_CONT, payload + 10,
				 20, MASK);
	len += (size_t)ws_encode(stream + len, sizeof stream - len, true, WS_OP_BINARY,
				 payload + 30, 270, MASK);
	len += (size_t)ws_encode(stream + len, sizeof stream - len, true, WS_OP_PONG, NULL, 0,
				 MASK);
	len += (size_t)ws_encode_close(stream + len, sizeof stream - len, 1000, "bye", MASK);

	for (size_t step = 1; step <= len; step++) {
		struct collect c;
		feed_split(WS_ROLE_SERVER, stream, len, step, &c);
		if (c.error_code || c.dlen != 300 || memcmp(c.data, payload, 300) != 0 ||
		    c.msgs != 2 || c.nctl != 3 || c.ctl_ops[0] != WS_OP_PING ||
		    c.ctl_ops[1] != WS_OP_PONG || c.ctl_ops[2] != WS_OP_CLOSE)
			fail_msg("step %zu: err %d dlen %zu msgs %d nctl %zu", step, c.error_code,
				 c.dlen, c.msgs, c.nctl);
	}
}

static void test_several_packets_one_frame_and_leftover(void **state)
{
	(void)state;
	/* two frames in one buffer: decode stops at the first frame's end */
	uint8_t buf[64];
	int a = ws_encode(buf, sizeof buf, true, WS_OP_BINARY, "\xC0\x00\xC0\x00", 4, NULL);
	int b = ws_encode(buf + a, sizeof buf - (size_t)a, true, WS_OP_BINARY, "\xE0\x00", 2, NULL);
	struct ws_decoder d;
	struct ws_event ev;
	ws_decoder_init(&d, WS_ROLE_CLIENT);
	size_t n = ws_decode(&d, buf, (size_t)(a + b), &ev);
	assert_int_equal(n, (size_t)a);
	assert_int_equal(ev.len, 4);
	n = ws_decode(&d, buf + a, (size_t)b, &ev);
	assert_int_equal(n, (size_t)b);
	assert_memory_equal(ev.data, "\xE0\x00", 2);
	n = ws_decode(&d, buf, 0, &ev);
	assert_int_equal(n, 0);
	assert_int_equal(ev.type, WS_EV_NONE);
}

static void test_ping_payload(void **state)
{
	(void)state;
	uint8_t buf[64];
	int n = ws_encode(buf, sizeof buf, true, WS_OP_PING, "abc", 3, MASK);
	struct ws_decoder d;
	struct ws_event ev;
	ws_decoder_init(&d, WS_ROLE_SERVER);
	/* incomplete control frames are not consumed at all */
	assert_int_equal(ws_decode(&d, buf, (size_t)n - 1, &ev), 0);
	assert_int_equal(ev.type, WS_EV_NONE);
	assert_int_equal(ws_decode(&d, buf, (size_t)n, &ev), (size_t)n);
	assert_int_equal(ev.type, WS_EV_CONTROL);
	assert_int_equal(ev.opcode, WS_OP_PING);
	assert_memory_equal(ev.data, "abc", 3);
}

/* One raw frame, decoded from scratch: the error code (0 = none). */
static int decode_err(enum ws_role role, const uint8_t *raw, size_t len, bool binary_only,
		      uint64_t max_frame)
{
	uint8_t buf[256];
	struct ws_decoder d;
	struct ws_event ev;
	memcpy(buf, raw, len);
	ws_decoder_init(&d, role);
	d.binary_only = binary_only;
	d.max_frame = max_frame;
	size_t off = 0;
	for (;;) {
		off += ws_decode(&d, buf + off, len - off, &ev);
		if (ev.type == WS_EV_ERROR) {
			assert_non_null(ev.err);
			assert_true(strlen(ev.err) > 0);
			/* the error sticks */
			struct ws_event ev2;
			assert_int_equal(ws_decode(&d, buf + off, len - off, &ev2), 0);
			assert_int_equal(ev2.type, WS_EV_ERROR);
			return ev.close_code;
		}
		if (ev.type == WS_EV_NONE)
			return 0;
	}
}

static void test_frame_errors(void **state)
{
	(void)state;
	uint8_t f[160];
	struct ws_frame_hdr h;
	int n;
	uint8_t big[126];
	memset(big, 'x', sizeof big);

	/* unmasked client frame, masked server frame */
	n = ws_encode(f, sizeof f, true, WS_OP_BINARY, "a", 1, NULL);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	assert_int_equal(decode_err(WS_ROLE_CLIENT, f, (size_t)n, false, 0), 0);
	n = ws_encode(f, sizeof f, true, WS_OP_BINARY, "a", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_CLIENT, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	/* errors are found from the first two bytes, before the rest arrives */
	assert_int_equal(decode_err(WS_ROLE_CLIENT, f, 2, false, 0), WS_CLOSE_PROTOCOL);

	/* RSV bits, reserved opcodes */
	memset(&h, 0, sizeof h);
	h.fin = true;
	h.opcode = WS_OP_BINARY;
	h.rsv = 4;
	h.masked = true;
	n = ws_header_encode(&h, f);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	for (uint8_t op = 3; op <= 0xF; op++) {
		if (op >= 8 && op <= 0xA)
			continue;
		h.rsv = 0;
		h.opcode = op;
		n = ws_header_encode(&h, f);
		assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0),
				 WS_CLOSE_PROTOCOL);
	}

	/* control frames: fragmented, too long */
	n = ws_encode(f, sizeof f, false, WS_OP_PING, "a", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	n = ws_encode(f, sizeof f, true, WS_OP_PING, big, 126, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	n = ws_encode(f, sizeof f, true, WS_OP_PING, big, 125, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), 0);

	/* close: 1-byte body, invalid code, bad UTF-8 reason, frame after close */
	n = ws_encode(f, sizeof f, true, WS_OP_CLOSE, "\x03", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	n = ws_encode(f, sizeof f, true, WS_OP_CLOSE, "\x03\xed", 2, MASK); /* 1005 */
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	n = ws_encode(f, sizeof f, true, WS_OP_CLOSE, "\x03\xe8\xff", 3, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0),
			 WS_CLOSE_INVALID_DATA);
	n = ws_encode_close(f, sizeof f, 1000, NULL, MASK);
	n += ws_encode(f + n, sizeof f - (size_t)n, true, WS_OP_BINARY, "a", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);

	/* continuation without a message; new message inside a fragmented one */
	n = ws_encode(f, sizeof f, true, WS_OP_CONT, "a", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
	n = ws_encode(f, sizeof f, false, WS_OP_BINARY, "a", 1, MASK);
	n += ws_encode(f + n, sizeof f - (size_t)n, true, WS_OP_BINARY, "b", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);

	/* text when binary only; over max_frame; 64-bit length with the high bit */
	n = ws_encode(f, sizeof f, true, WS_OP_TEXT, "a", 1, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, true, 0), WS_CLOSE_UNSUPPORTED);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), 0);
	n = ws_encode(f, sizeof f, true, WS_OP_BINARY, big, 100, MASK);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 99), WS_CLOSE_TOO_BIG);
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 100), 0);
	memset(&h, 0, sizeof h);
	h.fin = true;
	h.opcode = WS_OP_BINARY;
	h.len = 1;
	h.len_form = 64;
	h.masked = true;
	n = ws_header_encode(&h, f);
	f[2] |= 0x80;
	assert_int_equal(decode_err(WS_ROLE_SERVER, f, (size_t)n, false, 0), WS_CLOSE_PROTOCOL);
}

static void test_close_helpers(void **state)
{
	(void)state;
	uint8_t f[200];
	char longr[300];
	memset(longr, 'r', sizeof longr - 1);
	longr[sizeof longr - 1] = '\0';
	int n = ws_encode_close(f, sizeof f, 1001, longr, NULL);
	assert_int_equal(n, 2 + 125);
	uint16_t code;
	const uint8_t *r;
	size_t rl;
	assert_int_equal(ws_close_parse(f + 2, 125, &code, &r, &rl), 0);
	assert_int_equal(code, 1001);
	assert_int_equal(rl, 123);
	assert_int_equal(ws_close_parse(f + 2, 0, &code, &r, &rl), 0);
	assert_int_equal(code, 0);
	assert_true(ws_close_code_valid(1000));
	assert_true(ws_close_code_valid(4999));
	assert_false(ws_close_code_valid(1004));
	assert_false(ws_close_code_valid(1005));
	assert_false(ws_close_code_valid(1006));
	assert_false(ws_close_code_valid(1015));
	assert_false(ws_close_code_valid(2999));
	assert_false(ws_close_code_valid(5000));
	assert_int_equal(ws_encode_close(f, sizeof f, 0, "ignored", NULL), 2);
	assert_string_equal(ws_opcode_name(WS_OP_BINARY), "binary");
	assert_string_equal(ws_opcode_name(3), "reserved");
}

static void test_mask_offsets(void **state)
{
	(void)state;
	uint8_t a[37], b[37];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = b[i] = (uint8_t)(i * 13);
	ws_mask(a, sizeof a, MASK, 0);
	/* masking in pieces at any offset gives the same result */
	ws_mask(b, 5, MASK, 0);
	ws_mask(b + 5, 11, MASK, 5);
	ws_mask(b + 16, 21, MASK, 16);
	assert_memory_equal(a, b, sizeof a);
	uint8_t m1[4], m2[4];
	assert_int_equal(ws_random_mask(m1), 0);
	assert_int_equal(ws_random_mask(m2), 0);
	assert_memory_not_equal(m1, m2, 4); /* 1 in 2^32 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key_rfc_example),
		cmocka_unit_test(test_request_good),
		cmocka_unit_test(test_request_need_more_every_prefix),
		cmocka_unit_test(test_request_query_and_case),
		cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_request_early_reject_and_limit),
		cmocka_unit_test(test_request_options),
		cmocka_unit_test(test_error_responses),
		cmocka_unit_test(test_client_request_roundtrip),
		cmocka_unit_test(test_client_response_bad),
		cmocka_unit_test(test_encode_rfc_examples),
		cmocka_unit_test(test_length_forms),
		cmocka_unit_test(test_split_every_byte),
		cmocka_unit_test(test_several_packets_one_frame_and_leftover),
		cmocka_unit_test(test_ping_payload),
		cmocka_unit_test(test_frame_errors),
		cmocka_unit_test(test_close_helpers),
		cmocka_unit_test(test_mask_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
