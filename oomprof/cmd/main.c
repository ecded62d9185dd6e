/* oomprof: capture a Go program's heap profile when the OOM killer chooses it. */
#include <stdio.h>
#include <string.h>

#include "oomprof/cmd/cli.h"

#ifndef OOMPROF_VERSION
#define OOMPROF_VERSION "0.1.0-dev"
#endif

/* The first entry is the default command. */
static const struct command commands[] = {
    {"watch", "capture the heap profile of Go processes the OOM killer chooses (default)",
     cmd_watch},
    {"version", "print the version", cmd_version},
    {"inspect", "show what oomprof finds in a Go binary and whether it can profile it",
     cmd_inspect},
    {"symbolize", "print function and file:line for addresses in a Go binary", cmd_symbolize},
    {"snapshot", "write the heap profile of running Go processes", cmd_snapshot},
    {"top", "print the top functions of a pprof profile", cmd_top},
    {"run", "run a command under a memory limit and profile its Go processes", cmd_run},
    {"diff", "print the growth by function between two profiles", cmd_diff},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("oomprof %s\n", OOMPROF_VERSION);
	return EXIT_OK;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: oomprof [COMMAND] [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'oomprof COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--version")))
		return commands[0].run(argc, argv);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "oomprof: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
