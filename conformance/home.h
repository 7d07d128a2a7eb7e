/* home.h - where ppmq-conform finds its own files: the scenario catalog,
 * the shipped profiles and their launchers, the certificate script and
 * ppmq-broker, found from where the running program is, so that a source
 * tree and an installed copy (any PREFIX, under any DESTDIR) both work
 * with no variable set.
 *
 *   source tree: ROOT/bin/ppmq-conform, ROOT/scenarios,
 *                ROOT/conformance/targets, ROOT/scripts/gen-certs
 *   installed:   PREFIX/bin/ppmq-conform, PREFIX/share/ppmq/{scenarios,
 *                targets, scripts/gen-certs}
 *
 * home_init exports, for the profiles (each only when not already set):
 *   PPMQ_BIN         the directory of the programs (ppmq-broker)
 *   PPMQ_LAUNCH_DIR  the shipped launchers (targets/launch)
 *   PPMQ_GEN_CERTS   the certificate script
 *   PPMQ_CERT_DIR    where certificates are made: ROOT/build/certs in a
 *                    source tree, else $XDG_CACHE_HOME/ppmq/certs
 *                    (~/.cache/ppmq/certs; /tmp/ppmq-certs-UID without HOME)
 */
#ifndef PPMQ_CONFORM_HOME_H
#define PPMQ_CONFORM_HOME_H

#include <stddef.h>

/* Find the files and export the variables. Never fails: what cannot be
 * found falls back to the build's PPMQ_DATADIR. */
void home_init(void);

/* The catalog to load without --scenarios: ./scenarios when there is
 * one, else the one beside the program. */
const char *home_scenarios(void);

/* --target ARG: ARG when it is a file; else a shipped profile by name
 * ("ppmq-broker" or "ppmq-broker.yml") when there is one; else ARG (the
 * loader then says it does not exist). buf holds the result when needed. */
const char *home_target(const char *arg, char *buf, size_t cap);

#endif
