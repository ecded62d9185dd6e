/*
 * `oomprof top FILE`: the functions holding the most, like `go tool pprof -top`, for
 * machines without a Go toolchain (and for the summary of a captured profile).
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oomprof/cmd/cli.h"
#include "oomprof/cmd/top.h"
#include "pprof/pprof.h"

static void top_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: oomprof top FILE [-n N] [--sample-index NAME|NUMBER] [--exact]\n\n"
	    "Prints the functions of a pprof profile (gzipped or plain profile.proto)\n"
	    "sorted by flat value, like `go tool pprof -top`.\n\n"
	    "  -n, --nodes N           print only the first N rows\n"
	    "  -i, --sample-index S    value to show, by name (inuse_space) or number;\n"
	    "                          default: the profile's default sample type, else the last\n"
	    "  -e, --exact             print values as exact integers (no unit scaling)\n"
	    "  -h, --help              this text\n");
}

/* Parses the command line into o; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
	    {"nodes", required_argument, NULL, 'n'}, {"sample-index", required_argument, NULL, 'i'},
	    {"exact", no_argument, NULL, 'e'},	     {"raw", no_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:i:eh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->limit = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->limit < 0) {
				fprintf(stderr, "oomprof top: bad -n '%s'\n", optarg);
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
			top_usage(stdout);
			return EXIT_OK;
		default:
			top_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		top_usage(stderr);
		return EXIT_USAGE;
	}
	o->path = argv[optind];
	return -1;
}

/* The value index named by s (a sample type or a number), or -1. */
int top_pick_index(const struct pprof_profile *p, const char *s)
{
	const struct pprof_header_info *h = pprof_profile_header(p);
	char *end;
	long n;

	if (!s)
		return pprof_profile_default_index(p);
	if (pprof_profile_sample_index(p, s) >= 0)
		return pprof_profile_sample_index(p, s);
	n = strtol(s, &end, 10);
	if (*s && !*end && n >= 0 && (size_t)n < h->ntypes && n <= INT_MAX)
		return (int)n;
	return -1;
}

static void list_types(const struct pprof_profile *p)
{
	const struct pprof_header_info *h = pprof_profile_header(p);

	fprintf(stderr, "oomprof top: sample types in this profile:");
	for (size_t i = 0; i < h->ntypes; i++)
		fprintf(stderr, " %s", h->sample_types[i].type);
	fprintf(stderr, "%s\n", h->ntypes ? "" : " (none)");
}

/* Sums that cannot overflow, whatever the file holds. */
static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Formats v for a row: an integer with --exact, else pprof's scaled label. */
static void fmt_value(const struct top_opts *o, int64_t v, const char *unit, const char *out_unit,
		      char *buf, size_t len)
{
	if (o->exact)
		snprintf(buf, len, "%" PRId64, v);
	else
		pprof_format_value(v, unit, out_unit, buf, len);
}

void top_print_header(const struct pprof_profile *p, const struct pprof_value_type_info *vt)
{
	const struct pprof_header_info *h = pprof_profile_header(p);
	const struct pprof_mapping_info *m = pprof_profile_mapping(p, 0);

	if (m && m->filename[0]) {
		const char *base = strrchr(m->filename, '/');
		printf("File: %s\n", base ? base + 1 : m->filename);
	}
	if (m && m->build_id[0])
		printf("Build ID: %s\n", m->build_id);
	for (size_t i = 0; i < h->ncomments; i++)
		printf("%s\n", h->comments[i]);
	printf("Type: %s\n", vt->type);
	if (h->time_nanos > 0) {
		time_t t = (time_t)(h->time_nanos / 1000000000);
		struct tm tm;
		char buf[64];

		if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
			printf("Time: %s\n", buf);
	}
}

void top_print_table(const struct top_opts *o, const struct pprof_top *t,
		     const struct pprof_value_type_info *vt)
{
	const char *out_unit = pprof_top_unit(t, vt->unit);
	size_t rows = o->limit && (size_t)o->limit < t->n ? (size_t)o->limit : t->n;
	char a[64], b[64], pa[16], pb[16], pc[16];
	int64_t shown = 0, sum = 0;

	for (size_t i = 0; i < rows; i++)
		shown = add_sat(shown, t->entries[i].flat);
	fmt_value(o, shown, vt->unit, out_unit, a, sizeof(a));
	fmt_value(o, t->total, vt->unit, out_unit, b, sizeof(b));
	pprof_format_percent(shown, t->total, pa, sizeof(pa));
	printf("Showing nodes accounting for %s, %s of %s total\n", a, pa + strspn(pa, " "), b);
	if (rows < t->n)
		printf("Showing top %zu nodes out of %zu\n", rows, t->n);
	printf("%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
	for (size_t i = 0; i < rows; i++) {
		const struct pprof_top_entry *e = &t->entries[i];

		sum = add_sat(sum, e->flat);
		fmt_value(o, e->flat, vt->unit, out_unit, a, sizeof(a));
		fmt_value(o, e->cum, vt->unit, out_unit, b, sizeof(b));
		pprof_format_percent(e->flat, t->total, pa, sizeof(pa));
		pprof_format_percent(sum, t->total, pb, sizeof(pb));
		pprof_format_percent(e->cum, t->total, pc, sizeof(pc));
		printf("%10s %s %s %10s %s  %s%s%s\n", a, pa, pb, b, pc, e->name,
		       e->inline_label[0] ? " " : "", e->inline_label);
	}
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = {0};
	struct pprof_profile *p = NULL;
	struct pprof_top t;
	char err[512];
	int rc = parse_args(argc, argv, &o), idx;

	if (rc >= 0)
		return rc;
	if (pprof_profile_load(o.path, NULL, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "oomprof top: %s: %s\n", o.path, err);
		return EXIT_FAILURE_;
	}
	idx = top_pick_index(p, o.sample_index);
	if (idx < 0) {
		fprintf(stderr, "oomprof top: %s: unknown sample index '%s'\n", o.path,
			o.sample_index ? o.sample_index : "(default)");
		list_types(p);
		pprof_profile_free(p);
		return EXIT_FAILURE_;
	}
	rc = pprof_top_compute(p, (size_t)idx, &t);
	if (rc < 0) {
		fprintf(stderr, "oomprof top: %s: %s\n", o.path, strerror(-rc));
		pprof_profile_free(p);
		return EXIT_FAILURE_;
	}
	top_print_header(p, &pprof_profile_header(p)->sample_types[idx]);
	top_print_table(&o, &t, &pprof_profile_header(p)->sample_types[idx]);
	pprof_top_free(&t);
	pprof_profile_free(p);
	return fflush(stdout) ? EXIT_FAILURE_ : EXIT_OK;
}
