/* Subcommands of the oomprof binary. Each returns a process exit status. */
#ifndef OOMPROF_CLI_H
#define OOMPROF_CLI_H

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Exit statuses shared by every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1, /* the operation failed (message printed) */
	EXIT_USAGE = 2,	   /* bad command line */
	/* oomprof run: a COMMAND that succeeded but whose peak memory passed --fail-above */
	EXIT_RUN_FAIL_ABOVE = 122,
	/* oomprof run: oomprof itself failed (not root, no BPF, no memory cgroup) */
	EXIT_RUN_FAILED = 125,
};

int cmd_version(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
