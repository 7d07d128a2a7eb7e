/* flood_net.h - one `proxygen flood` connection on the epoll loop, what
 * flood_net.c (the transport) and flood_run.c (MQTT, the schedule) share.
 *
 * A connection's bytes go, on every transport, through the same stages
 * as lib/client's: the PROXY header first on the bare socket, then the TLS
 * handshake on lib/tls's memory-BIO engine (tls, wss), then the WebSocket
 * upgrade and frames of lib/ws (ws, wss), then MQTT packets (lib/mqtt).
 * Everything that can be written before the TCP connect completes is
 * queued at launch, so that the header and the first bytes of the next
 * stage (the CONNECT, the ClientHello or the upgrade request) leave in one
 * write.
 *
 * A connection that fails (or ends) is only marked dead; the loop closes
 * and frees it after the event that killed it, so no code ever runs on
 * freed buffers.
 */
#ifndef PROXYGEN_FLOOD_NET_H
#define PROXYGEN_FLOOD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flood.h"
#include "pp.h"

/* Where a connection stands. */
enum fc_stage {
	FS_FREE = 0,
	FS_TLS,          /* TLS handshake */
	FS_WS,           /* upgrade request sent, waiting for 101 */
	FS_CONNACK,      /* CONNECT sent */
	FS_SUBACK,       /* subscriber: SUBSCRIBE sent */
	FS_OPEN,         /* set up: held, publishing or receiving */
};

/* A byte buffer that grows; released when emptied if it grew large. */
struct fbuf {
	uint8_t *p;
	uint32_t len, cap;
};

struct fc_ws;    /* decoder and key of a ws / wss connection */

struct fc {
	int fd;
	uint8_t stage, role;
	uint8_t list;               /* which of the loop's lists holds it */
	bool connected;             /* the TCP connect completed */
	bool dead, graceful;        /* to be closed after this event (DISCONNECT first) */
	bool opened;                /* CONNACK 0 came: a close from now on is a drop */
	bool any_rx;
	bool done;                  /* publisher: all sent and acknowledged; subscriber: all in */
	uint64_t k;                 /* connection number in the whole load */
	struct tls_conn *tls;
	struct fc_ws *ws;           /* NULL for tcp and tls; ws_on once the upgrade is done */
	bool ws_on;
	struct fbuf out;            /* raw bytes for the socket (before the TLS engine's) */
	struct fbuf aout;           /* tls, wss: bytes waiting to be encrypted */
	struct fbuf in;             /* MQTT bytes (or the HTTP answer) not yet used */
	struct fbuf win;            /* WebSocket bytes not yet decoded */
	int64_t t0, deadline, last_tx;
	struct fc *prev, *next;

	/* messages */
	uint32_t topic;
	uint16_t next_id;
	uint32_t inflight;
	uint64_t pub_j;              /* publisher: its number among this process's */
	uint64_t sent, acked, received, target;
};

struct fl_list {
	struct fc *head, *tail;
};

enum fl_list_id { FL_NONE = 0, FL_WAITING, FL_HOLDING, FL_OPEN };

struct fl_loop {
	struct flood *f;
	int ep;
	int64_t now;                    /* us, read once per turn of the loop */
	struct fc *slots;
	struct fc *free_list;           /* connection loads: slots are reused */
	struct fl_list waiting;         /* being set up, ordered by deadline */
	struct fl_list holding;         /* connection loads: held, ordered by deadline */
	struct fl_list open;            /* publish loads: set up */
	uint64_t nopen;                 /* connections open (any list) */
	uint8_t *rbuf, *abuf;           /* FL_RBUF each: raw reads, decrypted bytes */
	uint8_t *pkt, *frame;           /* one MQTT packet (pkt_cap), its WebSocket frame */
	size_t pkt_cap;
	uint8_t *payload;               /* the payload every PUBLISH starts from */
	uint8_t *hdr;                   /* FL_HDR_CAP: one PROXY header */
	uint8_t disconnect[8];
	size_t disconnect_len;
	uint64_t launched;              /* this process's connections started */

	/* publish loads: slot i is this process's i-th connection; subscribers
	 * first, then the publishers */
	uint64_t g_next, g_total;       /* messages handed out to publishers / in all */
	bool publishing;
	int64_t t_ready, t_pub0;        /* subscribers ready (+ --publish-delay); first due */
	int64_t t_handout;              /* messages last handed out */
	uint64_t subs_pending;          /* subscribers not yet subscribed nor failed */
	uint64_t subs_active, pubs_active;
	int64_t t_last_connack, t_subs_done;
	int64_t t_first_pub, t_last_ack, t_first_rx, t_last_rx, t_pubs_done;
	int64_t next_sweep;             /* keep-alive PINGREQs */
};

#define FL_RBUF     (16 * 1024)
#define FL_HDR_CAP  (PP_V2_MAX_LEN + 64)

/* Append n bytes (0, or -1 out of memory); drop the first n. */
int fbuf_add(struct fbuf *b, const void *p, size_t n);
void fbuf_consume(struct fbuf *b, size_t n);

/* Decoding a stream that arrives in pieces, with b holding what a piece
 * left undecoded: fbuf_join gives what to decode now (p itself when b is
 * empty, else b with p appended; NULL out of memory), fbuf_keep keeps
 * what is left of it from off on (0, or -1 out of memory). */
uint8_t *fbuf_join(struct fbuf *b, uint8_t *p, size_t n, size_t *len);
int fbuf_keep(struct fbuf *b, uint8_t *buf, size_t len, size_t off);

/* Lists. */
void fl_list_push(struct fl_list *l, struct fc *c);
void fl_list_remove(struct fl_list *l, struct fc *c);
void fl_list_move(struct fl_loop *L, struct fc *c, enum fl_list_id to, int64_t deadline);

/* Start connection k in slot c: socket, header, first stage queued,
 * connect. A failure marks c dead with its kind. */
void fc_launch(struct fl_loop *L, struct fc *c, uint64_t k);
/* An epoll event for c: connect completion, writes, reads (MQTT bytes go
 * to fl_mqtt_input), then a flush. */
void fc_event(struct fl_loop *L, struct fc *c, uint32_t ev);
/* Queue one MQTT packet (framed on ws, wss; encrypted on tls, wss). */
void fc_send_mqtt(struct fl_loop *L, struct fc *c, const uint8_t *p, size_t n);
/* Write what is queued, as far as the socket takes it. */
void fc_flush(struct fl_loop *L, struct fc *c);
/* Bytes queued and not yet written. */
size_t fc_pending(const struct fc *c);
/* c failed: record kind (or a drop once opened) and mark it dead. */
void fc_fail(struct fl_loop *L, struct fc *c, enum fl_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Close c (DISCONNECT, WebSocket close and TLS close_notify first when
 * c->graceful) and give its slot back. */
void fc_release(struct fl_loop *L, struct fc *c);
/* The name of the stage c is in, for messages ("waiting for a CONNACK"). */
const char *fc_stage_what(const struct fc *c);

/* flood_run.c: MQTT bytes of c arrived; the transport is ready for the
 * CONNECT (queue it). */
void fl_mqtt_input(struct fl_loop *L, struct fc *c, uint8_t *p, size_t n);
void fl_mqtt_start(struct fl_loop *L, struct fc *c);

#endif
