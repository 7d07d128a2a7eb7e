/* yx.h - YAML documents, the one layer every ppmq loader reads them with
 * (broker configuration, target profiles, the scenario catalog): load a
 * file into a libyaml node tree, read typed values, refuse unknown keys
 * with the closest known one as a suggestion, expand ${ENV} references;
 * plus a bump allocator (arena) that owns what a loaded document yields.
 *
 * Every error is "file:line:col: what: why" in a struct perr, e.g.
 *   "p.yml:3:25: listeners.tcp.port: 70000 is out of range (1..65535)"
 *   "p.yml:4:1: profile: unknown key 'hots' (did you mean 'host'?)"
 *
 * ${...} references, when the document expands them (yx_doc.expand_env):
 *   ${NAME}          the variable's value; empty when unset
 *   ${NAME:default}  the default when NAME is unset or empty; the default
 *                    may hold references itself (${A:${B:x}})
 *   $$               a literal '$'
 * NAME is letters, digits and '_'. Values from the environment are not
 * expanded again.
 */
#ifndef PPMQ_YX_H
#define PPMQ_YX_H

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
/* Release every block; the arena is empty again. NULL-safe. */
void yx_arena_free(struct yx_arena *a);

/* ---- documents ---------------------------------------------------------- */

struct yx_doc {
	yaml_document_t doc;
	bool loaded;
	const char *file;      /* for messages; points into the arena given to yx_load */
	bool expand_env;       /* string values expand ${NAME} / ${NAME:default} */
};

/* yx_load flags. */
enum {
	YX_EMPTY_OK = 1,       /* an empty file, or one that is only a null, has no root */
};

/* Load the only document of path. An empty file is an error unless
 * flags has YX_EMPTY_OK; a second document is an error. Syntax errors
 * name the file, line and column. yx_free(d) is needed even on failure. */
int yx_load(struct yx_doc *d, const char *path, struct yx_arena *a, unsigned flags,
	    struct perr *e);
/* Same, from a string (name is used in messages). */
int yx_load_string(struct yx_doc *d, const char *name, const char *text,
		   struct yx_arena *a, unsigned flags, struct perr *e);
void yx_free(struct yx_doc *d);

/* Root node; NULL for an empty document. */
yaml_node_t *yx_root(struct yx_doc *d);
/* Value of key in a mapping node (NULL when absent or n is not a map). */
yaml_node_t *yx_get(struct yx_doc *d, yaml_node_t *map, const char *key);
/* Number of items of a sequence / pairs of a mapping; 0 otherwise. */
size_t yx_count(const yaml_node_t *n);
yaml_node_t *yx_item(struct yx_doc *d, yaml_node_t *seq, size_t i);
/* The i-th pair of a mapping: key text ("" when the key is not a
 * scalar) and value node. */
const char *yx_pair(struct yx_doc *d, yaml_node_t *map, size_t i, yaml_node_t **value);
/* The key node of the i-th pair (for positions in messages). */
yaml_node_t *yx_pair_key(struct yx_doc *d, yaml_node_t *map, size_t i);

bool yx_is_map(const yaml_node_t *n);
bool yx_is_seq(const yaml_node_t *n);
bool yx_is_scalar(const yaml_node_t *n);
/* A plain scalar ~ / null / empty, or an absent node. */
bool yx_is_null(const yaml_node_t *n);

/* Line (1-based) of a node, 0 for NULL. */
int yx_line(const yaml_node_t *n);
/* "file:line:col" of n ("file" for NULL) into buf; returns buf. */
const char *yx_where(const struct yx_doc *d, const yaml_node_t *n, char *buf, size_t cap);
/* "file:line:col: " + message; returns -1. n may be NULL (no position). */
int yx_err(const struct yx_doc *d, const yaml_node_t *n, struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fail when map has a key outside allowed (NULL-terminated list) or a
 * key twice; the message names the key, where it is, and the closest
 * allowed key. */
int yx_check_keys(struct yx_doc *d, yaml_node_t *map, const char *const *allowed,
		  const char *ctx, struct perr *e);
/* Fail unless n is a mapping / sequence. */
int yx_want_map(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e);
int yx_want_seq(struct yx_doc *d, yaml_node_t *n, const char *ctx, struct perr *e);

/* ---- typed values --------------------------------------------------------
 * ctx names the value in messages ("listeners.tcp.port"). A value that
 * came through ${NAME} says so in its error: "'x' (from env NAME) ...". */

/* What expanding one value used: the first variable that supplied text,
 * the first reference's variable, the first ${NAME} without a default
 * whose variable was unset or empty. "" for none. */
struct yx_env_use {
	char set[64];
	char first[64];
	char unset[64];
};

/* The scalar n as a string copied into the arena (after ${ENV} expansion
 * when d->expand_env; use, which may be NULL, says what it used); *len
 * gets its length (may contain NUL bytes from "\0" escapes), len may be
 * NULL. */
int yx_scalar(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	      char **out, size_t *len, struct yx_env_use *use, struct perr *e);
int yx_str(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	   char **out, size_t *len, struct perr *e);
/* An integer (decimal, 0x hex or 0 octal) in min..max. */
int yx_long(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, long min, long max,
	    const char *ctx, long *out, struct perr *e);
/* true/false/yes/no/1/0, any case (yx_parse_bool). */
int yx_bool(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	    bool *out, struct perr *e);
/* A duration in min_ms..max_ms (yx_parse_duration_ms). */
int yx_duration(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, unsigned long min_ms,
		unsigned long max_ms, const char *ctx, unsigned long *out, struct perr *e);
/* A list of strings: a sequence of scalars, or one scalar "a, b c"
 * (split on commas and spaces). */
int yx_strlist(struct yx_doc *d, yaml_node_t *n, struct yx_arena *a, const char *ctx,
	       char ***out, size_t *count, struct perr *e);

/* ---- text ----------------------------------------------------------------- */

/* Expand ${NAME}, ${NAME:default} and $$ in s (rules above). Returns an
 * arena string, or NULL with *e set ("unterminated placeholder '${X:a'",
 * "bad placeholder '${}': ..."). use may be NULL. */
char *yx_expand_env(struct yx_arena *a, const char *s, struct yx_env_use *use, struct perr *e);
/* " (from env NAME)", " (${NAME} is unset)" or "", for messages about a
 * value; returns buf. */
const char *yx_env_note(const struct yx_env_use *use, char *buf, size_t cap);

/* true/false/yes/no/1/0, any case; 0 or -1. */
int yx_parse_bool(const char *s, bool *out);
/* "3s", "500ms", "2m" or a bare number of milliseconds, in min_ms..max_ms;
 * 0, or -1 with a short why in *e ("'0s' is out of range (1ms..1h)"). */
int yx_parse_duration_ms(const char *s, unsigned long min_ms, unsigned long max_ms,
			 unsigned long *ms, struct perr *e);

/* Closest of the candidates (NULL-terminated) to word by edit distance,
 * ignoring case, or NULL if none is close enough to be a plausible typo. */
const char *yx_closest(const char *word, const char *const *candidates);

#endif
