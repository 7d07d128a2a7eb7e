/* check.h - ppmq-conform --check-profile: what a run against a profile
 * will do (listeners, observers, launch, the points that run and those
 * that will SKIP, with why), and what in the profile cannot work
 * (addresses that do not bind or resolve, files that cannot be read),
 * found without sending anything to the target.
 */
#ifndef PPMQ_CONFORM_CHECK_H
#define PPMQ_CONFORM_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "runner.h"

/* Write the account to f; *problems gets the number of problems found.
 * 0, or -1 with *e when the plan itself cannot be made. */
int check_profile(FILE *f, const struct runner_config *c, size_t *problems, struct perr *e);

#endif
