/* client.c - one proxied MQTT client connection, see client.h.
 *
 * Blocking with deadlines (poll), since it is one connection. TLS uses the
 * memory-BIO engine of lib/tls so that every raw byte the peer sends is
 * seen here (any_byte_received), before, during and after the handshake.
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mqtt.h"
#include "net.h"
#include "tls.h"
#include "ws.h"

#define CLIENT_WSBUF 16384  /* raw WebSocket stream: >= one HTTP head + a control frame */
#define CLIENT_INBUF 8192   /* MQTT bytes received and not yet used */

struct client_conn {
	int fd;
	enum client_transport transport;
	uint8_t mqtt_version;
	int timeout_ms;
	struct tls_ctx *ctx;
	struct tls_conn *tls;      /* tls, wss: once the handshake started */
	bool ws;                   /* ws, wss: once the upgrade succeeded */
	struct ws_decoder dec;
	uint8_t wsbuf[CLIENT_WSBUF];   /* raw WS bytes not yet decoded */
	size_t ws_len;
	uint8_t in[CLIENT_INBUF];      /* MQTT bytes */
	size_t in_len;
	const uint8_t *pre;        /* coalesce: header bytes to prepend to the next write */
	size_t pre_len;
	bool dead;                 /* peer closed or failed */
	bool ws_closed;            /* close frame (or WS error) seen; c->why says */
	struct client_result *res;     /* while client_run runs */
	char why[200];             /* detail of the last failed read/write */
	double t0;                 /* start, in microseconds */
};

/* ---- names ------------------------------------------------------------------ */

const char *client_transport_name(enum client_transport t)
{
	switch (t) {
	case CLIENT_TCP: return "tcp";
	case CLIENT_TLS: return "tls";
	case CLIENT_WS: return "ws";
	case CLIENT_WSS: return "wss";
	}
	return "?";
}

int client_transport_parse(const char *s, enum client_transport *t)
{
	if (!s)
		return -1;
	if (!strcasecmp(s, "tcp"))
		*t = CLIENT_TCP;
	else if (!strcasecmp(s, "tls") || !strcasecmp(s, "ssl"))
		*t = CLIENT_TLS;
	else if (!strcasecmp(s, "ws"))
		*t = CLIENT_WS;
	else if (!strcasecmp(s, "wss"))
		*t = CLIENT_WSS;
	else
		return -1;
	return 0;
}

const char *client_outcome_name(enum client_outcome o)
{
	switch (o) {
	case CLIENT_CONNACK: return "connack";
	case CLIENT_CLOSED: return "closed";
	case CLIENT_RESET: return "reset";
	case CLIENT_TIMEOUT: return "timeout";
	case CLIENT_REFUSED: return "refused";
	case CLIENT_TLS_FAIL: return "tls-failure";
	case CLIENT_WS_FAIL: return "ws-failure";
	case CLIENT_PROTOCOL: return "protocol";
	case CLIENT_SENT: return "sent";
	case CLIENT_ERROR: return "error";
	}
	return "?";
}

void client_opts_init(struct client_opts *o)
{
	/* pointers stay NULL: client_run applies their defaults ("/mqtt", "mqtt",
	 * SNI = host), so callers can tell "not given" from "given" */
	memset(o, 0, sizeof *o);
	o->transport = CLIENT_TCP;
	o->mqtt_version = 4;
	o->keepalive = 60;
	o->timeout_ms = 5000;
}

/* ---- results ------------------------------------------------------------------ */

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int outcome(struct client_conn *c, enum client_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int outcome(struct client_conn *c, enum client_outcome o, const char *fmt, ...)
{
	va_list ap;
	c->res->outcome = o;
	c->res->elapsed_ms = (now_us() - c->t0) / 1000.0;
	va_start(ap, fmt);
	vsnprintf(c->res->detail, sizeof c->res->detail, fmt, ap);
	va_end(ap);
	return 1;
}

static void rx_add(struct client_result *res, const uint8_t *p, size_t n)
{
	size_t room = sizeof res->rx - res->rx_len;
	if (n > room)
		n = room;
	memcpy(res->rx + res->rx_len, p, n);
	res->rx_len += n;
}

/* ---- raw socket ---------------------------------------------------------------- */

/* Errors below return -1 with errno kept; c->why says what happened. */

static int raw_send(struct client_conn *c, const void *buf, size_t len, int64_t deadline)
{
	struct perr e;
	int rc;
	if (c->pre_len) {
		uint8_t *all = malloc(c->pre_len + len);
		if (!all) {
			errno = ENOMEM;
			snprintf(c->why, sizeof c->why, "out of memory");
			return -1;
		}
		memcpy(all, c->pre, c->pre_len);
		memcpy(all + c->pre_len, buf, len);
		rc = net_write_all(c->fd, all, c->pre_len + len, deadline, &e);
		int saved = errno;
		free(all);
		errno = saved;
		c->pre_len = 0;
	} else {
		rc = net_write_all(c->fd, buf, len, deadline, &e);
	}
	if (rc < 0)
		snprintf(c->why, sizeof c->why, "%s", e.msg);
	return rc;
}

static ssize_t raw_recv(struct client_conn *c, void *buf, size_t cap, int64_t deadline)
{
	struct perr e;
	ssize_t n = net_read_some(c->fd, buf, cap, deadline, &e);
	if (n > 0)
		c->res->any_byte_received = true;
	else if (n < 0)
		snprintf(c->why, sizeof c->why, "%s", e.msg);
	return n;
}

/* ---- transport: plain or TLS ------------------------------------------------------- */

#define XP_TLS_ERR (-2)

static int tls_drain(struct client_conn *c, int64_t deadline)
{
	uint8_t buf[16384];
	size_t n;
	while ((n = tls_out_take(c->tls, buf, sizeof buf)) > 0)
		if (raw_send(c, buf, n, deadline) < 0)
			return -1;
	return 0;
}

/* Application bytes: > 0, 0 closed, -1 errno, XP_TLS_ERR. */
static ssize_t xp_read(struct client_conn *c, void *buf, size_t cap, int64_t deadline)
{
	if (!c->tls || !tls_handshake_done(c->tls))
		return raw_recv(c, buf, cap, deadline);
	for (;;) {
		uint8_t raw[16384];
		ssize_t r = tls_read(c->tls, buf, cap);
		if (tls_drain(c, deadline) < 0 && r <= 0)
			return -1;
		if (r > 0)
			return r;
		if (r == TLS_CLOSED)
			return 0;
		if (r == TLS_ERROR)
			return XP_TLS_ERR;
		ssize_t n = raw_recv(c, raw, sizeof raw, deadline);
		if (n < 0)
			return -1;
		if (n == 0)
			tls_feed_eof(c->tls);
		else if (tls_feed(c->tls, raw, (size_t)n, NULL) < 0)
			return -1;
	}
}

static int xp_write(struct client_conn *c, const void *buf, size_t len, int64_t deadline)
{
	if (!c->tls)
		return raw_send(c, buf, len, deadline);
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t w = tls_write(c->tls, p, len);
		if (w == TLS_ERROR)
			return XP_TLS_ERR;
		if (tls_drain(c, deadline) < 0)
			return -1;
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		} else if (w == TLS_WANT_READ) {
			errno = EPROTO;
			snprintf(c->why, sizeof c->why, "TLS not ready");
			return -1;
		}
	}
	return 0;
}

/* ---- MQTT byte stream: transport, then WebSocket frames ---------------------------- */

#define MQ_WS_CLOSED (-3)

static int ws_send(struct client_conn *c, uint8_t opcode, const void *p, size_t len,
		   int64_t deadline)
{
	uint8_t mask[4];
	size_t cap = len + WS_MAX_HDR;
	uint8_t *f = malloc(cap);
	if (!f || ws_random_mask(mask) < 0) {
		free(f);
		errno = ENOMEM;
		snprintf(c->why, sizeof c->why, "out of memory");
		return -1;
	}
	int n = ws_encode(f, cap, true, opcode, p, len, mask);
	int rc = n < 0 ? -1 : xp_write(c, f, (size_t)n, deadline);
	free(f);
	return rc;
}

static int ws_send_close(struct client_conn *c, uint16_t code, int64_t deadline)
{
	uint8_t body[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	return ws_send(c, WS_OP_CLOSE, body, sizeof body, deadline);
}

static void in_add(struct client_conn *c, const uint8_t *p, size_t n)
{
	rx_add(c->res, p, n);
	size_t room = sizeof c->in - c->in_len;
	if (n > room)
		n = room; /* the client does not read big traffic: drop the excess */
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
}

/* Get more MQTT bytes into c->in. Returns > 0 (added), 0 closed, -1 errno,
 * XP_TLS_ERR, MQ_WS_CLOSED (close frame or WS error, c->why says). */
static ssize_t mq_fill(struct client_conn *c, int64_t deadline)
{
	if (!c->ws) {
		uint8_t buf[4096];
		ssize_t n = xp_read(c, buf, sizeof buf, deadline);
		if (n > 0)
			in_add(c, buf, (size_t)n);
		return n;
	}
	/* A close frame that came in the same read as MQTT data (a refusing
	 * CONNACK, typically) is reported on the call after that data. */
	if (c->ws_closed)
		return MQ_WS_CLOSED;
	for (;;) {
		size_t off = 0, added = 0;
		for (;;) {
			struct ws_event ev;
			off += ws_decode(&c->dec, c->wsbuf + off, c->ws_len - off, &ev);
			if (ev.type == WS_EV_NONE)
				break;
			if (ev.type == WS_EV_ERROR) {
				snprintf(c->why, sizeof c->why, "WebSocket: %s", ev.err);
				c->ws_closed = true;
				break;
			}
			if (ev.type == WS_EV_DATA) {
				in_add(c, ev.data, ev.len);
				added += ev.len;
			} else if (ev.opcode == WS_OP_PING) {
				ws_send(c, WS_OP_PONG, ev.data, ev.len, deadline);
			} else if (ev.opcode == WS_OP_CLOSE) {
				uint16_t code;
				const uint8_t *r;
				size_t rl;
				ws_close_parse(ev.data, ev.len, &code, &r, &rl);
				snprintf(c->why, sizeof c->why, "WebSocket close %u%s%.*s", code,
					 rl ? ": " : "", (int)(rl > 80 ? 80 : rl), (const char *)r);
				ws_send_close(c, code ? code : WS_CLOSE_NORMAL, deadline);
				c->ws_closed = true;
				break;
			}
		}
		if (c->ws_closed) {
			c->ws_len = 0; /* nothing after a close frame counts */
			return added ? (ssize_t)added : MQ_WS_CLOSED;
		}
		memmove(c->wsbuf, c->wsbuf + off, c->ws_len - off);
		c->ws_len -= off;
		if (added)
			return (ssize_t)added;
		if (c->ws_len == sizeof c->wsbuf) {
			snprintf(c->why, sizeof c->why, "WebSocket: frame header does not fit");
			return MQ_WS_CLOSED;
		}
		ssize_t n = xp_read(c, c->wsbuf + c->ws_len, sizeof c->wsbuf - c->ws_len, deadline);
		if (n <= 0)
			return n;
		c->ws_len += (size_t)n;
	}
}

static int mq_send(struct client_conn *c, const void *p, size_t len, int64_t deadline)
{
	if (c->ws)
		return ws_send(c, WS_OP_BINARY, p, len, deadline);
	return xp_write(c, p, len, deadline);
}

/* ---- outcomes of failed reads and writes -------------------------------------------- */

/* A read or write failed with rc (and errno): decide the outcome. */
static int io_outcome(struct client_conn *c, ssize_t rc, const char *stage, enum client_outcome on_timeout)
{
	if (rc == 0)
		return outcome(c, CLIENT_CLOSED, "%s: closed by peer", stage);
	if (rc == XP_TLS_ERR)
		return outcome(c, CLIENT_TLS_FAIL, "TLS: %s", tls_error(c->tls));
	if (rc == MQ_WS_CLOSED)
		return outcome(c, CLIENT_WS_FAIL, "%s: %s", stage, c->why);
	if (errno == ETIMEDOUT)
		return outcome(c, on_timeout, "%s: nothing within %d ms", stage, c->timeout_ms);
	if (errno == ECONNRESET)
		return outcome(c, CLIENT_RESET, "%s: connection reset by peer", stage);
	if (errno == EPIPE)
		return outcome(c, CLIENT_CLOSED, "%s: closed by peer (broken pipe)", stage);
	return outcome(c, CLIENT_ERROR, "%s: %s", stage, c->why);
}

/* Wait up to ms while watching the socket: true when the peer did
 * something (sent bytes, closed, reset). */
static bool pause_watch(struct client_conn *c, int ms)
{
	if (ms <= 0)
		return false;
	int r = net_wait(c->fd, POLLIN, net_now_ms() + ms, NULL);
	return r == 1;
}

/* Wait for whatever the peer does; nothing within the timeout gives
 * on_quiet. Bytes are a protocol outcome: nothing was asked. */
static int wait_outcome(struct client_conn *c, const char *stage, enum client_outcome on_quiet)
{
	int64_t deadline = net_now_ms() + c->timeout_ms;
	ssize_t n = mq_fill(c, deadline);
	if (n > 0)
		return outcome(c, CLIENT_PROTOCOL, "%s: peer sent %zd unexpected bytes", stage, n);
	if (n < 0 && n != XP_TLS_ERR && n != MQ_WS_CLOSED && errno == ETIMEDOUT) {
		if (on_quiet == CLIENT_SENT)
			return outcome(c, CLIENT_SENT, "%s: connection still open after %d ms", stage,
				       c->timeout_ms);
		return outcome(c, CLIENT_TIMEOUT, "%s: peer kept the connection open for %d ms",
			       stage, c->timeout_ms);
	}
	return io_outcome(c, n, stage, on_quiet);
}

/* Before a stage where we speak first on the bare socket: has the peer
 * already closed or sent something? Writing into a closed connection would
 * turn its FIN into our RST and hide what it did. */
static bool peer_acted(struct client_conn *c)
{
	return !c->tls && !c->ws && !c->pre_len && net_wait(c->fd, POLLIN, 0, NULL) == 1;
}

/* ---- stages ----------------------------------------------------------------------- */

/* 0 = go on, 1 = outcome decided. */
static int stage_header(struct client_conn *c, const struct client_opts *o)
{
	size_t len = o->header_len;
	bool partial = o->send_only && o->send_only < len;
	if (partial)
		len = o->send_only;
	size_t chunk = o->split && o->split < len ? o->split : len;
	int64_t deadline = net_now_ms() + c->timeout_ms;

	if (o->coalesce && !partial && !o->close_after_header && chunk == len && !o->ncuts && o->stall_ms <= 0) {
		c->pre = o->header;
		c->pre_len = len;
		return 0;
	}
	for (size_t off = 0, k = 0; off < len; k++) {
		size_t end = off + chunk;
		if (o->ncuts)
			end = k < o->ncuts && o->cuts[k] > off ? o->cuts[k] : len;
		if (end > len)
			end = len;
		if (off > 0 && pause_watch(c, o->delay_ms))
			return wait_outcome(c, "header", CLIENT_TIMEOUT);
		if (raw_send(c, o->header + off, end - off, deadline) < 0)
			return io_outcome(c, -1, "header", CLIENT_TIMEOUT);
		off = end;
	}
	if (pause_watch(c, o->stall_ms))
		return wait_outcome(c, "header", CLIENT_TIMEOUT);
	if (o->close_after_header) {
		close(c->fd);
		c->fd = -1;
		return outcome(c, CLIENT_SENT, "closed by us after %zu of %zu header bytes", len,
			       o->header_len);
	}
	if (partial)
		return wait_outcome(c, "partial header", CLIENT_TIMEOUT);
	return 0;
}

static int stage_tls(struct client_conn *c, const struct client_opts *o)
{
	struct perr e;
	const char *sni = o->sni && *o->sni ? o->sni : o->host;
	if (peer_acted(c))
		return wait_outcome(c, "before TLS handshake", CLIENT_TIMEOUT);
	c->ctx = tls_client_ctx_new(o->ca_file, o->insecure, o->cert_file, o->key_file, &e);
	if (!c->ctx)
		return outcome(c, CLIENT_ERROR, "%s", e.msg);
	c->tls = tls_conn_new(c->ctx, c->fd, false, sni, &e);
	if (!c->tls)
		return outcome(c, CLIENT_ERROR, "%s", e.msg);
	int64_t deadline = net_now_ms() + c->timeout_ms;
	for (;;) {
		int st = tls_handshake_step(c->tls);
		if (tls_drain(c, deadline) < 0) {
			if (st != TLS_ERROR)
				return io_outcome(c, -1, "TLS handshake", CLIENT_TIMEOUT);
		}
		if (st == TLS_DONE)
			break;
		if (st == TLS_ERROR) {
			if (!c->res->any_byte_received && strstr(tls_error(c->tls), "closed by peer"))
				return outcome(c, CLIENT_CLOSED,
					       "TLS handshake: closed by peer before any byte");
			return outcome(c, CLIENT_TLS_FAIL, "TLS: %s", tls_error(c->tls));
		}
		uint8_t raw[16384];
		ssize_t n = raw_recv(c, raw, sizeof raw, deadline);
		if (n < 0)
			return io_outcome(c, -1, "TLS handshake", CLIENT_TIMEOUT);
		if (n == 0)
			tls_feed_eof(c->tls);
		else
			tls_feed(c->tls, raw, (size_t)n, NULL);
	}
	snprintf(c->res->tls_version, sizeof c->res->tls_version, "%s", tls_version(c->tls));
	snprintf(c->res->tls_cipher, sizeof c->res->tls_cipher, "%s", tls_cipher(c->tls));
	return 0;
}

static int stage_ws(struct client_conn *c, const struct client_opts *o)
{
	char key[WS_KEY_LEN + 1], host[300], req[1024];
	int64_t deadline = net_now_ms() + c->timeout_ms;
	const char *proto = o->ws_subprotocol ? o->ws_subprotocol : "mqtt";

	if (peer_acted(c))
		return wait_outcome(c, "before WebSocket upgrade", CLIENT_TIMEOUT);
	if (ws_client_key(key) < 0)
		return outcome(c, CLIENT_ERROR, "WebSocket: no random key");
	if (strchr(o->host, ':'))
		snprintf(host, sizeof host, "[%s]:%u", o->host, (unsigned)o->port);
	else
		snprintf(host, sizeof host, "%s:%u", o->host, (unsigned)o->port);
	struct ws_client_req r = { .host = host, .path = o->ws_path, .key = key,
				   .subprotocol = proto };
	int n = ws_build_request(&r, req, sizeof req);
	if (n < 0)
		return outcome(c, CLIENT_ERROR, "WebSocket: request does not fit");
	int rc = xp_write(c, req, (size_t)n, deadline);
	if (rc < 0)
		return io_outcome(c, rc, "WebSocket upgrade", CLIENT_TIMEOUT);
	for (;;) {
		struct ws_response resp;
		int used = ws_parse_response(c->wsbuf, c->ws_len, key, *proto ? proto : NULL,
					     &resp);
		if (used < 0) {
			rx_add(c->res, c->wsbuf, c->ws_len);
			return outcome(c, CLIENT_WS_FAIL, "WebSocket: %s", resp.reason);
		}
		if (used > 0) {
			memmove(c->wsbuf, c->wsbuf + used, c->ws_len - (size_t)used);
			c->ws_len -= (size_t)used;
			break;
		}
		ssize_t got = xp_read(c, c->wsbuf + c->ws_len, sizeof c->wsbuf - c->ws_len,
				      deadline);
		if (got <= 0) {
			rx_add(c->res, c->wsbuf, c->ws_len);
			if (got == 0 && c->ws_len > 0)
				return outcome(c, CLIENT_WS_FAIL,
					       "WebSocket: closed during the upgrade response");
			return io_outcome(c, got, "WebSocket upgrade", CLIENT_TIMEOUT);
		}
		c->ws_len += (size_t)got;
	}
	c->ws = true;
	ws_decoder_init(&c->dec, WS_ROLE_CLIENT);
	return 0;
}

static int stage_mqtt(struct client_conn *c, const struct client_opts *o)
{
	uint8_t pkt[1024], *buf = pkt;
	int64_t deadline = net_now_ms() + c->timeout_ms;
	if (peer_acted(c))
		return wait_outcome(c, "before CONNECT", CLIENT_TIMEOUT);
	long n = mqtt_build_connect(pkt, sizeof pkt, c->mqtt_version, o->client_id, o->username,
				    o->password, (uint16_t)o->keepalive, true);
	if (n < 0)
		return outcome(c, CLIENT_ERROR, "MQTT: cannot build CONNECT");
	if ((size_t)n > sizeof pkt) {
		buf = malloc((size_t)n);
		if (!buf)
			return outcome(c, CLIENT_ERROR, "out of memory");
		n = mqtt_build_connect(buf, (size_t)n, c->mqtt_version, o->client_id, o->username,
				       o->password, (uint16_t)o->keepalive, true);
	}
	int rc = mq_send(c, buf, (size_t)n, deadline);
	if (buf != pkt)
		free(buf);
	if (rc < 0)
		return io_outcome(c, rc, "CONNECT", CLIENT_TIMEOUT);
	for (;;) {
		bool sp = false;
		uint8_t code = 0;
		long used = mqtt_parse_connack(c->in, c->in_len, c->mqtt_version, &sp, &code);
		if (used > 0) {
			memmove(c->in, c->in + used, c->in_len - (size_t)used);
			c->in_len -= (size_t)used;
			c->res->connack_rc = code;
			c->res->session_present = sp;
			return outcome(c, CLIENT_CONNACK, "%s",
				       code == 0 ? "accepted"
						 : mqtt_connack_name(c->mqtt_version, code));
		}
		if (used < 0 && c->mqtt_version == 5) {
			/* A 3.1.1-only server answers an MQTT 5 CONNECT with a
			 * 3.1.1 CONNACK (0x01, unacceptable protocol version). */
			used = mqtt_parse_connack(c->in, c->in_len, 4, &sp, &code);
			if (used > 0) {
				c->res->connack_rc = code;
				return outcome(c, CLIENT_CONNACK, "MQTT 3.1.1 answer to an MQTT 5 CONNECT: %s",
					       code == 0 ? "accepted" : mqtt_connack_name(4, code));
			}
		}
		if (used < 0)
			return outcome(c, CLIENT_PROTOCOL, "answer to CONNECT is not a CONNACK");
		ssize_t got = mq_fill(c, deadline);
		if (got <= 0)
			return io_outcome(c, got, "waiting for CONNACK", CLIENT_TIMEOUT);
	}
}

/* ---- client_run ------------------------------------------------------------------------ */

static void conn_free(struct client_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	tls_conn_free(c->tls);
	tls_ctx_free(c->ctx);
	free(c);
}

static int run(const struct client_opts *o, struct client_result *res, struct client_conn **connp)
{
	struct perr e;
	struct client_conn *c;
	bool refused = false;

	memset(res, 0, sizeof *res);
	res->outcome = CLIENT_ERROR;
	res->connack_rc = -1;
	if (connp)
		*connp = NULL;
	res->mqtt_version = o->mqtt_version ? o->mqtt_version : 4;
	if (!o->host || !*o->host || o->port == 0) {
		snprintf(res->detail, sizeof res->detail, "no target host or port");
		return -1;
	}
	if (res->mqtt_version != 4 && res->mqtt_version != 5) {
		snprintf(res->detail, sizeof res->detail, "MQTT version must be 4 (3.1.1) or 5");
		return -1;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(res->detail, sizeof res->detail, "out of memory");
		return -1;
	}
	c->fd = -1;
	c->res = res;
	c->t0 = now_us();
	c->transport = o->transport;
	c->mqtt_version = (uint8_t)res->mqtt_version;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;

	c->fd = net_connect(o->host, o->port, o->bind_addr, c->timeout_ms, &refused, &e);
	if (c->fd < 0) {
		int err = errno;
		if (refused)
			outcome(c, CLIENT_REFUSED, "%s", e.msg);
		else if (err == ETIMEDOUT)
			outcome(c, CLIENT_TIMEOUT, "%s", e.msg);
		else
			outcome(c, CLIENT_ERROR, "%s", e.msg);
		conn_free(c);
		return res->outcome == CLIENT_ERROR ? -1 : 0;
	}
	net_local_addr(c->fd, &res->local, NULL);

	int done = 0;
	/* A client (or load balancer) that connects and says nothing yet: if
	 * the broker acts meanwhile (a close, bytes), that is the outcome. */
	if (pause_watch(c, o->pre_delay_ms))
		done = wait_outcome(c, "before the header", CLIENT_TIMEOUT);
	else if (o->header && o->header_len)
		done = stage_header(c, o);
	if (!done && (o->transport == CLIENT_TLS || o->transport == CLIENT_WSS))
		done = stage_tls(c, o);
	if (!done && (o->transport == CLIENT_WS || o->transport == CLIENT_WSS))
		done = stage_ws(c, o);
	if (!done && c->ws)
		res->rx_len = 0; /* from here on rx holds MQTT bytes */
	if (!done && o->no_connect) {
		if (c->pre_len) {
			/* coalesce without anything to coalesce with: send the header alone */
			const uint8_t *p = c->pre;
			size_t l = c->pre_len;
			c->pre_len = 0;
			if (raw_send(c, p, l, net_now_ms() + c->timeout_ms) < 0)
				done = io_outcome(c, -1, "header", CLIENT_TIMEOUT);
		}
		if (!done)
			done = wait_outcome(c, "after handshake", CLIENT_SENT);
	}
	if (!done)
		done = stage_mqtt(c, o);

	if (res->outcome == CLIENT_CONNACK && connp) {
		c->res = NULL;
		*connp = c;
		return 0;
	}
	if (res->outcome == CLIENT_CONNACK && res->connack_rc == 0) {
		c->res = NULL;
		client_close(c, true);
		return 0;
	}
	int rc = res->outcome == CLIENT_ERROR ? -1 : 0;
	conn_free(c);
	return rc;
}

int client_run(const struct client_opts *o, struct client_result *res, struct client_conn **connp,
	       struct perr *e)
{
	if (run(o, res, connp) == 0)
		return 0;
	return perr_set(e, "%s", res->detail);
}

/* ---- after CONNACK ------------------------------------------------------------------ */

/* Scratch result for reads after client_run (rx is not kept). */
static struct client_result *scratch(struct client_conn *c, struct client_result *tmp)
{
	if (!c->res) {
		memset(tmp, 0, sizeof *tmp);
		c->res = tmp;
	}
	return c->res;
}

bool client_alive(struct client_conn *c)
{
	struct client_result tmp;
	if (!c || c->dead || c->fd < 0)
		return false;
	scratch(c, &tmp);
	/* consume whatever arrived; a close or error means not alive */
	while (net_wait(c->fd, POLLIN, 0, NULL) == 1) {
		ssize_t n = mq_fill(c, net_now_ms() + 100);
		c->in_len = 0; /* nobody reads traffic on this connection */
		if (n <= 0) {
			c->dead = true;
			break;
		}
	}
	c->res = NULL;
	return !c->dead;
}

void client_close(struct client_conn *c, bool graceful)
{
	struct client_result tmp;
	if (!c)
		return;
	if (graceful && !c->dead && c->fd >= 0) {
		uint8_t d[16];
		int64_t deadline = net_now_ms() + (c->timeout_ms < 1000 ? c->timeout_ms : 1000);
		long n = mqtt_build_disconnect(d, sizeof d, c->mqtt_version, 0);
		scratch(c, &tmp);
		if (n > 0 && (size_t)n <= sizeof d && mq_send(c, d, (size_t)n, deadline) == 0) {
			if (c->ws)
				ws_send_close(c, WS_CLOSE_NORMAL, deadline);
			if (c->tls && tls_shutdown(c->tls) == 0)
				tls_drain(c, deadline);
		}
	}
	c->res = NULL;
	conn_free(c);
}

/* ---- printing ----------------------------------------------------------------------- */

const char *client_result_str(const struct client_result *r, char *buf, size_t cap)
{
	double ms = r->elapsed_ms;
	switch (r->outcome) {
	case CLIENT_CONNACK:
		if (r->mqtt_version == 5)
			snprintf(buf, cap, "CONNACK 0x%02x (%s) in %.1f ms", r->connack_rc,
				 r->connack_rc == 0 ? "accepted" : r->detail, ms);
		else
			snprintf(buf, cap, "CONNACK %d (%s) in %.1f ms", r->connack_rc,
				 r->connack_rc == 0 ? "accepted" : r->detail, ms);
		break;
	case CLIENT_CLOSED:
		if (r->any_byte_received)
			snprintf(buf, cap, "closed by peer after %zu bytes (after %.1f ms): %s",
				 r->rx_len, ms, r->detail);
		else
			snprintf(buf, cap, "closed by peer before any byte (after %.1f ms): %s", ms,
				 r->detail);
		break;
	case CLIENT_RESET:
		snprintf(buf, cap, "connection reset by peer%s (after %.1f ms): %s",
			 r->any_byte_received ? "" : " before any byte", ms, r->detail);
		break;
	case CLIENT_TIMEOUT:
		snprintf(buf, cap, "timeout (after %.1f ms): %s", ms, r->detail);
		break;
	case CLIENT_REFUSED:
		snprintf(buf, cap, "connection refused: %s", r->detail);
		break;
	case CLIENT_TLS_FAIL:
		snprintf(buf, cap, "TLS failure (after %.1f ms): %s", ms, r->detail);
		break;
	case CLIENT_WS_FAIL:
		snprintf(buf, cap, "WebSocket failure (after %.1f ms): %s", ms, r->detail);
		break;
	case CLIENT_PROTOCOL: {
		char hex[3 * 16 + 1] = "";
		size_t n = r->rx_len < 16 ? r->rx_len : 16, hl = 0;
		for (size_t i = 0; i < n; i++)
			hl += (size_t)snprintf(hex + hl, sizeof hex - hl, "%s%02x", i ? " " : "",
					       r->rx[i]);
		snprintf(buf, cap, "protocol error (after %.1f ms): %s%s%s%s", ms, r->detail,
			 n ? " [" : "", hex, n ? (r->rx_len > n ? " ...]" : "]") : "");
		break;
	}
	case CLIENT_SENT:
		snprintf(buf, cap, "sent, no answer expected (after %.1f ms): %s", ms, r->detail);
		break;
	case CLIENT_ERROR:
	default:
		snprintf(buf, cap, "error: %s", r->detail);
		break;
	}
	return buf;
}

void client_result_print(const struct client_result *res, FILE *f)
{
	char line[512];
	fprintf(f, "%s\n", client_result_str(res, line, sizeof line));
}
