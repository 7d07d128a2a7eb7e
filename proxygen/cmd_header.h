/* cmd_header.h - `proxygen header`: write one PROXY header to stdout. */
#ifndef PROXYGEN_CMD_HEADER_H
#define PROXYGEN_CMD_HEADER_H

/* argv[0] is "header". Returns the process exit status (PG_EXIT_*). */
int cmd_header(int argc, char **argv);

#endif
