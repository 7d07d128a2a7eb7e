/* test_net.c - addresses, CIDR lists and loopback sockets (lib/net). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct perr e;
	if (net_addr_parse(ip, port, &ss, &e) < 0)
		fail_msg("net_addr_parse(%s): %s", ip, e.msg);
	return ss;
}

struct match_case {
	const char *cidr;
	const char *ip;
	bool match;
};

static void test_cidr_match_table(void **state)
{
	(void)state;
	static const struct match_case cases[] = {
		{ "10.0.0.0/8", "10.1.2.3", true },
		{ "10.0.0.0/8", "11.0.0.1", false },
		{ "10.0.0.0/8", "9.255.255.255", false },
		{ "192.0.2.7", "192.0.2.7", true },        /* bare IP = /32 */
		{ "192.0.2.7", "192.0.2.8", false },
		{ "192.0.2.0/25", "192.0.2.127", true },
		{ "192.0.2.0/25", "192.0.2.128", false },
		{ "172.16.0.0/12", "172.31.255.255", true },
		{ "172.16.0.0/12", "172.32.0.0", false },
		{ "0.0.0.0/0", "203.0.113.1", true },
		{ "0.0.0.0/0", "2001:db8::1", false },     /* IPv4 network, IPv6 peer */
		{ "10.9.8.7/8", "10.200.0.1", true },      /* host bits ignored */
		{ "127.0.0.1/32", "::ffff:127.0.0.1", true }, /* mapped peer, IPv4 CIDR */
		{ "127.0.0.0/8", "::ffff:127.9.9.9", true },
		{ "127.0.0.0/8", "::ffff:128.0.0.1", false },
		{ "::ffff:0:0/96", "::ffff:10.0.0.1", true }, /* mapped block, literally */
		{ "::ffff:0:0/96", "10.0.0.1", false },
		{ "2001:db8::/32", "2001:db8:ffff::1", true },
		{ "2001:db8::/32", "2001:db9::1", false },
		{ "2001:db8::/33", "2001:db8:7fff::1", true },
		{ "2001:db8::/33", "2001:db8:8000::1", false },
		{ "::1", "::1", true },                    /* bare IPv6 = /128 */
		{ "::1", "::2", false },
		{ "::/0", "fe80::1", true },
		{ "::/0", "1.2.3.4", false },              /* IPv6 network, IPv4 peer */
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		{ "2001:db8::1/128", "2001:db8::1", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct net_cidr c;
		struct perr e;
		if (net_cidr_parse(cases[i].cidr, &c, &e) < 0)
			fail_msg("case %zu: parse %s: %s", i, cases[i].cidr, e.msg);
		struct sockaddr_storage ss = addr(cases[i].ip, 1883);
		if (net_cidr_match(&c, &ss) != cases[i].match)
			fail_msg("case %zu: %s in %s should be %s", i, cases[i].ip, cases[i].cidr,
				 cases[i].match ? "true" : "false");
	}
}

static void test_cidr_parse_values(void **state)
{
	(void)state;
	struct net_cidr c;
	struct perr e;
	char buf[80];
	assert_int_equal(net_cidr_parse("10.9.8.7/8", &c, &e), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_string_equal(net_cidr_str(&c, buf, sizeof buf), "10.0.0.0/8");
	assert_int_equal(net_cidr_parse("2001:db8:1:2::5/60", &c, &e), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_string_equal(net_cidr_str(&c, buf, sizeof buf), "2001:db8:1::/60");
	assert_int_equal(net_cidr_parse("::1", &c, &e), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(net_cidr_parse("1.2.3.4", &c, &e), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(net_cidr_parse("0.0.0.0/0", &c, &e), 0);
	assert_int_equal(c.prefix, 0);
}

static void test_cidr_parse_bad(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/8x", "10.0.0.0/08a", "10.0.0/8", "10.0.0.256", "::1/129",
		"2001:db8::/1280", "host.example", "10.0.0.0 /8", " 10.0.0.0/8",
		"10.0.0.0/8 ", "1.2.3.4/32/1", "[::1]", "::1%lo", "01.2.3.4",
		"1.2.3.4/0000",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct net_cidr c;
		struct perr e;
		e.msg[0] = '\0';
		if (net_cidr_parse(bad[i], &c, &e) != -1)
			fail_msg("'%s' should be refused", bad[i]);
		if (!strstr(e.msg, "bad CIDR"))
			fail_msg("'%s': message '%s'", bad[i], e.msg);
	}
	struct net_cidr c;
	assert_int_equal(net_cidr_parse(NULL, &c, NULL), -1);
}

static void test_cidr_list(void **state)
{
	(void)state;
	struct net_cidr list[4];
	size_t n = 99;
	struct perr e;
	assert_int_equal(net_cidr_parse_list("", list, 4, &n, &e), 0);
	assert_int_equal(n, 0);
	struct sockaddr_storage ss = addr("10.0.0.1", 1);
	assert_false(net_cidr_match_any(list, 0, &ss));
	assert_int_equal(net_cidr_parse_list("10.0.0.0/8, 192.0.2.1 ,2001:db8::/32", list, 4, &n,
					     &e),
			 0);
	assert_int_equal(n, 3);
	assert_true(net_cidr_match_any(list, n, &ss));
	ss = addr("192.0.2.1", 5);
	assert_true(net_cidr_match_any(list, n, &ss));
	ss = addr("192.0.2.2", 5);
	assert_false(net_cidr_match_any(list, n, &ss));
	ss = addr("2001:db8::99", 5);
	assert_true(net_cidr_match_any(list, n, &ss));
	ss = addr("::ffff:10.3.3.3", 5);
	assert_true(net_cidr_match_any(list, n, &ss));

	assert_int_equal(net_cidr_parse_list("10.0.0.0/8,bogus", list, 4, &n, &e), -1);
	assert_non_null(strstr(e.msg, "bogus"));
	assert_int_equal(net_cidr_parse_list("1.1.1.1 2.2.2.2 3.3.3.3", list, 2, &n, &e), -1);
	assert_non_null(strstr(e.msg, "too many"));
}

static void test_addr_str_and_unmap(void **state)
{
	(void)state;
	char buf[NET_ADDR_STRLEN];
	struct sockaddr_storage ss = addr("192.0.2.1", 40000);
	assert_string_equal(net_addr_str(&ss, buf, sizeof buf), "192.0.2.1:40000");
	assert_string_equal(net_ip_str(&ss, buf, sizeof buf), "192.0.2.1");
	assert_int_equal(net_addr_port(&ss), 40000);
	assert_false(net_addr_unmap(&ss));

	ss = addr("[2001:db8::1]", 65535);
	assert_string_equal(net_addr_str(&ss, buf, sizeof buf), "[2001:db8::1]:65535");
	assert_false(net_addr_unmap(&ss));

	/* mapped: shown as is, until unmapped */
	ss = addr("::ffff:198.51.100.7", 1883);
	assert_string_equal(net_addr_str(&ss, buf, sizeof buf), "[::ffff:198.51.100.7]:1883");
	assert_true(net_addr_unmap(&ss));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_string_equal(net_addr_str(&ss, buf, sizeof buf), "198.51.100.7:1883");

	/* the longest IPv6 text fits */
	ss = addr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);
	net_addr_str(&ss, buf, sizeof buf);
	assert_string_equal(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	struct sockaddr_storage un;
	memset(&un, 0, sizeof un);
	assert_string_equal(net_addr_str(&un, buf, sizeof buf), "-");
	assert_int_equal(net_addr_port(&un), 0);

	struct perr e;
	assert_int_equal(net_addr_parse("localhost", 1, &ss, &e), -1);
	assert_non_null(strstr(e.msg, "localhost"));
	assert_int_equal(net_addr_parse("[1.2.3.4]", 1, &ss, &e), -1);
	assert_int_equal(net_addr_parse("1.2.3.4.5", 1, &ss, &e), -1);
}

static void test_listen_connect_io(void **state)
{
	(void)state;
	struct perr e;
	bool refused = true;
	int lfd = net_listen("127.0.0.1", 0, 16, &e);
	assert_true(lfd >= 0);
	uint16_t port = net_local_port(lfd);
	assert_true(port > 0);

	int cfd = net_connect("127.0.0.1", port, NULL, 2000, &refused, &e);
	assert_true(cfd >= 0);
	assert_false(refused);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	int sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);

	/* server sees the client's local address as its peer */
	struct sockaddr_storage a, b;
	assert_int_equal(net_local_addr(cfd, &a, &e), 0);
	assert_int_equal(net_peer_addr(sfd, &b, &e), 0);
	assert_int_equal(net_addr_port(&a), net_addr_port(&b));

	int64_t now = net_now_ms();
	assert_int_equal(net_write_all(cfd, "hello", 5, now + 2000, &e), 0);
	char buf[16];
	ssize_t n = net_read_some(sfd, buf, sizeof buf, net_now_ms() + 2000, &e);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);

	/* nothing to read: times out near the deadline with ETIMEDOUT */
	now = net_now_ms();
	n = net_read_some(cfd, buf, sizeof buf, now + 100, &e);
	assert_int_equal(n, -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(net_now_ms() - now >= 90);
	assert_non_null(strstr(e.msg, "timed out"));
	assert_int_equal(net_wait(cfd, POLLIN, net_now_ms() + 10, &e), 0);

	/* FIN: read returns 0 */
	close(sfd);
	n = net_read_some(cfd, buf, sizeof buf, net_now_ms() + 2000, &e);
	assert_int_equal(n, 0);
	close(cfd);

	/* listening fd is non-blocking */
	assert_int_equal(accept(lfd, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(lfd);

	/* the port is free now: connection refused */
	cfd = net_connect("127.0.0.1", port, NULL, 2000, &refused, &e);
	assert_int_equal(cfd, -1);
	assert_true(refused);
	assert_non_null(strstr(e.msg, "refused"));
}

static void test_source_address_and_ipv6(void **state)
{
	(void)state;
	struct perr e;
	int lfd = net_listen("127.0.0.1", 0, 0, &e);
	assert_true(lfd >= 0);
	uint16_t port = net_local_port(lfd);
	/* 127.0.0.7 is loopback on Linux: the listener must see it as the peer */
	int cfd = net_connect("localhost", port, "127.0.0.7", 2000, NULL, &e);
	if (cfd < 0)
		fail_msg("connect from 127.0.0.7: %s", e.msg);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	struct sockaddr_storage peer;
	socklen_t sl = sizeof peer;
	int sfd = accept(lfd, (struct sockaddr *)&peer, &sl);
	assert_true(sfd >= 0);
	char buf[NET_ADDR_STRLEN];
	assert_string_equal(net_ip_str(&peer, buf, sizeof buf), "127.0.0.7");
	close(sfd);
	close(cfd);
	close(lfd);

	/* a bad source address is a clear error */
	assert_int_equal(net_connect("127.0.0.1", port, "not-an-ip", 500, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "not-an-ip"));

	/* dual-stack "::" listener: an IPv4 client shows up mapped */
	lfd = net_listen("::", 0, 0, &e);
	if (lfd < 0) {
		print_message("# no IPv6 here: %s\n", e.msg);
		return;
	}
	port = net_local_port(lfd);
	cfd = net_connect("127.0.0.1", port, NULL, 2000, NULL, &e);
	assert_true(cfd >= 0);
	assert_int_equal(poll(&p, 1, 2000), 1);
	p.fd = lfd;
	sl = sizeof peer;
	sfd = accept(lfd, (struct sockaddr *)&peer, &sl);
	assert_true(sfd >= 0);
	assert_string_equal(net_ip_str(&peer, buf, sizeof buf), "::ffff:127.0.0.1");
	struct net_cidr c;
	assert_int_equal(net_cidr_parse("127.0.0.0/8", &c, &e), 0);
	assert_true(net_cidr_match(&c, &peer));
	assert_true(net_addr_unmap(&peer));
	assert_string_equal(net_ip_str(&peer, buf, sizeof buf), "127.0.0.1");
	close(sfd);
	close(cfd);
	close(lfd);
}

static void test_listen_errors(void **state)
{
	(void)state;
	struct perr e;
	int a = net_listen("127.0.0.1", 0, 0, &e);
	assert_true(a >= 0);
	/* same port twice without SO_REUSEPORT: refused with a clear message */
	int b = net_listen("127.0.0.1", net_local_port(a), 0, &e);
	assert_int_equal(b, -1);
	assert_non_null(strstr(e.msg, "cannot listen on 127.0.0.1"));
	close(a);
	assert_int_equal(net_listen("256.1.1.1", 0, 0, &e), -1);
	assert_int_equal(net_connect("", 1, NULL, 100, NULL, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_match_table),
		cmocka_unit_test(test_cidr_parse_values),
		cmocka_unit_test(test_cidr_parse_bad),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_addr_str_and_unmap),
		cmocka_unit_test(test_listen_connect_io),
		cmocka_unit_test(test_source_address_and_ipv6),
		cmocka_unit_test(test_listen_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
