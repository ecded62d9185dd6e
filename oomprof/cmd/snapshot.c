/*
 * oomprof snapshot PID... [-o FILE | -d DIR] [--cycles latest|published] [--partial]
 *
 * Reads each running Go process's heap profile through /proc/PID/mem and writes it as
 * a gzipped pprof file. The process is not stopped or changed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oomprof/cmd/cli.h"
#include "oomprof/profile/heapprof.h"
#include "oomprof/sink/dir.h"
#include "oomprof/profile/target.h"
#include "oomprof/trigger/snap.h"

struct snapshot_opts {
	const char *out_file;
	const char *out_dir;
	enum cycle_mode mode;
	bool partial;
	bool quiet;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: oomprof snapshot PID... [-o FILE | -d DIR] [--cycles latest|published]\n"
		"                        [--partial] [-q]\n"
		"\n"
		"Writes the heap profile of each running Go process as a pprof file.\n"
		"\n"
		"  -o, --output FILE   write to FILE (one PID only)\n"
		"  -d, --dir DIR       write <comm>-<pid>-<time>.pb.gz into DIR (default: .)\n"
		"      --cycles MODE   published: what runtime/pprof would report now;\n"
		"                      latest: everything sampled so far (default: published)\n"
		"      --partial       write what could be read when the bucket list is cut\n"
		"                      short (marked truncated in a comment)\n"
		"  -q, --quiet         do not print the paths written\n");
}

static int snapshot_one(pid_t pid, const struct snapshot_opts *o)
{
	struct snap_opts so = {
	    .dir = o->out_dir, .file = o->out_file, .mode = o->mode, .partial = o->partial};
	char err[1024] = "", path[4096];
	struct go_target t;
	int e;

	e = target_open(pid, &t, err, sizeof(err));
	if (!e)
		e = snap_take(&t, &so, path, sizeof(path), err, sizeof(err));
	if (e)
		fprintf(stderr, "oomprof snapshot: %s\n", err[0] ? err : strerror(-e));
	else if (!o->quiet)
		printf("%s\n", path);
	target_close(&t);
	return e;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
						 {"dir", required_argument, NULL, 'd'},
						 {"cycles", required_argument, NULL, 'c'},
						 {"partial", no_argument, NULL, 'p'},
						 {"quiet", no_argument, NULL, 'q'},
						 {"help", no_argument, NULL, 'h'},
						 {0}};
	struct snapshot_opts o = {.out_dir = ".", .mode = CYCLES_PUBLISHED};
	int c, failed = 0, e;

	while ((c = getopt_long(argc, argv, "o:d:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out_file = optarg;
			break;
		case 'd':
			o.out_dir = optarg;
			break;
		case 'c':
			if (cycle_mode_parse(optarg, &o.mode) < 0) {
				fprintf(stderr,
					"oomprof snapshot: --cycles takes latest or "
					"published, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			o.partial = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "oomprof snapshot: no PID given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.out_file && argc - optind > 1) {
		fprintf(stderr, "oomprof snapshot: -o takes one PID; use -d DIR for several\n");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		pid_t pid;
		if (parse_pid(argv[i], &pid) < 0) {
			fprintf(stderr, "oomprof snapshot: '%s' is not a process id\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!o.out_file && (e = sink_make_dir(o.out_dir)) < 0) {
		fprintf(stderr, "oomprof snapshot: cannot create %s: %s\n", o.out_dir,
			strerror(-e));
		return EXIT_FAILURE_;
	}
	for (int i = optind; i < argc; i++) {
		pid_t pid;
		parse_pid(argv[i], &pid);
		failed |= snapshot_one(pid, &o) != 0;
	}
	return failed ? EXIT_FAILURE_ : EXIT_OK;
}
