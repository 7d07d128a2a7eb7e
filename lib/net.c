/* net.c - socket helpers: listen/connect, addresses, CIDR lists, deadline I/O. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pp_addr.h"

/* ---- sockets ------------------------------------------------------------- */

int net_set_nonblock(int fd, bool nb, struct perr *e)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return perr_errno(e, "fcntl(F_GETFL)");
	fl = nb ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (fcntl(fd, F_SETFL, fl) < 0)
		return perr_errno(e, "fcntl(F_SETFL)");
	return 0;
}

int net_set_nodelay(int fd, struct perr *e)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		return perr_errno(e, "setsockopt(TCP_NODELAY)");
	return 0;
}

/* Strip the brackets of "[::1]" into buf; returns buf or s itself. */
static const char *unbracket(const char *s, char *buf, size_t cap)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < cap) {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		return buf;
	}
	return s;
}

static int resolve(const char *host, uint16_t port, int flags, struct addrinfo **res,
		   struct perr *e)
{
	struct addrinfo hints;
	char portbuf[8], hbuf[256];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags;
	snprintf(portbuf, sizeof portbuf, "%u", (unsigned)port);
	host = unbracket(host, hbuf, sizeof hbuf);
	int rc = getaddrinfo(host, portbuf, &hints, res);
	if (rc != 0)
		return perr_set(e, "cannot resolve '%s': %s", host, gai_strerror(rc));
	return 0;
}

int net_listen(const char *addr, uint16_t port, int backlog, struct perr *e)
{
	struct addrinfo *res = NULL, *ai;
	int fd = -1, saved = 0;

	if (!addr || !*addr)
		addr = "0.0.0.0";
	if (backlog <= 0)
		backlog = SOMAXCONN;
	if (resolve(addr, port, AI_PASSIVE, &res, e) < 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1, zero = 0;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		return perr_errno(e, "cannot listen on %s:%u", addr, (unsigned)port);
	}
	return fd;
}

uint16_t net_local_port(int fd)
{
	struct sockaddr_storage ss;
	if (net_local_addr(fd, &ss, NULL) < 0)
		return 0;
	return net_addr_port(&ss);
}

/* One connect attempt bounded by the deadline. Returns fd or -1 (errno). */
static int connect_one(const struct addrinfo *ai, const char *bind_addr,
		       int64_t deadline, struct perr *e)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return perr_errno(e, "socket");
	if (bind_addr && *bind_addr) {
		struct sockaddr_storage src;
		socklen_t sl;
		if (net_addr_parse(bind_addr, 0, &src, e) < 0)
			goto fail;
		if (src.ss_family != ai->ai_family) {
			/* IPv4 source for an IPv6 destination cannot work: skip */
			perr_set(e, "source %s and destination are not the same family",
				 bind_addr);
			errno = EAFNOSUPPORT;
			goto fail;
		}
		sl = src.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6);
		if (bind(fd, (struct sockaddr *)&src, sl) < 0) {
			perr_errno(e, "cannot bind source address %s", bind_addr);
			goto fail;
		}
	}
	if (net_set_nonblock(fd, true, e) < 0)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			perr_errno(e, "connect");
			goto fail;
		}
		int r = net_wait(fd, POLLOUT, deadline, e);
		if (r < 0)
			goto fail;
		if (r == 0) {
			perr_set(e, "connect: timed out");
			errno = ETIMEDOUT;
			goto fail;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			errno = soerr;
			perr_errno(e, "connect");
			goto fail;
		}
	}
	if (net_set_nonblock(fd, false, e) < 0)
		goto fail;
	net_set_nodelay(fd, NULL);
	return fd;
fail: {
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
}

int net_connect(const char *host, uint16_t port, const char *bind_addr,
		int timeout_ms, bool *refused, struct perr *e)
{
	struct addrinfo *res = NULL, *ai;
	struct perr last;
	int fd = -1, err = 0;

	if (refused)
		*refused = false;
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	int64_t deadline = net_now_ms() + timeout_ms;
	if (!host || !*host)
		return perr_set(e, "connect: no host");
	if (resolve(host, port, 0, &res, e) < 0)
		return -1;
	last.msg[0] = '\0';
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, bind_addr, deadline, &last);
		if (fd < 0)
			err = errno;
		if (fd < 0 && net_now_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	if (refused)
		*refused = err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH;
	perr_set(e, "connect to %s:%u: %s", host, (unsigned)port,
		 last.msg[0] ? last.msg : "no usable address");
	errno = err;
	return -1;
}

/* ---- addresses ----------------------------------------------------------- */

const char *net_ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	return pp_ip_str(ss, buf, cap);
}

const char *net_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char ip[NET_IP_STRLEN + 8];
	net_ip_str(ss, ip, sizeof ip);
	if (cap == 0)
		return buf;
	if (ss->ss_family == AF_INET)
		snprintf(buf, cap, "%s:%u", ip, (unsigned)net_addr_port(ss));
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)net_addr_port(ss));
	else
		snprintf(buf, cap, "%s", ip);
	return buf;
}

uint16_t net_addr_port(const struct sockaddr_storage *ss)
{
	return pp_addr_port(ss);
}

bool net_addr_unmap(struct sockaddr_storage *ss)
{
	if (ss->ss_family != AF_INET6)
		return false;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	struct sockaddr_in s4;
	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, &s4, sizeof s4);
	return true;
}

int net_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
		   struct perr *e)
{
	char buf[NET_IP_STRLEN + 4];
	memset(ss, 0, sizeof *ss);
	if (!ip)
		return perr_set(e, "no address");
	const char *p = unbracket(ip, buf, sizeof buf);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (p == ip && inet_pton(AF_INET, p, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, p, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 0;
	}
	memset(ss, 0, sizeof *ss);
	return perr_set(e, "'%s' is not an IP address", ip);
}

int net_peer_addr(int fd, struct sockaddr_storage *ss, struct perr *e)
{
	socklen_t sl = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	if (getpeername(fd, (struct sockaddr *)ss, &sl) < 0)
		return perr_errno(e, "getpeername");
	return 0;
}

int net_local_addr(int fd, struct sockaddr_storage *ss, struct perr *e)
{
	socklen_t sl = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	if (getsockname(fd, (struct sockaddr *)ss, &sl) < 0)
		return perr_errno(e, "getsockname");
	return 0;
}

/* ---- CIDR ---------------------------------------------------------------- */

static void cidr_clear_host_bits(struct net_cidr *c)
{
	size_t n = c->family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < n; i++) {
		unsigned bit0 = (unsigned)i * 8;
		if (bit0 >= c->prefix)
			c->addr[i] = 0;
		else if (bit0 + 8 > c->prefix)
			c->addr[i] &= (uint8_t)(0xFFu << (8 - (c->prefix - bit0)));
	}
}

int net_cidr_parse(const char *s, struct net_cidr *c, struct perr *e)
{
	char ip[NET_IP_STRLEN + 1];
	const char *slash;
	size_t iplen;
	long prefix = -1;

	memset(c, 0, sizeof *c);
	if (!s || !*s)
		return perr_set(e, "bad CIDR '': empty");
	slash = strchr(s, '/');
	iplen = slash ? (size_t)(slash - s) : strlen(s);
	if (iplen == 0 || iplen >= sizeof ip)
		return perr_set(e, "bad CIDR '%s': bad address", s);
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (slash) {
		const char *p = slash + 1;
		char *end;
		if (*p < '0' || *p > '9' || strlen(p) > 3)
			return perr_set(e, "bad CIDR '%s': bad prefix length", s);
		errno = 0;
		prefix = strtol(p, &end, 10);
		if (*end || errno)
			return perr_set(e, "bad CIDR '%s': bad prefix length", s);
	}
	if (inet_pton(AF_INET, ip, c->addr) == 1) {
		c->family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return perr_set(e, "bad CIDR '%s': prefix out of range (0-32)", s);
	} else if (inet_pton(AF_INET6, ip, c->addr) == 1) {
		c->family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		if (prefix > 128)
			return perr_set(e, "bad CIDR '%s': prefix out of range (0-128)", s);
	} else {
		memset(c, 0, sizeof *c);
		return perr_set(e, "bad CIDR '%s': '%s' is not an IP address", s, ip);
	}
	c->prefix = (uint8_t)prefix;
	cidr_clear_host_bits(c);
	return 0;
}

int net_cidr_parse_list(const char *s, struct net_cidr *out, size_t cap, size_t *n,
			struct perr *e)
{
	*n = 0;
	if (!s)
		return 0;
	while (*s) {
		char item[NET_IP_STRLEN + 8];
		size_t len;
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		len = strcspn(s, ", \t");
		if (len >= sizeof item)
			return perr_set(e, "bad CIDR '%.*s': too long", (int)len, s);
		memcpy(item, s, len);
		item[len] = '\0';
		if (*n >= cap)
			return perr_set(e, "too many CIDRs (limit %zu)", cap);
		if (net_cidr_parse(item, &out[*n], e) < 0)
			return -1;
		(*n)++;
		s += len;
	}
	return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xFFu << (8 - rest));
	return (a[full] & m) == (net[full] & m);
}

bool net_cidr_match(const struct net_cidr *c, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		if (c->family != AF_INET)
			return false;
		return prefix_eq((const uint8_t *)&s4->sin_addr, c->addr, c->prefix);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = s6->sin6_addr.s6_addr;
		if (c->family == AF_INET6)
			return prefix_eq(a, c->addr, c->prefix);
		if (c->family == AF_INET && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return prefix_eq(a + 12, c->addr, c->prefix);
	}
	return false;
}

bool net_cidr_match_any(const struct net_cidr *list, size_t n,
			const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < n; i++)
		if (net_cidr_match(&list[i], ss))
			return true;
	return false;
}

const char *net_cidr_str(const struct net_cidr *c, char *buf, size_t cap)
{
	char ip[NET_IP_STRLEN];
	if (cap == 0)
		return buf;
	if (!inet_ntop(c->family == AF_INET ? AF_INET : AF_INET6, c->addr, ip, sizeof ip))
		snprintf(ip, sizeof ip, "?");
	snprintf(buf, cap, "%s/%u", ip, (unsigned)c->prefix);
	return buf;
}

/* ---- deadline I/O --------------------------------------------------------- */

int64_t net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void net_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int net_wait(int fd, short events, int64_t deadline_ms, struct perr *e)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int tmo = -1;
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - net_now_ms();
			tmo = left < 0 ? 0 : (left > 1000000000 ? 1000000000 : (int)left);
		}
		int r = poll(&p, 1, tmo);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return perr_errno(e, "poll");
		}
		if (r == 0)
			return 0;
		/* POLLHUP/POLLERR: the following read/write reports what happened */
		return 1;
	}
}

int net_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms, struct perr *e)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return perr_errno(e, "write");
		int r = net_wait(fd, POLLOUT, deadline_ms, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			perr_set(e, "write: timed out");
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

ssize_t net_read_some(int fd, void *buf, size_t cap, int64_t deadline_ms, struct perr *e)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return perr_errno(e, "read");
		int r = net_wait(fd, POLLIN, deadline_ms, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			perr_set(e, "read: timed out");
			errno = ETIMEDOUT;
			return -1;
		}
	}
}
