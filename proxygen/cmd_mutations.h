/* cmd_mutations.h - `proxygen mutations`: list the malformation catalog. */
#ifndef PROXYGEN_CMD_MUTATIONS_H
#define PROXYGEN_CMD_MUTATIONS_H

/* argv[0] is "mutations". Returns the process exit status (PG_EXIT_*). */
int cmd_mutations(int argc, char **argv);

#endif
