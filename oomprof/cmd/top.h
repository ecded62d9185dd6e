/* The -top table printing of `oomprof top`, shared with `oomprof diff`. */
#ifndef OOMPROF_CMD_TOP_H
#define OOMPROF_CMD_TOP_H

#include <stdbool.h>
#include <stdio.h>

#include "pprof/pprof.h"

struct top_opts {
	const char *path;
	const char *sample_index; /* NULL: the profile's default */
	long limit;		  /* rows; 0 = all */
	bool exact;
};

/*
 * Parses the options `oomprof top` and `oomprof diff` share (-n, -i, -e, -h) and exactly
 * nfiles file operands into files (o->path = the last). Returns -1 to go on, else the
 * exit status; messages name the command cmd, usage prints its help.
 */
int top_parse_args(int argc, char **argv, const char *cmd, void (*usage)(FILE *), int nfiles,
		   const char **files, struct top_opts *o);

/* The value index named by s (a sample type or a number; NULL: the default), or -1. */
int top_pick_index(const struct pprof_profile *p, const char *s);

/* File, comments, Type and Time lines, as pprof prints them before the table. */
void top_print_header(const struct pprof_profile *p, const struct pprof_value_type_info *vt);

/* "Showing nodes accounting for ...", the column header and the rows. */
void top_print_table(const struct top_opts *o, const struct pprof_top *t,
		     const struct pprof_value_type_info *vt);

#endif
