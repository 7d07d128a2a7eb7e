/* audit.h - what the catalog checks, said from its data: the clause
 * behind every scenario (`ppmq-conform --explain ID`) and the whole
 * catalog as a Markdown audit table (`ppmq-conform --audit`, kept in
 * docs/conformance-audit.md).
 */
#ifndef PPMQ_CONFORM_AUDIT_H
#define PPMQ_CONFORM_AUDIT_H

#include <stdio.h>

#include "err.h"
#include "scenario.h"

/* One scenario: title, each step's clause (source, level, the sentence),
 * what it sends, its graded outcomes and what is graded otherwise.
 * header_wait_ms resolves "header-timeout" in the outcome texts.
 * -1 with *e when no scenario has that id. */
int audit_explain(FILE *f, const struct sc_catalog *cat, const char *id, int header_wait_ms,
		  struct perr *e);

/* The audit: every clause with its sentence, then every scenario with
 * its clause, level and graded outcomes, in catalog order. */
void audit_table(FILE *f, const struct sc_catalog *cat);

#endif
