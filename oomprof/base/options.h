/*
 * Command-line flags and the configuration file, from one table. Each command declares
 * its options once (name, kind, where the value goes); the same table drives
 * getopt_long, `--help` and the configuration file, whose keys are the long flag names:
 *
 *   # /etc/oomprof/oomprof.conf
 *   dir = /var/lib/oomprof
 *   upload = pyroscope+http://127.0.0.1:4040
 *   upload = parca+https://parca.example:7070
 *
 * The file is read first, then the command line: flags win (a repeatable flag given on
 * the command line replaces the file's values for that key). An unknown key or a bad
 * value is an error naming the file and line.
 */
#ifndef OOMPROF_OPTIONS_H
#define OOMPROF_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_BOOL,	 /* bool; a flag without argument; yes/no in the file */
	OPT_STRING,	 /* const char * */
	OPT_LIST,	 /* struct opt_list: repeatable */
	OPT_INT,	 /* int64_t in [min, max] */
	OPT_SIZE,	 /* int64_t bytes, with an optional K, M, G or T suffix (powers of 1024) */
	OPT_CHOICE,	 /* int: index into choices */
	OPT_INT_IMPLIED, /* int64_t; the flag alone means `implied`, 0 means off */
	OPT_DOUBLE,	 /* double in [min, max] */
};

#define OPT_LIST_MAX 16

struct opt_list {
	const char *v[OPT_LIST_MAX];
	size_t n;
};

struct opt_def {
	const char *name; /* long flag and configuration key */
	char short_name;  /* 0: none */
	enum opt_kind kind;
	size_t offset; /* of the value in the command's options struct */
	const char *metavar, *help;
	int64_t min, max, implied;
	const char *const *choices; /* NULL-terminated, for OPT_CHOICE */
};

struct opt_command {
	const char *name;	    /* "oomprof watch" for messages */
	const char *synopsis;	    /* usage text printed before the option list */
	const struct opt_def *defs; /* ends with an entry whose name is NULL */
	const char *default_config; /* read when it exists and --config is not given */
};

/* Strings read from a configuration file live here until opts_free. */
struct opt_store {
	char **strs;
	size_t n, cap;
};

/*
 * Parses the configuration file, then argv, into out (already holding the defaults).
 * Adds --config FILE, --no-config and -h/--help. Returns 0, -1 after printing --help,
 * or 2 (EXIT_USAGE) after printing why on stderr.
 */
int opts_parse(const struct opt_command *cmd, void *out, struct opt_store *store, int argc,
	       char **argv);

/* Reads one configuration file into out. 0, or 2 after printing "FILE:LINE: why". */
int opts_read_config(const struct opt_command *cmd, const char *path, void *out,
		     struct opt_store *store);

/* Parses a size such as "512", "64K", "100M", "1G" or "2GiB". 0 or -EINVAL. */
int opts_parse_size(const char *s, int64_t *out);

void opts_usage(const struct opt_command *cmd, FILE *out);
void opts_free(struct opt_store *store);

#endif
