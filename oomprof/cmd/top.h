/* The -top table printing of `oomprof top`, shared with `oomprof diff`. */
#ifndef OOMPROF_CMD_TOP_H
#define OOMPROF_CMD_TOP_H

#include <stdbool.h>

#include "pprof/pprof.h"

struct top_opts {
	const char *path;
	const char *sample_index; /* NULL: the profile's default */
	long limit;		  /* rows; 0 = all */
	bool exact;
};

/* The value index named by s (a sample type or a number; NULL: the default), or -1. */
int top_pick_index(const struct pprof_profile *p, const char *s);

/* File, comments, Type and Time lines, as pprof prints them before the table. */
void top_print_header(const struct pprof_profile *p, const struct pprof_value_type_info *vt);

/* "Showing nodes accounting for ...", the column header and the rows. */
void top_print_table(const struct top_opts *o, const struct pprof_top *t,
		     const struct pprof_value_type_info *vt);

#endif
