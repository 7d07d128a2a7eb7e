/* pp_addr.c - see pp_addr.h. */
#include "pp_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static int port_parse(const char *s, uint16_t *out)
{
	uint32_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int unix_parse(const char *path, struct sockaddr_storage *ss)
{
	struct sockaddr_un *su = (struct sockaddr_un *)ss;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(su->sun_path))
		return -1;
	su->sun_family = AF_UNIX;
	memcpy(su->sun_path, path, n);
	return 0;
}

static int ip6_parse(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	const char *rb = strchr(s, ']');
	char host[64];
	uint16_t port;

	if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
		return -1;
	memcpy(host, s + 1, (size_t)(rb - s - 1));
	host[rb - s - 1] = '\0';
	if (port_parse(rb + 2, &port) < 0 || inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
		return -1;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	return 0;
}

int pp_sockaddr_parse(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	const char *colon;
	char host[64];
	uint16_t port;

	if (!s || !ss)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (strncmp(s, "unix:", 5) == 0)
		return unix_parse(s + 5, ss);
	if (s[0] == '[')
		return ip6_parse(s, ss);
	colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (port_parse(colon + 1, &port) < 0 || inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	return 0;
}

const char *pp_ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	const void *a = NULL;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	switch (ss->ss_family) {
	case AF_INET:
		a = &((const struct sockaddr_in *)ss)->sin_addr;
		break;
	case AF_INET6:
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		break;
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;

		snprintf(buf, cap, "unix:%.*s", (int)sizeof un->sun_path, un->sun_path);
		return buf;
	}
	default:
		snprintf(buf, cap, "-");
		return buf;
	}
	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)cap))
		buf[0] = '\0';
	return buf;
}

const char *pp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return "";
	buf[0] = '\0';
	if (!ss) {
		snprintf(buf, cap, "-");
		return buf;
	}
	if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *su = (const struct sockaddr_un *)ss;
		/* Abstract names start with NUL; shown with '@' like ss(8) does. */
		if (su->sun_path[0] == '\0' && su->sun_path[1] != '\0') {
			snprintf(buf, cap, "unix:@%.*s", (int)sizeof(su->sun_path) - 1, su->sun_path + 1);
			return buf;
		}
	}
	pp_ip_str(ss, buf, cap);
	if (!buf[0])
		snprintf(buf, cap, "?"); /* IP text does not fit */
	return buf;
}

uint16_t pp_addr_port(const struct sockaddr_storage *ss)
{
	if (!ss)
		return 0;
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

void pp_addr_map_v6(struct sockaddr_storage *ss)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	if (ss->ss_family != AF_INET)
		return;
	memcpy(&a4, ss, sizeof(a4));
	memset(ss, 0, sizeof(*ss));
	a6->sin6_family = AF_INET6;
	a6->sin6_port = a4.sin_port;
	a6->sin6_addr.s6_addr[10] = 0xff;
	a6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&a6->sin6_addr.s6_addr[12], &a4.sin_addr, 4);
}
