/* harness.h - what the broker's fuzz harnesses (fuzz_conn, fuzz_engine)
 * share: checks that name their line, growing buffers, and the checks on
 * what a client receives from the broker. Linked into every harness by
 * `make fuzz`.
 */
#ifndef PPMQ_FUZZ_HARNESS_H
#define PPMQ_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

/* Abort unless ok, naming the file and line on stderr first. */
#define check(ok) fz_check((ok), __FILE__, __LINE__)
void fz_check(int ok, const char *file, int line);

/* Append n bytes to *buf (*len bytes long), growing it; aborts on no memory. */
void fz_append(uint8_t **buf, size_t *len, const void *p, size_t n);

/* What a client has received so far, packet by packet. */
struct fz_rx {
	uint8_t version;     /* the level the CONNACK shows; 0 before it */
	bool ended;          /* a refusing CONNACK or a DISCONNECT came */
};

/* One whole packet a client received (b, n as mqtt_frame measured it).
 * Checked: CONNACK first and only then (its length says the level), a
 * type a server may send at that level, a packet that decodes (into *p),
 * nothing after a refusal or a DISCONNECT. */
void fz_rx_packet(struct fz_rx *rx, const uint8_t *b, size_t n, struct mqtt_pkt *p);

#endif
