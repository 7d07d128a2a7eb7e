/* cmd_send.h - `proxygen send`: one proxied MQTT connection through lib/client. */
#ifndef PROXYGEN_CMD_SEND_H
#define PROXYGEN_CMD_SEND_H

/* argv[0] is "send". Returns the process exit status (PG_EXIT_*). */
int cmd_send(int argc, char **argv);

#endif
