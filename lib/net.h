/* net.h - socket helpers shared by the broker (non-blocking, epoll) and
 * the clients (blocking with timeouts, poll).
 *
 *   - listening and connecting: net_listen, net_connect, net_set_nonblock;
 *   - addresses for people and records: net_addr_str, net_addr_port,
 *     net_addr_unmap (::ffff:a.b.c.d -> a.b.c.d), net_addr_parse;
 *   - CIDR lists for `trusted_proxies`: net_cidr_parse, net_cidr_match;
 *   - whole reads and writes with a deadline, for one-connection clients:
 *     net_write_all, net_read_some, net_wait.
 *
 * Errors follow lib/err.h: 0 (or a fd, or a count) on success, -1 with the
 * perr filled on failure.
 */
#ifndef PPMQ_NET_H
#define PPMQ_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "err.h"

/* Longest string net_addr_str writes: "[IPv6]:65535" plus NUL. */
#define NET_ADDR_STRLEN 64   /* INET6_ADDRSTRLEN (46) + brackets + ":65535" */
#define NET_IP_STRLEN   46   /* INET6_ADDRSTRLEN */

/* ---- sockets ------------------------------------------------------------ */

/* Listen on addr:port with SO_REUSEADDR. addr is an IPv4 or IPv6 literal
 * or a host name (first address that binds wins); NULL or "" = "0.0.0.0".
 * IPv6 sockets are dual-stack when addr is "::" (IPV6_V6ONLY off), so a
 * "::" listener sees IPv4 peers as ::ffff:a.b.c.d (see net_addr_unmap).
 * port 0 lets the kernel pick one: read it back with net_local_port().
 * The socket is non-blocking and close-on-exec.
 * backlog <= 0 means SOMAXCONN. Returns the fd, or -1 with *e set. */
int net_listen(const char *addr, uint16_t port, int backlog, struct perr *e);

/* O_NONBLOCK on (nb = true) or off. Returns 0 or -1 with *e set. */
int net_set_nonblock(int fd, bool nb, struct perr *e);

/* TCP_NODELAY on: small MQTT packets and split PROXY headers must leave
 * as written, not be merged by Nagle. Returns 0 or -1 with *e set. */
int net_set_nodelay(int fd, struct perr *e);

/* Connect to host:port (name or literal; every resolved address is tried
 * in turn), optionally from bind_addr (a literal source IP, e.g.
 * "127.0.0.7"; NULL = any), within timeout_ms in total (<= 0: 5000).
 * The returned fd is BLOCKING, close-on-exec, with TCP_NODELAY.
 * Returns the fd, or -1 with *e set. *refused (may be NULL) is set true
 * when the failure was the peer refusing/unreachable rather than a local
 * error or a timeout: clients report it as CLIENT_REFUSED. */
int net_connect(const char *host, uint16_t port, const char *bind_addr,
		int timeout_ms, bool *refused, struct perr *e);

/* Port the socket is bound to (host order), 0 on error. */
uint16_t net_local_port(int fd);

/* ---- addresses ---------------------------------------------------------- */

/* IP text of an AF_INET / AF_INET6 address, as is (an IPv4-mapped IPv6
 * address stays "::ffff:1.2.3.4"; call net_addr_unmap first to show it as
 * IPv4). "unix:<path>" for AF_UNIX, "-" for anything else. Returns buf. */
const char *net_ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* "1.2.3.4:5678", "[2001:db8::1]:5678", same rules as net_ip_str. */
const char *net_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* Port in host order; 0 for families without one. */
uint16_t net_addr_port(const struct sockaddr_storage *ss);

/* Rewrite an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into the AF_INET
 * address a.b.c.d with the same port. Returns true when it rewrote. */
bool net_addr_unmap(struct sockaddr_storage *ss);

/* Parse an IP literal ("1.2.3.4", "2001:db8::1", "[::1]") and a port into
 * *ss. Returns 0 or -1 with *e set. */
int net_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
		   struct perr *e);

/* Peer and local address of a connected socket; 0 or -1 with *e set. */
int net_peer_addr(int fd, struct sockaddr_storage *ss, struct perr *e);
int net_local_addr(int fd, struct sockaddr_storage *ss, struct perr *e);

/* ---- CIDR lists (trusted_proxies) --------------------------------------- */

/* One network: "10.0.0.0/8", "192.0.2.7" (= /32), "2001:db8::/32",
 * "::1" (= /128). Host bits beyond the prefix are ignored (cleared). */
struct net_cidr {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* network, 4 or 16 bytes used */
	uint8_t prefix;      /* 0..32 or 0..128 */
};

/* Parse one CIDR. Returns 0 or -1 with *e set ("bad CIDR '10.0.0.0/33':
 * prefix out of range"). Leading/trailing spaces are not accepted. */
int net_cidr_parse(const char *s, struct net_cidr *c, struct perr *e);

/* Parse a list separated by commas and/or spaces into out[cap]; *n gets
 * the count. Fails (-1, *e names the bad item) on any bad item or when
 * more than cap items are given. An empty string is an empty list. */
int net_cidr_parse_list(const char *s, struct net_cidr *out, size_t cap,
			size_t *n, struct perr *e);

/* Does the address fall inside c? An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches IPv4 networks as a.b.c.d; it also matches
 * IPv6 networks that cover it literally (e.g. ::ffff:0:0/96). */
bool net_cidr_match(const struct net_cidr *c, const struct sockaddr_storage *ss);

/* Does it fall inside any of list[0..n)? false for n == 0. */
bool net_cidr_match_any(const struct net_cidr *list, size_t n,
			const struct sockaddr_storage *ss);

/* "10.0.0.0/8" text form of c. Returns buf. */
const char *net_cidr_str(const struct net_cidr *c, char *buf, size_t cap);

/* ---- blocking I/O with a deadline (clients) ----------------------------- */

/* Milliseconds on CLOCK_MONOTONIC: deadlines are now_ms() + timeout. */
int64_t net_now_ms(void);

/* Wait until fd is readable (events = POLLIN) / writable (POLLOUT), until
 * the absolute deadline (net_now_ms() based; < 0 = no deadline).
 * Returns 1 ready, 0 timed out, -1 error with *e set. */
int net_wait(int fd, short events, int64_t deadline_ms, struct perr *e);

/* Write all len bytes before the deadline (works on blocking and
 * non-blocking fds; MSG_NOSIGNAL, so a closed peer is an error, not
 * SIGPIPE). Returns 0; or -1 with *e set and errno kept (ETIMEDOUT on
 * timeout, EPIPE / ECONNRESET when the peer went away). */
int net_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms,
		  struct perr *e);

/* Read what is available (at least one byte) before the deadline.
 * Returns the count (> 0); 0 when the peer closed (FIN); -1 with *e set
 * and errno kept (ETIMEDOUT on timeout, ECONNRESET on reset). */
ssize_t net_read_some(int fd, void *buf, size_t cap, int64_t deadline_ms,
		      struct perr *e);

/* Sleep for ms milliseconds (restarted on EINTR). */
void net_sleep_ms(int ms);

#endif
