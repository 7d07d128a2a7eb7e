/* cmd_relay.h - `proxygen relay`: accept clients, prepend a PROXY header, relay to a target. */
#ifndef PROXYGEN_CMD_RELAY_H
#define PROXYGEN_CMD_RELAY_H

/* argv[0] is "relay". Returns the process exit status (PG_EXIT_*). */
int cmd_relay(int argc, char **argv);

#endif
