/* main.c - proxygen: PROXY protocol header generator, sender and relay.
 * Dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cmd_flood.h"
#include "cmd_header.h"
#include "cmd_mutations.h"
#include "cmd_relay.h"
#include "cmd_send.h"
#include "opts.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} commands[] = {
	{ "header", cmd_header, "write one PROXY header (v1/v2, TLVs, malformations) to stdout" },
	{ "mutations", cmd_mutations, "list the malformation catalog" },
	{ "send", cmd_send, "one connection: header, TLS/WebSocket, MQTT CONNECT, outcome" },
	{ "relay", cmd_relay, "relay clients to a target with a PROXY header in front" },
	{ "flood", cmd_flood, "many proxied connections at a set rate; latency and errors" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fputs("Usage: proxygen COMMAND [OPTIONS]\n"
	      "       proxygen --help | --version\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
	fputs("\n'proxygen COMMAND --help' describes the options of a command.\n"
	      "Exit status: 0 success, 1 an outcome other than success, 2 usage error.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return opts_usage_error(NULL, "missing command (header, mutations, send, relay, flood)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (strcmp(argv[1], "help") == 0 && argc > 2) {
			char *hv[] = { argv[2], (char *)"--help", NULL };

			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return commands[i].run(2, hv);
			return opts_usage_error(NULL, "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return PG_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("proxygen (ppmq) %s\n", PPMQ_VERSION);
		return PG_EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return opts_usage_error(NULL, "unknown option '%s' (a command comes first)", argv[1]);
	return opts_usage_error(NULL, "unknown command '%s'", argv[1]);
}
