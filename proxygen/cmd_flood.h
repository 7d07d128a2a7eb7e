/* cmd_flood.h - `proxygen flood`: many proxied MQTT connections at a set
 * rate and concurrency, with random header sources from a CIDR; a summary
 * of connections/s, CONNACK latency percentiles and errors by kind.
 *
 * tcp runs on one non-blocking epoll loop (thousands of connections from
 * one thread); tls, ws and wss run lib/client in worker threads.
 */
#ifndef PROXYGEN_CMD_FLOOD_H
#define PROXYGEN_CMD_FLOOD_H

/* Exit status: 0 every connection got CONNACK 0 (and stayed open for
 * --hold), 1 otherwise, 2 usage error. */
int cmd_flood(int argc, char **argv);

#endif
