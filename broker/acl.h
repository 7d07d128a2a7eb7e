/* acl.h - the broker's access rules (security.acl_file): who may connect,
 * publish to a topic, subscribe to a filter; by user name, client id and
 * client address.
 *
 * One rule a line (format: docs/broker-config.md, "ACL file"):
 *
 *   deny  connect                 from 203.0.113.128/25
 *   allow publish   sensors/#     user alice
 *   deny  subscribe admin/#       client "dash-*"  from 10.0.0.0/8
 *   default deny
 *
 * Rules are tried in file order; the first whose operation and every
 * condition match decides; none matching: the `default` (allow unless
 * the file says `default deny`). The address a `from` rule judges is the
 * client's as the broker decided it (broker/ident.h): the PROXY header's
 * source when a trusted proxy sent one, never the proxy's own address.
 *
 * Topics: a publish rule matches when its filter matches the topic name;
 * an allow subscribe rule when its filter covers the whole requested
 * filter (every topic the subscription could receive), a deny subscribe
 * rule when the two have any topic in common. So `deny subscribe secret/#`
 * also refuses a subscription to `#`.
 */
#ifndef PPMQ_BROKER_ACL_H
#define PPMQ_BROKER_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "err.h"

struct acl;

enum acl_op { ACL_CONNECT = 0, ACL_PUBLISH, ACL_SUBSCRIBE };

/* Who asks. user NULL: anonymous; client_id NULL: not known yet; addr
 * NULL: no address (a unix socket). */
struct acl_who {
	const char *user;
	const char *client_id;
	const struct sockaddr_storage *addr;
};

/* Load the rules of path. Returns NULL with "path:line:col: why" in *e. */
struct acl *acl_load(const char *path, struct perr *e);
/* The same from text (name is used in messages). */
struct acl *acl_parse(const char *name, const char *text, struct perr *e);
void acl_free(struct acl *a);
size_t acl_count(const struct acl *a);

/* May who do op (on topic, a topic name for publish, a filter for
 * subscribe; NULL for connect)? rule, when not NULL, gets the text of
 * the deciding rule ("acl.rules:3: deny connect from 203.0.113.128/25",
 * or "default allow"): static as long as a lives. */
bool acl_allows(const struct acl *a, const struct acl_who *who, enum acl_op op,
		const char *topic, size_t len, const char **rule);

/* Filter relations, level by level with MQTT's wildcards (exposed for
 * tests). covers: every topic f matches, r matches too. overlap: some
 * topic matches both. */
bool acl_filter_covers(const char *r, size_t rlen, const char *f, size_t flen);
bool acl_filter_overlap(const char *a, size_t alen, const char *b, size_t blen);

#endif
