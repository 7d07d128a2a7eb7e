/* fuzz_ws.c - libFuzzer harness for the WebSocket code (lib/ws.c).
 *
 * The first input byte picks the settings (decoder role, binary_only,
 * max_frame, the server's path and subprotocol rules, a size limit); the
 * rest is what a peer sent. Buffers are copied to their exact size so that
 * AddressSanitizer sees any read past them. Checked, aborting on any
 * violation:
 *   - upgrade request (server) and response (client) parsers, at every
 *     prefix: "need more", then one decision that longer prefixes keep
 *     (same length, or a refusal with the same status); a length within
 *     the bytes given; NUL-terminated fields; a status and a reason on
 *     refusal. An accepted request gets a 101 from ws_build_response that
 *     the client side (ws_parse_response) accepts with the same key;
 *   - frame decoder, at every split of the stream into two deliveries (and
 *     one byte at a time): the same payload bytes, frame and message ends,
 *     control frames and final error as when everything arrives at once,
 *     and the same number of bytes left unconsumed;
 *   - encoder: a frame built from input bytes decodes back to its payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* ---- handshake ------------------------------------------------------------- */

static void request(const uint8_t *d, size_t n, uint8_t mode)
{
	static const char *const paths[] = { "/mqtt", NULL };
	struct ws_server_opts o;
	struct ws_request req;
	int whole, seen = 0, seen_status = 0;

	ws_server_opts_init(&o);
	o.path = paths[mode & 1];
	o.require_subprotocol = (mode & 2) != 0;
	if (mode & 4)
		o.max_len = 64 + (mode >> 4) * 32;

	uint8_t *b = dup_exact(d, n);

	if (!b)
		return;
	whole = ws_parse_request(b, n, &o, &req);
	free(b);
	check(whole >= -1 && whole <= (int)n);
	if (whole > 0) {
		char resp[1024];
		struct ws_response r;
		int rl;

		check(req.status == 101);
		check(terminated(req.path, sizeof(req.path)) && terminated(req.host, sizeof(req.host)));
		check(terminated(req.key, sizeof(req.key)) && strlen(req.key) == WS_KEY_LEN);
		check(terminated(req.subprotocol, sizeof(req.subprotocol)));
		check(terminated(req.origin, sizeof(req.origin)));
		check(terminated(req.forwarded_for, sizeof(req.forwarded_for)));
		rl = ws_build_response(&req, resp, sizeof(resp));
		check(rl > 0);
		uint8_t *rb = dup_exact((const uint8_t *)resp, (size_t)rl);

		if (rb) {
			check(ws_parse_response(rb, (size_t)rl, req.key,
						req.subprotocol[0] ? req.subprotocol : NULL, &r) == rl);
			check(r.status == 101);
			free(rb);
		}
	} else if (whole < 0) {
		char err[1024];

		check(req.status == 400 || req.status == 404 || req.status == 426);
		check(terminated(req.reason, sizeof(req.reason)) && req.reason[0]);
		check(ws_build_error(req.status, req.reason, err, sizeof(err)) > 0);
	}
	if (n > 2048)
		return;
	for (size_t k = 0; k <= n; k++) {
		uint8_t *p = dup_exact(d, k);
		int r;

		if (!p)
			return;
		r = ws_parse_request(p, k, &o, &req);
		free(p);
		if (r == 0) {
			check(seen == 0);
		} else if (r < 0) {
			check(seen == 0 || (seen < 0 && req.status == seen_status));
			seen_status = req.status;
		} else {
			check(seen == 0 || seen == r);
		}
		seen = r;
	}
	check(seen == whole);
}

static void response(const uint8_t *d, size_t n, uint8_t mode)
{
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
	const char *sub = (mode & 8) ? "mqtt" : NULL;
	struct ws_response r;
	int whole, seen = 0;
	uint8_t *b = dup_exact(d, n);

	if (!b)
		return;
	whole = ws_parse_response(b, n, key, sub, &r);
	free(b);
	check(whole >= -1 && whole <= (int)n);
	check(terminated(r.subprotocol, sizeof(r.subprotocol)));
	if (whole < 0)
		check(terminated(r.reason, sizeof(r.reason)) && r.reason[0]);
	if (n > 2048)
		return;
	for (size_t k = 0; k <= n; k++) {
		uint8_t *p = dup_exact(d, k);
		int x;

		if (!p)
			return;
		x = ws_parse_response(p, k, key, sub, &r);
		free(p);
		if (x == 0)
			check(seen == 0);
		else
			check(seen == 0 || seen == x);
		seen = x;
	}
	check(seen == whole);
}

/* ---- frames ---------------------------------------------------------------- */

/* What a decode produced, independent of how the payload was sliced. */
struct trace {
	uint8_t *bytes;     /* every DATA payload, then every CONTROL payload, in order */
	size_t nbytes;
	uint32_t log[512];  /* one entry per frame end / control / error */
	size_t nlog;
	size_t left;        /* bytes never consumed */
	bool overflow;
};

static void tr_log(struct trace *t, uint32_t v)
{
	if (t->nlog < sizeof(t->log) / sizeof(t->log[0]))
		t->log[t->nlog++] = v;
	else
		t->overflow = true;
}

/* Run the decoder over buf[0..len); returns bytes consumed; *stop when an
 * error ended it. */
static size_t feed(struct ws_decoder *dec, uint8_t *buf, size_t len, struct trace *t, bool *stop)
{
	size_t off = 0;

	for (;;) {
		struct ws_event ev;
		size_t used = ws_decode(dec, buf + off, len - off, &ev);

		check(used <= len - off);
		if (ev.type == WS_EV_ERROR) {
			check(used == 0 && ev.close_code >= 1000 && ev.err != NULL);
			tr_log(t, 0xE0000000u | ev.close_code);
			*stop = true;
			return off;
		}
		if (ev.type == WS_EV_DATA || ev.type == WS_EV_CONTROL) {
			check(ev.len <= used);
			check(ev.data >= buf + off && ev.data + ev.len <= buf + off + used);
			memcpy(t->bytes + t->nbytes, ev.data, ev.len);
			t->nbytes += ev.len;
		}
		if (ev.type == WS_EV_DATA && ev.frame_end)
			tr_log(t, 0xD0000000u | (uint32_t)ev.opcode << 8 | ev.msg_end);
		if (ev.type == WS_EV_CONTROL) {
			check(ev.len <= WS_MAX_CONTROL && ev.frame_end && ev.msg_end);
			tr_log(t, 0xC0000000u | (uint32_t)ev.opcode << 8 | (uint32_t)ev.len);
		}
		off += used;
		if (ev.type == WS_EV_NONE && (used == 0 || off == len))
			return off;
		if (ev.type == WS_EV_NONE)
			continue;
	}
}

/* Deliver d[0..n) in pieces ending at cuts[] (ascending, last == n). */
static void decode_cuts(const uint8_t *d, size_t n, const size_t *cuts, size_t ncuts,
			uint8_t mode, struct trace *t)
{
	struct ws_decoder dec;
	uint8_t *keep = NULL;
	size_t nkeep = 0, prev = 0;
	bool stop = false;

	ws_decoder_init(&dec, (mode & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
	dec.binary_only = (mode & 2) != 0;
	dec.max_frame = (mode & 4) ? (mode >> 3) * 17u : 0;
	memset(t, 0, sizeof(*t));
	t->bytes = malloc(n ? n : 1);
	if (!t->bytes)
		return;
	for (size_t i = 0; i < ncuts && !stop; i++) {
		size_t piece = cuts[i] - prev;
		/* what was left over, then what arrived: exactly that many bytes */
		uint8_t *buf = malloc(nkeep + piece ? nkeep + piece : 1);
		size_t used;

		if (!buf)
			break;
		if (nkeep)
			memcpy(buf, keep, nkeep);
		memcpy(buf + nkeep, d + prev, piece);
		prev = cuts[i];
		used = feed(&dec, buf, nkeep + piece, t, &stop);
		free(keep);
		nkeep = nkeep + piece - used;
		keep = dup_exact(buf + used, nkeep);
		free(buf);
		if (!keep)
			break;
	}
	t->left = stop ? 0 : nkeep + (n - prev);
	free(keep);
}

static void same(const struct trace *a, const struct trace *b)
{
	if (a->overflow || b->overflow)
		return;
	check(a->nbytes == b->nbytes && memcmp(a->bytes, b->bytes, a->nbytes) == 0);
	check(a->nlog == b->nlog && memcmp(a->log, b->log, a->nlog * sizeof(a->log[0])) == 0);
	check(a->left == b->left);
}

static void frames(const uint8_t *d, size_t n, uint8_t mode)
{
	struct trace whole, part;
	size_t cuts[2];

	cuts[0] = n;
	decode_cuts(d, n, cuts, 1, mode, &whole);
	if (!whole.bytes)
		return;
	size_t step = n > 1024 ? n / 64 : 1;

	for (size_t k = 0; k <= n; k += step) {
		cuts[0] = k;
		cuts[1] = n;
		decode_cuts(d, n, cuts, 2, mode, &part);
		if (part.bytes)
			same(&whole, &part);
		free(part.bytes);
	}
	if (n <= 512) {
		size_t *all = malloc((n ? n : 1) * sizeof(*all));

		if (all) {
			for (size_t i = 0; i < n; i++)
				all[i] = i + 1;
			decode_cuts(d, n, all, n, mode, &part);
			if (part.bytes)
				same(&whole, &part);
			free(part.bytes);
			free(all);
		}
	}
	free(whole.bytes);
}

/* Encode the input as one frame's payload and decode it back. */
static void encode_back(const uint8_t *d, size_t n, uint8_t mode)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	bool masked = (mode & 1) == 0; /* a client's frame, for a server decoder */
	size_t cap = n + WS_MAX_HDR;
	uint8_t *buf = malloc(cap);
	struct ws_decoder dec;
	struct ws_event ev;
	int len;

	if (!buf)
		return;
	len = ws_encode(buf, cap, true, WS_OP_BINARY, n ? d : NULL, n, masked ? mask : NULL);
	check(len > 0 && (size_t)len <= cap);
	ws_decoder_init(&dec, masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT);
	size_t used = ws_decode(&dec, buf, (size_t)len, &ev);

	check(ev.type == WS_EV_DATA && used == (size_t)len && ev.len == n && ev.msg_end);
	check(n == 0 || memcmp(ev.data, d, n) == 0);
	free(buf);
}

static void close_payload(const uint8_t *d, size_t n)
{
	uint8_t *b = dup_exact(d, n);
	const uint8_t *reason;
	size_t rl;
	uint16_t code;

	if (!b)
		return;
	if (ws_close_parse(b, n, &code, &reason, &rl) == 0) {
		check(code == 0 || ws_close_code_valid(code));
		check(rl <= n && (rl == 0 || (reason >= b && reason + rl <= b + n)));
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	request(data, size, mode);
	response(data, size, mode);
	frames(data, size, mode);
	if (size <= 65535)
		encode_back(data, size, mode);
	close_payload(data, size);
	return 0;
}
