/* topic.h - a tree of MQTT topic levels, for subscriptions and retained
 * messages.
 *
 * A node is one level; the path from the root spells a name ("a/b/c" is
 * root -> "a" -> "b" -> "c"; "" levels are nodes too: "/a" is "" -> "a").
 * Children are found by level in a hash table, so a name costs its depth
 * whatever the number of names. Each node carries one pointer of the
 * caller's (val); a node without val and without children is removed by
 * topic_prune, so the tree holds only what its callers hold.
 *
 * Two trees, two walks:
 *   - filters as names ("+" and "#" are plain levels): topic_match calls
 *     back every node whose filter matches a topic name (routing a
 *     PUBLISH). Cost: the levels of the topic times the wildcard
 *     branches that exist, plus the matches.
 *   - topic names: topic_search calls back every node whose name a filter
 *     matches (retained messages for a new subscription). Cost: the
 *     nodes under the levels the filter's wildcards cover.
 * Both follow MQTT: "+" is one whole level, "#" the parent level and
 * everything below; a filter starting with a wildcard matches no name
 * starting with '$'. Both expect what mqtt_topic_name_valid /
 * mqtt_topic_filter_valid accept (no NUL bytes).
 *
 * Walks are iterative (no recursion, whatever the depth); the callback
 * must not change the tree it is called from.
 */
#ifndef PPMQ_BROKER_TOPIC_H
#define PPMQ_BROKER_TOPIC_H

#include <stddef.h>

#include "htab.h"

struct topic_node {
	struct htab_link link;          /* in the parent's kids */
	struct topic_node *parent;      /* NULL: the root */
	struct htab kids;
	void *val;                      /* the caller's; NULL: none */
	size_t len;
	char level[];                   /* len bytes, then NUL */
};

struct topic_tree {
	struct topic_node *root;
	size_t nodes;                   /* besides the root */
};

typedef void (*topic_fn)(struct topic_node *n, void *ctx);

/* Returns 0, or -1 when out of memory. */
int topic_tree_init(struct topic_tree *t);
/* Free every node; free_val (may be NULL) is called for each val. */
void topic_tree_free(struct topic_tree *t, void (*free_val)(void *val, void *ctx), void *ctx);

/* The node of name (a topic name or a filter), or NULL. */
struct topic_node *topic_find(const struct topic_tree *t, const char *name, size_t len);
/* The node of name, made when missing; NULL when out of memory (nothing
 * made then). */
struct topic_node *topic_add(struct topic_tree *t, const char *name, size_t len);
/* Remove n, and its ancestors, as long as they have neither val nor
 * children. Call it after clearing a val. */
void topic_prune(struct topic_tree *t, struct topic_node *n);

/* fn(node) for each node with a val whose filter matches topic. Returns
 * 0, or -1 when out of memory (the walk is then incomplete). */
int topic_match(const struct topic_tree *t, const char *topic, size_t len, topic_fn fn, void *ctx);
/* fn(node) for each node with a val whose name filter matches. Returns 0
 * or -1 like topic_match. */
int topic_search(const struct topic_tree *t, const char *filter, size_t len, topic_fn fn, void *ctx);

/* n's name, like snprintf: the length it has (NUL not counted), written
 * as far as cap allows. */
size_t topic_name(const struct topic_node *n, char *buf, size_t cap);

#endif
