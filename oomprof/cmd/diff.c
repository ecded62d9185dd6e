/*
 * `oomprof diff BEFORE AFTER`: the growth by function from one profile to another, the
 * table of `go tool pprof -top -diff_base=BEFORE AFTER`, without a Go toolchain. Meant
 * for a snapshot taken before a kill against the profile taken at it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oomprof/cmd/cli.h"
#include "oomprof/cmd/top.h"
#include "pprof/pprof.h"

static void diff_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: oomprof diff BEFORE AFTER [-n N] [--sample-index NAME|NUMBER] [--exact]\n\n"
	    "Prints AFTER minus BEFORE by function, sorted by the size of the change, like\n"
	    "`go tool pprof -top -diff_base=BEFORE AFTER`; percentages are of BEFORE's total.\n\n"
	    "  -n, --nodes N           print only the first N rows\n"
	    "  -i, --sample-index S    value to compare (default: AFTER's default, e.g.\n"
	    "                          inuse_space for heap profiles)\n"
	    "  -e, --exact             print values as exact integers\n");
}

static int parse_args(int argc, char **argv, struct top_opts *o, const char **before)
{
	static const struct option longopts[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"sample-index", required_argument, NULL, 'i'},
	    {"exact", no_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "n:i:eh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->limit = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->limit < 0) {
				fprintf(stderr, "oomprof diff: bad -n '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			o->sample_index = optarg;
			break;
		case 'e':
			o->exact = true;
			break;
		case 'h':
			diff_usage(stdout);
			return EXIT_OK;
		default:
			diff_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		diff_usage(stderr);
		return EXIT_USAGE;
	}
	*before = argv[optind];
	o->path = argv[optind + 1];
	return -1;
}

static struct pprof_profile *load(const char *path)
{
	struct pprof_profile *p = NULL;
	char err[512];

	if (pprof_profile_load(path, NULL, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "oomprof diff: %s: %s\n", path, err);
		return NULL;
	}
	return p;
}

/* The same sample type in BEFORE, or -1: pprof refuses profiles that differ. */
static int base_index(const struct pprof_profile *base, const struct pprof_value_type_info *vt)
{
	int i = pprof_profile_sample_index(base, vt->type);

	if (i < 0 || strcmp(pprof_profile_header(base)->sample_types[i].unit, vt->unit))
		return -1;
	return i;
}

int cmd_diff(int argc, char **argv)
{
	struct top_opts o = {0};
	struct pprof_profile *base = NULL, *p = NULL;
	const struct pprof_value_type_info *vt;
	const char *before = NULL;
	int rc = parse_args(argc, argv, &o, &before), idx, bidx;
	struct pprof_top t;

	if (rc >= 0)
		return rc;
	if (!(base = load(before)) || !(p = load(o.path))) {
		pprof_profile_free(base);
		return EXIT_FAILURE_;
	}
	rc = EXIT_FAILURE_;
	idx = top_pick_index(p, o.sample_index);
	vt = idx >= 0 ? &pprof_profile_header(p)->sample_types[idx] : NULL;
	bidx = vt ? base_index(base, vt) : -1;
	if (idx < 0)
		fprintf(stderr, "oomprof diff: %s: unknown sample index '%s'\n", o.path,
			o.sample_index ? o.sample_index : "(default)");
	else if (bidx < 0)
		fprintf(stderr, "oomprof diff: %s has no sample type %s/%s: not comparable\n",
			before, vt->type, vt->unit);
	else if (pprof_top_compute_diff(base, (size_t)bidx, p, (size_t)idx, &t) < 0)
		fprintf(stderr, "oomprof diff: out of memory\n");
	else {
		top_print_header(p, vt);
		top_print_table(&o, &t, vt);
		pprof_top_free(&t);
		rc = fflush(stdout) ? EXIT_FAILURE_ : EXIT_OK;
	}
	pprof_profile_free(base);
	pprof_profile_free(p);
	return rc;
}
