/* sink.c - the machine's ceilings for scripts/bench: the least a server can
 * do for `proxygen flood` and still count as one.
 *
 *   sink PORT          the accept-rate ceiling, on 127.0.0.1:PORT until killed
 *   sink --relay PORT  the message-throughput ceiling, likewise
 *
 * One thread, one epoll loop, like the brokers it stands beside.
 *
 * Without --relay, each connection gets a CONNACK (accepted, 4 bytes) after
 * its first bytes, whatever they are (a PROXY header and a CONNECT arrive in
 * one write), and is closed when the client closes. Nothing is parsed, kept
 * or logged: the accept rate measured against it is what the kernel, the
 * loopback and the generator allow, the reference line for the brokers'
 * rates.
 *
 * With --relay, a trivial MQTT 3.1.1 relay: a PROXY v1 or v2 header before
 * the first packet is skipped; then only the packets' framing is read.
 * CONNECT gets a CONNACK, SUBSCRIBE a SUBACK granting the QoS asked, and
 * the connection is remembered as the subscriber of that exact topic (one
 * per topic and one topic per connection, the last one wins; no
 * wildcards). A PUBLISH is acknowledged (PUBACK at QoS 1, PUBREC at QoS 2,
 * PUBCOMP on its PUBREL) and its bytes, unchanged, written to the topic's
 * subscriber; the subscriber's PUBACKs and PUBCOMPs are ignored, its
 * PUBRECs get a PUBREL, PINGREQ a PINGRESP.
 * What a connection is sent waits in its output buffer (without a limit)
 * until the end of the loop's turn, then goes in one write.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define READ_CHUNK 65536
#define TOPIC_SLOTS 65536 /* a power of two */

/* Per descriptor, without --relay: 1 once the CONNACK is written. */
static unsigned char *answered;
static size_t n_fds;

/* Per descriptor, with --relay. */
struct rconn {
	unsigned char *in, *out;
	size_t in_len, in_cap, out_len, out_cap;
	int topic;	  /* the slot it subscribed, or -1 */
	bool started;	  /* past a PROXY header, if any */
	bool dirty;	  /* output waiting for the end of the turn */
	bool want_out;	  /* EPOLLOUT armed */
};
struct topic {
	char *name;
	size_t len;
	int fd; /* its subscriber, or -1 */
};
static bool relay;
static struct rconn *rc;
static struct topic topics[TOPIC_SLOTS];
static int *dirty_fds;
static size_t n_dirty;
static int ep;

static int listen_on(int port)
{
	struct sockaddr_in a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_all(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: the client times out */
		if ((size_t)fd >= n_fds) {
			close(fd);
			continue;
		}
		if (relay)
			rc[fd] = (struct rconn){ .topic = -1 };
		else
			answered[fd] = 0;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

static void serve(int fd)
{
	static const unsigned char connack[4] = { 0x20, 0x02, 0x00, 0x00 };
	unsigned char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(fd); /* also leaves the epoll set */
		return;
	}
	if (n > 0 && !answered[fd]) {
		answered[fd] = 1;
		if (write(fd, connack, sizeof(connack)) != (ssize_t)sizeof(connack))
			close(fd);
	}
}

/* ---- --relay ------------------------------------------------------------------ */

/* Room for want more bytes at *len in a buffer of *cap; false: no memory. */
static bool reserve(unsigned char **buf, size_t *cap, size_t len, size_t want)
{
	size_t c = *cap ? *cap : 4096;
	unsigned char *p;

	while (c - len < want)
		c *= 2;
	if (c == *cap)
		return true;
	p = realloc(*buf, c);
	if (!p)
		return false;
	*buf = p;
	*cap = c;
	return true;
}

/* Queue bytes for fd, written at the end of the turn (flush_dirty). */
static void send_to(int fd, const unsigned char *p, size_t n)
{
	struct rconn *c = &rc[fd];

	if (!reserve(&c->out, &c->out_cap, c->out_len, n)) {
		(void)shutdown(fd, SHUT_RDWR); /* closed when its read sees it */
		return;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	if (!c->dirty) {
		c->dirty = true;
		dirty_fds[n_dirty++] = fd;
	}
}

static void send_ack(int fd, unsigned char type, const unsigned char *id)
{
	unsigned char a[4] = { type, 0x02, id[0], id[1] };

	send_to(fd, a, sizeof(a));
}

static void set_out(int fd, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd };

	if (rc[fd].want_out != on && epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0)
		rc[fd].want_out = on;
}

/* Write what fd has queued; what the socket does not take waits for EPOLLOUT. */
static void flush_fd(int fd)
{
	struct rconn *c = &rc[fd];
	ssize_t n = c->out_len ? write(fd, c->out, c->out_len) : 0;

	c->dirty = false;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->out_len = 0;
		(void)shutdown(fd, SHUT_RDWR);
		return;
	}
	if (n > 0) {
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	set_out(fd, c->out_len > 0);
}

static void flush_dirty(void)
{
	for (size_t i = 0; i < n_dirty; i++)
		if (rc[dirty_fds[i]].dirty)
			flush_fd(dirty_fds[i]);
	n_dirty = 0;
}

static size_t topic_hash(const unsigned char *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ name[i]) * 16777619u;
	return h & (TOPIC_SLOTS - 1);
}

/* The slot of a topic; with add, made if missing. -1: not there, or full. */
static int topic_slot(const unsigned char *name, size_t len, bool add)
{
	size_t h = topic_hash(name, len);

	for (size_t i = 0; i < TOPIC_SLOTS; i++) {
		struct topic *t = &topics[(h + i) & (TOPIC_SLOTS - 1)];

		if (t->name && t->len == len && memcmp(t->name, name, len) == 0)
			return (int)(t - topics);
		if (t->name)
			continue;
		if (!add || !(t->name = malloc(len ? len : 1)))
			return -1;
		memcpy(t->name, name, len);
		t->len = len;
		t->fd = -1;
		return (int)(t - topics);
	}
	return -1;
}

/* SUBSCRIBE (one filter): packet id, filter, options. */
static void on_subscribe(int fd, const unsigned char *v, size_t n)
{
	size_t flen = n >= 4 ? (size_t)(v[2] << 8 | v[3]) : 0;
	unsigned char suback[5] = { 0x90, 0x03, 0, 0, 0x80 };
	int slot = n >= 5 + flen ? topic_slot(v + 4, flen, true) : -1;

	if (n < 2)
		return;
	suback[2] = v[0];
	suback[3] = v[1];
	if (slot >= 0) {
		if (rc[fd].topic >= 0 && topics[rc[fd].topic].fd == fd)
			topics[rc[fd].topic].fd = -1; /* one topic per connection */
		topics[slot].fd = fd;
		rc[fd].topic = slot;
		suback[4] = v[4 + flen] & 3;
	}
	send_to(fd, suback, sizeof(suback));
}

/* PUBLISH: acknowledged, and its bytes to the topic's subscriber. */
static void on_publish(int fd, const unsigned char *pkt, size_t len, size_t hdr)
{
	const unsigned char *v = pkt + hdr;
	size_t n = len - hdr, tlen = n >= 2 ? (size_t)(v[0] << 8 | v[1]) : 0;
	int qos = pkt[0] >> 1 & 3, slot;

	if (n < 2 + tlen + (qos ? 2 : 0))
		return;
	if (qos)
		send_ack(fd, qos == 1 ? 0x40 : 0x50, v + 2 + tlen);
	slot = topic_slot(v + 2, tlen, false);
	if (slot >= 0 && topics[slot].fd >= 0)
		send_to(topics[slot].fd, pkt, len);
}

static void on_packet(int fd, const unsigned char *pkt, size_t len, size_t hdr)
{
	static const unsigned char connack[4] = { 0x20, 0x02, 0x00, 0x00 };
	static const unsigned char pingresp[2] = { 0xd0, 0x00 };
	const unsigned char *v = pkt + hdr;

	switch (pkt[0] >> 4) {
	case 1: send_to(fd, connack, sizeof(connack)); break;
	case 3: on_publish(fd, pkt, len, hdr); break;
	case 5: if (len - hdr >= 2) send_ack(fd, 0x62, v); break;	/* PUBREC: PUBREL */
	case 6: if (len - hdr >= 2) send_ack(fd, 0x70, v); break;	/* PUBREL: PUBCOMP */
	case 8: on_subscribe(fd, v, len - hdr); break;
	case 12: send_to(fd, pingresp, sizeof(pingresp)); break;
	default: break; /* PUBACK, PUBCOMP, UNSUBSCRIBE, DISCONNECT: nothing */
	}
}

/* Bytes of a PROXY header at the start of b (0: none), or -1: not all here. */
static long proxy_len(const unsigned char *b, size_t n)
{
	static const unsigned char sig[12] = "\r\n\r\n\0\r\nQUIT\n";

	if (n && b[0] == sig[0]) {
		if (n < 16)
			return -1;
		return memcmp(b, sig, sizeof(sig)) ? 0 : 16L + (b[14] << 8 | b[15]);
	}
	if (n && b[0] == 'P') {
		const unsigned char *e = memchr(b, '\n', n);

		return e ? e - b + 1 : -1;
	}
	return 0;
}

/* Length of the whole packet at b, its fixed header's in *hdr; 0: not all here. */
static size_t frame_len(const unsigned char *b, size_t n, size_t *hdr)
{
	size_t rl = 0;

	for (size_t i = 1; i < 5 && i < n; i++) {
		rl |= (size_t)(b[i] & 0x7f) << (7 * (i - 1));
		if (!(b[i] & 0x80)) {
			*hdr = i + 1;
			return n >= i + 1 + rl ? i + 1 + rl : 0;
		}
	}
	return 0;
}

/* The complete packets in fd's input; what is left waits for more. */
static void consume(int fd)
{
	struct rconn *c = &rc[fd];
	size_t pos = 0, len, hdr = 0;

	if (!c->started) {
		long skip = proxy_len(c->in, c->in_len);

		if (skip < 0 || (size_t)skip > c->in_len)
			return;
		pos = (size_t)skip;
		c->started = true;
	}
	while ((len = frame_len(c->in + pos, c->in_len - pos, &hdr)) > 0) {
		on_packet(fd, c->in + pos, len, hdr);
		pos += len;
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void relay_close(int fd)
{
	struct rconn *c = &rc[fd];

	if (c->topic >= 0 && topics[c->topic].fd == fd)
		topics[c->topic].fd = -1;
	free(c->in);
	free(c->out);
	*c = (struct rconn){ .topic = -1 };
	close(fd);
}

static void relay_read(int fd)
{
	struct rconn *c = &rc[fd];
	ssize_t n;

	if (!reserve(&c->in, &c->in_cap, c->in_len, READ_CHUNK)) {
		relay_close(fd);
		return;
	}
	n = read(fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		relay_close(fd);
		return;
	}
	if (n > 0) {
		c->in_len += (size_t)n;
		consume(fd);
	}
}

static void relay_event(const struct epoll_event *e)
{
	if (e->events & EPOLLOUT)
		flush_fd(e->data.fd);
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		relay_read(e->data.fd);
}

/* ---- main ------------------------------------------------------------------------ */

/* The per-descriptor tables, as large as the open files limit (raised to
 * the hard one), at most 2^22 entries. */
static bool tables(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	n_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 22) ?
			(size_t)rl.rlim_cur : (size_t)1 << 22;
	if (!relay)
		return (answered = calloc(n_fds, 1)) != NULL;
	rc = calloc(n_fds, sizeof(*rc));
	/* A descriptor is listed again in a turn only after an EPOLLOUT
	 * flush or a close, at most one of either per event. */
	dirty_fds = calloc(n_fds + 2 * MAX_EVENTS, sizeof(*dirty_fds));
	return rc && dirty_fds;
}

static int loop(int lfd)
{
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "sink: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(lfd);
			else if (relay)
				relay_event(&evs[i]);
			else
				serve(evs[i].data.fd);
		}
		if (relay)
			flush_dirty();
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int port, lfd;

	relay = argc == 3 && strcmp(argv[1], "--relay") == 0;
	if (argc != 2 + relay || (port = atoi(argv[argc - 1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: sink [--relay] PORT\n");
		return 2;
	}
	lfd = listen_on(port);
	ep = epoll_create1(0);
	if (!tables() || lfd < 0 || ep < 0) {
		fprintf(stderr, "sink: port %d: %s\n", port, strerror(errno));
		return 1;
	}
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fprintf(stderr, "sink: epoll: %s\n", strerror(errno));
		return 1;
	}
	return loop(lfd);
}
