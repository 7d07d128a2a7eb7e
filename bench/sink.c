/* sink.c - the machine's ceiling for scripts/bench: the least a server can
 * do for `proxygen flood` and still count as one.
 *
 *   sink PORT        listen on 127.0.0.1:PORT until killed
 *
 * One thread, one epoll loop, like the brokers it stands beside. Each
 * connection gets a CONNACK (accepted, 4 bytes) after its first bytes,
 * whatever they are (a PROXY header and a CONNECT arrive in one write), and
 * is closed when the client closes. Nothing is parsed, kept or logged: the
 * accept rate measured against it is what the kernel, the loopback and the
 * generator allow, the reference line for the brokers' rates.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

/* Per descriptor: 1 once the CONNACK is written. */
static unsigned char *answered;
static size_t n_answered;

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

static void accept_all(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: the client times out */
		if ((size_t)fd >= n_answered) {
			close(fd);
			continue;
		}
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

int main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS], ev = { .events = EPOLLIN };
	struct rlimit rl;
	int port, lfd, ep;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: sink PORT\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	n_answered = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 22) ?
			     (size_t)rl.rlim_cur : (size_t)1 << 22;
	answered = calloc(n_answered, 1);
	lfd = listen_on(port);
	ep = epoll_create1(0);
	if (!answered || lfd < 0 || ep < 0) {
		fprintf(stderr, "sink: port %d: %s\n", port, strerror(errno));
		return 1;
	}
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fprintf(stderr, "sink: epoll: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "sink: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(ep, lfd);
			else
				serve(evs[i].data.fd);
		}
	}
}
