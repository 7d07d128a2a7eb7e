/* yx.h - YAML documents for the conformance runner: load a file into a
 * libyaml node tree, read typed values with "file:line:column:" errors,
 * refuse unknown keys, expand ${ENV} references; plus a bump allocator
 * (arena) that owns everything a loaded catalog or profile points to.
 */
#ifndef PPMQ_CONFORM_YX_H
#define PPMQ_CONFORM_YX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "err.h"

/* ---- arena -------------------------------------------------------------- */

struct yx_block;
struct yx_arena {
	struct yx_block *head;
};

/* Zeroed memory that lives until yx_arena_free. NULL only when out of
 * memory. */
void *yx_alloc(struct yx_arena *a, size_t n);
char *yx_strdup(struct yx_arena *a, const char *s);
char *yx_memdup(struct yx_arena *a, const void *p, size_t n);
void yx_arena_free(struct yx_arena *a);

/* ---- documents ---------------------------------------------------------- */

struct yx_doc {
	yaml_document_t doc;
	bool loaded;
	const char *file;      /* for messages; points into the arena given to yx_load */
	bool expand_env;       /* yx_str expands ${NAME} / ${NAME:default} */
};

/* Load the first document of path. An empty file is an error. Syntax
 * errors name the file, line and column. */
int yx_load(struct yx_doc *d, const char *path, struct yx_arena *a, struct perr *e);
/* Same, from a string (name is used in messages). */
int yx_load_string(struct yx_doc *d, const char *name, const char *text,
		   struct yx_arena *a, struct perr *e);
void yx_free(struct yx_doc *d);

yaml_node_t *yx_root(struct yx_doc *d);
/* Value of key in a mapping node (NULL when absent or n is not a map). */
yaml_node_t *yx_get(struct yx_doc *d, yaml_node_t *map, const char *key);
/* Number of items of a sequence / pairs of a mapping; 0 otherwise. */
size_t yx_count(const yaml_node_t *n);
yaml_node_t *yx_item(struct yx_doc *d, yaml_node_t *seq, size_t i);
/* The i-th pair of a mapping: key text and value node. */
const char *yx_pair(struct yx_doc *d, yaml_node_t *map, size_t i, yaml_node_t **value);

bool yx_is_map(const yaml_node_t *n);
bool yx_is_seq(const yaml_node_t *n);
bool yx_is_scalar(const yaml_node_t *n);
/* A plain scalar ~ / null / empty, or an absent node. */
bool yx_is_null(const yaml_node_t *n);

/* "file:line:col: " + message; returns -1. n may be NULL (no position). */
int yx_err(struct yx_doc *d, const yaml_node_t *n, struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fail when map has a key outside allowed (NULL-terminated list); the
 * message names the key, where is it, and the closest allowed key. */
int yx_check_keys(struct yx_doc *d, yaml_node_t *map, const char *const *allowed,
		  const char *ctx, struct perr *e);
/* Fail unless n is a mapping / sequence. */
int yx_want_map(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e);
int yx_want_seq(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e);

/* Typed scalars. The string is copied into the arena (after ${ENV}
 * expansion when d->expand_env); *len gets its length (may contain NUL
 * bytes from "\0" escapes), len may be NULL. */
int yx_str(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	   char **out, size_t *len, struct perr *e);
int yx_long(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, long min, long max,
	    const char *ctx, long *out, struct perr *e);
int yx_bool(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	    bool *out, struct perr *e);
/* A list of strings: a sequence of scalars, or one scalar "a, b c"
 * (split on commas and spaces). */
int yx_strlist(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	       char ***out, size_t *count, struct perr *e);

/* Line (1-based) of a node, 0 for NULL. */
int yx_line(const yaml_node_t *n);

/* ---- environment -------------------------------------------------------- */

/* Expand ${NAME}, ${NAME:default} and $$ in s. Returns an arena string,
 * or NULL with *e set for an unterminated reference. */
char *yx_expand_env(struct yx_arena *a, const char *s, struct perr *e);

/* Closest of the candidates to word (edit distance), or NULL if none is
 * close enough to be a plausible typo. */
const char *yx_closest(const char *word, const char *const *candidates);

#endif
