/* pp_addr.h - socket addresses as PROXY headers carry them, and as text:
 * "IP:PORT", "[IPv6]:PORT", "unix:/path" in, "1.2.3.4", "2001:db8::1",
 * "unix:/path" out.
 *
 * A leaf: libc only. The codec (pp.c) and the header descriptions
 * (pp_desc.c) need nothing else, and net.c shows addresses through it.
 */
#ifndef PPMQ_PP_ADDR_H
#define PPMQ_PP_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "1.2.3.4:5", "[2001:db8::1]:5" or "unix:/path" (path shorter than 108
 * bytes) into *ss. Ports are decimal 0..65535 without leading zeros;
 * anything else is refused. Returns 0 or -1. */
int pp_sockaddr_parse(const char *s, struct sockaddr_storage *ss);

/* IP text of an AF_INET / AF_INET6 address as it is (an IPv4-mapped IPv6
 * address stays "::ffff:1.2.3.4"), "unix:<path>" for AF_UNIX, "-" for
 * anything else; "" when it does not fit. Returns buf. */
const char *pp_ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* The same for people and logs: "-" for NULL, an abstract UNIX name as
 * "unix:@name", "?" when the text does not fit. Returns buf. */
const char *pp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* Port in host order; 0 for NULL and families without one. */
uint16_t pp_addr_port(const struct sockaddr_storage *ss);

/* Rewrite an AF_INET address as IPv4-mapped IPv6 (::ffff:a.b.c.d), same
 * port; other families are left as they are. */
void pp_addr_map_v6(struct sockaddr_storage *ss);

#endif
